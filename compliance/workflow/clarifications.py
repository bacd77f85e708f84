"""Clarification requests: the party accountable for a number explains what reconciliation found.

Requests are opened by the intake (``intake``, from reconciliation's hand-over) or by a reviewer
about a flagged registration (``clarification_open_for_registration``). Here:
- ``clarification_answer``: the outlet (or the dealer, for its own and its parties' packs)
  explains, may propose a correction — validated by the same rules as a new registration, under
  the registration's policy (``subscribers.corrections``), applied only when GraPARI accepts it —
  and attaches evidence;
- ``clarification_transition``: every move along ``Clarification.TRANSITIONS``, compare-and-set;
- ``clarification_reopen``: GraPARI asks again (a new round, a new deadline);
- ``clarifications_expire_overdue`` / ``clarifications_settle_agreeing``: the periodic sweeps.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import pii
from core.audit import AuditAction, audit_bulk, audit_event, audit_record
from core.masking import display_msisdn, mask_id_number
from core.roles import is_regulator, is_signed_in
from identity import photos
from identity.messages import photo_message
from outlets.selectors import dealer_id_for_user, staff_membership_for_user
from subscribers.corrections import CORRECTABLE_FIELDS, registration_correction_clean
from subscribers.models import Registration
from subscribers.rules import FieldErrors

from ..models import (
    Clarification,
    ClarificationAnswer,
    ClarificationItem,
    Discrepancy,
    ReviewItem,
)
from .notifications import new_requests_message, tell_accountable
from .queue import review_item_enqueue
from .selectors import answer_get_for_user, clarification_get_for_user, may_see_evidence
from .support import (
    NON_FIELD,
    SYSTEM_ACTOR,
    WorkflowConflict,
    deadline_days,
    kinds_string,
    when_text,
)

SECRET_FIELDS = ("id_number", "kk_number")
EXPLANATION_MAX = 2000
SWEEP_BATCH = 500


# --- who may answer -------------------------------------------------------------------------------


def may_answer(user, clarification: Clarification) -> bool:
    """The active staff of the outlet asked; the dealer's admins for the dealer's own and its
    parties' requests."""
    if not is_signed_in(user):
        return False
    if clarification.accountable == Clarification.Accountable.OUTLET:
        membership = staff_membership_for_user(user=user)
        return membership is not None and membership.outlet_id == clarification.outlet_id
    return dealer_id_for_user(user=user) == clarification.dealer_id


def evidence_photo_open(*, user, clarification_pk, answer_pk):
    """An answer's evidence photo, opened for reading, for the page and the API alike: the party
    asked, GraPARI and the operator. 404 for anyone who may not see the request, and for an
    answer it does not have — whoever asks; 403 only for one who sees the request and its
    answers but not their photos (the regulator; a dealer admin, for an outlet's request) —
    whether the answer carries a photo stays unsaid; 404 for a missing photo. Each view is
    audited."""
    clarification = clarification_get_for_user(user=user, pk=clarification_pk)
    answer = answer_get_for_user(user=user, clarification=clarification, pk=answer_pk)
    if not may_see_evidence(user, clarification):
        if is_regulator(user):
            raise PermissionDenied(_("Your role may not see evidence photos."))
        raise PermissionDenied(
            _(
                "The evidence photos of an outlet's request are for that outlet's staff and the "
                "reviewers."
            )
        )
    if not answer.evidence_photo:
        raise Http404("no photo")
    try:
        handle = answer.evidence_photo.open("rb")
    except FileNotFoundError as exc:
        raise Http404("photo missing") from exc
    audit_record(
        actor=user,
        action=AuditAction.CLARIFICATION_EVIDENCE_VIEW,
        target=clarification,
        after={"answer": answer.pk},
    )
    return handle


def _refuse_unanswerable(clarification: Clarification, now: datetime) -> None:
    status = clarification.status
    if status == Clarification.Status.EXPIRED or (
        status in Clarification.AWAITING_ANSWER and clarification.due_at <= now
    ):
        raise ValidationError(
            {
                NON_FIELD: [
                    _(
                        "The deadline to answer was %(due)s and it has passed: this request has "
                        "gone to GraPARI for review and can no longer be answered here."
                    )
                    % {"due": when_text(clarification.due_at)}
                ]
            },
            code="expired",
        )
    if status == Clarification.Status.ANSWERED:
        raise ValidationError(
            {NON_FIELD: [_("This request was already answered and is being reviewed.")]},
            code="answered",
        )
    if status not in Clarification.AWAITING_ANSWER:
        raise ValidationError(
            {
                NON_FIELD: [
                    _("This request is settled (%(status)s): there is nothing to answer.")
                    % {"status": clarification.get_status_display().lower()}
                ]
            },
            code="settled",
        )


