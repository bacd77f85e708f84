"""Training sessions and attendance; which outlets are untrained."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from .. import selectors, services
from ..forms import AttendanceForm, TrainingSessionForm
from ..services.training import DEALER_AUDIENCES
from ._common import nav_context, require_dealer_or_operator, require_outlet_scope

PAGE_SIZE = 25


def _records_attendance(user, session) -> bool:
    if user.is_operator:
        return True
    dealer_id = selectors.dealer_id_for_user(user=user)
    return dealer_id is not None and session.dealer_id in (None, dealer_id)


@login_required
def training_list(request):
    """Sessions the user may see; for a dealer, also its outlets that are untrained."""
    user = request.user
    require_outlet_scope(user)
    sessions = selectors.training_sessions_for_user(user=user)
    page = Paginator(sessions, PAGE_SIZE).get_page(request.GET.get("page"))
    untrained = (
        selectors.untrained_outlets_for_user(user=user).order_by("roid")[:100]
        if selectors.dealer_id_for_user(user=user) is not None
        else []
    )
    context = {**nav_context(user), "page": page, "untrained": untrained}
    return render(request, "outlets/training_list.html", context)


@login_required
def training_new(request):
    user = request.user
    require_dealer_or_operator(user)
    audiences = None if user.is_operator else DEALER_AUDIENCES
    form = TrainingSessionForm(request.POST or None, audiences=audiences)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.training_session_create(actor=user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Session recorded. Now record who attended."))
            return redirect("outlets:training_detail", pk=session.pk)
    return render(request, "outlets/training_form.html", {**nav_context(user), "form": form})


@login_required
def training_detail(request, pk):
    """A session and who attended; dealers (their own people) and the operator record
    attendance here."""
    user = request.user
    session = selectors.training_session_get_for_user(user=user, pk=pk)
    records = _records_attendance(user, session)
    form = None
    if records:
        trainees = (
            services.trainees_for(actor=user, session=session)
            .exclude(training_attendances__session=session)
            .select_related("outlet_staff__outlet")
            .order_by("username")[:500]
        )
        form = AttendanceForm(request.POST or None, trainees=trainees)
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("You cannot record attendance at this session."))
        if form.is_valid():
            try:
                added = services.training_attendance_record(
                    actor=user, session=session, users=form.chosen_users()
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("%(count)d attendances recorded.") % {"count": added})
                return redirect("outlets:training_detail", pk=session.pk)
    context = {
        **nav_context(user),
        "session": session,
        "attendances": selectors.attendances_for_user(user=user, session=session),
        "form": form,
    }
    return render(request, "outlets/training_detail.html", context)
