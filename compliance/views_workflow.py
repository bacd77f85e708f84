"""Pages of the compliance workflow: the outlet's inbox and answer, GraPARI's review queue and
review page, a registration's history, an outlet's compliance record, notifications.

Thin: fetch through the scoped selectors (an outsider gets a 404, a role without access a 403),
call one service, respond. Personal data is served private, never cached; looking at a
registration someone else made is audited, as on the registration pages.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.audit import audit_record
from core.masking import mask_name
from core.operator import get_adapter
from core.roles import is_regulator, may_decide
from outlets.selectors import outlet_get_for_user, staff_membership_for_user
from subscribers.selectors import registration_get_for_user

from . import clarifications, review, sanctions
from .forms_workflow import AnswerForm, BulkDecisionForm, DecisionForm, LiftForm, QueueFilterForm
from .models import Clarification, Discrepancy, ReviewItem
from .notifications import notifications_mark_read
from .selectors import discrepancy_details_for_user
from .selectors_workflow import (
    BadCursor,
    QueueFilters,
    answer_get_for_user,
    can_view_review_queue,
    clarification_get_for_user,
    clarifications_for_user,
    may_see_evidence,
    notifications_for_user,
    outlet_violation_summary,
    registration_history,
    review_item_get_for_user,
    review_items_for_user,
    review_queue_page,
    sanction_get_for_user,
    sanctions_for_user,
    violations_for_user,
)
from .views import DETAIL_LABELS, PAGE_SIZE
from .workflow_support import WorkflowConflict

INBOX_STATUSES = (("active", "active"), ("awaiting", "awaiting"), ("", "all"))


def _private(response):
    patch_cache_control(response, private=True, no_store=True)
    return response


def _audit_look(request, registration, page: str) -> None:
    """Who looked at whose record (UU PDP); the registering outlet's own staff are not logged
    page by page (as on the registration pages)."""
    if registration is None:
        return
    membership = staff_membership_for_user(user=request.user)
    if membership is not None and membership.outlet_id == registration.outlet_id:
        return
    audit_record(
        actor=request.user, action="registration.view", target=registration, after={"page": page}
    )


def _sides(discrepancy: Discrepancy, user) -> list:
    """The portal's and the operator's values side by side: [(label, portal, operator)]."""
    details = discrepancy_details_for_user(discrepancy=discrepancy, user=user)
    portal = details.get("portal") if isinstance(details.get("portal"), dict) else {}
    operator = details.get("operator") if isinstance(details.get("operator"), dict) else {}
    keys = list(dict.fromkeys([*portal, *operator]))
    rows = [(DETAIL_LABELS.get(k, k), portal.get(k), operator.get(k)) for k in keys]
    rows += [
        (DETAIL_LABELS.get(k, k), v, None)
        for k, v in details.items()
        if k not in ("portal", "operator")
    ]
    return rows


# --- the inbox ----------------------------------------------------------------------------------


@login_required
def inbox(request):
    """The requests the user may see — for a clerk, their outlet's — waiting ones first by
    deadline. Light enough for a phone on a weak network: 25 a page, no pictures."""
    status = request.GET.get("status", "active")
    if status not in dict(INBOX_STATUSES):
        status = "active"
    queryset = clarifications_for_user(user=request.user, filters={"status": status})
    from core.pagination import CappedCountPaginator

    page = CappedCountPaginator(queryset.prefetch_related("items"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    for clarification in page:
        clarification.kinds = sorted({i.get_kind_display() for i in clarification.items.all()})
        clarification.overdue = clarification.awaits_answer and clarification.due_at <= now
        clarification.mine = clarifications.may_answer(request.user, clarification)
    return _private(
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
    can_answer = clarification.awaits_answer and clarifications.may_answer(
        request.user, clarification
    )
    form = None
    if request.method == "POST":
        if not clarifications.may_answer(request.user, clarification):
            raise PermissionDenied(_("Only the party asked can answer this request."))
        form = AnswerForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                clarifications.clarification_answer(
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
    _audit_look(request, clarification.registration, "clarification")
    return _private(render(request, "compliance/clarification_detail.html", _clarification_context(
        request, clarification, form=form, can_answer=can_answer
    )))  # fmt: skip


def _clarification_context(request, clarification: Clarification, **extra) -> dict:
    items = list(clarification.items.select_related("discrepancy"))
    registration = clarification.registration
    regulator = is_regulator(request.user)
    answers = list(clarification.answers.all())
    for answer in answers:
        answer.shown_correction = dict(answer.correction or {})
        if regulator and answer.shown_correction.get("full_name"):
            answer.shown_correction["full_name"] = mask_name(answer.shown_correction["full_name"])
    return {
        "clarification": clarification,
        "items": [(item, _sides(item.discrepancy, request.user)) for item in items],
        "answers": answers,
        "may_see_evidence": may_see_evidence(request.user, clarification),
        "registration": registration,
        "registration_name": (
            mask_name(registration.full_name)
            if registration is not None and regulator
            else (registration.full_name if registration else "")
        ),
        "overdue": clarification.awaits_answer and clarification.due_at <= timezone.now(),
        **extra,
    }


@login_required
def evidence_photo(request, pk: int, answer_pk: int):
    """An answer's evidence photo: the party asked, GraPARI, the operator; never the
    regulator. Each view audited."""
    clarification = clarification_get_for_user(user=request.user, pk=pk)
    if not may_see_evidence(request.user, clarification):
        raise PermissionDenied(_("Your role may not see evidence photos."))
    answer = answer_get_for_user(user=request.user, clarification=clarification, pk=answer_pk)
    if not answer.evidence_photo:
        raise Http404("no photo")
    try:
        handle = answer.evidence_photo.open("rb")
    except FileNotFoundError as exc:
        raise Http404("photo missing") from exc
    audit_record(
        actor=request.user,
        action="clarification.evidence_view",
        target=clarification,
        after={"answer": answer.pk},
    )
    response = FileResponse(handle, content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    return _private(response)


# --- the review queue -------------------------------------------------------------------------


def _queue_or_403(request) -> None:
    if not can_view_review_queue(request.user):
        raise PermissionDenied(
            _("The review queue is GraPARI's, the operator's and the regulator's.")
        )


def _filters_from(form: QueueFilterForm) -> QueueFilters:
    data = form.cleaned_data if form.is_valid() else {}
    overdue = {"yes": True, "no": False}.get(data.get("overdue") or "")
    return QueueFilters(
        kind=data.get("kind") or "",
        discrepancy_kind=data.get("discrepancy_kind") or "",
        province=(data.get("province") or "").strip(),
        region=(data.get("region") or "").strip(),
        dealer=(data.get("dealer") or "").strip().upper(),
        outlet=(data.get("outlet") or "").strip().upper(),
        older_than_days=data.get("older_than_days"),
        overdue=overdue,
        claimed=data.get("claimed") or "",
    )


@login_required
def review_queue(request):
    """Open items, most overdue first, filtered; keyset pages (``after``) so the hundredth page
    costs what the first does. Reviewers tick items of one kind for a bulk decision."""
    _queue_or_403(request)
    form = QueueFilterForm(request.GET)
    queryset = review_items_for_user(user=request.user, filters=_filters_from(form))
    try:
        page = review_queue_page(queryset, after=request.GET.get("after") or None)
    except BadCursor:
        page = review_queue_page(queryset)
    query = request.GET.copy()
    query.pop("after", None)
    now = timezone.now()
    for item in page.items:
        item.overdue = item.due_at < now
        item.claim_live = bool(item.claimed_by_id and item.claim_expires_at > now)
    return _private(
        render(
            request,
            "compliance/review_queue.html",
            {
                "page": page,
                "form": form,
                "query": query.urlencode(),
                "is_first": not request.GET.get("after"),
                "can_decide": may_decide(request.user),
                "bulk_form": BulkDecisionForm(),
            },
        )
    )


@login_required
@require_POST
def review_bulk(request):
    """One decision for the ticked items (all of one kind): one transaction, each audited."""
    if not may_decide(request.user):
        raise PermissionDenied(_("Only GraPARI reviewers and the operator work the review queue."))
    ids = [v for v in request.POST.getlist("items") if v.isdigit() and len(v) <= 18]
    form = BulkDecisionForm(request.POST, item_ids=[int(v) for v in ids])
    # Back to the same filtered page: the query string re-encoded, never a URL of its own.
    back = QueryDict(request.POST.get("next") or "").urlencode()
    target = reverse("compliance:review_queue") + (f"?{back}" if back else "")
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return redirect(target)
    items = list(
        review_items_for_user(user=request.user, status="").filter(
            pk__in=form.cleaned_data["items"]
        )
    )
    try:
        decided = review.review_items_decide_bulk(
            actor=request.user,
            items=items,
            decision=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
            block_number=form.cleaned_data["block_number"],
        )
    except ValidationError as exc:
        for text in exc.messages:
            messages.error(request, text)
    except WorkflowConflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(count)d items decided.") % {"count": len(decided)})
    return redirect(target)


@login_required
def review_item(request, pk: int):
    """Everything needed to decide an item: the registration, the operator's record, what was
    found side by side, the outlet's answers (with evidence), the photos, the history."""
    _queue_or_403(request)
    item = review_item_get_for_user(user=request.user, pk=pk)
    form = DecisionForm(item=item)
    return _render_item(request, item, form)


