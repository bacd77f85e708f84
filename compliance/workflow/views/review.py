"""GraPARI's review queue and an item's review page: claim, release, decide (one or in bulk)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.disclosure import Kind, disclose, sees_every_detail, sees_in_full
from core.masking import mask_id_number
from core.operator import get_adapter
from core.roles import may_decide
from subscribers.corrections import (
    correction_registry_comparison,
    correction_replaces_person,
    registration_values,
)
from subscribers.models import Registration
from subscribers.services import registration_registry_comparison

from ...models import Discrepancy, ReviewItem
from ..forms import BulkDecisionForm, DecisionForm, QueueFilterForm
from ..review import (
    kind_labels,
    not_settled_after_accept,
    not_settled_after_accepts,
    pending_correction,
    review_item_claim,
    review_item_decide,
    review_item_release,
    review_item_touch,
    review_items_decide_bulk,
)
from ..selectors import (
    BadCursor,
    QueueFilters,
    can_view_review_queue,
    registration_history,
    review_item_get_for_user,
    review_items_for_user,
    review_queue_page,
)
from ..story import history_story
from ..support import WorkflowConflict
from ._common import audit_look, private, sides
from .clarifications import clarification_context


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
        outlet_set=data.get("outlet_set") or "",
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
        # The buyer as the role may see them (core.disclosure: a regulator reads initials).
        name = item.registration.full_name if item.registration else ""
        item.buyer = disclose(request.user, Kind.NAME, name) if name else name
    return private(
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
        decided = review_items_decide_bulk(
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
        for item_pk, left in sorted(not_settled_after_accepts(decided).items()):
            messages.warning(
                request,
                _(
                    "#%(item)d: the correction is applied, but it does not settle: "
                    "%(kinds)s. The outlet is asked again about it."
                )
                % {"item": item_pk, "kinds": kind_labels(left)},
            )
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
        review_item_touch(actor=user, item=item, now=now)
        item.refresh_from_db()
    registration = item.registration
    clarification = item.clarification
    record = get_adapter().lookup([item.msisdn]).get(item.msisdn)
    discrepancies = list(
        Discrepancy.objects.filter(msisdn=item.msisdn).order_by("-status", "-detected_at")[:20]
    )
    claim_live = bool(item.claimed_by_id and item.claim_expires_at and item.claim_expires_at > now)
    photo_kinds = []
    if registration is not None and sees_in_full(user, Kind.PHOTO):
        photo_kinds = [
            (kind, label)
            for kind, label in (("id_photo", _("ID document")), ("face_photo", _("Face")))
            if getattr(registration, kind)
        ]
    operator_name = disclose(user, Kind.NAME, record.full_name) if record else ""
    registration_name = disclose(user, Kind.NAME, registration.full_name) if registration else ""
    registry = _registry_rows(user, registration) if registration is not None else None
    proposed = _proposed_rows(user, item, registration) if registration is not None else None
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
        "discrepancies": [(d, sides(d, user)) for d in discrepancies],
        "history": list(history),
        "history_story": history_story(list(history)),
        "other_items": list(others.exclude(pk=item.pk)),
        "now": now,
        "show_values": sees_every_detail(user),
        "registry": registry,
        "proposed": proposed,
        "holder_disputed": others.filter(kind=ReviewItem.Kind.HOLDER_DISPUTE).exists(),
    }
    if clarification is not None:
        context.update(clarification_context(request, clarification))
        context["item"] = item
    audit_look(request, registration, "review")
    return private(render(request, "compliance/review_item.html", context, status=status))


def _registry_rows(user, registration: Registration) -> dict | None:
    """What the population registry holds for the registration's NIK beside what the outlet
    entered — name, birth date, sex, and whether the KK is the NIK's family card — each value as
    ``user``'s role may see it (``core.disclosure``). None when the buyer has no NIK."""
    found = registration_registry_comparison(registration=registration)
    return _comparison_rows(user, found, registration_values(registration))


def _proposed_rows(user, item: ReviewItem, registration: Registration) -> dict | None:
    """The same for the values a pending correction proposes (the registry asked about the NIK
    they would stand under), and whether the correction changes the NIK — with the name or the
    birth date too, the whole person. None without a pending correction."""
    answer = pending_correction(item)
    if answer is None:
        return None
    changes, found = correction_registry_comparison(
        registration=registration,
        correction=answer.correction,
        id_number_encrypted=answer.correction_id_number_encrypted,
        kk_number_encrypted=answer.correction_kk_number_encrypted,
    )
    result = _comparison_rows(user, found, {**registration_values(registration), **changes})
    if result is None:
        result = {"state": "not_asked", "rows": [], "kk_matches": None}
    result["nik_changed"] = "id_number" in changes
    result["person_replaced"] = correction_replaces_person(changes)
    result["kk_number_masked"] = (
        mask_id_number(changes["kk_number"])
        if changes.get("kk_number")
        else registration.kk_number_masked
    )
    result["face_verified"] = bool(registration.face_verdict)
    return result


def _comparison_rows(user, found, values: dict) -> dict | None:
    if found is None:
        return None
    result = {"state": found.state, "rows": [], "kk_matches": found.kk_matches}
    if found.state != "found":
        return result
    sexes = dict(Registration._meta.get_field("sex").choices)

    def row(name, label, entered, held, kind=None):
        if kind is not None:
            entered, held = disclose(user, kind, entered), disclose(user, kind, held)
        agrees = name not in found.disagrees
        result["rows"].append({"field": name, "label": label, "entered": entered,
                               "registry": held, "agrees": agrees})  # fmt: skip

    row("full_name", _("Name"), values["full_name"], found.full_name, Kind.NAME)
    row(
        "birth_date",
        _("Date of birth"),
        values["birth_date"].isoformat(),
        found.birth_date.isoformat(),
        Kind.BIRTH_DATE,
    )
    row(
        "sex",
        _("Sex"),
        sexes.get(values["sex"], values["sex"]),
        sexes.get(found.sex, found.sex),
    )
    return result


@login_required
@require_POST
def review_claim(request, pk: int):
    item = review_item_get_for_user(user=request.user, pk=pk)
    if not may_decide(request.user):
        raise PermissionDenied(_("Only GraPARI reviewers and the operator work the review queue."))
    try:
        review_item_claim(actor=request.user, item=item)
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
        review_item_release(actor=request.user, item=item)
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
            review_item_decide(actor=request.user, item=item, **form.cleaned_data)
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
            item.refresh_from_db()
            left = not_settled_after_accept(item)
            if left:
                messages.warning(
                    request,
                    _(
                        "The correction is applied, but it does not settle: %(kinds)s. The "
                        "finding stays open and the outlet is asked again about it."
                    )
                    % {"kinds": kind_labels(left)},
                )
            return redirect("compliance:review_queue")
    item.refresh_from_db()
    return _render_item(request, item, form, status=400)