# --- answering ------------------------------------------------------------------------------------


def _stored_correction(changes: dict) -> tuple[dict, str, str]:
    """(the correction as shown — ID and KK numbers masked —, ID ciphertext, KK ciphertext)."""
    shown = {}
    for name, value in changes.items():
        if name in SECRET_FIELDS:
            shown[name] = mask_id_number(value) if value else ""
        elif isinstance(value, date):
            shown[name] = value.isoformat()
        else:
            shown[name] = value
    return (
        shown,
        pii.encrypt(changes.get("id_number", "")),
        pii.encrypt(changes.get("kk_number", "")),
    )


def _evidence(upload, errors: FieldErrors) -> bytes | None:
    """The evidence photo checked (signature, size, completeness, decoding) and re-encoded
    without its metadata (no GPS), here rather than in a worker: one photo, and an answer is
    not a buyer waiting at the counter."""
    if upload is None:
        return None
    max_bytes = settings.PHOTO_MAX_BYTES
    try:
        photos.inspect_photo(upload, max_bytes=max_bytes, thorough=True)
        upload.seek(0)
        return photos.normalize_photo(upload.read()).content
    except photos.PhotoError as exc:
        errors.add("evidence_photo", photo_message(exc, max_bytes=max_bytes))
        return None


def clarification_answer(
    *,
    actor,
    clarification: Clarification,
    explanation: str,
    correction: dict | None = None,
    evidence_photo=None,
    now: datetime | None = None,
) -> ClarificationAnswer:
    """The accountable party answers a request that awaits its answer, before the deadline.

    Rules: only the outlet asked (or the dealer, for its own and its parties' requests); an
    explanation is required; a correction (any of ``CORRECTABLE_FIELDS``) must pass the same
    rules as a new registration under the registration's policy, and needs an evidence photo;
    a request without a registration (an unregistered activation) takes no correction. On
    success, in one transaction: the answer, the request ``answered``, a review item for
    GraPARI, the audit row. Any fault raises ``ValidationError`` and writes nothing.
    """
    now = now or timezone.now()
    if not may_answer(actor, clarification):
        raise PermissionDenied(_("Only the party asked can answer this request."))
    _refuse_unanswerable(clarification, now)

    errors = FieldErrors()
    explanation = (explanation or "").strip()
    if not explanation:
        errors.add("explanation", _("Explain what happened: this field is required."))
    elif len(explanation) > EXPLANATION_MAX:
        errors.add("explanation", _("At most %(limit)d characters.") % {"limit": EXPLANATION_MAX})
    proposed = {
        name: value
        for name, value in (correction or {}).items()
        if name in CORRECTABLE_FIELDS and value not in (None, "")
    }
    changes: dict = {}
    registration = clarification.registration
    if proposed and registration is None:
        errors.add(
            NON_FIELD,
            _("There is no registration of this number to correct: explain what happened."),
        )
    elif proposed:
        changes = registration_correction_clean(
            registration=registration, correction=proposed, errors=errors, now=now
        )
    evidence = _evidence(evidence_photo, errors)
    if changes and evidence is None and "evidence_photo" not in errors.errors:
        errors.add(
            "evidence_photo",
            _("Attach a photo of the buyer's document that supports the correction."),
        )
    errors.raise_if_any()

    shown, id_token, kk_token = _stored_correction(changes)
    with transaction.atomic():
        locked = Clarification.objects.select_for_update().get(pk=clarification.pk)
        _refuse_unanswerable(locked, now)
        answer = ClarificationAnswer(
            clarification=locked,
            round=locked.round,
            answered_by=actor,
            answered_by_label=actor.get_username(),
            explanation=explanation,
            correction=shown,
            correction_id_number_encrypted=id_token,
            correction_kk_number_encrypted=kk_token,
        )
        if evidence is not None:
            answer.evidence_photo.save("evidence.jpg", ContentFile(evidence), save=False)
        answer.save()
        clarification_transition(
            actor=actor,
            clarification=locked,
            to=Clarification.Status.ANSWERED,
            now=now,
            answered_at=now,
            audit_after={
                "round": locked.round,
                "corrected_fields": sorted(shown),
                "evidence_photo": evidence is not None,
            },
        )
        review_item_enqueue(
            clarification=locked, kind=ReviewItem.Kind.ANSWERED_CLARIFICATION, now=now
        )
    clarification.refresh_from_db()
    return answer


