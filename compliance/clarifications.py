"""Clarification requests: the accountable party is asked about what reconciliation found.

- ``clarifications_open_for_discrepancies``: the hand-over from reconciliation
  (``workflow.discrepancies_opened``), set-based: a batch of discrepancies costs a fixed number
  of queries whatever its size. One request per number gathers its discrepancies; a later run
  finding more adds them to the request in progress; a finding a reviewer dismissed before is
  settled at once instead of being asked about again.
- ``clarification_answer``: the outlet (or the dealer, for its own and its parties' packs)
  explains, may propose a correction — validated by the same rules as a new registration, under
  the registration's policy, applied only when GraPARI accepts it — and attaches evidence.
- ``clarification_reopen``: GraPARI asks again (a new round, a new deadline).
- ``clarifications_expire_overdue`` / ``clarifications_settle_agreeing``: the periodic sweeps.

Who is accountable is ``subscribers.accountability.accountable_parties_for_msisdns``: the
registering outlet; for an unregistered pack the party of an agreement in force on its activation
day, else the pack's dealer (the dealer's admins answer for themselves and their parties, which
have no accounts); a number the portal does not know at all falls back to the outlet the operator
says sold it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import pii
from core.audit import audit_bulk, audit_event
from core.masking import mask_id_number
from identity import photos
from identity.messages import photo_message
from outlets.models import Outlet
from outlets.selectors import dealer_id_for_user, staff_membership_for_user
from subscribers.accountability import AccountableParty, accountable_parties_for_msisdns
from subscribers.models import Registration
from subscribers.rules import FieldErrors, clean_registration_fields
from subscribers.selectors import NoPolicyInForce, policy_in_force

from .models import (
    Clarification,
    ClarificationAnswer,
    ClarificationItem,
    Discrepancy,
    DiscrepancyOutcome,
    RegistrationVersion,
    ReviewItem,
)
from .notifications import dealer_admin_users, notify, outlet_staff_users
from .reconcile_rules import OUTLET_ACCOUNTABLE_KINDS
from .workflow_support import (
    NON_FIELD,
    SYSTEM_ACTOR,
    WorkflowConflict,
    finding_fingerprint,
    review_target,
)

logger = logging.getLogger(__name__)

# What a correction may change: the buyer's data, never the pack.
CORRECTABLE_FIELDS = (
    "id_type",
    "id_number",
    "kk_number",
    "full_name",
    "birth_place",
    "birth_date",
    "sex",
    "address",
    "nationality",
)
SECRET_FIELDS = ("id_number", "kk_number")
EXPLANATION_MAX = 2000
SWEEP_BATCH = 500
DEFAULT_DEADLINE_DAYS = 7


@dataclass
class HandOver:
    """What one hand-over did (the hook's summary, logged)."""

    opened: int = 0
    extended: int = 0
    dismissed_before: int = 0
    skipped_blocked: int = 0


# --- helpers --------------------------------------------------------------------------------------


def deadline_days(at: datetime) -> int:
    """Days to answer under the policy in force at ``at`` (7 when no policy is in force)."""
    try:
        return policy_in_force(at=at).clarification_deadline_days
    except NoPolicyInForce:
        return DEFAULT_DEADLINE_DAYS


def _activation_day(row: dict) -> date:
    operator = (row["details"] or {}).get("operator") or {}
    activated = parse_datetime(operator.get("activated_at") or "") if operator else None
    return timezone.localdate(activated or row["detected_at"])


def _accountable_for(rows: list[dict], now: datetime) -> dict[str, AccountableParty]:
    """Who answers for each number: registered numbers at once, unregistered ones per
    activation day (agreements are in force for periods)."""
    result: dict[str, AccountableParty] = {}
    registered = [r["msisdn"] for r in rows if r["registration_id"]]
    if registered:
        result.update(accountable_parties_for_msisdns(msisdns=registered, at=now))
    by_day: dict[date, list[str]] = defaultdict(list)
    for row in rows:
        if not row["registration_id"]:
            by_day[_activation_day(row)].append(row["msisdn"])
    for day, msisdns in by_day.items():
        result.update(accountable_parties_for_msisdns(msisdns=msisdns, at=day))
    # A number the portal does not know: the outlet the operator says sold it.
    unknown = {r["outlet_id"] for r in rows if r["msisdn"] not in result and r["outlet_id"]}
    if unknown:
        outlets = dict(Outlet.objects.filter(pk__in=unknown).values_list("pk", "dealer_id"))
        roids = dict(Outlet.objects.filter(pk__in=unknown).values_list("pk", "roid"))
        for row in rows:
            if row["msisdn"] not in result and row["outlet_id"] in outlets:
                result[row["msisdn"]] = AccountableParty(
                    AccountableParty.OUTLET,
                    outlets[row["outlet_id"]],
                    roids[row["outlet_id"]],
                    outlet_id=row["outlet_id"],
                )
    return result


def _new_request(msisdn: str, registration_id, party: AccountableParty, *, now, due_at):
    kind = {
        AccountableParty.OUTLET: Clarification.Accountable.OUTLET,
        AccountableParty.PARTY: Clarification.Accountable.PARTY,
        AccountableParty.DEALER: Clarification.Accountable.DEALER,
    }[party.kind]
    return Clarification(
        msisdn=msisdn,
        registration_id=registration_id,
        accountable=kind,
        outlet_id=party.outlet_id if kind == Clarification.Accountable.OUTLET else None,
        dealer_id=party.dealer_id,
        party_id=party.party_id,
        agreement_id=party.agreement_id,
        status=Clarification.Status.OPEN,
        opened_at=now,
        due_at=due_at,
    )


def _tell_accountable(clarifications: list[Clarification], message) -> None:
    """One notification per person per outlet (or dealer), not one per request.

    ``message(count, due_at)`` is called in each recipient's language.
    """
    by_outlet: dict[int, list[Clarification]] = defaultdict(list)
    by_dealer: dict[int, list[Clarification]] = defaultdict(list)
    for clarification in clarifications:
        if clarification.accountable == Clarification.Accountable.OUTLET:
            by_outlet[clarification.outlet_id].append(clarification)
        else:
            by_dealer[clarification.dealer_id].append(clarification)
    link = reverse("compliance:inbox")
    for outlet_id, group in by_outlet.items():
        due = min(c.due_at for c in group)
        notify(
            users=outlet_staff_users(outlet_ids=[outlet_id]),
            text=lambda g=group, d=due: message(len(g), d),
            link=link,
        )
    for dealer_id, group in by_dealer.items():
        due = min(c.due_at for c in group)
        notify(
            users=dealer_admin_users(dealer_ids=[dealer_id]),
            text=lambda g=group, d=due: message(len(g), d),
            link=link,
        )


def _due_text(due_at: datetime) -> str:
    return date_format(timezone.localtime(due_at), "j M Y H:i")


def _new_requests_message(count: int, due_at: datetime) -> str:
    return ngettext(
        "%(count)d new clarification request: answer by %(due)s.",
        "%(count)d new clarification requests: answer by %(due)s.",
        count,
    ) % {"count": count, "due": _due_text(due_at)}


def _kinds_string(kinds) -> str:
    ordered = sorted(set(kinds))
    return "," + ",".join(ordered) + "," if ordered else ""


# --- the hand-over from reconciliation ------------------------------------------------------------


def clarifications_open_for_discrepancies(
    *, discrepancy_ids: list[int], now: datetime | None = None, actor=SYSTEM_ACTOR
) -> HandOver:
    """Open (or extend) the clarification requests of these newly opened discrepancies.

    Rules: discrepancies no longer open, and those of a blocked registration, are left alone; a
    finding a reviewer dismissed before (same number, kind and values) is settled as
    ``dismissed_before`` and asks nobody; the others are grouped by number: the request in
    progress for that number gains them, or a new one is opened to the accountable party with
    the deadline of the policy in force. Each opened or extended request has its audit row; the
    people of each outlet (or dealer) concerned get one notification.
    """
    now = now or timezone.now()
    result = HandOver()
    rows = list(
        Discrepancy.objects.filter(pk__in=list(discrepancy_ids), status=Discrepancy.Status.OPEN)
        .order_by("pk")
        .values(
            "pk",
            "msisdn",
            "kind",
            "registration_id",
            "registration__status",
            "outlet_id",
            "details",
            "detected_at",
        )
    )
    if not rows:
        return result
    with transaction.atomic():
        rows = _settle_dismissed_before(rows, now=now, actor=actor, result=result)
        blocked = [r for r in rows if r["registration__status"] == Registration.Status.BLOCKED]
        result.skipped_blocked = len(blocked)
        rows = [r for r in rows if r["registration__status"] != Registration.Status.BLOCKED]
        if rows:
            _open_or_extend(rows, now=now, actor=actor, result=result)
    if result.opened or result.extended or result.dismissed_before:
        logger.info("clarifications: %s", result)
    return result


def _settle_dismissed_before(rows: list[dict], *, now, actor, result: HandOver) -> list[dict]:
    dismissed = dismissed_findings({r["msisdn"] for r in rows})
    again, rest = [], []
    for row in rows:
        row["fingerprint"] = finding_fingerprint(row["kind"], row["details"])
        key = (row["msisdn"], row["kind"], row["fingerprint"])
        (again if key in dismissed else rest).append(row)
    if again:
        discrepancies_dismiss_again(again, now=now, actor=actor)
        result.dismissed_before = len(again)
    return rest


def discrepancies_dismiss_again(rows: list[dict], *, now: datetime, actor=SYSTEM_ACTOR) -> None:
    """Settle findings a reviewer dismissed before (rows: ``pk``, ``msisdn``, ``kind``,
    ``details``): resolved as ``dismissed_before``, each with its audit row."""
    Discrepancy.objects.filter(
        pk__in=[r["pk"] for r in rows], status=Discrepancy.Status.OPEN
    ).update(status=Discrepancy.Status.RESOLVED, resolved_at=now)
    DiscrepancyOutcome.objects.bulk_create(
        [
            DiscrepancyOutcome(
                discrepancy_id=r["pk"],
                msisdn=r["msisdn"],
                kind=r["kind"],
                fingerprint=finding_fingerprint(r["kind"], r["details"]),
                outcome=DiscrepancyOutcome.Outcome.DISMISSED_BEFORE,
            )
            for r in rows
        ],
        ignore_conflicts=True,
    )
    audit_bulk(
        [
            audit_event(
                actor=actor,
                action="discrepancy.dismiss_again",
                target=Discrepancy(pk=r["pk"], msisdn=r["msisdn"], kind=r["kind"]),
                before={"status": "open"},
                after={"status": "resolved", "outcome": "dismissed_before"},
            )
            for r in rows
        ]
    )


def dismissed_findings(msisdns, *, kind: str | None = None) -> set[tuple[str, str, str]]:
    """(msisdn, kind, fingerprint) of the findings dismissed before on these numbers."""
    qs = DiscrepancyOutcome.objects.filter(
        msisdn__in=list(msisdns),
        outcome__in=[
            DiscrepancyOutcome.Outcome.DISMISSED,
            DiscrepancyOutcome.Outcome.DISMISSED_BEFORE,
        ],
    )
    if kind is not None:
        qs = qs.filter(kind=kind)
    return set(qs.values_list("msisdn", "kind", "fingerprint"))


def _open_or_extend(rows: list[dict], *, now, actor, result: HandOver) -> None:
    msisdns = sorted({r["msisdn"] for r in rows})
    registration_of = {r["msisdn"]: r["registration_id"] for r in rows}
    existing = {
        c.msisdn: c
        for c in Clarification.objects.filter(
            msisdn__in=msisdns, status__in=Clarification.ACTIVE
        ).only("pk", "msisdn", "status", "round")
    }
    to_open = [m for m in msisdns if m not in existing]
    # A new request gathers every open discrepancy of its number not yet asked about, not only
    # those this batch hands over (e.g. ones opened before the workflow existed).
    if to_open:
        asked = ClarificationItem.objects.filter(discrepancy=OuterRef("pk"))
        extra = (
            Discrepancy.objects.filter(
                msisdn__in=to_open,
                status=Discrepancy.Status.OPEN,
                kind__in=sorted(OUTLET_ACCOUNTABLE_KINDS),
            )
            .exclude(pk__in=[r["pk"] for r in rows])
            .exclude(Exists(asked))
            .values("pk", "msisdn", "kind", "registration_id", "outlet_id", "details")
        )
        rows = rows + [{**r, "detected_at": now} for r in extra]
    parties = _accountable_for([r for r in rows if r["msisdn"] in set(to_open)], now)
    due_at = now + timedelta(days=deadline_days(now))
    new = [
        _new_request(m, registration_of.get(m), parties[m], now=now, due_at=due_at)
        for m in to_open
        if m in parties
    ]
    if new:
        # A request a reviewer opened meanwhile wins (the unique constraint); re-read below.
        Clarification.objects.bulk_create(new, ignore_conflicts=True)
    active = {
        c.msisdn: c
        for c in Clarification.objects.filter(
            msisdn__in=msisdns, status__in=Clarification.ACTIVE
        ).select_related("outlet")
    }
    already = set(
        ClarificationItem.objects.filter(
            discrepancy_id__in=[r["pk"] for r in rows],
            clarification_id__in=[c.pk for c in active.values()],
        ).values_list("clarification_id", "discrepancy_id")
    )
    fresh = [
        r
        for r in rows
        if r["msisdn"] in active and (active[r["msisdn"]].pk, r["pk"]) not in already
    ]
    ClarificationItem.objects.bulk_create(
        [
            ClarificationItem(
                clarification=active[r["msisdn"]],
                discrepancy_id=r["pk"],
                kind=r["kind"],
                round=active[r["msisdn"]].round,
                added_at=now,
            )
            for r in fresh
        ],
        ignore_conflicts=True,
    )

    kinds_of: dict[str, set[str]] = defaultdict(set)
    for r in fresh:
        kinds_of[r["msisdn"]].add(r["kind"])
    opened = [c for m, c in active.items() if m not in existing]
    extended = [c for m, c in active.items() if m in existing and kinds_of[m]]
    events = [
        audit_event(
            actor=actor,
            action="clarification.open",
            target=c,
            after={
                "status": c.status,
                "accountable": c.accountable,
                "outlet": c.outlet.roid if c.outlet_id else None,
                "kinds": sorted(kinds_of[c.msisdn]),
                "due_at": c.due_at.isoformat(),
            },
        )
        for c in opened
    ] + [
        audit_event(
            actor=actor,
            action="clarification.extend",
            target=c,
            after={"kinds_added": sorted(kinds_of[c.msisdn])},
        )
        for c in extended
    ]
    audit_bulk(events)
    _refresh_review_kinds([c.pk for c in extended])
    result.opened += len(opened)
    result.extended += len(extended)
    _tell_accountable(opened, _new_requests_message)
    skipped = [m for m in to_open if m not in parties]
    if skipped:
        logger.warning("clarifications: nobody accountable for %d number(s)", len(skipped))


def _refresh_review_kinds(clarification_ids: list[int]) -> None:
    """An open review item of an extended request lists the kinds it now covers."""
    if not clarification_ids:
        return
    kinds: dict[int, set[str]] = defaultdict(set)
    for clarification_id, kind in ClarificationItem.objects.filter(
        clarification_id__in=clarification_ids
    ).values_list("clarification_id", "kind"):
        kinds[clarification_id].add(kind)
    for item in ReviewItem.objects.filter(
        clarification_id__in=clarification_ids, status=ReviewItem.Status.OPEN
    ).only("pk", "clarification_id"):
        ReviewItem.objects.filter(pk=item.pk).update(
            discrepancy_kinds=_kinds_string(kinds[item.clarification_id])
        )


# --- who may answer -------------------------------------------------------------------------------


def may_answer(user, clarification: Clarification) -> bool:
    """The active staff of the outlet asked; the dealer's admins for the dealer's own and its
    parties' requests."""
    if not getattr(user, "is_authenticated", False):
        return False
    if clarification.accountable == Clarification.Accountable.OUTLET:
        membership = staff_membership_for_user(user=user)
        return membership is not None and membership.outlet_id == clarification.outlet_id
    return dealer_id_for_user(user=user) == clarification.dealer_id


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
                    % {"due": _due_text(clarification.due_at)}
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


# --- corrections ----------------------------------------------------------------------------------


def registration_values(registration: Registration) -> dict:
    """The correctable values of a registration, ID and KK numbers decrypted (never shown)."""
    return {
        "id_type": registration.id_type,
        "id_number": pii.decrypt(registration.id_number_encrypted),
        "kk_number": pii.decrypt(registration.kk_number_encrypted),
        "full_name": registration.full_name,
        "birth_place": registration.birth_place,
        "birth_date": registration.birth_date,
        "sex": registration.sex,
        "address": registration.address,
        "nationality": registration.nationality,
    }


def _validated_correction(
    registration: Registration, correction: dict, errors: FieldErrors, now: datetime
) -> dict:
    """The fields the correction really changes, validated like a new registration under the
    registration's own policy (the corrected values merged into the current ones, so that a
    NIK is checked against the birth date and sex it will stand with). Faults go to ``errors``
    at their fields."""
    from subscribers.services import _check_staff_and_cap

    current = registration_values(registration)
    merged = {
        **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in current.items()},
        **correction,
        "msisdn": registration.msisdn,
        "iccid": "",
    }
    own = FieldErrors()
    clean = clean_registration_fields(
        merged, policy=registration.policy, today=timezone.localdate(now), errors=own
    )
    if clean is not None and (
        clean.id_number != current["id_number"] or clean.kk_number != current["kk_number"]
    ):
        # The 2018 rule (not the outlet's own staff's ID or KK) and the cap apply to a new
        # number as they do at the counter. Only the new ID counts against the cap.
        _check_staff_and_cap(
            clean, policy=registration.policy, outlet_id=registration.outlet_id, errors=own
        )
    for field_name, messages in own.errors.items():
        for message in messages:
            errors.add(field_name, message)
    if clean is None or own:
        return {}
    return {
        name: getattr(clean, name)
        for name in CORRECTABLE_FIELDS
        if getattr(clean, name) != current[name]
    }


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


