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

Who is accountable is ``subscribers.accountability.accountable_parties_on_days`` (one statement
a batch, each number on its day): the
registering outlet; for an unregistered pack the party of an agreement in force on its activation
day, else the pack's dealer (the dealer's admins answer for themselves and their parties, which
have no accounts); a number the portal does not know at all falls back to the outlet the operator
says sold it.
"""

# SQL here is assembled from table names of our own models; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.arrays import AnyOf
from core.audit import AuditAction, actor_label, audit_bulk, audit_event
from core.models import AuditEvent
from core.requestid import request_id as current_request_id
from outlets.models import Outlet
from subscribers.accountability import AccountableParty, accountable_parties_on_days
from subscribers.models import Registration

from ..models import (
    Clarification,
    ClarificationItem,
    Discrepancy,
    DiscrepancyOutcome,
    ReviewItem,
)
from ..reconciliation.rules import OUTLET_ACCOUNTABLE_KINDS
from .notifications import new_requests_message, tell_groups
from .support import SYSTEM_ACTOR, deadline_days, finding_fingerprint, kinds_string, set_based

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
    # One statement for the whole batch: each (number, day) pair, registered numbers on
    # today's date, then the others day by day (a later pair of a number wins).
    today = timezone.localdate(now)
    pairs = [(r["msisdn"], today) for r in rows if r["registration_id"]]
    by_day: dict[date, list[str]] = defaultdict(list)
    for row in rows:
        if not row["registration_id"]:
            by_day[_activation_day(row)].append(row["msisdn"])
    pairs += [(msisdn, day) for day, msisdns in by_day.items() for msisdn in msisdns]
    pairs = list(dict.fromkeys(pairs))
    result: dict[str, AccountableParty] = {}
    for (msisdn, _day), party in zip(pairs, accountable_parties_on_days(pairs), strict=True):
        if party is not None:
            result[msisdn] = party
    # A number the portal does not know: the outlet the operator says sold it.
    unknown = {r["outlet_id"] for r in rows if r["msisdn"] not in result and r["outlet_id"]}
    if unknown:
        outlets = dict(Outlet.objects.filter(AnyOf("pk", unknown)).values_list("pk", "dealer_id"))
        roids = dict(Outlet.objects.filter(AnyOf("pk", unknown)).values_list("pk", "roid"))
        for row in rows:
            if row["msisdn"] not in result and row["outlet_id"] in outlets:
                result[row["msisdn"]] = AccountableParty(
                    AccountableParty.OUTLET,
                    outlets[row["outlet_id"]],
                    roids[row["outlet_id"]],
                    outlet_id=row["outlet_id"],
                )
    return result


# Discrepancies a hand-over takes at a time: its queries are a fixed number per batch, its
# memory that of one batch; the notifications wait for the last batch (one per person).
INTAKE_BATCH = 10_000

# Who answers for a number, as a request records it.
_ACCOUNTABLE_OF = {
    AccountableParty.OUTLET: Clarification.Accountable.OUTLET,
    AccountableParty.PARTY: Clarification.Accountable.PARTY,
    AccountableParty.DEALER: Clarification.Accountable.DEALER,
}


class Tell:
    """The new requests of a whole hand-over, counted per outlet (or dealer), so that each
    person is told once with the total, whatever the number of batches."""

    def __init__(self) -> None:
        self.by_outlet: dict[int, tuple[int, datetime]] = {}
        self.by_dealer: dict[int, tuple[int, datetime]] = {}

    def add(self, groups) -> None:
        """Add ``groups``: (to the outlet?, outlet or dealer id, requests, first due), as
        ``_GROUPS_OPENED`` counts them — an outlet's requests by outlet, a party's or a
        dealer's by dealer."""
        for to_outlet, key, count, due_at in groups:
            target = self.by_outlet if to_outlet else self.by_dealer
            before, due = target.get(key, (0, due_at))
            target[key] = (before + count, min(due, due_at))

    def send(self, message) -> int:
        return tell_groups(by_outlet=self.by_outlet, by_dealer=self.by_dealer, message=message)


