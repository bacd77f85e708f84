"""The retention purge: numbers deactivated longer ago than RETENTION_DAYS_AFTER_DEACTIVATION
lose their personal data (photos first), the row stays; everything else is left alone."""

import hashlib
import threading
from datetime import date, timedelta
from io import StringIO

import pytest
from celery.app.task import Task
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from compliance.models import Discrepancy
from core.models import AuditEvent
from holders.models import SmsMessage
from privacy import services, tasks
from privacy.models import (
    DataSubjectRequest,
    ErasureLedger,
    ExportFile,
    PrivacyJob,
    RegistrationPrivacy,
)
from privacy.services import registrations_anonymise
from subscribers.models import Registration

from .conftest import a_session_waits_for_a_lock, deactivate, photo_paths

pytestmark = pytest.mark.django_db
RETENTION = 730


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.RETENTION_DAYS_AFTER_DEACTIVATION = RETENTION


def purge(**kwargs) -> str:
    out = StringIO()
    call_command("purge_expired_data", stdout=out, **kwargs)
    return out.getvalue()


def anonymised_events():
    return AuditEvent.objects.filter(action="privacy.registrations_anonymised")


def test_registration_past_retention_is_anonymised_photos_gone(register):
    registration = register(42)
    files = photo_paths(registration)
    assert len(files) == 4 and all(path.exists() for path in files)
    deactivate(registration, days_ago=RETENTION + 5)

    output = purge()

    registration.refresh_from_db()
    assert not any(path.exists() for path in files)
    for name in ("id_photo", "id_photo_thumb", "face_photo", "face_photo_thumb"):
        assert getattr(registration, name).name == ""
    assert registration.photo_status == Registration.PhotoStatus.NONE
    assert registration.full_name == registration.address == registration.birth_place == ""
    assert registration.id_number_encrypted == registration.id_number_digest == ""
    assert registration.id_number_masked == registration.kk_number_masked == ""
    assert registration.kk_number_encrypted == registration.kk_number_digest == ""
    # Kept for statistics: the row, its outlet, dates, type, sex and the birth year only.
    assert registration.birth_date == date(1990, 1, 1)
    assert registration.outlet_id and registration.msisdn and registration.sex == "F"
    assert registration.id_type == "ktp"
    assert registration.privacy.anonymised_at is not None
    event = anonymised_events().get()
    assert event.after["count"] == 1
    assert event.after["registration_ids"] == [registration.pk]
    assert event.after["photo_files_deleted"] == 4
    assert event.after["reason"] == "retention"
    job = PrivacyJob.objects.get()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts["anonymised"] == 1
    assert "succeeded" in output


def test_within_retention_and_active_numbers_untouched(register):
    recent = register(42)
    deactivate(recent, days_ago=RETENTION - 5)
    active = register(43)
    before = {r.pk: (r.full_name, r.id_number_encrypted, r.updated_at) for r in (recent, active)}

    purge()

    for registration in (recent, active):
        registration.refresh_from_db()
        assert (
            registration.full_name,
            registration.id_number_encrypted,
            registration.updated_at,
        ) == before[registration.pk]
        assert all(path.exists() for path in photo_paths(registration))
    assert not RegistrationPrivacy.objects.filter(anonymised_at__isnull=False).exists()
    assert not anonymised_events().exists()


def test_running_twice_is_a_no_op(register):
    registration = register(42)
    deactivate(registration, days_ago=RETENTION + 1)
    purge()
    registration.refresh_from_db()
    first = (registration.updated_at, registration.privacy.anonymised_at)

    purge()

    registration.refresh_from_db()
    assert (registration.updated_at, registration.privacy.anonymised_at) == first
    assert anonymised_events().count() == 1
    assert PrivacyJob.objects.order_by("-pk").first().counts["anonymised"] == 0
    # Anonymising the same ids directly changes nothing either.
    result = registrations_anonymise(registration_ids=[registration.pk], actor=None, reason="test")
    assert result.anonymised == [] and anonymised_events().count() == 1


