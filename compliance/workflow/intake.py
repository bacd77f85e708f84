"""The workflow's intake: findings handed over by reconciliation become clarification requests.

``discrepancies_opened`` is the receiver the workflow registers with reconciliation's hand-over
(``compliance.reconciliation.handover``, from ``ComplianceConfig.ready()``): a finishing run
calls it once per batch (up to 1 000) of the discrepancies it newly opened; it takes those of
the kinds an outlet is accountable for (``rules.OUTLET_ACCOUNTABLE_KINDS``) that have an outlet
(the review queue's receiver, ``queue.unknown_to_operator_opened``, takes those unknown to the
operator), inside the
transaction that marks the run succeeded: the intake and the run's success commit together or
not at all. Anything leaving the database (mail) waits for ``transaction.on_commit``.

The work is ``clarifications_open_for_discrepancies``, set-based: a batch of discrepancies costs
a fixed number of queries whatever its size. One request per number gathers its discrepancies; a
later run finding more adds them to the request in progress; a finding a reviewer dismissed
before (same number, kind and values: ``dismissed_findings``) is settled at once
(``discrepancies_dismiss_again``) instead of being asked about again.

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

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.audit import AuditAction, audit_bulk, audit_event
from outlets.models import Outlet
from subscribers.accountability import AccountableParty, accountable_parties_for_msisdns
from subscribers.models import Registration

from ..models import (
    Clarification,
    ClarificationItem,
    Discrepancy,
    DiscrepancyOutcome,
    ReviewItem,
)
from ..reconciliation.rules import OUTLET_ACCOUNTABLE_KINDS
from .notifications import new_requests_message, tell_accountable
from .support import SYSTEM_ACTOR, deadline_days, finding_fingerprint, kinds_string

logger = logging.getLogger(__name__)


@dataclass
class HandOver:
    """What one hand-over did (the hook's summary, logged)."""

    opened: int = 0
    extended: int = 0
    dismissed_before: int = 0
    skipped_blocked: int = 0


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


def discrepancies_opened(*, discrepancy_ids: list[int]) -> None:
    """Open or extend the clarification requests of these newly opened discrepancies — those
    of the kinds an outlet is accountable for that have an outlet (the hand-over gives every
    new finding; the review queue takes those unknown to the operator): one request per
    number, to the party accountable for it, with the deadline of the policy in force; a
    finding a reviewer dismissed before is settled without asking anyone."""
    ids = list(
        Discrepancy.objects.filter(
            pk__in=list(discrepancy_ids),
            kind__in=sorted(OUTLET_ACCOUNTABLE_KINDS),
            outlet__isnull=False,
        ).values_list("pk", flat=True)
    )
    if ids:
        clarifications_open_for_discrepancies(discrepancy_ids=ids)


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
                action=AuditAction.DISCREPANCY_DISMISS_AGAIN,
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
        ).only("pk", "msisdn", "status", "round", "registration_id")
    }
    # A request about an earlier life of the number (another registration: the number was
    # deactivated and issued again) is settled, never extended with the new life's findings:
    # its outlet must not see the next holder's values.
    earlier = [
        c
        for m, c in existing.items()
        if c.registration_id and registration_of.get(m) and c.registration_id != registration_of[m]
    ]
    if earlier:
        from .clarifications import _withdraw

        _withdraw(earlier, now)
        for c in earlier:
            del existing[c.msisdn]
    to_open = [m for m in msisdns if m not in existing]
    # A new request gathers every open discrepancy of its number not yet asked about, not only
    # those this batch hands over (e.g. ones no hand-over reached).
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
            action=AuditAction.CLARIFICATION_OPEN,
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
            action=AuditAction.CLARIFICATION_EXTEND,
            target=c,
            after={"kinds_added": sorted(kinds_of[c.msisdn])},
        )
        for c in extended
    ]
    audit_bulk(events)
    _refresh_review_kinds([c.pk for c in extended])
    result.opened += len(opened)
    result.extended += len(extended)
    tell_accountable(opened, new_requests_message)
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
            discrepancy_kinds=kinds_string(kinds[item.clarification_id])
        )