def discrepancies_opened(*, discrepancy_ids) -> None:
    """Open or extend the clarification requests of these newly opened discrepancies — those
    of the kinds an outlet is accountable for that have an outlet (the hand-over gives every
    new finding; the review queue takes those unknown to the operator): one request per
    number, to the party accountable for it, with the deadline of the policy in force; a
    finding a reviewer dismissed before is settled without asking anyone. Any number of ids:
    they are taken ``INTAKE_BATCH`` at a time, and each person concerned is told once."""
    tell = Tell()
    for start in range(0, len(discrepancy_ids), INTAKE_BATCH):
        clarifications_open_for_discrepancies(
            discrepancy_ids=discrepancy_ids[start : start + INTAKE_BATCH],
            tell=tell,
            outlet_accountable_only=True,
        )
    tell.send(new_requests_message)


def clarifications_open_for_discrepancies(
    *,
    discrepancy_ids: list[int],
    now: datetime | None = None,
    actor=SYSTEM_ACTOR,
    tell: Tell | None = None,
    outlet_accountable_only: bool = False,
) -> HandOver:
    """Open (or extend) the clarification requests of these newly opened discrepancies.

    Rules: discrepancies no longer open, and those of a blocked registration, are left alone; a
    finding a reviewer dismissed before (same number, kind and values) is settled as
    ``dismissed_before`` and asks nobody; the others are grouped by number: the request in
    progress for that number gains them, or a new one is opened to the accountable party with
    the deadline of the policy in force. Each opened or extended request has its audit row; the
    people of each outlet (or dealer) concerned get one notification (at once, or, with
    ``tell``, when the caller sends what it gathered). ``outlet_accountable_only``: of these ids,
    only those of the kinds an outlet is accountable for that have an outlet (the hand-over's
    choice, made in the same query).
    """
    now = now or timezone.now()
    result = HandOver()
    found = Discrepancy.objects.filter(AnyOf("pk", discrepancy_ids), status=Discrepancy.Status.OPEN)
    if outlet_accountable_only:
        found = found.filter(AnyOf("kind", sorted(OUTLET_ACCOUNTABLE_KINDS)), outlet__isnull=False)
    rows = list(
        found.order_by("pk").values(
            "pk",
            "msisdn",
            "kind",
            "registration_id",
            "registration__status",
            "outlet_id",
            "detected_at",
        )
    )
    if not rows:
        return result
    # The details (JSON) only where they are read: an unregistered number's (its activation day
    # says who answers for it), and a finding's whose kind was dismissed before on its number
    # (``_settle_dismissed_before``) — not a first run's tens of thousands of others.
    _with_details([r for r in rows if not r["registration_id"]])
    with transaction.atomic():
        rows = _settle_dismissed_before(rows, now=now, actor=actor, result=result)
        blocked = [r for r in rows if r["registration__status"] == Registration.Status.BLOCKED]
        result.skipped_blocked = len(blocked)
        rows = [r for r in rows if r["registration__status"] != Registration.Status.BLOCKED]
        if rows:
            open_or_extend = _open_or_extend if set_based() else _open_or_extend_orm
            open_or_extend(rows, now=now, actor=actor, result=result, tell=tell)
    if result.opened or result.extended or result.dismissed_before:
        logger.info("clarifications: %s", result)
    return result


def _with_details(rows: list[dict]) -> None:
    """Each row's ``details`` read, where it does not hold them yet (one query)."""
    missing = [r for r in rows if "details" not in r]
    if missing:
        details = dict(
            Discrepancy.objects.filter(AnyOf("pk", [r["pk"] for r in missing])).values_list(
                "pk", "details"
            )
        )
        for row in missing:
            row["details"] = details[row["pk"]]