def test_dry_run_writes_nothing(register):
    registration = register(42)
    deactivate(registration, days_ago=RETENTION + 1)
    files = photo_paths(registration)
    counts = (AuditEvent.objects.count(), PrivacyJob.objects.count())

    output = purge(dry_run=True)

    assert "1 registration(s) past retention" in output
    assert "4 photo file(s)" in output
    assert (AuditEvent.objects.count(), PrivacyJob.objects.count()) == counts
    registration.refresh_from_db()
    assert registration.full_name == "Siti Nur'aini"
    assert registration.privacy.anonymised_at is None
    assert all(path.exists() for path in files)


def test_open_discrepancy_holds_the_registration_until_resolved(register):
    registration = register(42)
    deactivate(registration, days_ago=RETENTION + 1)
    now = timezone.now()
    case = Discrepancy.objects.create(
        msisdn=registration.msisdn,
        kind=Discrepancy.Kind.NAME_MISMATCH,
        registration=registration,
        outlet=registration.outlet,
        details={"portal": {"full_name": "Siti Nur'aini"}, "operator": {"full_name": "Siti"}},
        detected_at=now,
        last_seen_at=now,
    )

    purge()
    registration.refresh_from_db()
    assert registration.full_name == "Siti Nur'aini"

    case.status, case.resolved_at = Discrepancy.Status.RESOLVED, now
    case.save()
    purge()
    registration.refresh_from_db()
    case.refresh_from_db()
    assert registration.full_name == ""
    # The discrepancy stays (the outlet's record) without the person's values.
    assert case.details == {"anonymised": True}


def test_chunked_one_audit_row_per_chunk(register, settings):
    settings.PRIVACY_CHUNK_SIZE = 2
    registrations = [register(serial) for serial in (41, 42, 43, 44, 45)]
    for registration in registrations:
        deactivate(registration, days_ago=RETENTION + 1)

    purge()

    events = list(anonymised_events().order_by("pk"))
    assert [event.after["count"] for event in events] == [2, 2, 1]
    covered = [pk for event in events for pk in event.after["registration_ids"]]
    assert sorted(covered) == sorted(r.pk for r in registrations)
    assert PrivacyJob.objects.get().counts == {
        "anonymised": 5,
        "photo_files_deleted": 20,
        "held": 0,
        "chunks": 3,
    }


def test_interrupted_job_is_taken_over_and_resumes_without_repeating(register, settings):
    """A worker killed after its first chunk: the next scheduled tick finds the job stale,
    takes it over and goes on from the cursor; no chunk is anonymised (or audited) twice."""
    settings.PRIVACY_CHUNK_SIZE = 1
    registrations = [register(serial) for serial in (41, 42, 43)]
    for registration in registrations:
        deactivate(registration, days_ago=RETENTION + 1)

    def killed(message):
        raise KeyboardInterrupt  # not an Exception: the job is left "running", like SIGKILL

    from privacy import services

    job = services.retention_purge_start(trigger=PrivacyJob.Trigger.COMMAND, dispatch=False)
    with pytest.raises(KeyboardInterrupt):
        services.privacy_job_run(job_id=job.pk, progress=killed)
    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.RUNNING
    assert anonymised_events().count() == 1

    # A tick while the dead worker's heartbeat is fresh leaves the job alone...
    tasks.purge_expired_data()
    assert anonymised_events().count() == 1
    # ...and takes it over once it is stale.
    settings.PRIVACY_JOB_STALE_SECONDS = 0
    tasks.purge_expired_data()

    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts["anonymised"] == 3
    assert anonymised_events().count() == 3
    assert not Registration.objects.exclude(full_name="").exists()


def test_beat_schedule_names_the_tasks():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["privacy-purge-expired-data"]["task"] == tasks.purge_expired_data.name
    assert (
        schedule["privacy-sync-number-deactivations"]["task"]
        == tasks.sync_number_deactivations.name
    )