def clarification_transition(
    *, actor, clarification: Clarification, to: str, now: datetime, audit_after=None, **fields
) -> None:
    """Move a request along ``Clarification.TRANSITIONS`` with a compare-and-set on the status
    read by the caller, and write the audit row. Call inside a transaction."""
    before = clarification.status
    if not clarification.may_become(to):
        raise ValidationError(
            {
                NON_FIELD: [
                    _("A request that is %(from)s cannot become %(to)s.")
                    % {
                        "from": clarification.get_status_display().lower(),
                        "to": Clarification.Status(to).label.lower(),
                    }
                ]
            }
        )
    if to in Clarification.CLOSED:
        fields.setdefault("resolved_at", now)
    changed = Clarification.objects.filter(pk=clarification.pk, status=before).update(
        status=to, updated_at=now, **fields
    )
    if changed != 1:
        raise WorkflowConflict(
            _("This request changed meanwhile; reload the page and try again."), code="changed"
        )
    clarification.refresh_from_db()
    audit_record(
        actor=actor,
        action=AuditAction(f"clarification.{to}"),
        target=clarification,
        before={"status": before},
        after={"status": to, **(audit_after or {})},
    )


# --- asked again, asked by a reviewer -------------------------------------------------------------


def clarification_reopen(
    *, actor, clarification: Clarification, question: str, now: datetime
) -> Clarification:
    """Ask the accountable party again (a reviewer's decision): a new round with a new deadline
    under the policy in force, the reviewer's question shown to them; an answer still pending
    is marked not accepted. Call inside the decision's transaction."""
    due_at = now + timedelta(days=deadline_days(now))
    clarification_transition(
        actor=actor,
        clarification=clarification,
        to=Clarification.Status.REOPENED,
        now=now,
        audit_after={"round": clarification.round + 1, "due_at": due_at.isoformat()},
        round=F("round") + 1,
        due_at=due_at,
        question=question,
        expired_at=None,
    )
    clarification.answers.filter(outcome=ClarificationAnswer.Outcome.PENDING).update(
        outcome=ClarificationAnswer.Outcome.REJECTED
    )
    tell_accountable(
        [clarification],
        lambda count, due: (
            _("GraPARI asks again about %(msisdn)s: answer by %(due)s.")
            % {"msisdn": display_msisdn(clarification.msisdn), "due": when_text(due)}
        ),
    )
    return clarification


def clarification_open_for_registration(
    *, actor, registration: Registration, question: str, now: datetime
) -> Clarification:
    """A reviewer asks the registering outlet about a flagged registration (no request in
    progress for its number): the request gathers the number's open discrepancies."""
    if Clarification.objects.filter(
        msisdn=registration.msisdn, status__in=Clarification.ACTIVE
    ).exists():
        raise ValidationError(
            {"decision": [_("The outlet is already being asked about this number.")]}
        )
    outlet = registration.outlet
    clarification = Clarification.objects.create(
        msisdn=registration.msisdn,
        registration=registration,
        accountable=Clarification.Accountable.OUTLET,
        outlet=outlet,
        dealer_id=outlet.dealer_id,
        status=Clarification.Status.OPEN,
        question=question,
        opened_by=actor if is_signed_in(actor) else None,
        opened_at=now,
        due_at=now + timedelta(days=deadline_days(now)),
    )
    open_discrepancies = Discrepancy.objects.filter(
        msisdn=registration.msisdn, status=Discrepancy.Status.OPEN
    ).values_list("pk", "kind")
    ClarificationItem.objects.bulk_create(
        [
            ClarificationItem(
                clarification=clarification, discrepancy_id=pk, kind=kind, added_at=now
            )
            for pk, kind in open_discrepancies
        ],
        ignore_conflicts=True,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CLARIFICATION_OPEN,
        target=clarification,
        after={"status": "open", "outlet": outlet.roid, "question": question[:300]},
    )
    tell_accountable([clarification], new_requests_message)
    return clarification


# --- periodic sweeps ------------------------------------------------------------------------------