def _settle_dismissed_before(rows: list[dict], *, now, actor, result: HandOver) -> list[dict]:
    dismissed = dismissed_findings({r["msisdn"] for r in rows})
    # Only a finding whose number and kind were dismissed before is fingerprinted (a first
    # run's tens of thousands have none).
    dismissed_kinds = {(msisdn, kind) for msisdn, kind, _fingerprint in dismissed}
    _with_details([r for r in rows if (r["msisdn"], r["kind"]) in dismissed_kinds])
    again, rest = [], []
    for row in rows:
        key = (row["msisdn"], row["kind"])
        fingerprint = (
            finding_fingerprint(row["kind"], row["details"]) if key in dismissed_kinds else None
        )
        (again if (*key, fingerprint) in dismissed else rest).append(row)
    if again:
        discrepancies_dismiss_again(again, now=now, actor=actor)
        result.dismissed_before = len(again)
    return rest


def discrepancies_dismiss_again(rows: list[dict], *, now: datetime, actor=SYSTEM_ACTOR) -> None:
    """Settle findings a reviewer dismissed before (rows: ``pk``, ``msisdn``, ``kind``,
    ``details``): resolved as ``dismissed_before``, each with its audit row."""
    Discrepancy.objects.filter(
        AnyOf("pk", [r["pk"] for r in rows]), status=Discrepancy.Status.OPEN
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
        AnyOf("msisdn", msisdns),
        outcome__in=[
            DiscrepancyOutcome.Outcome.DISMISSED,
            DiscrepancyOutcome.Outcome.DISMISSED_BEFORE,
        ],
    )
    if kind is not None:
        qs = qs.filter(kind=kind)
    return set(qs.values_list("msisdn", "kind", "fingerprint"))


def _tell_and_warn(groups, tell: Tell | None, skipped: list[str]) -> None:
    """The people concerned told of the opened requests (at once, or gathered in ``tell`` for
    the caller to send); the numbers nobody answers for logged."""
    if tell is None:
        tell = Tell()
        tell.add(groups)
        tell.send(new_requests_message)
    else:
        tell.add(groups)
    if skipped:
        logger.warning("clarifications: nobody accountable for %d number(s)", len(skipped))


