"""GraPARI's review queue: claims and decisions.

What enters the queue is ``queue``'s. Here:
- Claims: ``review_item_claim`` is a compare-and-set (``UPDATE … WHERE claimed_by IS NULL OR
  the claim expired``): of two reviewers exactly one wins. A claim left idle for
  ``REVIEW_CLAIM_IDLE_SECONDS`` is free again; viewing the item renews one's own claim.
- Decisions (``review_item_decide``, ``review_items_decide_bulk``): dismiss, accept the
  correction, ask again, confirm a violation, block the number — each in one transaction with
  its effects and audit rows, taken with a compare-and-set on the item (``status = open`` and
  not claimed by someone else), so a decision is taken once and never on another's claim.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import AuditAction, audit_bulk, audit_event, audit_record
from core.masking import display_msisdn
from core.operator import get_adapter
from core.roles import is_operator, is_signed_in, may_decide
from subscribers.corrections import registration_apply_correction, registration_versioned_values
from subscribers.models import Registration
from subscribers.services import registration_block

from ..models import (
    Clarification,
    ClarificationAnswer,
    ClarificationItem,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyOutcome,
    RegistrationVersion,
    ReviewItem,
)
from ..reconciliation import python as reconciliation_python
from ..reconciliation import rules
from .clarifications import (
    clarification_open_for_registration,
    clarification_reopen,
    clarification_transition,
)
from .hooks import review_decided
from .notifications import dealer_admin_users, notify, outlet_staff_users
from .number_blocks import number_block
from .queue import queue_flagged_registration
from .sanctions import violation_confirm
from .support import (
    SYSTEM_ACTOR,
    WorkflowConflict,
    bulk_max_items,
    claim_idle_timeout,
    finding_fingerprint,
    registration_settle,
    when_text,
)

Decision = ReviewItem.Decision
Kind = ReviewItem.Kind
REASON_MAX = 2000
# A reason is required wherever the decision is about someone's conduct or data; accepting the
# outlet's own correction needs none.
REASON_REQUIRED = frozenset(
    {Decision.DISMISS, Decision.ASK_AGAIN, Decision.CONFIRM_VIOLATION, Decision.BLOCK}
)
ALLOWED = {
    Kind.FLAGGED_REGISTRATION: (
        Decision.DISMISS,
        Decision.ASK_AGAIN,
        Decision.CONFIRM_VIOLATION,
        Decision.BLOCK,
    ),
    Kind.ANSWERED_CLARIFICATION: tuple(Decision),
    Kind.EXPIRED_CLARIFICATION: (
        Decision.DISMISS,
        Decision.ASK_AGAIN,
        Decision.CONFIRM_VIOLATION,
        Decision.BLOCK,
    ),
    # The outlet is asked when the dispute is opened: no "ask again" here.
    Kind.HOLDER_DISPUTE: (Decision.DISMISS, Decision.CONFIRM_VIOLATION, Decision.BLOCK),
}
CLAIM_BATCH = 1000


def _require_reviewer(actor) -> None:
    if not may_decide(actor):
        raise PermissionDenied(_("Only GraPARI reviewers and the operator work the review queue."))


def _conflict(item: ReviewItem, actor, now: datetime) -> WorkflowConflict:
    """Why a compare-and-set on ``item`` found nothing to change, in words."""
    item.refresh_from_db()
    if item.status != ReviewItem.Status.OPEN:
        who = item.decided_by.get_username() if item.decided_by_id else _("the system")
        return WorkflowConflict(
            _("This item was already decided by %(who)s at %(when)s (%(decision)s).")
            % {
                "who": who,
                "when": when_text(item.decided_at),
                "decision": item.get_decision_display() or item.get_status_display(),
            },
            code="already_decided",
        )
    if item.claimed_by_id and item.claimed_by_id != actor.pk:
        return WorkflowConflict(
            _(
                "%(who)s is working on this item (claimed until %(until)s). Pick another item, "
                "or wait until their claim expires."
            )
            % {"who": item.claimed_by.get_username(), "until": when_text(item.claim_expires_at)},
            code="claimed_by_other",
        )
    return WorkflowConflict(
        _("This item changed meanwhile; reload it and try again."), code="changed"
    )


def _free_for(actor, now: datetime) -> Q:
    return Q(claimed_by__isnull=True) | Q(claimed_by=actor) | Q(claim_expires_at__lte=now)


# --- claims ---------------------------------------------------------------------------------------


def review_item_claim(*, actor, item: ReviewItem, now: datetime | None = None) -> ReviewItem:
    """Claim an open item for ``actor`` until it has been idle ``REVIEW_CLAIM_IDLE_SECONDS``.

    One ``UPDATE … WHERE status = 'open' AND (claimed_by IS NULL OR claimed_by = me OR the
    claim expired)``: two reviewers racing for an item, exactly one row is changed for one of
    them; the other gets ``WorkflowConflict`` naming who holds it.
    """
    _require_reviewer(actor)
    now = now or timezone.now()
    previous = item.claimed_by_id if item.claim_expires_at and item.claim_expires_at > now else None
    with transaction.atomic():
        changed = (
            ReviewItem.objects.filter(pk=item.pk, status=ReviewItem.Status.OPEN)
            .filter(_free_for(actor, now))
            .update(claimed_by=actor, claim_expires_at=now + claim_idle_timeout())
        )
        if changed != 1:
            raise _conflict(item, actor, now)
        if previous != actor.pk:
            audit_record(
                actor=actor,
                action=AuditAction.REVIEW_ITEM_CLAIM,
                target=item,
                after={"claimed_by": actor.get_username()},
            )
    item.refresh_from_db()
    return item


def review_item_touch(*, actor, item: ReviewItem, now: datetime | None = None) -> bool:
    """Renew ``actor``'s own live claim (they are looking at the item). Not audited: nothing
    changes hands."""
    now = now or timezone.now()
    return bool(
        ReviewItem.objects.filter(
            pk=item.pk, status=ReviewItem.Status.OPEN, claimed_by=actor, claim_expires_at__gt=now
        ).update(claim_expires_at=now + claim_idle_timeout())
    )


def review_item_release(*, actor, item: ReviewItem, now: datetime | None = None) -> ReviewItem:
    """Give an item back to the queue: one's own claim (an operator admin may release anyone's)."""
    _require_reviewer(actor)
    now = now or timezone.now()
    with transaction.atomic():
        qs = ReviewItem.objects.filter(
            pk=item.pk, status=ReviewItem.Status.OPEN, claimed_by__isnull=False
        )
        if not is_operator(actor):
            qs = qs.filter(Q(claimed_by=actor) | Q(claim_expires_at__lte=now))
        holder = item.claimed_by.get_username() if item.claimed_by_id else ""
        if qs.update(claimed_by=None, claim_expires_at=None) != 1:
            item.refresh_from_db()
            if item.status == ReviewItem.Status.OPEN and item.claimed_by_id is None:
                return item  # nothing to release: already free
            raise _conflict(item, actor, now)
        audit_record(
            actor=actor,
            action=AuditAction.REVIEW_ITEM_RELEASE,
            target=item,
            before={"claimed_by": holder},
            after={"claimed_by": None},
        )
    item.refresh_from_db()
    return item


def review_claims_release_idle(*, now: datetime | None = None) -> int:
    """Clear the claims that have been idle past their expiry (they were already free for
    others to take; this makes the queue show them free), each with its audit row."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            ReviewItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=ReviewItem.Status.OPEN, claim_expires_at__lte=now)
            .select_related("claimed_by")[:CLAIM_BATCH]
        )
        ReviewItem.objects.filter(pk__in=[i.pk for i in stale], claim_expires_at__lte=now).update(
            claimed_by=None, claim_expires_at=None
        )
        audit_bulk(
            [
                audit_event(
                    actor=SYSTEM_ACTOR,
                    action=AuditAction.REVIEW_ITEM_CLAIM_EXPIRED,
                    target=i,
                    before={"claimed_by": i.claimed_by.get_username() if i.claimed_by_id else ""},
                    after={"claimed_by": None},
                )
                for i in stale
            ]
        )
    return len(stale)


