"""Compliance pages: reconciliation runs (follow them, start one) and the discrepancies found.

Thin: fetch through the user-scoped selectors (an outsider gets a 404, a role without access to
runs a 403), call one service, respond. A page with a run in progress refreshes itself (no
script: a meta refresh, CSP stays strict).
"""

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import vocabulary
from core.masking import display_msisdn

from ..models import Discrepancy, DiscrepancyKind, ReconciliationRun
from . import engine
from .selectors import (
    can_start_runs,
    can_view_runs,
    discrepancies_for_user,
    discrepancy_details_for_user,
    discrepancy_get_for_user,
    open_counts_by_kind,
    run_get_for_user,
    run_summary,
    runs_for_user,
)
from .starting import waiting_run_sent_again

PAGE_SIZE = 25
DETAIL_LABELS = {
    "registration_number": gettext_lazy("Registration number"),
    "registered_at": gettext_lazy("Registered at"),
    "id_type": gettext_lazy("ID type"),
    "id_number": gettext_lazy("ID number"),
    "full_name": gettext_lazy("Full name"),
    "birth_date": gettext_lazy("Date of birth"),
    "status": gettext_lazy("Status at the operator"),
    "activated_at": gettext_lazy("Activated at"),
    "outlet_roid": gettext_lazy("Sold through ROID"),
    "iccid": gettext_lazy("ICCID"),
    "held": gettext_lazy("Active numbers under this ID"),
    "cap": gettext_lazy("Numbers allowed per ID"),
    "position": gettext_lazy("This number's place, in activation order"),
}

# Details whose values are codes of a vocabulary (core.vocabulary), and those that are dates.
DETAIL_VOCABULARIES = {"id_type": "id_type", "status": "operator_status"}
DETAIL_DAYS = {"birth_date"}
DETAIL_MOMENTS = {"registered_at", "activated_at"}


def detail_value(key: str, value):
    """A value of a finding's details as a reader reads it: a code's label, a date in words,
    a phone number grouped; anything else as it is (``None`` stays ``None``)."""
    if value is None or value == "":
        return value
    if key in DETAIL_VOCABULARIES:
        return vocabulary.label(DETAIL_VOCABULARIES[key], value)
    if key in DETAIL_DAYS or key in DETAIL_MOMENTS:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return value
        if key in DETAIL_DAYS:
            return formats.date_format(parsed, "j M Y")
        if timezone.is_aware(parsed):
            parsed = timezone.localtime(parsed)
        return formats.date_format(parsed, "j M Y H:i")
    if key == "msisdn":
        return display_msisdn(str(value))
    return value


def _private(response):
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
def run_list(request):
    """GET: the runs with their progress. POST (operator admins): start a run."""
    if request.method == "POST":
        if not can_start_runs(request.user):
            raise PermissionDenied(_("Only operator admins start reconciliation runs."))
        mode = request.POST.get("mode", ReconciliationRun.Mode.INCREMENTAL)
        if mode not in ReconciliationRun.Mode.values:
            messages.error(request, _("Choose a full or an incremental run."))
            return redirect("compliance:runs")
        try:
            run = engine.reconciliation_start(
                mode=mode, trigger=ReconciliationRun.Trigger.WEB, requested_by=request.user
            )
        except engine.RunAlreadyActive as exc:
            waiting = waiting_run_sent_again(exc.run)
            if waiting is not None:
                messages.info(request, _("Run %(id)s is waiting to start.") % {"id": waiting.pk})
                return redirect("compliance:run", pk=waiting.pk)
            messages.error(request, _("A run is already in progress; runs never overlap."))
            if exc.run is not None:
                return redirect("compliance:run", pk=exc.run.pk)
            return redirect("compliance:runs")
        messages.success(request, _("Run %(id)s started.") % {"id": run.pk})
        return redirect("compliance:run", pk=run.pk)

    if not can_view_runs(request.user):
        raise PermissionDenied(
            _("Only the operator, GraPARI and the regulator follow reconciliation runs.")
        )
    page = Paginator(runs_for_user(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    runs = [run_summary(run) for run in page]
    return _private(
        render(
            request,
            "compliance/run_list.html",
            {
                "page": page,
                "runs": runs,
                "refresh": any(r["status"] in ReconciliationRun.ACTIVE_STATUSES for r in runs),
                "can_start": can_start_runs(request.user),
                "modes": ReconciliationRun.Mode.choices,
                "open_counts": open_counts_by_kind(user=request.user),
                "kind_labels": dict(DiscrepancyKind.choices),
            },
        )
    )


@login_required
def run_detail(request, pk: int):
    run = run_get_for_user(user=request.user, pk=pk)
    summary = run_summary(run)
    rows = [
        (kind, label, summary["counts"][kind], summary["opened"][kind], summary["resolved"][kind])
        for kind, label in DiscrepancyKind.choices
    ]
    return _private(
        render(
            request,
            "compliance/run_detail.html",
            {"run": run, "summary": summary, "rows": rows, "refresh": run.is_active},
        )
    )


@login_required
def discrepancy_list(request):
    """The discrepancies the user may see, filtered by kind, status and outlet."""
    filters = {
        "kind": request.GET.get("kind")
        if request.GET.get("kind") in DiscrepancyKind.values
        else "",
        "status": request.GET.get("status", Discrepancy.Status.OPEN),
        "outlet": (request.GET.get("outlet") or "").strip().upper()[:20],
    }
    if filters["status"] not in Discrepancy.Status.values:
        filters["status"] = ""
    queryset = discrepancies_for_user(user=request.user, filters=filters)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return _private(
        render(
            request,
            "compliance/discrepancy_list.html",
            {
                "page": page,
                "filters": filters,
                "kinds": DiscrepancyKind.choices,
                "statuses": Discrepancy.Status.choices,
                "show_outlet": request.user.sees_all_outlets
                or hasattr(request.user, "dealer_admin"),
            },
        )
    )


@login_required
def discrepancy_detail(request, pk: int):
    discrepancy = discrepancy_get_for_user(user=request.user, pk=pk)
    details = discrepancy_details_for_user(discrepancy=discrepancy, user=request.user)
    sides = []
    for side, label in (("portal", _("Portal")), ("operator", _("Operator"))):
        if isinstance(details.get(side), dict):
            sides.append(
                (
                    label,
                    [
                        (DETAIL_LABELS.get(k, k), detail_value(k, v))
                        for k, v in details[side].items()
                    ],
                )
            )
    extra = [
        (DETAIL_LABELS.get(k, k), detail_value(k, v))
        for k, v in details.items()
        if k not in ("portal", "operator")
    ]
    return _private(
        render(
            request,
            "compliance/discrepancy_detail.html",
            {"discrepancy": discrepancy, "sides": sides, "extra": extra},
        )
    )
