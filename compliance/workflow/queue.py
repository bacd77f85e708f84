"""What enters GraPARI's review queue.

- ``review_item_enqueue``: a clarification request its party answered (due after the review
  target). An expired request enters through the expiry sweep (``clarifications``).
- ``review_queue_sync``: the flagged registrations nobody is asked about — flagged at
  registration (a doubtful document, over the cap, an unreadable photo) or unknown to the
  operator — set-based and idempotent; the nightly run also hands the open discrepancies nobody
  was ever asked about to the intake.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.audit import AuditAction, audit_bulk, audit_event, audit_record
from subscribers.models import Registration

from ..models import Clarification, ClarificationItem, Discrepancy, DiscrepancyKind, ReviewItem
from ..reconciliation.rules import OUTLET_ACCOUNTABLE_KINDS
from .intake import (
    clarifications_open_for_discrepancies,
    discrepancies_dismiss_again,
    dismissed_findings,
)
from .support import SYSTEM_ACTOR, finding_fingerprint, kinds_string, review_target

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


def unknown_to_operator_opened(*, discrepancy_ids: list[int]) -> None:
    """The hand-over receiver of the review queue (``compliance.reconciliation.handover``,
    registered in ``ComplianceConfig.ready()``): a run's new "unknown to the operator"
    findings are queued for GraPARI in the transaction that ends the run, so a reviewer sees
    them as soon as the run ends (the periodic sync remains the safety net)."""
    _queue_unknown_to_operator(None, timezone.now(), ids=discrepancy_ids)


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
        qs = qs.filter(pk__in=list(ids))
    total = 0
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), SYNC_BATCH):
        chunk = ids[start : start + SYNC_BATCH]
        with transaction.atomic():
            rows = list(
                Discrepancy.objects.filter(pk__in=chunk, status=Discrepancy.Status.OPEN).values(
                    "pk", "kind", "details", "msisdn",
                    *(f"registration__{f}" for f in ("pk", "msisdn", "outlet_id",
                      "outlet__dealer_id", "outlet__province", "outlet__region")),
                )
            )  # fmt: skip
            # A finding dismissed before is settled, as in the hand-over from reconciliation.
            dismissed = dismissed_findings(
                {r["msisdn"] for r in rows}, kind=DiscrepancyKind.MISSING_IN_OPERATOR
            )
            again = [
                r
                for r in rows
                if (r["msisdn"], r["kind"], finding_fingerprint(r["kind"], r["details"]))
                in dismissed
            ]
            if again:
                discrepancies_dismiss_again(again, now=now)
            settled = {r["pk"] for r in again}
            items = [
                _item_for(
                    {
                        "pk": r["registration__pk"],
                        "msisdn": r["registration__msisdn"],
                        "outlet_id": r["registration__outlet_id"],
                        "outlet__dealer_id": r["registration__outlet__dealer_id"],
                        "outlet__province": r["registration__outlet__province"],
                        "outlet__region": r["registration__outlet__region"],
                    },
                    now=now,
                    discrepancy_id=r["pk"],
                    kinds=kinds_string([r["kind"]]),
                )
                for r in rows
                if r["pk"] not in settled
            ]
            ReviewItem.objects.bulk_create(items, ignore_conflicts=True)
            created = list(
                ReviewItem.objects.filter(discrepancy_id__in=[r["pk"] for r in rows], queued_at=now)
            )
            audit_bulk(
                [
                    audit_event(
                        actor=SYSTEM_ACTOR,
                        action=AuditAction.REVIEW_ITEM_QUEUE,
                        target=i,
                        after={"kind": i.kind, "discrepancy": i.discrepancy_id},
                    )
                    for i in created
                ]
            )
            total += len(created)
    return total


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