# --- answering ------------------------------------------------------------------------------------


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
        changes = _validated_correction(registration, proposed, errors, now)
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
    audit_event(
        actor=actor,
        action=f"clarification.{to}",
        target=clarification,
        before={"status": before},
        after={"status": to, **(audit_after or {})},
    ).save()


def review_item_enqueue(*, clarification: Clarification, kind: str, now: datetime) -> ReviewItem:
    """Put a request into GraPARI's queue (answered: due after the review target; expired: due
    at its passed deadline, so the most overdue come first)."""
    outlet = clarification.outlet
    kinds = clarification.items.values_list("kind", flat=True)
    item = ReviewItem.objects.create(
        kind=kind,
        msisdn=clarification.msisdn,
        registration_id=clarification.registration_id,
        clarification=clarification,
        outlet=outlet,
        dealer_id=clarification.dealer_id,
        province=outlet.province if outlet else "",
        region=outlet.region if outlet else "",
        discrepancy_kinds=_kinds_string(kinds),
        queued_at=now,
        due_at=(
            clarification.due_at
            if kind == ReviewItem.Kind.EXPIRED_CLARIFICATION
            else now + review_target()
        ),
    )
    audit_event(
        actor=SYSTEM_ACTOR,
        action="review_item.queue",
        target=item,
        after={"kind": kind, "clarification": clarification.pk},
    ).save()
    return item