def _earlier_lives_settled(rows: list[dict], now) -> tuple[dict, dict]:
    """The active requests of the batch's numbers, by number, once those about an earlier life
    of the number are settled; and each number's registration."""
    msisdns = sorted({r["msisdn"] for r in rows})
    registration_of = {r["msisdn"]: r["registration_id"] for r in rows}
    existing = {
        c.msisdn: c
        for c in Clarification.objects.filter(
            AnyOf("msisdn", msisdns), status__in=Clarification.ACTIVE
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
    return existing, registration_of


def _open_or_extend(rows: list[dict], *, now, actor, result: HandOver, tell: Tell | None) -> None:
    msisdns = sorted({r["msisdn"] for r in rows})
    existing, registration_of = _earlier_lives_settled(rows, now)
    to_open = [m for m in msisdns if m not in existing]
    # A new request gathers every open discrepancy of its number not yet asked about, not only
    # those this batch hands over (e.g. ones no hand-over reached).
    if to_open:
        # The batch's own ids as a hashed anti-join: ``NOT id = ANY(10 000 ids)`` compared
        # each candidate with every id of the batch.
        with connection.cursor() as cursor:
            cursor.execute(
                _UNASKED_OF_NUMBERS,
                {
                    "msisdn": to_open,
                    "kinds": sorted(OUTLET_ACCOUNTABLE_KINDS),
                    "open": Discrepancy.Status.OPEN,
                    "handed": [r["pk"] for r in rows],
                },
            )
            extra = [
                {
                    "pk": pk,
                    "msisdn": msisdn,
                    "kind": kind,
                    "registration_id": registration_id,
                    "outlet_id": outlet_id,
                    "details": json.loads(details) if isinstance(details, str) else details,
                    "detected_at": now,
                }
                for pk, msisdn, kind, registration_id, outlet_id, details in cursor.fetchall()
            ]
        rows = rows + extra
    opening = set(to_open)
    parties = _accountable_for([r for r in rows if r["msisdn"] in opening], now)
    due_at = now + timedelta(days=deadline_days(now))
    # Set-based from here: one INSERT for the new requests, one for their items, one for the
    # audit rows; Python holds the batch's keys only.
    new = [(m, parties[m]) for m in to_open if m in parties]
    with connection.cursor() as cursor:
        if new:
            # A request a reviewer opened meanwhile wins (the unique constraint).
            cursor.execute(
                _INSERT_REQUESTS,
                {
                    "msisdn": [m for m, _p in new],
                    "registration": [registration_of.get(m) for m, _p in new],
                    "accountable": [_ACCOUNTABLE_OF[p.kind] for _m, p in new],
                    "outlet": [
                        p.outlet_id if p.kind == AccountableParty.OUTLET else None for _m, p in new
                    ],
                    "dealer": [p.dealer_id for _m, p in new],
                    "party": [p.party_id for _m, p in new],
                    "agreement": [p.agreement_id for _m, p in new],
                    "status": Clarification.Status.OPEN,
                    "now": now,
                    "due_at": due_at,
                },
            )
        # Each discrepancy to its number's active request, unless it is on it already.
        cursor.execute(
            _INSERT_ITEMS,
            {
                "discrepancy": [r["pk"] for r in rows],
                "msisdn": [r["msisdn"] for r in rows],
                "kind": [r["kind"] for r in rows],
                "active": list(Clarification.ACTIVE),
                "now": now,
            },
        )
        # The requests this batch opened (those of the numbers that had none: a reviewer's
        # opened meanwhile counts, as it gains the findings) and those it extended.
        # Who is told: the opened requests counted per outlet (or dealer), in the database.
        cursor.execute(
            _GROUPS_OPENED,
            {
                "msisdn": to_open,
                "active": list(Clarification.ACTIVE),
                "outlet": Clarification.Accountable.OUTLET,
            },
        )
        groups = cursor.fetchall()
        opened = sum(count for _to_outlet, _key, count, _due in groups)
        cursor.execute("SELECT DISTINCT clarification_id FROM intake_added")
        gained = {pk for (pk,) in cursor.fetchall()}
        extended_ids = sorted(c.pk for c in existing.values() if c.pk in gained)
        common = {
            "actor_id": actor.pk if getattr(actor, "is_authenticated", False) else None,
            "actor_label": actor_label(actor),
            "request_id": current_request_id.get() or "",
            "now": now,
        }
        if opened:
            cursor.execute(
                _AUDIT_OPENED,
                {
                    **common,
                    "action": AuditAction.CLARIFICATION_OPEN.value,
                    "msisdn": to_open,
                    "active": list(Clarification.ACTIVE),
                },
            )
        if extended_ids:
            cursor.execute(
                _AUDIT_EXTENDED,
                {**common, "action": AuditAction.CLARIFICATION_EXTEND.value, "ids": extended_ids},
            )
    _refresh_review_kinds(extended_ids)
    result.opened += opened
    result.extended += len(extended_ids)
    _tell_and_warn(groups, tell, [m for m in to_open if m not in parties])


def _request_repr(c: Clarification) -> str:
    # As the set-based statements write it: the status code, not its label in some language.
    return f"#{c.pk} {c.msisdn} ({c.status})"[:200]


def _open_or_extend_orm(
    rows: list[dict], *, now, actor, result: HandOver, tell: Tell | None
) -> None:
    """``_open_or_extend`` through the ORM, for databases without PostgreSQL's arrays (see
    ``support.set_based``): the same requests, items, audit rows and notifications, in a few
    queries a batch."""
    msisdns = sorted({r["msisdn"] for r in rows})
    existing, registration_of = _earlier_lives_settled(rows, now)
    to_open = [m for m in msisdns if m not in existing]
    if to_open:
        asked = ClarificationItem.objects.filter(discrepancy=OuterRef("pk"))
        handed = {r["pk"] for r in rows}
        extra = (
            Discrepancy.objects.filter(
                AnyOf("msisdn", to_open),
                status=Discrepancy.Status.OPEN,
                kind__in=sorted(OUTLET_ACCOUNTABLE_KINDS),
            )
            .exclude(Exists(asked))
            .order_by("pk")
            .values("pk", "msisdn", "kind", "registration_id", "outlet_id", "details")
        )
        rows = rows + [{**r, "detected_at": now} for r in extra if r["pk"] not in handed]
    opening = set(to_open)
    parties = _accountable_for([r for r in rows if r["msisdn"] in opening], now)
    due_at = now + timedelta(days=deadline_days(now))
    new = [
        Clarification(
            msisdn=m,
            registration_id=registration_of.get(m),
            accountable=_ACCOUNTABLE_OF[p.kind],
            outlet_id=p.outlet_id if p.kind == AccountableParty.OUTLET else None,
            dealer_id=p.dealer_id,
            party_id=p.party_id,
            agreement_id=p.agreement_id,
            status=Clarification.Status.OPEN,
            opened_at=now,
            due_at=due_at,
            updated_at=now,
        )
        for m, p in ((m, parties[m]) for m in to_open if m in parties)
    ]
    if new:
        # A request a reviewer opened meanwhile wins (the unique constraint); read again below.
        Clarification.objects.bulk_create(new, ignore_conflicts=True)
    active = {
        c.msisdn: c
        for c in Clarification.objects.filter(
            AnyOf("msisdn", msisdns), status__in=Clarification.ACTIVE
        ).select_related("outlet")
    }
    already = set(
        ClarificationItem.objects.filter(
            AnyOf("discrepancy_id", [r["pk"] for r in rows]),
            AnyOf("clarification_id", [c.pk for c in active.values()]),
        ).values_list("clarification_id", "discrepancy_id")
    )
    fresh = [
        r
        for r in sorted(rows, key=lambda r: r["pk"])
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
    opened = sorted((c for m, c in active.items() if m not in existing), key=lambda c: c.pk)
    extended = sorted(
        (c for m, c in active.items() if m in existing and kinds_of[m]), key=lambda c: c.pk
    )
    audit_bulk(
        [
            audit_event(
                actor=actor,
                action=AuditAction.CLARIFICATION_OPEN,
                target=c,
                target_repr=_request_repr(c),
                after={
                    "status": c.status,
                    "accountable": c.accountable,
                    "outlet": c.outlet.roid if c.outlet_id else None,
                    "kinds": sorted(kinds_of[c.msisdn]),
                    "due_at": c.due_at.isoformat(),
                },
            )
            for c in opened
        ]
        + [
            audit_event(
                actor=actor,
                action=AuditAction.CLARIFICATION_EXTEND,
                target=c,
                target_repr=_request_repr(c),
                after={"kinds_added": sorted(kinds_of[c.msisdn])},
            )
            for c in extended
        ]
    )
    _refresh_review_kinds([c.pk for c in extended])
    result.opened += len(opened)
    result.extended += len(extended)
    groups: dict[tuple[bool, int], tuple[int, datetime]] = {}
    for c in opened:
        to_outlet = c.accountable == Clarification.Accountable.OUTLET
        key = (to_outlet, c.outlet_id if to_outlet else c.dealer_id)
        count, due = groups.get(key, (0, c.due_at))
        groups[key] = (count + 1, min(due, c.due_at))
    summary = [(to_outlet, key, n, due) for (to_outlet, key), (n, due) in groups.items()]
    _tell_and_warn(summary, tell, [m for m in to_open if m not in parties])


CLAR = Clarification._meta.db_table
ITEM = ClarificationItem._meta.db_table
DISC = Discrepancy._meta.db_table
AUDIT = AuditEvent._meta.db_table
OUTLET = Outlet._meta.db_table

# The open discrepancies of these numbers, of the kinds an outlet answers for, that no request
# asks about and that this batch does not hand over itself.
_UNASKED_OF_NUMBERS = f"""
SELECT d.id, d.msisdn, d.kind, d.registration_id, d.outlet_id, d.details
FROM {DISC} d
WHERE d.msisdn = ANY(%(msisdn)s) AND d.status = %(open)s AND d.kind = ANY(%(kinds)s)
  AND NOT EXISTS (SELECT 1 FROM unnest(%(handed)s::bigint[]) AS h(id) WHERE h.id = d.id)
  AND NOT EXISTS (SELECT 1 FROM {ITEM} i WHERE i.discrepancy_id = d.id)
ORDER BY d.id
"""

# The requests of these numbers in progress, counted per outlet (an outlet's) or per dealer (a
# party's or a dealer's: the dealer's admins answer for them), with the first deadline.
_GROUPS_OPENED = f"""
SELECT c.accountable = %(outlet)s AS to_outlet,
       CASE WHEN c.accountable = %(outlet)s THEN c.outlet_id ELSE c.dealer_id END AS key,
       count(*), min(c.due_at)
FROM {CLAR} c
WHERE c.msisdn = ANY(%(msisdn)s) AND c.status = ANY(%(active)s)
GROUP BY 1, 2
"""

_INSERT_REQUESTS = f"""
INSERT INTO {CLAR} (msisdn, registration_id, accountable, outlet_id, dealer_id, party_id,
                    agreement_id, status, question, round, opened_by_id, opened_at, due_at,
                    answered_at, expired_at, resolved_at, decision, updated_at)
SELECT n.msisdn, n.registration_id, n.accountable, n.outlet_id, n.dealer_id, n.party_id,
       n.agreement_id, %(status)s, '', 1, NULL, %(now)s, %(due_at)s, NULL, NULL, NULL, '',
       %(now)s
FROM unnest(%(msisdn)s::varchar[], %(registration)s::bigint[], %(accountable)s::varchar[],
            %(outlet)s::bigint[], %(dealer)s::bigint[], %(party)s::bigint[],
            %(agreement)s::bigint[])
     AS n(msisdn, registration_id, accountable, outlet_id, dealer_id, party_id, agreement_id)
ORDER BY n.msisdn
ON CONFLICT DO NOTHING
"""

# The items' temporary record of what this batch added (dropped at commit), so that the audit
# rows name the kinds each request gained.
_INSERT_ITEMS = f"""
CREATE TEMP TABLE IF NOT EXISTS intake_added (clarification_id bigint, kind varchar(32))
    ON COMMIT DROP;
TRUNCATE intake_added;
WITH added AS (
    INSERT INTO {ITEM} (clarification_id, discrepancy_id, kind, round, added_at)
    SELECT c.id, d.discrepancy_id, d.kind, c.round, %(now)s
    FROM unnest(%(discrepancy)s::bigint[], %(msisdn)s::varchar[], %(kind)s::varchar[])
         AS d(discrepancy_id, msisdn, kind)
    JOIN {CLAR} c ON c.msisdn = d.msisdn AND c.status = ANY(%(active)s)
    ORDER BY c.id, d.discrepancy_id
    ON CONFLICT DO NOTHING
    RETURNING clarification_id, kind
)
INSERT INTO intake_added SELECT clarification_id, kind FROM added
"""

_KINDS_ADDED = """(
    SELECT clarification_id, jsonb_agg(DISTINCT kind ORDER BY kind) AS kinds
    FROM intake_added GROUP BY clarification_id)"""

# A moment as Python's ``datetime.isoformat()`` writes one in UTC (the audit row's text).
_ISOFORMAT = (
    "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    " || CASE WHEN extract(microseconds FROM {0})::bigint %% 1000000 = 0 THEN ''"
    " ELSE to_char({0} AT TIME ZONE 'UTC', '.US') END || '+00:00'"
)

# The audit rows of the requests opened (those in progress for the numbers that had none).
_AUDIT_OPENED = f"""
INSERT INTO {AUDIT} (actor_id, actor_label, action, target_type, target_id, target_repr,
                     request_id, before, after, created_at)
SELECT %(actor_id)s, %(actor_label)s, %(action)s, 'compliance.clarification', c.id::text,
       left('#' || c.id || ' ' || c.msisdn || ' (' || c.status || ')', 200), %(request_id)s,
       NULL,
       jsonb_build_object('status', c.status, 'accountable', c.accountable,
                          'outlet', o.roid, 'kinds', coalesce(k.kinds, '[]'),
                          'due_at', {_ISOFORMAT.format("c.due_at")}),
       %(now)s
FROM {CLAR} c
LEFT JOIN {OUTLET} o ON o.id = c.outlet_id
LEFT JOIN {_KINDS_ADDED} k ON k.clarification_id = c.id
WHERE c.msisdn = ANY(%(msisdn)s) AND c.status = ANY(%(active)s)
ORDER BY c.id
"""

_AUDIT_EXTENDED = f"""
INSERT INTO {AUDIT} (actor_id, actor_label, action, target_type, target_id, target_repr,
                     request_id, before, after, created_at)
SELECT %(actor_id)s, %(actor_label)s, %(action)s, 'compliance.clarification', c.id::text,
       left('#' || c.id || ' ' || c.msisdn || ' (' || c.status || ')', 200), %(request_id)s,
       NULL, jsonb_build_object('kinds_added', k.kinds), %(now)s
FROM {CLAR} c
JOIN {_KINDS_ADDED} k ON k.clarification_id = c.id
WHERE c.id = ANY(%(ids)s)
ORDER BY c.id
"""


def _refresh_review_kinds(clarification_ids: list[int]) -> None:
    """An open review item of an extended request lists the kinds it now covers (as
    ``kinds_string`` writes them) — one statement."""
    if not clarification_ids:
        return
    if not set_based():
        kinds: dict[int, set[str]] = defaultdict(set)
        for clarification_id, kind in ClarificationItem.objects.filter(
            AnyOf("clarification_id", clarification_ids)
        ).values_list("clarification_id", "kind"):
            kinds[clarification_id].add(kind)
        items = list(
            ReviewItem.objects.filter(
                AnyOf("clarification_id", clarification_ids), status=ReviewItem.Status.OPEN
            ).only("pk", "clarification_id")
        )
        for item in items:
            item.discrepancy_kinds = kinds_string(kinds[item.clarification_id])
        ReviewItem.objects.bulk_update(items, ["discrepancy_kinds"], batch_size=1000)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _REFRESH_REVIEW_KINDS,
            {"ids": list(clarification_ids), "open": ReviewItem.Status.OPEN},
        )


# ``kinds_string`` in SQL: the distinct kinds in byte order, each between commas.
_REFRESH_REVIEW_KINDS = f"""
UPDATE {ReviewItem._meta.db_table} ri
SET discrepancy_kinds = k.kinds
FROM (
    SELECT clarification_id, ',' || string_agg(kind, ',' ORDER BY kind) || ',' AS kinds
    FROM (SELECT DISTINCT clarification_id, kind::text COLLATE "C" AS kind
          FROM {ITEM} WHERE clarification_id = ANY(%(ids)s)) i
    GROUP BY clarification_id
) k
WHERE ri.clarification_id = k.clarification_id AND ri.status = %(open)s
"""
