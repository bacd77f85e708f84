"""Files of personal data the portal generated: tracked, kept for a set time, and deleted by
the erasure of a person they hold.

- Data-subject exports written by the command (``ExportFile``): kept
  ``PRIVACY_EXPORT_RETENTION_DAYS`` then deleted by the retention purge; erasing the person
  deletes every export of their requests at once.
- Files other apps generate (report exports): through ``privacy.hooks``, each app deletes the
  files that may hold the erased registrations.
"""

import hashlib
import logging
import os
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import DataSubjectRequest, ExportFile

logger = logging.getLogger(__name__)


def export_file_record(*, request: DataSubjectRequest, path, content: bytes) -> ExportFile:
    now = timezone.now()
    return ExportFile.objects.create(
        request=request,
        path=str(os.path.abspath(path)),
        sha256=hashlib.sha256(content).hexdigest(),
        created_at=now,
        expires_at=now + timedelta(days=settings.PRIVACY_EXPORT_RETENTION_DAYS),
    )


def _delete(export: ExportFile, because: str, now) -> None:
    """Delete the file if it is still the one written (same SHA-256): a file someone replaced
    at that path since is not the portal's to delete."""
    reason = because
    try:
        with open(export.path, "rb") as fh:
            same = hashlib.sha256(fh.read()).hexdigest() == export.sha256
        if same:
            os.remove(export.path)
        else:
            logger.warning("export file %s changed since it was written: left alone", export.pk)
    except FileNotFoundError:
        reason = f"{because}-missing"[:16]
    ExportFile.objects.filter(pk=export.pk).update(deleted_at=now, deleted_because=reason)


def export_files_erase(digests: list[str], *, now=None) -> list[int]:
    """Delete every live export of a request on the person's number (any of ``digests``)."""
    now = now or timezone.now()
    requests = [
        r.pk
        for r in DataSubjectRequest.objects.only("pk", "id_number_digests")
        .filter(export_files__deleted_at__isnull=True)
        .distinct()
        if set(r.id_number_digests) & set(digests)
    ]
    deleted = []
    for export in ExportFile.objects.filter(request_id__in=requests, deleted_at__isnull=True):
        _delete(export, "erasure", now)
        deleted.append(export.pk)
    return deleted


def export_files_delete(ids: list[int], *, now=None) -> int:
    """After a restore: the files the ledger says were deleted, if the backup brought them."""
    now = now or timezone.now()
    count = 0
    for export in ExportFile.objects.filter(pk__in=ids):
        if os.path.exists(export.path):
            _delete(export, "erasure", now)
            count += 1
    return count


def export_files_purge(*, now=None) -> int:
    """Delete the export files past their retention period."""
    now = now or timezone.now()
    count = 0
    for export in ExportFile.objects.filter(deleted_at__isnull=True, expires_at__lt=now)[:1000]:
        _delete(export, "retention", now)
        count += 1
    return count