# --- asked again ----------------------------------------------------------------------------------


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
    _tell_accountable(
        [clarification],
        lambda count, due: (
            _("GraPARI asks again about %(msisdn)s: answer by %(due)s.")
            % {"msisdn": clarification.msisdn, "due": _due_text(due)}
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
        opened_by=actor if getattr(actor, "is_authenticated", False) else None,
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
    audit_event(
        actor=actor,
        action="clarification.open",
        target=clarification,
        after={"status": "open", "outlet": outlet.roid, "question": question[:300]},
    ).save()
    _tell_accountable([clarification], _new_requests_message)
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
                discrepancy_kinds=_kinds_string(kinds[c.pk]),
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
                action="clarification.expired",
                target=c,
                before={"status": c.status},
                after={"status": "expired", "due_at": c.due_at.isoformat(), "escalated": True},
            )
            for c in batch
        ]
    )
    _tell_accountable(
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
            action="clarification.withdrawn",
            target=c,
            before={"status": c.status},
            after={"status": "withdrawn", "reason": "the data agrees again"},
        )
        for c in batch
    ] + [
        audit_event(
            actor=SYSTEM_ACTOR,
            action="review_item.close",
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
                action="registration.unflag",
                target=r,
                before={"status": "flagged"},
                after={"status": "registered", "reason": "the data agrees again"},
            )
            for r in unflag
        ]
    audit_bulk(events)