# --- decisions ------------------------------------------------------------------------------------


@dataclass
class DecisionInput:
    decision: str
    reason: str = ""
    block_number: bool = False


def _check_input(item: ReviewItem, given: DecisionInput) -> None:
    """Shape and applicability, before anything is written: a 400 at the field at fault."""
    errors: dict[str, list[str]] = {}
    if given.decision not in Decision.values:
        errors["decision"] = [
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(Decision.values)}
        ]
    elif given.decision not in ALLOWED[item.kind]:
        errors["decision"] = [
            _("“%(decision)s” does not apply to a %(kind)s.")
            % {
                "decision": Decision(given.decision).label,
                "kind": item.get_kind_display().lower(),
            }
        ]
    elif given.decision == Decision.ACCEPT and pending_correction(item) is None:
        errors["decision"] = [
            _(
                "The outlet proposed no correction to accept: dismiss the finding, ask the outlet "
                "again or confirm a violation."
            )
        ]
    reason = (given.reason or "").strip()
    if given.decision in REASON_REQUIRED and not reason:
        errors["reason"] = [_("Give the reason for this decision: it is recorded and shown.")]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [_("At most %(limit)d characters.") % {"limit": REASON_MAX}]
    if errors:
        raise ValidationError(errors)


def pending_correction(item: ReviewItem) -> ClarificationAnswer | None:
    if item.clarification_id is None:
        return None
    answer = (
        ClarificationAnswer.objects.filter(
            clarification_id=item.clarification_id, outcome=ClarificationAnswer.Outcome.PENDING
        )
        .order_by("-pk")
        .first()
    )
    return answer if answer is not None and answer.has_correction else None


