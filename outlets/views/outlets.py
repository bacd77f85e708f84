"""The dashboard, an outlet's page, its status, and outlet applications."""

import csv
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.csvsafe import defuse

from .. import selectors, services
from ..forms import DecisionForm, OutletApplicationForm, OutletStatusForm
from ..invitations import is_pending
from ..models import Outlet, OutletApplication
from ._common import (
    manages,
    nav_context,
    private,
    require_dealer_admin,
    require_outlet_scope,
)

PAGE_SIZE = 50
NOTICES_SHOWN = 5


def _dashboard_params(request) -> dict:
    user = request.user
    sort = request.GET.get("sort", "")[:40]
    if sort.lstrip("-") not in selectors.SORT_KEYS:
        sort = selectors.DEFAULT_SORT
    trained = {"yes": True, "no": False}.get(request.GET.get("trained", ""))
    status = request.GET.get("status", "")
    return {
        "sort": sort,
        "dealer_code": request.GET.get("dealer", "")[:20] if user.sees_all_outlets else "",
        "status": status if status in Outlet.Status.values else "",
        "trained": trained,
    }


@login_required
def dashboard(request):
    """Per outlet the user may see: registrations, open clarifications, confirmed violations,
    sanction status, training status, stock on hand. Sortable (``?sort=-registrations``),
    filterable, exportable as CSV with the same parameters."""
    user = request.user
    require_outlet_scope(user)
    params = _dashboard_params(request)
    outlets = selectors.outlet_dashboard_for_user(user=user, **params)
    page = Paginator(outlets, PAGE_SIZE).get_page(request.GET.get("page"))
    dealer_id = selectors.dealer_id_for_user(user=user)
    context = {
        **nav_context(user),
        "page": page,
        "params": params,
        "trained_param": request.GET.get("trained", ""),
        "sort_choices": selectors.sort_choices(),
        "status_choices": Outlet.Status.choices,
        "dealers": selectors.dealer_choices_for_user(user=user) if user.sees_all_outlets else [],
        "query": request.GET.urlencode(),
        "notices": list(selectors.notices_for_user(user=user)[:NOTICES_SHOWN])
        if dealer_id is not None
        else [],
        "unread_notices": selectors.notices_for_user(user=user, unread=True).count()
        if dealer_id is not None
        else 0,
        "dealer_stock": selectors.dealer_stock_on_hand(dealer_id=dealer_id)
        if dealer_id is not None
        else None,
        "untrained_count": selectors.untrained_outlets_for_user(user=user).count(),
    }
    return private(render(request, "outlets/dashboard.html", context))


class _Echo:
    def write(self, value):
        return value


def _csv_safe(value) -> object:
    # Outlet names are typed by people: a formula is neutralised, line breaks become spaces.
    if isinstance(value, bool):
        return "yes" if value else "no"
    return defuse(value)


@login_required
def dashboard_csv(request):
    """The dashboard as CSV, streamed (every outlet in scope, same filters and order)."""
    user = request.user
    require_outlet_scope(user)
    outlets = selectors.outlet_dashboard_for_user(user=user, **_dashboard_params(request))
    columns = selectors.DASHBOARD_COLUMNS
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow([column.key for column in columns])
        for outlet in outlets.iterator(chunk_size=2000):
            yield writer.writerow([_csv_safe(column.value(outlet)) for column in columns])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="outlets-{date.today():%Y%m%d}.csv"'
    return private(response)


@login_required
def outlet_detail(request, pk):
    """One outlet: its facts and figures, staff, stock moves, and what the user may do."""
    user = request.user
    outlet = get_object_or_404(selectors.outlet_dashboard_for_user(user=user), pk=pk)
    staff = list(selectors.staff_for_user(user=user).filter(outlet=outlet))
    for member in staff:
        member.pending = is_pending(member.user)
    context = {
        **nav_context(user),
        "outlet": outlet,
        "staff": staff,
        "manages": manages(user, outlet.dealer_id) and outlet.status != Outlet.Status.REVOKED,
        "allocations": selectors.allocations_for_user(user=user).filter(outlet=outlet)[:10],
        "application": OutletApplication.objects.filter(outlet=outlet).first()
        if manages(user, outlet.dealer_id)
        else None,
    }
    return private(render(request, "outlets/outlet_detail.html", context))


