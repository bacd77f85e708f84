"""What enters GraPARI's review queue.

- ``review_item_enqueue``: a clarification request its party answered (due after the review
  target). An expired request enters through the expiry sweep (``clarifications``).
- ``review_queue_sync``: the flagged registrations nobody is asked about — flagged at
  registration (a doubtful document, over the cap, an unreadable photo) or unknown to the
  operator — set-based and idempotent; the nightly run also hands the open discrepancies nobody
  was ever asked about to the intake.
"""

# SQL here is assembled from table and column names of our own models; every value is a bound
# parameter.
# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.arrays import AnyOf
from core.audit import AuditAction, actor_label, audit_bulk, audit_event, audit_record
from core.models import AuditEvent
from core.requestid import request_id as current_request_id
from outlets.models import Outlet
from subscribers.models import Registration

from ..models import (
    Clarification,
    ClarificationItem,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyOutcome,
    ReviewItem,
)
from ..reconciliation.rules import OUTLET_ACCOUNTABLE_KINDS
from .intake import (
    INTAKE_BATCH,
    clarifications_open_for_discrepancies,
    discrepancies_dismiss_again,
    dismissed_findings,
)
from .support import SYSTEM_ACTOR, finding_fingerprint, kinds_string, review_target, set_based

Kind = ReviewItem.Kind
SYNC_BATCH = 1000


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
        discrepancy_kinds=kinds_string(kinds),
        queued_at=now,
        due_at=(
            clarification.due_at
            if kind == ReviewItem.Kind.EXPIRED_CLARIFICATION
            else now + review_target()
        ),
    )
    audit_record(
        actor=SYSTEM_ACTOR,
        action=AuditAction.REVIEW_ITEM_QUEUE,
        target=item,
        after={"kind": kind, "clarification": clarification.pk},
    )
    return item


def review_queue_sync(*, since: datetime | None = None, now: datetime | None = None) -> dict:
    """Queue the flagged registrations nobody is asked about, set-based and idempotent.

    - flagged with review reasons (doubtful document, over the cap, unreadable photo) and never
      queued for them, no request about them in progress;
    - with an open "unknown to the operator" discrepancy not yet queued (a finding a reviewer
      dismissed before is settled instead).
    ``since`` limits the look to what changed since then (the frequent run); None looks at
    everything and also hands over open discrepancies nobody was ever asked about (the
    nightly run: e.g. those no run's hand-over reached).
    """
    now = now or timezone.now()
    counts = {"reasons": 0, "unknown_to_operator": 0, "handed_over": 0}
    counts["reasons"] = _queue_flagged_with_reasons(since, now)
    counts["unknown_to_operator"] = _queue_unknown_to_operator(since, now)
    if since is None:
        counts["handed_over"] = _hand_over_unasked(now)
    return counts


def _item_for(registration_values: dict, *, now, discrepancy_id=None, kinds="") -> ReviewItem:
    return ReviewItem(
        kind=Kind.FLAGGED_REGISTRATION,
        msisdn=registration_values["msisdn"],
        registration_id=registration_values["pk"],
        discrepancy_id=discrepancy_id,
        outlet_id=registration_values["outlet_id"],
        dealer_id=registration_values["outlet__dealer_id"],
        province=registration_values["outlet__province"],
        region=registration_values["outlet__region"],
        discrepancy_kinds=kinds,
        queued_at=now,
        due_at=now + review_target(),
    )


REG_FIELDS = ("pk", "msisdn", "outlet_id", "outlet__dealer_id", "outlet__province",
              "outlet__region", "registration_number")  # fmt: skip


def _queue_flagged_with_reasons(since, now) -> int:
    queued_before = ReviewItem.objects.filter(
        registration=OuterRef("pk"), kind=Kind.FLAGGED_REGISTRATION, discrepancy__isnull=True
    )
    asked = Clarification.objects.filter(msisdn=OuterRef("msisdn"), status__in=Clarification.ACTIVE)
    qs = (
        Registration.objects.filter(status=Registration.Status.FLAGGED)
        .exclude(review_reasons=[])
        .exclude(Exists(queued_before))
        .exclude(Exists(asked))
    )
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    total = 0
    rows = qs.order_by("pk").values(*REG_FIELDS, "review_reasons").iterator(chunk_size=SYNC_BATCH)
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == SYNC_BATCH:
            total += _insert_flagged(batch, now)
            batch = []
    if batch:
        total += _insert_flagged(batch, now)
    return total


def queue_flagged_registration(registration: Registration, *, now) -> int:
    """Queue one flagged registration now, whether or not it was queued before for other
    reasons (an accepted correction that replaced a face-verified NIK)."""
    row = Registration.objects.filter(pk=registration.pk).values(*REG_FIELDS).get()
    return _insert_flagged([row], now)