def review_item_decide(
    *,
    actor,
    item: ReviewItem,
    decision: str,
    reason: str = "",
    block_number: bool = False,
    now: datetime | None = None,
) -> ReviewItem:
    """Decide one open item (see the module docstring for what each decision does).

    Rules: GraPARI or the operator; the item open and not claimed by another reviewer (a
    ``WorkflowConflict`` otherwise: 409); the decision applicable to the item's kind and its
    reason given where required (``ValidationError`` at ``decision``/``reason``: 400). All of it
    — the item, its request, discrepancies, registration, violation, sanction, audit rows — in
    one transaction: nothing is half-written.
    """
    _require_reviewer(actor)
    given = DecisionInput(
        decision=decision, reason=(reason or "").strip(), block_number=block_number
    )
    _check_input(item, given)
    now = now or timezone.now()
    with transaction.atomic():
        _decide(actor, item, given, now)
    item.refresh_from_db()
    return item


def review_items_decide_bulk(
    *,
    actor,
    items: list[ReviewItem],
    decision: str,
    reason: str = "",
    block_number: bool = False,
    now: datetime | None = None,
) -> list[ReviewItem]:
    """The same decision on many items of one kind: one request, one transaction, each item
    decided and audited as if alone. One item that cannot be decided (claimed by another,
    already decided, the decision not applicable) and nothing is written."""
    _require_reviewer(actor)
    if not items:
        raise ValidationError({"items": [_("Choose at least one item.")]})
    if len(items) > bulk_max_items():
        raise ValidationError(
            {"items": [_("At most %(limit)d items at once.") % {"limit": bulk_max_items()}]}
        )
    if len({i.kind for i in items}) > 1:
        raise ValidationError({"items": [_("A bulk decision is for items of one kind only.")]})
    given = DecisionInput(
        decision=decision, reason=(reason or "").strip(), block_number=block_number
    )
    for item in items:
        try:
            _check_input(item, given)
        except ValidationError as exc:
            raise ValidationError(
                {
                    name: [f"#{item.pk}: {message}" for message in messages]
                    for name, messages in exc.message_dict.items()
                }
            ) from exc
    now = now or timezone.now()
    ordered = sorted(items, key=lambda i: i.pk)  # one lock order for every bulk decision
    with transaction.atomic():
        for item in ordered:
            _decide(actor, item, given, now)
    for item in ordered:
        item.refresh_from_db()
    return ordered