@login_required
def outlet_status(request, pk):
    """Suspend, reinstate or revoke an outlet, with a reason (operator and GraPARI)."""
    user = request.user
    outlet = selectors.outlet_get_for_user(user=user, pk=pk)
    if not nav_context(user)["may_sanction"]:
        raise PermissionDenied(_("Only the operator or GraPARI can change an outlet's status."))
    form = OutletStatusForm(request.POST or None, outlet=outlet)
    if request.method == "POST" and form.is_valid():
        action = {
            "suspend": services.outlet_suspend,
            "reinstate": services.outlet_reinstate,
            "revoke": services.outlet_revoke,
        }[form.cleaned_data["action"]]
        try:
            action(actor=user, outlet=outlet, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                _("Outlet %(roid)s is now %(status)s. The dealer has been told.")
                % {"roid": outlet.roid, "status": outlet.get_status_display().lower()},
            )
            return redirect("outlets:detail", pk=outlet.pk)
    return render(
        request,
        "outlets/outlet_status.html",
        {**nav_context(user), "outlet": outlet, "form": form},
    )


@login_required
@require_POST
def notices_read(request):
    dealer_id = require_dealer_admin(request.user)
    services.notices_mark_read(actor=request.user, dealer_id=dealer_id)
    return redirect("outlets:dashboard")


# --- applications ------------------------------------------------------------------------------


@login_required
def application_list(request):
    """The dealer's applications; for the operator, every application, pending first."""
    user = request.user
    if not nav_context(user)["sees_applications"]:
        raise PermissionDenied(_("Outlet applications are for dealers and the operator."))
    status = request.GET.get("status", "")
    if status not in OutletApplication.Status.values:
        status = ""
    applications = selectors.applications_for_user(user=user, status=status or None)
    if user.is_operator and not status:
        applications = applications.order_by("-status", "submitted_at")  # pending first
    page = Paginator(applications, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **nav_context(user),
        "page": page,
        "status": status,
        "status_choices": OutletApplication.Status.choices,
    }
    return render(request, "outlets/application_list.html", context)


@login_required
def application_new(request):
    """A dealer admin applies for a new outlet."""
    user = request.user
    require_dealer_admin(user)
    form = OutletApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            application = services.outlet_application_submit(actor=user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Application sent. The operator will decide on it."))
            return redirect("outlets:application_detail", pk=application.pk)
    return render(request, "outlets/application_form.html", {**nav_context(user), "form": form})


@login_required
def application_detail(request, pk):
    """An application; the operator approves (a ROID is issued) or rejects it here."""
    user = request.user
    application = selectors.application_get_for_user(user=user, pk=pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        if not user.is_operator:
            raise PermissionDenied(_("Only the operator decides on applications."))
        decision = request.POST.get("decision")
        if decision not in ("approve", "reject"):
            raise Http404("unknown decision")
        if decision == "approve" and request.POST.get("confirmed") != "1":
            # What approving creates, before it is created.
            context = {
                **nav_context(user),
                "application": application,
                "roid": selectors.roid_preview(province=application.province),
            }
            return private(render(request, "outlets/application_approve_confirm.html", context))
        if form.is_valid():
            try:
                if decision == "approve":
                    outlet = services.outlet_application_approve(
                        actor=user, application=application, note=form.cleaned_data["reason"]
                    )
                    messages.success(
                        request,
                        _("Approved. The outlet's ROID is %(roid)s.") % {"roid": outlet.roid},
                    )
                else:
                    services.outlet_application_reject(
                        actor=user, application=application, reason=form.cleaned_data["reason"]
                    )
                    messages.success(request, _("Rejected. The dealer has been told why."))
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                return redirect("outlets:application_detail", pk=application.pk)
    context = {
        **nav_context(user),
        "application": application,
        "form": form,
        "may_decide": user.is_operator and application.status == OutletApplication.Status.PENDING,
    }
    return private(render(request, "outlets/application_detail.html", context))
