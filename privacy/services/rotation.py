"""Re-encryption of every ID/KK ciphertext under the first key of FIELD_ENCRYPTION_KEYS."""

import logging

from django.apps import apps
from django.db import transaction

from core import pii

from ..encrypted_fields import ENCRYPTED_FIELDS
from ..keys import key_status
from ..models import PrivacyJob
from .common import chunk_size
from .jobs import Progress, checkpoint, privacy_job_start

logger = logging.getLogger(__name__)


def key_rotation_start(*, trigger: str, requested_by=None, dispatch: bool = True) -> PrivacyJob:
    """Queue the re-encryption of every encrypted column under the first key of
    ``FIELD_ENCRYPTION_KEYS``. Deploy the new key list to every process first."""
    return privacy_job_start(
        kind=PrivacyJob.Kind.KEY_ROTATION,
        trigger=trigger,
        requested_by=requested_by,
        dispatch=dispatch,
    )


def run_key_rotation(job: PrivacyJob, token: str, progress: Progress) -> None:
    """Keyset pagination by primary key, table after table. Each chunk's rows are locked while
    they are re-encrypted, so a concurrent change of an ID number is never overwritten with the
    old value; only the ciphertext columns are written (``updated_at`` does not move, so
    incremental reconciliation does not see millions of "changed" rows)."""
    size = int(job.parameters.get("chunk_size") or chunk_size())
    counts = {"rotated": 0, **job.counts}
    labels = list(ENCRYPTED_FIELDS)
    cursor = dict(job.cursor)
    if cursor.get("model") is None:
        # A new job, or a failed one resumed after a pass through every table (values no key
        # could read, the old key since put back): a pass from the first table, what it finds
        # counted afresh (the values re-encrypted by an earlier pass stay counted).
        cursor = {"model": labels[0], "last": 0}
        counts.update(already_current=0, unreadable=0, rows=0)
    start = labels.index(cursor["model"]) if cursor.get("model") in labels else len(labels)
    for label in labels[start:]:
        model, fields = apps.get_model(label), ENCRYPTED_FIELDS[label]
        last = cursor["last"] if cursor["model"] == label else 0
        while True:
            with transaction.atomic():
                rows = list(
                    model._base_manager.select_for_update()
                    .filter(pk__gt=last)
                    .order_by("pk")
                    .only("pk", *fields)[:size]
                )
                if not rows:
                    break
                changed = []
                for row in rows:
                    dirty = False
                    for name in fields:
                        token_value = getattr(row, name)
                        if not token_value:
                            continue
                        status = key_status(token_value)
                        if status == "older":
                            setattr(row, name, pii.rotate(token_value))
                            dirty = True
                            counts["rotated"] += 1
                        elif status == "primary":
                            counts["already_current"] += 1
                        else:
                            counts["unreadable"] += 1
                            logger.error(
                                "%s %s.%s: no configured key decrypts it", label, row.pk, name
                            )
                    if dirty:
                        changed.append(row)
                if changed:
                    model._base_manager.bulk_update(changed, fields)
                counts["rows"] += len(rows)
                last = rows[-1].pk
                cursor = {"model": label, "last": last}
                checkpoint(job, token, cursor=cursor, counts=counts)
            progress(f"{label} up to pk {last}: {counts['rotated']} values re-encrypted so far")
    with transaction.atomic():
        checkpoint(job, token, cursor={"model": None, "last": 0}, counts=counts)
    if counts["unreadable"]:
        # Never "succeeded" with values left behind: the job ends failed, with the count.
        raise RotationIncomplete(
            f"{counts['unreadable']} value(s) cannot be decrypted with any configured key"
        )


class RotationIncomplete(Exception):
    """The rotation went through every row but left values it could not read."""