def _decide(actor, item: ReviewItem, given: DecisionInput, now: datetime) -> None:
    # The request first, then the item: the order the sweeps and the answer take them in.
    clarification = (
        Clarification.objects.select_for_update().filter(pk=item.clarification_id).first()
        if item.clarification_id
        else None
    )
    taken = (
        ReviewItem.objects.filter(pk=item.pk, status=ReviewItem.Status.OPEN)
        .filter(_free_for(actor, now))
        .update(
            status=ReviewItem.Status.DECIDED,
            decision=given.decision,
            reason=given.reason,
            decided_by=actor,
            decided_at=now,
            claimed_by=None,
            claim_expires_at=None,
        )
    )
    if taken != 1:
        raise _conflict(item, actor, now)
    item.refresh_from_db()
    effects: dict = {}
    if given.decision == Decision.DISMISS:
        effects = _dismiss(actor, item, clarification, given, now)
    elif given.decision == Decision.ACCEPT:
        effects = _accept(actor, item, clarification, now)
    elif given.decision == Decision.ASK_AGAIN:
        effects = _ask_again(actor, item, clarification, given, now)
    elif given.decision == Decision.CONFIRM_VIOLATION:
        effects = _confirm_violation(actor, item, clarification, given, now)
        if given.block_number:
            effects.update(_block(actor, item, None, given, now))
    elif given.decision == Decision.BLOCK:
        effects = _block(actor, item, clarification, given, now)
    audit_record(
        actor=actor,
        action=AuditAction.REVIEW_ITEM_DECIDE,
        target=item,
        before={"status": "open"},
        after={"status": "decided", "decision": given.decision, "reason": given.reason, **effects},
    )
    if given.decision in (Decision.DISMISS, Decision.ACCEPT):
        registration_settle(actor=actor, registration_id=item.registration_id, now=now)
    review_decided(
        actor=actor,
        item=item,
        decision=given.decision,
        blocked="blocked" in effects,
        reason=given.reason,
        now=now,
    )


def _open_discrepancies(item: ReviewItem, clarification: Clarification | None) -> list[Discrepancy]:
    """What the item is about: its request's open discrepancies; for a flagged registration the
    number's open ones nobody is being asked about."""
    if clarification is not None:
        asked = ClarificationItem.objects.filter(clarification=clarification).values(
            "discrepancy_id"
        )
        qs = Discrepancy.objects.filter(pk__in=asked, status=Discrepancy.Status.OPEN)
    else:
        in_progress = ClarificationItem.objects.filter(
            discrepancy=OuterRef("pk"), clarification__status__in=Clarification.ACTIVE
        )
        qs = Discrepancy.objects.filter(msisdn=item.msisdn, status=Discrepancy.Status.OPEN).exclude(
            Exists(in_progress)
        )
    return list(qs.select_for_update(of=("self",)).order_by("pk"))