def _render_item(request, item: ReviewItem, form: DecisionForm, status: int = 200):
    user = request.user
    now = timezone.now()
    if may_decide(user):
        review.review_item_touch(actor=user, item=item, now=now)
        item.refresh_from_db()
    registration = item.registration
    regulator = is_regulator(user)
    clarification = item.clarification
    record = get_adapter().lookup([item.msisdn]).get(item.msisdn)
    discrepancies = list(
        Discrepancy.objects.filter(msisdn=item.msisdn).order_by("-status", "-detected_at")[:20]
    )
    claim_live = bool(item.claimed_by_id and item.claim_expires_at and item.claim_expires_at > now)
    photo_kinds = []
    if registration is not None and not regulator:
        photo_kinds = [
            (kind, label)
            for kind, label in (("id_photo", _("ID document")), ("face_photo", _("Face")))
            if getattr(registration, kind)
        ]
    operator_name = record.full_name if record else ""
    if regulator and operator_name:
        operator_name = mask_name(operator_name)
    registration_name = registration.full_name if registration else ""
    if regulator and registration_name:
        registration_name = mask_name(registration_name)
    history = registration_history(registration=registration)[:50] if registration else []
    others = ReviewItem.objects.filter(msisdn=item.msisdn, status=ReviewItem.Status.OPEN)
    context = {
        "item": item,
        "form": form,
        "can_decide": may_decide(user) and item.status == ReviewItem.Status.OPEN,
        "claim_live": claim_live,
        "claimed_by_me": item.claimed_by_id == user.pk,
        "registration": registration,
        "registration_name": registration_name,
        "photo_kinds": photo_kinds,
        "operator_record": record,
        "operator_name": operator_name,
        "discrepancies": [(d, _sides(d, user)) for d in discrepancies],
        "history": list(history),
        "other_items": list(others.exclude(pk=item.pk)),
        "now": now,
        "show_values": not regulator,
    }
    if clarification is not None:
        context.update(_clarification_context(request, clarification))
        context["item"] = item
    _audit_look(request, registration, "review")
    return _private(render(request, "compliance/review_item.html", context, status=status))