# --- personal data ------------------------------------------------------------------------------


def workflow_personal_data_erase(*, registration_ids) -> int:
    """Blank the personal data the workflow keeps about these registrations — the values of
    their earlier versions, the corrections proposed for them and their evidence photos — the
    way ``privacy.services.anonymise`` blanks the registration itself (names, places, address,
    ID and KK numbers go; the birth date keeps its year). For the retention purge and erasure
    to call in their transaction. Returns the rows changed."""
    ids = list(registration_ids)
    changed = 0
    for version in RegistrationVersion.objects.filter(registration_id__in=ids):
        values = dict(version.values or {})
        for name in ("full_name", "birth_place", "address", "id_number_masked", "kk_number_masked"):
            if name in values:
                values[name] = ""
        if values.get("birth_date"):
            values["birth_date"] = str(values["birth_date"])[:4]
        version.values = values
        version.id_number_encrypted = version.kk_number_encrypted = ""
        version.id_number_digest = version.kk_number_digest = ""
        version.save()
        changed += 1
    answers = ClarificationAnswer.objects.filter(clarification__registration_id__in=ids)
    for answer in answers:
        if answer.evidence_photo:
            answer.evidence_photo.delete(save=False)
        answer.correction = {name: "" for name in answer.correction}
        answer.explanation = ""  # free text: it may name the buyer
        answer.correction_id_number_encrypted = answer.correction_kk_number_encrypted = ""
        answer.evidence_photo = ""
        answer.save()
        changed += 1
    return changed