def _resolve(actor, item, discrepancies, outcome: str, reason: str, now) -> list[int]:
    ids = [d.pk for d in discrepancies]
    Discrepancy.objects.filter(pk__in=ids, status=Discrepancy.Status.OPEN).update(
        status=Discrepancy.Status.RESOLVED, resolved_at=now
    )
    DiscrepancyOutcome.objects.bulk_create(
        [
            DiscrepancyOutcome(
                discrepancy=d,
                msisdn=d.msisdn,
                kind=d.kind,
                fingerprint=finding_fingerprint(d.kind, d.details),
                outcome=outcome,
                review_item=item,
                decided_by=actor,
                reason=reason[:300],
            )
            for d in discrepancies
        ]
    )
    audit_bulk(
        [
            audit_event(
                actor=actor,
                action=AuditAction(f"discrepancy.{outcome}"),
                target=d,
                before={"status": "open"},
                after={"status": "resolved", "outcome": outcome, "review_item": item.pk},
            )
            for d in discrepancies
        ]
    )
    return ids


def _close_request(actor, clarification, to: str, decision: str, outcome: str, now) -> None:
    if clarification is None or not clarification.may_become(to):
        return
    clarification_transition(
        actor=actor, clarification=clarification, to=to, now=now, decision=decision
    )
    clarification.answers.filter(outcome=ClarificationAnswer.Outcome.PENDING).update(
        outcome=outcome
    )


def _dismiss(actor, item, clarification, given: DecisionInput, now) -> dict:
    """The data was right: the findings are resolved as dismissed (and remembered), the request
    accepted, the registration verified once nothing else is open."""
    resolved = _resolve(
        actor,
        item,
        _open_discrepancies(item, clarification),
        DiscrepancyOutcome.Outcome.DISMISSED,
        given.reason,
        now,
    )
    _close_request(
        actor,
        clarification,
        Clarification.Status.ACCEPTED,
        Decision.DISMISS,
        ClarificationAnswer.Outcome.ACCEPTED,
        now,
    )
    _tell_about(
        item, clarification, gettext_lazy("GraPARI dismissed the finding on %(msisdn)s: no action.")
    )
    return {"discrepancies_dismissed": resolved}


def _accept(actor, item, clarification, now) -> dict:
    """The outlet's correction is applied (a new version of the registration, the old kept).
    Each finding asked about is judged again on the corrected values by the reconciliation
    rules (``_not_settled_by_correction``): those the registration no longer has are resolved
    as corrected; when none is left the request is accepted, else the answer is accepted and
    the outlet asked again (a new round) about what the correction did not settle — a finding
    resolved here that the next run would find again would come back as a new one."""
    answer = pending_correction(item)
    registration = Registration.objects.select_for_update().get(pk=item.registration_id)
    version = _keep_version(actor, registration, answer, now)
    identity_replaced = registration_apply_correction(
        actor=actor,
        registration=registration,
        correction=answer.correction,
        id_number_encrypted=answer.correction_id_number_encrypted,
        kk_number_encrypted=answer.correction_kk_number_encrypted,
        audit_before={"version": version.version},
        audit_after={"version": version.version + 1, "clarification": answer.clarification_id},
    )
    asked = _open_discrepancies(item, clarification)
    left = _not_settled_by_correction(registration, asked, now)
    resolved = _resolve(
        actor,
        item,
        [d for d in asked if d not in left],
        DiscrepancyOutcome.Outcome.CORRECTED,
        "",
        now,
    )
    effects = {"corrected_fields": sorted(answer.correction), "version_kept": version.version,
               "discrepancies_corrected": resolved}  # fmt: skip
    if identity_replaced:
        # The new holder's face was never verified: the registration goes back to the queue
        # as flagged (docs/rules.md, "A correction never replaces a verified face").
        queue_flagged_registration(registration, now=now)
        effects["identity_replaced"] = True
    if left and clarification is not None:
        clarification.answers.filter(outcome=ClarificationAnswer.Outcome.PENDING).update(
            outcome=ClarificationAnswer.Outcome.ACCEPTED
        )
        kinds = sorted({d.kind for d in left})
        clarification_reopen(
            actor=actor,
            clarification=clarification,
            question=not_settled_text(kinds, stored=True),
            now=now,
        )
        effects["not_settled"] = kinds
        effects["clarification"] = clarification.pk
        effects["round"] = clarification.round
        return effects
    _close_request(
        actor,
        clarification,
        Clarification.Status.ACCEPTED,
        Decision.ACCEPT,
        ClarificationAnswer.Outcome.ACCEPTED,
        now,
    )
    _tell_about(
        item, clarification, gettext_lazy("GraPARI accepted your correction of %(msisdn)s.")
    )
    return effects