def _insert_flagged(batch: list[dict], now) -> int:
    with transaction.atomic():
        items = [_item_for(row, now=now) for row in batch]
        ReviewItem.objects.bulk_create(items, ignore_conflicts=True)
        queued = list(
            ReviewItem.objects.filter(
                registration_id__in=[r["pk"] for r in batch],
                kind=Kind.FLAGGED_REGISTRATION,
                status=ReviewItem.Status.OPEN,
                queued_at=now,
            )
        )
        audit_bulk(
            [
                audit_event(
                    actor=SYSTEM_ACTOR,
                    action=AuditAction.REVIEW_ITEM_QUEUE,
                    target=i,
                    after={"kind": i.kind, "registration": i.registration_id},
                )
                for i in queued
            ]
        )
    return len(queued)


def unknown_to_operator_opened(*, discrepancy_ids) -> None:
    """The hand-over receiver of the review queue (``compliance.reconciliation.handover``,
    registered in ``ComplianceConfig.ready()``): a run's new "unknown to the operator"
    findings are queued for GraPARI in the transaction that ends the run, so a reviewer sees
    them as soon as the run ends (the periodic sync remains the safety net). Any number of
    ids: they are taken ``INTAKE_BATCH`` at a time."""
    now = timezone.now()
    for start in range(0, len(discrepancy_ids), INTAKE_BATCH):
        _queue_unknown_to_operator(None, now, ids=discrepancy_ids[start : start + INTAKE_BATCH])


def _queue_unknown_to_operator(since, now, *, ids: list[int] | None = None) -> int:
    queued = ReviewItem.objects.filter(discrepancy=OuterRef("pk"))
    qs = (
        Discrepancy.objects.filter(
            status=Discrepancy.Status.OPEN,
            kind=DiscrepancyKind.MISSING_IN_OPERATOR,
            registration__isnull=False,
        )
        .exclude(registration__status=Registration.Status.BLOCKED)
        .exclude(Exists(queued))
    )
    if since is not None:
        qs = qs.filter(detected_at__gte=since)
    if ids is not None:
        qs = qs.filter(AnyOf("pk", ids))
    total = 0
    # A hand-over's batch (ids given) is one statement; the periodic sync's own look is taken
    # SYNC_BATCH at a time, each in its transaction.
    step = INTAKE_BATCH if ids is not None else SYNC_BATCH
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), step):
        chunk = ids[start : start + step]
        with transaction.atomic():
            # A finding dismissed before is settled, as in the hand-over from reconciliation:
            # only the numbers with a dismissal of this kind are looked at in Python.
            dismissed_outcome = DiscrepancyOutcome.objects.filter(
                msisdn=OuterRef("msisdn"),
                kind=OuterRef("kind"),
                outcome__in=[
                    DiscrepancyOutcome.Outcome.DISMISSED,
                    DiscrepancyOutcome.Outcome.DISMISSED_BEFORE,
                ],
            )
            candidates = list(
                Discrepancy.objects.filter(AnyOf("pk", chunk), status=Discrepancy.Status.OPEN)
                .filter(Exists(dismissed_outcome))
                .values("pk", "kind", "details", "msisdn")
            )
            dismissed = dismissed_findings(
                {r["msisdn"] for r in candidates}, kind=DiscrepancyKind.MISSING_IN_OPERATOR
            )
            again = [
                r
                for r in candidates
                if (r["msisdn"], r["kind"], finding_fingerprint(r["kind"], r["details"]))
                in dismissed
            ]
            if again:
                discrepancies_dismiss_again(again, now=now)
            if not set_based():
                total += _queue_unknown_orm(chunk, {r["pk"] for r in again}, now)
                continue
            # One statement: the items and their audit rows.
            with connection.cursor() as cursor:
                cursor.execute(
                    _QUEUE_UNKNOWN,
                    {
                        "ids": chunk,
                        "settled": [r["pk"] for r in again],
                        "open": Discrepancy.Status.OPEN,
                        "kind": Kind.FLAGGED_REGISTRATION,
                        "now": now,
                        "due_at": now + review_target(),
                        "action": AuditAction.REVIEW_ITEM_QUEUE.value,
                        "actor_label": actor_label(SYSTEM_ACTOR),
                        "request_id": current_request_id.get() or "",
                        **_REVIEW_ITEM_DEFAULTS,
                    },
                )
                total += cursor.rowcount
    return total