def clarifications_expire_overdue(*, now: datetime | None = None) -> int:
    """Requests still awaiting an answer past their deadline become ``expired`` and go to the
    review queue (due at the passed deadline: most overdue first). Batches of rows claimed with
    ``SKIP LOCKED``, each batch one transaction; safe to run twice and side by side."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                Clarification.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status__in=Clarification.AWAITING_ANSWER, due_at__lte=now)
                .select_related("outlet")
                .order_by("due_at", "pk")[:SWEEP_BATCH]
            )
            if not batch:
                break
            _expire(batch, now)
        total += len(batch)
        if len(batch) < SWEEP_BATCH:
            break
    return total


def _expire(batch: list[Clarification], now: datetime) -> None:
    ids = [c.pk for c in batch]
    Clarification.objects.filter(pk__in=ids, status__in=Clarification.AWAITING_ANSWER).update(
        status=Clarification.Status.EXPIRED, expired_at=now, updated_at=now
    )
    kinds: dict[int, set[str]] = defaultdict(set)
    for clarification_id, kind in ClarificationItem.objects.filter(
        clarification_id__in=ids
    ).values_list("clarification_id", "kind"):
        kinds[clarification_id].add(kind)
    ReviewItem.objects.bulk_create(
        [
            ReviewItem(
                kind=ReviewItem.Kind.EXPIRED_CLARIFICATION,
                msisdn=c.msisdn,
                registration_id=c.registration_id,
                clarification=c,
                outlet=c.outlet,
                dealer_id=c.dealer_id,
                province=c.outlet.province if c.outlet_id else "",
                region=c.outlet.region if c.outlet_id else "",
                discrepancy_kinds=kinds_string(kinds[c.pk]),
                queued_at=now,
                due_at=c.due_at,
            )
            for c in batch
        ],
        ignore_conflicts=True,
    )
    audit_bulk(
        [
            audit_event(
                actor=SYSTEM_ACTOR,
                action=AuditAction.CLARIFICATION_EXPIRED,
                target=c,
                before={"status": c.status},
                after={"status": "expired", "due_at": c.due_at.isoformat(), "escalated": True},
            )
            for c in batch
        ]
    )
    tell_accountable(
        batch,
        lambda count, due: (
            ngettext(
                "%(count)d clarification request passed its deadline unanswered and went to "
                "GraPARI for review.",
                "%(count)d clarification requests passed their deadline unanswered and went to "
                "GraPARI for review.",
                count,
            )
            % {"count": count}
        ),
    )


def clarifications_settle_agreeing(*, now: datetime | None = None) -> int:
    """Requests in progress whose discrepancies reconciliation has all resolved (the data
    agrees again) are ``withdrawn``; their open review items close without a decision, and a
    registration flagged only for them goes back to registered."""
    now = now or timezone.now()
    has_items = ClarificationItem.objects.filter(clarification=OuterRef("pk"))
    still_open = ClarificationItem.objects.filter(
        clarification=OuterRef("pk"), discrepancy__status=Discrepancy.Status.OPEN
    )
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                Clarification.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status__in=Clarification.ACTIVE)
                .filter(Exists(has_items))
                .exclude(Exists(still_open))
                .order_by("pk")[:SWEEP_BATCH]
            )
            if not batch:
                break
            _withdraw(batch, now)
        total += len(batch)
        if len(batch) < SWEEP_BATCH:
            break
    return total


def _withdraw(batch: list[Clarification], now: datetime) -> None:
    ids = [c.pk for c in batch]
    Clarification.objects.filter(pk__in=ids, status__in=Clarification.ACTIVE).update(
        status=Clarification.Status.WITHDRAWN,
        resolved_at=now,
        decision="settled",
        updated_at=now,
    )
    items = list(ReviewItem.objects.filter(clarification_id__in=ids, status=ReviewItem.Status.OPEN))
    ReviewItem.objects.filter(pk__in=[i.pk for i in items], status=ReviewItem.Status.OPEN).update(
        status=ReviewItem.Status.CLOSED,
        decided_at=now,
        reason="settled: reconciliation found the data agreeing",
        claimed_by=None,
        claim_expires_at=None,
    )
    events = [
        audit_event(
            actor=SYSTEM_ACTOR,
            action=AuditAction.CLARIFICATION_WITHDRAWN,
            target=c,
            before={"status": c.status},
            after={"status": "withdrawn", "reason": "the data agrees again"},
        )
        for c in batch
    ] + [
        audit_event(
            actor=SYSTEM_ACTOR,
            action=AuditAction.REVIEW_ITEM_CLOSE,
            target=i,
            before={"status": "open"},
            after={"status": "closed", "reason": "settled by reconciliation"},
        )
        for i in items
    ]
    # A registration flagged for nothing else goes back to registered (the flag's cause is gone).
    registration_ids = {c.registration_id for c in batch if c.registration_id}
    if registration_ids:
        busy = set(
            Discrepancy.objects.filter(
                registration_id__in=registration_ids, status=Discrepancy.Status.OPEN
            ).values_list("registration_id", flat=True)
        ) | set(
            ReviewItem.objects.filter(
                registration_id__in=registration_ids, status=ReviewItem.Status.OPEN
            ).values_list("registration_id", flat=True)
        )
        unflag = list(
            Registration.objects.filter(
                pk__in=registration_ids - busy,
                status=Registration.Status.FLAGGED,
                review_reasons=[],
            ).only("pk", "registration_number", "msisdn")
        )
        Registration.objects.filter(
            pk__in=[r.pk for r in unflag], status=Registration.Status.FLAGGED
        ).update(status=Registration.Status.REGISTERED)
        events += [
            audit_event(
                actor=SYSTEM_ACTOR,
                action=AuditAction.REGISTRATION_UNFLAG,
                target=r,
                before={"status": "flagged"},
                after={"status": "registered", "reason": "the data agrees again"},
            )
            for r in unflag
        ]
    audit_bulk(events)