def _not_settled_by_correction(
    registration: Registration, discrepancies: list[Discrepancy], now
) -> list[Discrepancy]:
    """Of the findings asked about, those the corrected registration still has. The ID
    number, name and birth date are compared with the operator's record by the reconciliation
    rules, as the next run will; any other kind (over the cap, activated before registration,
    …) is about the operator's records or the sale, which a correction of the registration
    does not change: it stays. A registration reconciliation no longer compares (its life
    ended) leaves nothing to be found again."""
    judged = {rules.ID_NUMBER_MISMATCH, rules.NAME_MISMATCH, rules.BIRTH_DATE_MISMATCH}
    found = reconciliation_python.findings_of_registration(
        registration.pk, adapter=get_adapter(), now=now
    )
    if found is None:
        return []
    return [d for d in discrepancies if d.kind not in judged or d.kind in found]


def not_settled_text(kinds, *, stored: bool = False) -> str:
    """What a correction did not settle, as the outlet asked again reads it (``stored``: in
    the portal's language, kept on the request as its question)."""

    def text() -> str:
        return _(
            "The correction was accepted but does not settle: %(kinds)s. Explain it, or "
            "correct the data again with a photo of the document."
        ) % {"kinds": kind_labels(kinds)}

    if not stored:
        return text()
    with translation.override(settings.LANGUAGE_CODE):
        return text()


def not_settled_after_accept(item: ReviewItem) -> list[str]:
    """The kinds an accepted correction left open on the item's request (asked again), for
    telling the reviewer; empty when the correction settled everything."""
    return not_settled_after_accepts([item]).get(item.pk, [])


def not_settled_after_accepts(items) -> dict[int, list[str]]:
    """``not_settled_after_accept`` of many decided items (a bulk decision), in one query:
    ``{item id: kinds}`` for those whose accepted correction left something open."""
    accepted = {
        item.clarification_id: item.pk
        for item in items
        if item.decision == Decision.ACCEPT and item.clarification_id is not None
    }
    if not accepted:
        return {}
    left: dict[int, set[str]] = defaultdict(set)
    for clarification_id, kind in ClarificationItem.objects.filter(
        clarification_id__in=accepted,
        clarification__status=Clarification.Status.REOPENED,
        discrepancy__status=Discrepancy.Status.OPEN,
    ).values_list("clarification_id", "kind"):
        left[accepted[clarification_id]].add(kind)
    return {pk: sorted(kinds) for pk, kinds in left.items()}


def kind_labels(kinds) -> str:
    return ", ".join(str(DiscrepancyKind(kind).label).lower() for kind in kinds)


def _ask_again(actor, item, clarification, given: DecisionInput, now) -> dict:
    if clarification is not None:
        clarification_reopen(
            actor=actor, clarification=clarification, question=given.reason, now=now
        )
        return {"clarification": clarification.pk, "round": clarification.round}
    if item.registration_id is None:
        raise ValidationError({"decision": [_("There is no registration to ask about.")]})
    registration = Registration.objects.select_related("outlet").get(pk=item.registration_id)
    opened = clarification_open_for_registration(
        actor=actor, registration=registration, question=given.reason, now=now
    )
    return {"clarification": opened.pk, "round": opened.round}


def _confirm_violation(actor, item, clarification, given: DecisionInput, now) -> dict:
    violation, sanction = violation_confirm(
        actor=actor, item=item, clarification=clarification, reason=given.reason, now=now
    )
    _close_request(
        actor,
        clarification,
        Clarification.Status.REJECTED,
        Decision.CONFIRM_VIOLATION,
        ClarificationAnswer.Outcome.REJECTED,
        now,
    )
    effects = {"violation": violation.pk}
    if sanction is not None:
        effects["sanction"] = {"id": sanction.pk, "level": sanction.level}
    return effects