def test_one_purge_clears_what_is_past_each_retention_and_counts_each(register, tmp_path):
    """Each pass of the purge, seen by the operator in the job's counts, its audit rows and
    its progress lines: a number past retention, then an erasure whose number left service,
    after a face photo past FACE_PHOTO_MAX_HOURS and an old SMS of the holder's door, before
    an expired erasure-ledger entry and an expired export file."""
    now = timezone.now()
    old = register(41)
    deactivate(old, days_ago=RETENTION + 1)
    erased = register(42)
    deactivate(erased, days_ago=1)
    RegistrationPrivacy.objects.filter(registration=erased).update(erasure_requested_at=now)
    face = register(43)
    Registration.objects.filter(pk=face.pk).update(
        created_at=now - timedelta(hours=settings.FACE_PHOTO_MAX_HOURS + 1)
    )
    SmsMessage.objects.create(
        to=face.msisdn, status=SmsMessage.Status.SENT, created_at=now - timedelta(days=31)
    )
    ErasureLedger.objects.create(
        created_at=now - timedelta(days=60), erased_by="dpo", digests=[], records={},
        expires_at=now - timedelta(days=1),
    )  # fmt: skip
    written = tmp_path / "export.csv"
    written.write_bytes(b"nik;nama\n")
    ExportFile.objects.create(
        request=DataSubjectRequest.objects.create(
            id_number_masked="3171********0101", id_number_digest="x" * 64, channel="letter"
        ),
        path=str(written), sha256=hashlib.sha256(b"nik;nama\n").hexdigest(),
        created_at=now - timedelta(days=8), expires_at=now - timedelta(days=1),
    )  # fmt: skip

    output = purge()

    job = PrivacyJob.objects.get()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts == {
        "face_photos_deleted": 1,
        "holder_sms_deleted": 1,
        "anonymised": 2,
        "photo_files_deleted": 8,
        "held": 0,
        "chunks": 2,
        "ledger_entries_deleted": 1,
        "export_files_deleted": 1,
    }
    assert job.cursor == {"phase": "done"}
    events = list(anonymised_events().order_by("pk"))
    assert [(e.after["reason"], e.after["registration_ids"]) for e in events] == [
        ("retention", [old.pk]),
        ("erasure", [erased.pk]),
    ]
    assert {e.actor_label for e in events} == {"retention-purge"}
    assert "retention: 1 anonymised so far" in output
    assert "erasures: 2 anonymised so far" in output
    face.refresh_from_db()
    assert face.face_photo.name == "" and face.full_name  # only its face photo went
    assert not written.exists() and not ErasureLedger.objects.exists()
    assert not SmsMessage.objects.exists()


def test_the_operators_name_is_on_the_purge_they_started(register, operator):
    """A purge started from the privacy page carries the operator admin's name on every
    audit row of what it anonymised; an unattended one, "retention-purge"."""
    registration = register(42)
    deactivate(registration, days_ago=RETENTION + 1)

    job = services.retention_purge_start(
        trigger=PrivacyJob.Trigger.PAGE, requested_by=operator, dispatch=False
    )
    services.privacy_job_run(job_id=job.pk)

    event = anonymised_events().get()
    assert event.actor == operator and event.after["registration_ids"] == [registration.pk]


def test_a_purge_runs_in_the_chunks_it_was_queued_with(register, settings):
    """The chunk size is fixed when the job is queued (the page, the schedule): a worker
    configured otherwise still runs it in those chunks, one audit row each."""
    settings.PRIVACY_CHUNK_SIZE = 1
    for serial in (41, 42):
        deactivate(register(serial), days_ago=RETENTION + 1)
    job = services.retention_purge_start(trigger=PrivacyJob.Trigger.COMMAND, dispatch=False)

    settings.PRIVACY_CHUNK_SIZE = 1000
    services.privacy_job_run(job_id=job.pk)

    assert [e.after["count"] for e in anonymised_events().order_by("pk")] == [1, 1]


def _open_discrepancy(registration) -> Discrepancy:
    now = timezone.now()
    return Discrepancy.objects.create(
        msisdn=registration.msisdn,
        kind=Discrepancy.Kind.NAME_MISMATCH,
        registration=registration,
        outlet=registration.outlet,
        details={"portal": {"full_name": "Siti Nur'aini"}, "operator": {"full_name": "Siti"}},
        detected_at=now,
        last_seen_at=now,
    )


