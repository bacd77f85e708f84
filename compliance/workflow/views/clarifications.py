"""The outlet's inbox, a clarification request with its answer form, an answer's evidence."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from core.disclosure import Kind, disclose, disclose_mapping, sees_in_full
from core.pagination import CappedCountPaginator
from outlets.selectors import staff_membership_for_user
from subscribers.models import Registration

from ...models import Clarification
from ...reconciliation.views import PAGE_SIZE
from ..clarifications import clarification_answer, evidence_photo_open, may_answer
from ..forms import AnswerForm
from ..selectors import (
    clarification_get_for_user,
    clarifications_for_user,
    may_see_evidence,
)
from ._common import audit_look, private, sides

INBOX_STATUSES = (("active", "active"), ("awaiting", "awaiting"), ("", "all"))


@login_required
def inbox(request):
    """The requests the user may see — for a clerk, their outlet's — waiting ones first by
    deadline. Light enough for a phone on a weak network: 25 a page, no pictures."""
    status = request.GET.get("status", "active")
    if status not in dict(INBOX_STATUSES):
        status = "active"
    queryset = clarifications_for_user(user=request.user, filters={"status": status})
    page = CappedCountPaginator(queryset.prefetch_related("items"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    for clarification in page:
        clarification.kinds = sorted({i.get_kind_display() for i in clarification.items.all()})
        clarification.overdue = clarification.awaits_answer and clarification.due_at <= now
        clarification.mine = may_answer(request.user, clarification)
    return private(
        render(
            request,
            "compliance/inbox.html",
            {
                "page": page,
                "status": status,
                "statuses": [
                    ("active", _("In progress")),
                    ("awaiting", _("Waiting for an answer")),
                    ("", _("All")),
                ],
                "show_outlet": request.user.sees_all_outlets
                or staff_membership_for_user(user=request.user) is None,
            },
        )
    )


@login_required
def clarification_detail(request, pk: int):
    """A request: what was found, side by side; the answers; the answer form for the party
    asked while it waits for their answer. POST answers it."""
    clarification = clarification_get_for_user(user=request.user, pk=pk)
    can_answer = clarification.awaits_answer and may_answer(request.user, clarification)
    form = None
    if request.method == "POST":
        if not may_answer(request.user, clarification):
            raise PermissionDenied(_("Only the party asked can answer this request."))
        form = AnswerForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                clarification_answer(
                    actor=request.user,
                    clarification=clarification,
                    explanation=form.cleaned_data["explanation"],
                    correction=form.correction(),
                    evidence_photo=request.FILES.get("evidence_photo"),
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Answer sent. GraPARI will review it."))
                return redirect("compliance:clarification", pk=clarification.pk)
    elif can_answer:
        form = AnswerForm()
    audit_look(request, clarification.registration, "clarification")
    return private(render(request, "compliance/clarification_detail.html", clarification_context(
        request, clarification, form=form, can_answer=can_answer
    )))  # fmt: skip


def _labelled(correction: dict) -> dict:
    """A proposed correction as a reader sees it: each field by its label, coded values (sex,
    document type, nationality) by theirs."""
    shown = {}
    for name, value in correction.items():
        try:
            field = Registration._meta.get_field(name)
        except FieldDoesNotExist:
            field = None
        if name in ("id_number", "kk_number"):
            field = Registration._meta.get_field(f"{name}_masked")
        label = capfirst(field.verbose_name) if field is not None else name
        choices = dict(field.choices) if field is not None and field.choices else {}
        shown[label] = str(choices.get(value, value))
    return shown


def clarification_context(request, clarification: Clarification, **extra) -> dict:
    items = list(clarification.items.select_related("discrepancy"))
    registration = clarification.registration
    answers = list(clarification.answers.all())
    for answer in answers:
        answer.shown_correction = _labelled(disclose_mapping(request.user, answer.correction or {}))
        # The outlet's own words: whole, or (the regulator) not at all.
        answer.shown_explanation = disclose(request.user, Kind.FREE_TEXT, answer.explanation)
    return {
        "clarification": clarification,
        "items": [(item, sides(item.discrepancy, request.user)) for item in items],
        "answers": answers,
        "may_see_evidence": may_see_evidence(request.user, clarification),
        "sees_explanations": sees_in_full(request.user, Kind.FREE_TEXT),
        "registration": registration,
        "registration_name": (
            disclose(request.user, Kind.NAME, registration.full_name) if registration else ""
        ),
        "overdue": clarification.awaits_answer and clarification.due_at <= timezone.now(),
        **extra,
    }


@login_required
def evidence_photo(request, pk: int, answer_pk: int):
    """An answer's evidence photo: the party asked, GraPARI, the operator; never the
    regulator. Each view audited."""
    handle = evidence_photo_open(user=request.user, clarification_pk=pk, answer_pk=answer_pk)
    response = FileResponse(handle, content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    return private(response)