@login_required
@require_POST
def review_claim(request, pk: int):
    item = review_item_get_for_user(user=request.user, pk=pk)
    if not may_decide(request.user):
        raise PermissionDenied(_("Only GraPARI reviewers and the operator work the review queue."))
    try:
        review.review_item_claim(actor=request.user, item=item)
        messages.success(request, _("You hold this item now."))
    except WorkflowConflict as exc:
        messages.error(request, exc.message)
    return redirect("compliance:review_item", pk=item.pk)


@login_required
@require_POST
def review_release(request, pk: int):
    item = review_item_get_for_user(user=request.user, pk=pk)
    if not may_decide(request.user):
        raise PermissionDenied(_("Only GraPARI reviewers and the operator work the review queue."))
    try:
        review.review_item_release(actor=request.user, item=item)
        messages.success(request, _("The item is back in the queue."))
    except WorkflowConflict as exc:
        messages.error(request, exc.message)
    return redirect("compliance:review_queue")


@login_required
@require_POST
def review_decide(request, pk: int):
    item = review_item_get_for_user(user=request.user, pk=pk)
    if not may_decide(request.user):
        raise PermissionDenied(_("Only GraPARI reviewers and the operator work the review queue."))
    form = DecisionForm(request.POST, item=item)
    if form.is_valid():
        try:
            review.review_item_decide(actor=request.user, item=item, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        except WorkflowConflict as exc:
            messages.error(request, exc.message)
            return redirect("compliance:review_item", pk=item.pk)
        else:
            messages.success(
                request,
                _("Decided: %(decision)s.")
                % {"decision": ReviewItem.Decision(form.cleaned_data["decision"]).label},
            )
            return redirect("compliance:review_queue")
    item.refresh_from_db()
    return _render_item(request, item, form, status=400)


# --- history, outlet record, notifications -------------------------------------------------------


@login_required
def registration_history_page(request, pk: int):
    """Every audit row about a registration and the workflow around it, newest first."""
    registration = registration_get_for_user(user=request.user, pk=pk)
    _audit_look(request, registration, "history")
    events = list(registration_history(registration=registration)[:500])
    return _private(
        render(
            request,
            "compliance/registration_history.html",
            {
                "registration": registration,
                "events": events,
                "versions": list(registration.versions.all()),
                "clarifications": list(registration.clarifications.all()),
                "show_values": not is_regulator(request.user),
            },
        )
    )


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
        "may_lift": sanctions.may_lift(request.user),
        "lift_form": LiftForm(),
    }  # fmt: skip
    return _private(render(request, "compliance/outlet_record.html", context))


@login_required
@require_POST
def sanction_lift(request, pk: int):
    sanction = sanction_get_for_user(user=request.user, pk=pk)
    if not sanctions.may_lift(request.user):
        raise PermissionDenied(_("Only operator admins lift sanctions."))
    form = LiftForm(request.POST)
    form.is_valid()
    try:
        sanctions.sanction_lift(
            actor=request.user, sanction=sanction, reason=form.cleaned_data.get("reason", "")
        )
        messages.success(request, _("The suspension is lifted and the outlet reinstated."))
    except ValidationError as exc:
        for text in exc.messages:
            messages.error(request, text)
    except WorkflowConflict as exc:
        messages.error(request, exc.message)
    return redirect("compliance:outlet", pk=sanction.outlet_id)


@login_required
def notification_list(request):
    """The user's notifications; POST marks them all read."""
    if request.method == "POST":
        notifications_mark_read(user=request.user)
        return redirect("compliance:notifications")
    from core.pagination import CappedCountPaginator

    page = CappedCountPaginator(notifications_for_user(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return _private(render(request, "compliance/notifications.html", {"page": page}))