def test_a_purge_in_chunks_of_one_reaches_every_registration_past_retention(register, settings):
    """Chunk by chunk in the order the numbers left service: numbers that left service in
    another order than they were registered, two at the very same moment, and one held by an
    open discrepancy — every one past retention is anonymised in the one purge, the held one
    is left alone, and each anonymised registration names the job that did it."""
    settings.PRIVACY_CHUNK_SIZE = 1
    earliest_pk, tied_a, tied_b, held = (register(serial) for serial in (41, 42, 43, 44))
    long_ago = timezone.now() - timedelta(days=RETENTION + 30)
    same_moment = long_ago + timedelta(days=10)
    # Recorded in another order than registered: the later of the two tied first.
    for registration, left_service in (
        (tied_b, same_moment),
        (tied_a, same_moment),
        (earliest_pk, long_ago + timedelta(days=20)),  # registered first, left service last
        (held, long_ago),
    ):
        services.registrations_deactivation_record(
            deactivated={registration.msisdn: left_service}, reactivated=[]
        )
    _open_discrepancy(held)

    purge()

    job = PrivacyJob.objects.get()
    assert job.counts == {"anonymised": 3, "photo_files_deleted": 12, "held": 0, "chunks": 3}
    events = list(anonymised_events().order_by("pk"))
    assert [e.after["registration_ids"] for e in events] == [
        [tied_a.pk],
        [tied_b.pk],
        [earliest_pk.pk],
    ]
    for registration in (earliest_pk, tied_a, tied_b):
        registration.refresh_from_db()
        assert registration.full_name == ""
        assert registration.privacy.anonymised_by_job == job
    held.refresh_from_db()
    assert held.full_name == "Siti Nur'aini" and held.privacy.anonymised_at is None


def test_the_command_runs_the_purge_itself_and_queues_no_task(
    register, monkeypatch, django_capture_on_commit_callbacks
):
    """The command is the worker: nothing is sent to the broker for a second one to pick up."""
    deactivate(register(42), days_ago=RETENTION + 1)
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda task, *a, **kw: sent.append(task.name))

    with django_capture_on_commit_callbacks(execute=True):
        purge()

    assert sent == []
    job = PrivacyJob.objects.get()
    assert (job.status, job.counts["anonymised"]) == (PrivacyJob.Status.SUCCEEDED, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_case_opened_while_the_purge_reaches_its_registration_holds_it_and_is_counted(
    require_postgres, register, settings
):
    """A discrepancy opened on a registration after the purge picked its chunk, before the
    chunk's rows were locked: that registration is held (evidence in an open case), the job
    counts it as held, and the purge goes on with the next chunk."""
    settings.PRIVACY_CHUNK_SIZE = 1
    caught, later = register(41), register(42)
    deactivate(caught, days_ago=RETENTION + 2)
    deactivate(later, days_ago=RETENTION + 1)
    locked, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def case_being_opened():
        # Whoever holds the registration's privacy record while the case is written (an
        # erasure request on the same registration, say) makes the purge wait for it.
        try:
            with transaction.atomic():
                RegistrationPrivacy.objects.select_for_update().get(registration=caught)
                _open_discrepancy(caught)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def purge_in_thread():
        try:
            purge()
        except BaseException as exc:  # the test's verdict, below
            errors.append(exc)
        finally:
            connection.close()

    opener = threading.Thread(target=case_being_opened)
    opener.start()
    assert locked.wait(timeout=30)
    purger = threading.Thread(target=purge_in_thread)
    purger.start()
    if not a_session_waits_for_a_lock(tries=400):
        release.set()
        pytest.fail("the purge never waited for the registration being held")
    release.set()
    opener.join(timeout=30)
    purger.join(timeout=60)

    assert errors == []
    job = PrivacyJob.objects.get()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts == {"anonymised": 1, "photo_files_deleted": 4, "held": 1, "chunks": 2}
    caught.refresh_from_db()
    later.refresh_from_db()
    assert caught.full_name == "Siti Nur'aini" and later.full_name == ""


def test_erasures_in_chunks_from_the_first_registration_each_audited_as_an_erasure(
    register, settings
):
    """The erasure pass, a chunk at a time, starts at the first registration the database holds
    (pk 1) and says "erasure" on the audit row of every chunk, not only the first."""
    settings.PRIVACY_CHUNK_SIZE = 1
    first, second = register(41), register(42)
    Registration.objects.filter(pk=first.pk).update(id=1)
    first = Registration.objects.get(pk=1)
    for registration in (first, second):
        deactivate(registration, days_ago=1)
    RegistrationPrivacy.objects.update(erasure_requested_at=timezone.now())

    purge()

    events = list(anonymised_events().order_by("pk"))
    assert [(e.after["reason"], e.after["registration_ids"]) for e in events] == [
        ("erasure", [1]),
        ("erasure", [second.pk]),
    ]
    assert PrivacyJob.objects.get().counts["anonymised"] == 2
