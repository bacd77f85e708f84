"""Files of personal data already written: a person's exports and the report files that list
them are tracked, deleted by the person's erasure (and again after a restore), and kept only
for their own retention period; the erasure ledger is kept only while a backup could contradict
it."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from core.storage import get_private_storage
from privacy import services
from privacy.models import ErasureLedger, ExportFile
from reports.models import ExportJob
from subscribers.models import Registration

from .conftest import nik

pytestmark = pytest.mark.django_db


def _export(tmp_path, number: str, name: str = "copy.json"):
    path = tmp_path / name
    call_command("data_subject_request", number, "--export", str(path), stdout=StringIO())
    return path


def _report_file(kind: str, *, finished_at=None) -> ExportJob:
    storage = get_private_storage()
    name = storage.save("exports/test/report.csv", ContentFile(b"registration list"))
    return ExportJob.objects.create(
        kind=kind, format="csv", trigger="web", parameters={}, requested_by_label="regulator",
        status=ExportJob.Status.SUCCEEDED, finished_at=finished_at or timezone.now(), file=name,
        sha256="0" * 64,
    )  # fmt: skip


def test_the_commands_export_is_tracked_and_the_persons_erasure_deletes_it(register, tmp_path):
    registration = register(46)
    Registration.objects.filter(pk=registration.pk).update(status=Registration.Status.BLOCKED)
    mine, theirs = _export(tmp_path, nik(46)), _export(tmp_path, nik(47), "other.json")
    tracked = ExportFile.objects.get(path=str(mine))
    assert len(tracked.sha256) == 64 and tracked.deleted_at is None
    call_command("data_subject_request", nik(46), "--erase", stdout=StringIO())
    assert not mine.exists()
    tracked.refresh_from_db()
    assert (tracked.deleted_because, tracked.deleted_at is not None) == ("erasure", True)
    assert theirs.exists()  # another person's export is not touched
    entry = ErasureLedger.objects.get()
    assert entry.records["export_files"] == [tracked.pk]


def test_report_files_that_may_list_the_person_are_deleted_by_the_erasure(register, operator):
    registration = register(48)
    Registration.objects.filter(pk=registration.pk).update(status=Registration.Status.BLOCKED)
    listing = _report_file(ExportJob.Kind.REGISTRATIONS)
    older = _report_file(
        ExportJob.Kind.REGISTRATIONS, finished_at=registration.registered_at - timedelta(days=1)
    )
    summary = _report_file(ExportJob.Kind.SUMMARY)
    storage = get_private_storage()
    listing_name = listing.file.name
    request = services.data_subject_request_open(
        actor=operator, id_number=nik(48), channel="grapari"
    )
    outcome = services.data_subject_request_erase(actor=operator, request=request)
    assert outcome.report_files_deleted == [f"reports.exportjob:{listing.pk}"]
    listing.refresh_from_db()
    assert listing.file_deleted_at and not listing.file and not storage.exists(listing_name)
    older.refresh_from_db()
    summary.refresh_from_db()
    assert older.file and summary.file  # made before the person was there / no personal data


def test_a_restore_that_brings_an_export_back_deletes_it_again(register, tmp_path):
    registration = register(49)
    Registration.objects.filter(pk=registration.pk).update(status=Registration.Status.BLOCKED)
    path = _export(tmp_path, nik(49))
    content = path.read_bytes()
    call_command("data_subject_request", nik(49), "--erase", stdout=StringIO())
    path.write_bytes(content)  # the media backup brought it back
    call_command("reapply_erasures", stdout=StringIO())
    assert not path.exists()


def test_the_retention_purge_deletes_old_exports_and_old_ledger_entries(
    register, tmp_path, settings
):
    old_file, new_file = _export(tmp_path, nik(51), "old.json"), _export(tmp_path, nik(52))
    ExportFile.objects.filter(path=str(old_file)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    now = timezone.now()
    old_entry = ErasureLedger.objects.create(
        created_at=now - timedelta(days=settings.BACKUP_RETENTION_DAYS + 1),
        erased_by="dpo", digests=["a" * 64], records={},
        expires_at=now - timedelta(hours=1),
    )  # fmt: skip
    live_entry = ErasureLedger.objects.create(
        created_at=now, erased_by="dpo", digests=["b" * 64], records={},
        expires_at=now + timedelta(days=settings.BACKUP_RETENTION_DAYS),
    )  # fmt: skip
    call_command("purge_expired_data", stdout=StringIO())
    assert not old_file.exists() and new_file.exists()
    assert ExportFile.objects.get(path=str(old_file)).deleted_because == "retention"
    assert list(ErasureLedger.objects.values_list("pk", flat=True)) == [live_entry.pk]
    assert not ErasureLedger.objects.filter(pk=old_entry.pk).exists()


def test_the_ledger_entry_expires_with_the_backups(register, operator, settings):
    settings.BACKUP_RETENTION_DAYS = 10
    registration = register(53)
    Registration.objects.filter(pk=registration.pk).update(status=Registration.Status.BLOCKED)
    request = services.data_subject_request_open(
        actor=operator, id_number=nik(53), channel="grapari"
    )
    services.data_subject_request_erase(actor=operator, request=request)
    entry = ErasureLedger.objects.get()
    assert entry.expires_at - entry.created_at == timedelta(days=10)