def _queue_unknown_orm(ids: list[int], settled: set[int], now) -> int:
    """``_QUEUE_UNKNOWN`` through the ORM (see ``support.set_based``): the same items and
    audit rows."""
    rows = list(
        Discrepancy.objects.filter(AnyOf("pk", ids), status=Discrepancy.Status.OPEN)
        .exclude(AnyOf("pk", sorted(settled)))
        .order_by("pk")
        .values(
            "pk", "kind",
            *(f"registration__{f}" for f in ("pk", "msisdn", "outlet_id", "outlet__dealer_id",
                                             "outlet__province", "outlet__region")),
        )
    )  # fmt: skip
    ReviewItem.objects.bulk_create(
        [
            _item_for(
                {
                    "pk": r["registration__pk"],
                    "msisdn": r["registration__msisdn"],
                    "outlet_id": r["registration__outlet_id"],
                    "outlet__dealer_id": r["registration__outlet__dealer_id"],
                    "outlet__province": r["registration__outlet__province"] or "",
                    "outlet__region": r["registration__outlet__region"] or "",
                },
                now=now,
                discrepancy_id=r["pk"],
                kinds=kinds_string([r["kind"]]),
            )
            for r in rows
        ],
        ignore_conflicts=True,
    )
    created = list(
        ReviewItem.objects.filter(
            AnyOf("discrepancy_id", [r["pk"] for r in rows]), queued_at=now
        ).order_by("pk")
    )
    audit_bulk(
        [
            audit_event(
                actor=SYSTEM_ACTOR,
                action=AuditAction.REVIEW_ITEM_QUEUE,
                target=i,
                # As ``_QUEUE_UNKNOWN`` writes it: codes, not labels in some language.
                target_repr=f"#{i.pk} {i.kind} {i.msisdn} ({i.status})"[:200],
                after={"kind": i.kind, "discrepancy": i.discrepancy_id},
            )
            for i in created
        ]
    )
    return len(created)


def _review_item_columns() -> tuple[str, str, dict]:
    """The review item's columns for ``_QUEUE_UNKNOWN``: those it sets, and every other one
    at its model default (so a column added to the model needs no change here)."""
    given = {
        "kind": "%(kind)s",
        "msisdn": "r.msisdn",
        "registration_id": "r.id",
        "discrepancy_id": "d.id",
        "outlet_id": "r.outlet_id",
        "dealer_id": "o.dealer_id",
        "province": "coalesce(o.province, '')",
        "region": "coalesce(o.region, '')",
        "discrepancy_kinds": "',' || d.kind || ','",
        "queued_at": "%(now)s",
        "due_at": "%(due_at)s",
    }
    columns, values, defaults = [], [], {}
    for field in ReviewItem._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.attname in given:
            values.append(given[field.attname])
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values.append("%(now)s")
        else:
            defaults[f"default_{field.column}"] = field.get_default()
            values.append(f"%(default_{field.column})s")
    return ", ".join(columns), ", ".join(values), defaults


_REVIEW_COLUMNS, _REVIEW_VALUES, _REVIEW_ITEM_DEFAULTS = _review_item_columns()

# The queue's new items for open "unknown to the operator" findings (not settled as dismissed
# before, not queued yet: the unique discrepancy), each with its audit row — one statement.
_QUEUE_UNKNOWN = f"""
WITH queued AS (
    INSERT INTO {ReviewItem._meta.db_table} ({_REVIEW_COLUMNS})
    SELECT {_REVIEW_VALUES}
    FROM {Discrepancy._meta.db_table} d
    JOIN {Registration._meta.db_table} r ON r.id = d.registration_id
    LEFT JOIN {Outlet._meta.db_table} o ON o.id = r.outlet_id
    WHERE d.id = ANY(%(ids)s) AND d.status = %(open)s AND NOT d.id = ANY(%(settled)s)
    ORDER BY d.id
    ON CONFLICT DO NOTHING
    RETURNING id, kind, msisdn, status, discrepancy_id
)
INSERT INTO {AuditEvent._meta.db_table}
    (actor_id, actor_label, action, target_type, target_id, target_repr, request_id, before,
     after, created_at)
SELECT NULL, %(actor_label)s, %(action)s, 'compliance.reviewitem', q.id::text,
       left('#' || q.id || ' ' || q.kind || ' ' || q.msisdn || ' (' || q.status || ')', 200),
       %(request_id)s, NULL,
       jsonb_build_object('kind', q.kind, 'discrepancy', q.discrepancy_id), %(now)s
FROM queued q
ORDER BY q.id
"""


def _hand_over_unasked(now) -> int:
    """Open outlet-accountable discrepancies with an outlet that no request ever asked about
    (of a registration not blocked) go through the same hand-over as a run's new ones."""
    asked = ClarificationItem.objects.filter(discrepancy=OuterRef("pk"))
    ids = list(
        Discrepancy.objects.filter(
            status=Discrepancy.Status.OPEN,
            kind__in=sorted(OUTLET_ACCOUNTABLE_KINDS),
            outlet__isnull=False,
        )
        .exclude(registration__status=Registration.Status.BLOCKED)
        .exclude(Exists(asked))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    handed = 0
    for start in range(0, len(ids), SYNC_BATCH):
        chunk = ids[start : start + SYNC_BATCH]
        result = clarifications_open_for_discrepancies(discrepancy_ids=chunk, now=now)
        handed += result.opened + result.extended
    return handed
