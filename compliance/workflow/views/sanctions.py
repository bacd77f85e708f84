"""An outlet's compliance record (its standing on the ladder, sanctions, violations, recent
requests) and an operator admin lifting a suspension."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from outlets.selectors import outlet_get_for_user

from ..forms import LiftForm
from ..sanctions import may_lift
from ..sanctions import sanction_lift as lift_suspension
from ..selectors import (
    clarifications_for_user,
    outlet_violation_summary,
    sanction_get_for_user,
    sanctions_for_user,
    violations_for_user,
)
from ..support import WorkflowConflict
from ._common import private


@login_required
def outlet_record(request, pk: int):
    """An outlet's compliance record: its standing on the ladder, sanctions (an operator admin
    lifts a suspension here), violations and recent requests."""
    outlet = outlet_get_for_user(user=request.user, pk=pk)
    context = {
        "outlet": outlet,
        "standing": outlet_violation_summary(outlet=outlet),
        "sanctions": list(sanctions_for_user(user=request.user).filter(outlet=outlet)[:50]),
        "violations": list(violations_for_user(user=request.user).filter(outlet=outlet)[:50]),
        "requests": list(
            clarifications_for_user(user=request.user).filter(outlet=outlet).order_by("-opened_at")[:25]
        ),
        "may_lift": may_lift(request.user),
        "lift_form": LiftForm(),
    }  # fmt: skip
    return private(render(request, "compliance/outlet_record.html", context))


@login_required
@require_POST
def sanction_lift(request, pk: int):
    sanction = sanction_get_for_user(user=request.user, pk=pk)
    if not may_lift(request.user):
        raise PermissionDenied(_("Only operator admins lift sanctions."))
    form = LiftForm(request.POST)
    form.is_valid()
    try:
        lift_suspension(
            actor=request.user, sanction=sanction, reason=form.cleaned_data.get("reason", "")
        )
        messages.success(request, _("The suspension is lifted and the outlet reinstated."))
    except ValidationError as exc:
        for text in exc.messages:
            messages.error(request, text)
    except WorkflowConflict as exc:
        messages.error(request, exc.message)
    return redirect("compliance:outlet", pk=sanction.outlet_id)