def _block(actor, item, clarification, given: DecisionInput, now) -> dict:
    """The number is blocked: its registration and pack here, the operator told after the
    commit (``NumberBlock`` keeps trying until its adapter accepts). Every request and item
    still open about the number is closed with it; the findings stay open (the data is wrong;
    reconciliation resolves them when the operator's record changes)."""
    registration = registration_block(
        actor=actor,
        msisdn=item.msisdn,
        registration_id=item.registration_id,
        reason=given.reason,
        now=now,
    )
    block = number_block(
        actor=actor,
        msisdn=item.msisdn,
        registration=registration,
        review_item=item,
        reason=given.reason,
    )
    # Everything still open about the number ends with it.
    for other in (
        Clarification.objects.select_for_update()
        .filter(msisdn=item.msisdn, status__in=Clarification.ACTIVE)
        .exclude(pk=clarification.pk if clarification is not None else None)
    ):
        _close_request(
            actor,
            other,
            Clarification.Status.REJECTED,
            Decision.BLOCK,
            ClarificationAnswer.Outcome.REJECTED,
            now,
        )
    if clarification is not None:
        _close_request(
            actor,
            clarification,
            Clarification.Status.REJECTED,
            Decision.BLOCK,
            ClarificationAnswer.Outcome.REJECTED,
            now,
        )
    others = list(
        ReviewItem.objects.filter(msisdn=item.msisdn, status=ReviewItem.Status.OPEN).exclude(
            pk=item.pk
        )
    )
    ReviewItem.objects.filter(pk__in=[o.pk for o in others]).update(
        status=ReviewItem.Status.CLOSED,
        decided_at=now,
        decided_by=actor,
        reason=_("closed: the number was blocked"),
        claimed_by=None,
        claim_expires_at=None,
    )
    audit_bulk(
        [
            audit_event(
                actor=actor,
                action=AuditAction.REVIEW_ITEM_CLOSE,
                target=o,
                before={"status": "open"},
                after={"status": "closed", "reason": "number blocked", "by_item": item.pk},
            )
            for o in others
        ]
    )
    _tell_about(item, clarification, gettext_lazy("GraPARI blocked the number %(msisdn)s."))
    return {"blocked": item.msisdn, "number_block": block.pk}


def _tell_about(item: ReviewItem, clarification: Clarification | None, message) -> None:
    """Tell the party asked (or, for a flagged registration, its outlet) about a decision;
    ``message`` is lazy, so each reader gets it in their language, not the decider's."""
    if clarification is not None and clarification.accountable != "outlet":
        users = dealer_admin_users(dealer_ids=[clarification.dealer_id])
    elif item.outlet_id:
        users = outlet_staff_users(outlet_ids=[item.outlet_id])
    else:
        return
    notify(users=users, text=lambda: str(message) % {"msisdn": display_msisdn(item.msisdn)})


# --- corrections ----------------------------------------------------------------------------------


def _keep_version(actor, registration: Registration, answer: ClarificationAnswer, now):
    """The values a correction replaces, kept as the registration's next version (the ID and KK
    numbers encrypted as they were)."""
    last = registration.versions.aggregate(n=Max("version"))["n"] or 0
    return RegistrationVersion.objects.create(
        registration=registration,
        version=last + 1,
        values=registration_versioned_values(registration),
        id_number_encrypted=registration.id_number_encrypted,
        id_number_digest=registration.id_number_digest,
        kk_number_encrypted=registration.kk_number_encrypted,
        kk_number_digest=registration.kk_number_digest,
        replaced_at=now,
        replaced_by=actor if is_signed_in(actor) else None,
        answer=answer,
    )
