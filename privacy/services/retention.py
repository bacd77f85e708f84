"""The retention purge and the number-deactivation sync that starts its clock."""

from datetime import datetime
from itertools import islice

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.operator import get_adapter
from holders.services import holder_records_purge
from subscribers.models import Registration
from subscribers.services import face_photos_purge

from .. import selectors
from ..models import PrivacyJob, RegistrationPrivacy
from .anonymise import registrations_anonymise
from .common import chunk_size
from .export_files import export_files_purge
from .jobs import Progress, checkpoint, privacy_job_start
from .ledger import erasure_ledger_purge

SYNC_BATCH = 2000


def retention_purge_start(*, trigger: str, requested_by=None, dispatch: bool = True) -> PrivacyJob:
    """Queue a purge of what is past the retention period (and of erasures now possible)."""
    return privacy_job_start(
        kind=PrivacyJob.Kind.RETENTION_PURGE,
        trigger=trigger,
        requested_by=requested_by,
        dispatch=dispatch,
    )


def run_retention_purge(job: PrivacyJob, token: str, progress: Progress) -> None:
    """Two passes, each in keyset order so a resumed job goes on where it stopped: numbers
    deactivated before the cut-off, then erasures whose number has since left service."""
    cutoff = datetime.fromisoformat(job.parameters["cutoff"])
    size = int(job.parameters.get("chunk_size") or chunk_size())
    actor = job.requested_by or "retention-purge"
    counts = {"anonymised": 0, "photo_files_deleted": 0, "held": 0, "chunks": 0, **job.counts}
    cursor = dict(job.cursor) or {"phase": "retention", "after": None}
    if cursor == {"phase": "retention", "after": None}:
        # Face photos first: kept only until the registry's verdict, never longer than
        # FACE_PHOTO_MAX_HOURS (docs/rules.md), whatever the registration's retention.
        faces = face_photos_purge()
        if faces:
            counts["face_photos_deleted"] = counts.get("face_photos_deleted", 0) + faces
        # The holder's door: its sessions, hashed codes and SMS records (docs/holders.md).
        for name, number in holder_records_purge().items():
            if number:
                key = f"holder_{name}_deleted"
                counts[key] = counts.get(key, 0) + number

    def apply(ids: list[int]) -> None:
        result = registrations_anonymise(
            registration_ids=ids, actor=actor, reason=cursor["phase"], job=job
        )
        counts["anonymised"] += len(result.anonymised)
        counts["photo_files_deleted"] += result.photos_deleted
        counts["held"] += len(result.held)
        counts["chunks"] += 1

    if cursor["phase"] == "retention":
        while True:
            due = selectors.registrations_past_retention(cutoff=cutoff)
            if cursor["after"]:
                at, pk = datetime.fromisoformat(cursor["after"][0]), cursor["after"][1]
                due = due.filter(
                    Q(deactivated_at__gt=at) | Q(deactivated_at=at, registration_id__gt=pk)
                )
            rows = list(
                due.order_by("deactivated_at", "registration_id").values_list(
                    "registration_id", "deactivated_at"
                )[:size]
            )
            if not rows:
                break
            with transaction.atomic():
                apply([pk for pk, _at in rows])
                cursor = {"phase": "retention", "after": [rows[-1][1].isoformat(), rows[-1][0]]}
                checkpoint(job, token, cursor=cursor, counts=counts)
            progress(f"retention: {counts['anonymised']} anonymised so far")
        cursor = {"phase": "erasure", "after": 0}
    while True:
        rows = list(
            selectors.erasures_due()
            .filter(registration_id__gt=cursor["after"])
            .order_by("registration_id")
            .values_list("registration_id", flat=True)[:size]
        )
        if not rows:
            break
        with transaction.atomic():
            apply(rows)
            cursor = {"phase": "erasure", "after": rows[-1]}
            checkpoint(job, token, cursor=cursor, counts=counts)
        progress(f"erasures: {counts['anonymised']} anonymised so far")
    # What outlives its own retention: erasure-ledger entries no backup could contradict any
    # more (BACKUP_RETENTION_DAYS), export files past PRIVACY_EXPORT_RETENTION_DAYS.
    for name, purge in (
        ("ledger_entries_deleted", erasure_ledger_purge),
        ("export_files_deleted", export_files_purge),
    ):
        deleted = purge()
        if deleted:
            counts[name] = counts.get(name, 0) + deleted
    with transaction.atomic():
        checkpoint(job, token, cursor={"phase": "done"}, counts=counts)


# --- number deactivations ------------------------------------------------------------------------


def number_deactivations_sync_start(
    *, trigger: str, requested_by=None, dispatch: bool = True
) -> PrivacyJob:
    """Queue a pass over the operator's records changed since the last successful pass (all of
    them the first time), recording when each registered number went out of service."""
    return privacy_job_start(
        kind=PrivacyJob.Kind.DEACTIVATION_SYNC,
        trigger=trigger,
        requested_by=requested_by,
        dispatch=dispatch,
    )


def registrations_deactivation_record(
    *, deactivated: dict[str, datetime], reactivated: list[str], now: datetime | None = None
) -> tuple[int, int]:
    """Record numbers seen inactive (MSISDN → when) and numbers seen active again.

    The first sighting counts: a registration already marked keeps its date, so the retention
    period is not restarted by a later change of the operator's record. A number active again
    (a top-up in the grace period) loses its mark, unless it is already anonymised. Returns
    (newly marked, unmarked).
    """
    now = now or timezone.now()
    marked = unmarked = 0
    if deactivated:
        pairs = list(
            Registration.objects.filter(msisdn__in=list(deactivated)).values_list("pk", "msisdn")
        )
        existing = dict(
            RegistrationPrivacy.objects.filter(
                registration_id__in=[pk for pk, _msisdn in pairs]
            ).values_list("registration_id", "deactivated_at")
        )
        new = [
            RegistrationPrivacy(registration_id=pk, deactivated_at=min(deactivated[msisdn], now))
            for pk, msisdn in pairs
            if pk not in existing
        ]
        RegistrationPrivacy.objects.bulk_create(new, ignore_conflicts=True)
        # A record another transaction inserted meanwhile (an erasure request's, say) turned
        # the insert into a no-op: it is marked like any record seen without a date.
        raced = set(
            RegistrationPrivacy.objects.filter(
                registration_id__in=[row.registration_id for row in new],
                deactivated_at__isnull=True,
            ).values_list("registration_id", flat=True)
            if new
            else ()
        )
        update = [
            RegistrationPrivacy(
                registration_id=pk, deactivated_at=min(deactivated[msisdn], now), updated_at=now
            )
            for pk, msisdn in pairs
            if (pk in existing and existing[pk] is None) or pk in raced
        ]
        RegistrationPrivacy.objects.bulk_update(update, ["deactivated_at", "updated_at"])
        marked = len(new) - len(raced) + len(update)
    if reactivated:
        unmarked = RegistrationPrivacy.objects.filter(
            registration__msisdn__in=reactivated,
            deactivated_at__isnull=False,
            anonymised_at__isnull=True,
        ).update(deactivated_at=None, updated_at=now)
    return marked, unmarked


def run_deactivation_sync(job: PrivacyJob, token: str, progress: Progress) -> None:
    """Walk the operator's records (through its adapter) in MSISDN order, a batch a
    transaction; the operator's ``updated_at`` of an inactive record is when it last changed,
    the best date of the deactivation the feed gives."""
    since = job.parameters.get("since")
    since = datetime.fromisoformat(since) if since else None
    size = max(int(job.parameters.get("chunk_size") or SYNC_BATCH), 2)
    adapter = get_adapter()
    counts = {"records": 0, "marked": 0, "unmarked": 0, **job.counts}
    after = job.cursor.get("after")
    while True:
        records = adapter.iter_range(after, None, since=since)
        try:
            # iter_range starts *at* ``after``: that record was done in the previous batch.
            batch = [r for r in islice(records, size + 1) if r.msisdn != after][:size]
        finally:
            close = getattr(records, "close", None)
            if close:
                close()
        if not batch:
            break
        with transaction.atomic():
            marked, unmarked = registrations_deactivation_record(
                deactivated={r.msisdn: r.updated_at for r in batch if not r.is_active},
                reactivated=[r.msisdn for r in batch if r.is_active],
            )
            counts["records"] += len(batch)
            counts["marked"] += marked
            counts["unmarked"] += unmarked
            after = batch[-1].msisdn
            checkpoint(job, token, cursor={"after": after}, counts=counts)
        progress(f"{counts['records']} operator records read, {counts['marked']} newly deactivated")
