"""Where the retention clock starts: the operator's database says a registered number went
inactive; the sync records it (first sighting wins), and clears it when the number is active
again. Then the purge does the rest."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from celery.app.task import Task
from django.core.management import call_command
from django.db import connection, connections, router, transaction
from django.utils import timezone

from operatordb.models import OperatorSubscriber
from privacy import services, tasks
from privacy.models import PrivacyJob, RegistrationPrivacy
from privacy.services.common import ensure_states

from .conftest import a_session_waits_for_a_lock

pytestmark = pytest.mark.django_db


def sync() -> PrivacyJob:
    call_command("sync_number_deactivations", stdout=StringIO())
    return PrivacyJob.objects.filter(kind=PrivacyJob.Kind.DEACTIVATION_SYNC).latest("pk")


def operator_record(msisdn: str, *, status: str, changed_days_ago: float) -> OperatorSubscriber:
    return OperatorSubscriber.objects.create(
        msisdn=msisdn,
        status=status,
        updated_at=timezone.now() - timedelta(days=changed_days_ago),
    )


def state(registration):
    return RegistrationPrivacy.objects.filter(registration=registration).first()


def test_inactive_numbers_are_marked_with_the_operators_date(register, settings):
    gone = register(41)
    active = register(42)
    record = operator_record(gone.msisdn, status="inactive", changed_days_ago=800)
    operator_record(active.msisdn, status="active", changed_days_ago=3)
    operator_record("6281299999999", status="inactive", changed_days_ago=5)  # not ours

    job = sync()

    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts == {"records": 3, "marked": 1, "unmarked": 0}
    assert state(gone).deactivated_at == record.updated_at
    assert state(active) is None

    # The whole chain: past 730 days, the purge anonymises it.
    settings.RETENTION_DAYS_AFTER_DEACTIVATION = 730
    call_command("purge_expired_data", stdout=StringIO())
    gone.refresh_from_db()
    active.refresh_from_db()
    assert gone.full_name == "" and active.full_name != ""


def test_first_sighting_wins_and_reactivation_clears(register):
    registration = register(41)
    record = operator_record(registration.msisdn, status="inactive", changed_days_ago=10)
    sync()
    first = state(registration).deactivated_at

    # A later change of the operator's record does not restart the clock.
    OperatorSubscriber.objects.filter(pk=record.pk).update(full_name="X", updated_at=timezone.now())
    job = sync()
    assert job.parameters["since"] is not None  # incremental after a successful run
    assert state(registration).deactivated_at == first

    # A top-up in the grace period: active again.
    OperatorSubscriber.objects.filter(pk=record.pk).update(
        status="active", updated_at=timezone.now()
    )
    job = sync()
    assert job.counts["unmarked"] == 1
    assert state(registration).deactivated_at is None


def test_sync_in_small_batches_covers_every_record(register, settings):
    settings.PRIVACY_CHUNK_SIZE = 2
    registrations = [register(serial) for serial in (41, 42, 43, 44, 45)]
    for registration in registrations:
        operator_record(registration.msisdn, status="inactive", changed_days_ago=1)

    job = sync()

    assert job.counts["records"] == 5 and job.counts["marked"] == 5
    assert RegistrationPrivacy.objects.filter(deactivated_at__isnull=False).count() == 5


def test_a_deactivation_dated_in_the_future_counts_from_today(register):
    """Killed mutant: a deactivation date in the future (the operator's clock ahead, a
    scheduled termination) was not capped, so the retention clock started later than the day
    the number was seen inactive and personal data was kept past the retention period. Both
    paths: a first sighting, and a number marked again after a reactivation."""
    first, again = register(41), register(42)
    services.registrations_deactivation_record(
        deactivated={again.msisdn: timezone.now() - timedelta(days=3)}, reactivated=[]
    )
    services.registrations_deactivation_record(deactivated={}, reactivated=[again.msisdn])
    assert state(again).deactivated_at is None
    now = timezone.now()
    future = now + timedelta(days=400)

    marked, _ = services.registrations_deactivation_record(
        deactivated={first.msisdn: future, again.msisdn: future}, reactivated=[], now=now
    )

    assert marked == 2
    assert state(first).deactivated_at == now
    assert state(again).deactivated_at == now


def test_a_later_sync_reads_only_the_records_changed_since_the_last_one(register):
    """Incremental: after a successful pass, the next reads only the operator's records that
    changed since it started (the feed holds millions of numbers), and counts only them."""
    changed, unchanged = register(41), register(42)
    record = operator_record(changed.msisdn, status="inactive", changed_days_ago=30)
    operator_record(unchanged.msisdn, status="active", changed_days_ago=30)
    assert sync().counts == {"records": 2, "marked": 1, "unmarked": 0}

    OperatorSubscriber.objects.filter(pk=record.pk).update(updated_at=timezone.now())
    job = sync()

    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts == {"records": 1, "marked": 0, "unmarked": 0}


def test_a_number_active_again_unmarks_only_marked_registrations_not_anonymised_ones(
    register, settings
):
    """Recycled numbers: an anonymised registration keeps the date its number left service
    (it is done with), and a number seen active again twice is unmarked once."""
    gone, back = register(41), register(42)
    gone_record = operator_record(gone.msisdn, status="inactive", changed_days_ago=800)
    back_record = operator_record(back.msisdn, status="inactive", changed_days_ago=10)
    sync()
    settings.RETENTION_DAYS_AFTER_DEACTIVATION = 730
    call_command("purge_expired_data", stdout=StringIO())
    anonymised_since = state(gone).deactivated_at
    assert state(gone).anonymised_at is not None

    for record in (gone_record, back_record):
        OperatorSubscriber.objects.filter(pk=record.pk).update(
            status="active", updated_at=timezone.now()
        )
    assert sync().counts["unmarked"] == 1
    OperatorSubscriber.objects.filter(pk=back_record.pk).update(updated_at=timezone.now())
    again = sync()

    assert again.counts["unmarked"] == 0
    assert state(back).deactivated_at is None
    assert state(gone).deactivated_at == anonymised_since


def _inactive_numbers(register, serials, *, status="inactive") -> list:
    registrations = [register(serial) for serial in serials]
    for registration in registrations:
        operator_record(registration.msisdn, status=status, changed_days_ago=1)
    return registrations


def _records_read(lines: list[str]) -> list[int]:
    """The running totals of the progress lines ("N operator records read, …")."""
    return [int(line.split()[0]) for line in lines if "operator records read" in line]


def test_a_sync_runs_in_the_batches_it_was_queued_with(register, settings):
    """The batch size is fixed when the sync is queued: a worker configured otherwise still
    reads the operator's feed in those batches (one transaction and one progress line each)."""
    _inactive_numbers(register, (41, 42, 43, 44, 45))
    settings.PRIVACY_CHUNK_SIZE = 2
    job = services.number_deactivations_sync_start(
        trigger=PrivacyJob.Trigger.COMMAND, dispatch=False
    )
    settings.PRIVACY_CHUNK_SIZE = 1000
    lines: list[str] = []

    job = services.privacy_job_run(job_id=job.pk, progress=lines.append)

    assert _records_read(lines) == [2, 4, 5]
    assert job.counts == {"records": 5, "marked": 5, "unmarked": 0}


def test_a_sync_reads_at_least_two_records_a_batch(register, settings):
    """A chunk size of one still reads two records a batch: each batch starts at the last
    record of the previous one, which it skips."""
    _inactive_numbers(register, (41, 42, 43, 44, 45))
    settings.PRIVACY_CHUNK_SIZE = 1
    lines: list[str] = []
    job = services.number_deactivations_sync_start(
        trigger=PrivacyJob.Trigger.COMMAND, dispatch=False
    )

    services.privacy_job_run(job_id=job.pk, progress=lines.append)

    assert _records_read(lines) == [2, 4, 5]


def test_an_interrupted_sync_resumes_after_the_last_batch_it_saved(register, settings):
    """A worker killed after its first batch: the next scheduled tick takes the stale job over
    and reads on from the saved cursor; no record is read (or counted) twice."""
    registrations = _inactive_numbers(register, (41, 42, 43, 44, 45))
    first_two = sorted(r.msisdn for r in registrations)[:2]
    settings.PRIVACY_CHUNK_SIZE = 2

    def killed(message):
        raise KeyboardInterrupt  # not an Exception: the job is left "running", like SIGKILL

    job = services.number_deactivations_sync_start(
        trigger=PrivacyJob.Trigger.COMMAND, dispatch=False
    )
    with pytest.raises(KeyboardInterrupt):
        services.privacy_job_run(job_id=job.pk, progress=killed)
    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.RUNNING
    assert job.cursor == {"after": first_two[-1]}
    assert job.counts == {"records": 2, "marked": 2, "unmarked": 0}

    settings.PRIVACY_JOB_STALE_SECONDS = 0
    tasks.sync_number_deactivations()

    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts == {"records": 5, "marked": 5, "unmarked": 0}
    assert job.cursor == {"after": max(r.msisdn for r in registrations)}


def test_reactivations_in_every_batch_are_all_counted(register, settings):
    """Numbers active again spread over several batches: the job's count is their sum."""
    _inactive_numbers(register, (41, 42, 43, 44, 45))
    sync()
    settings.PRIVACY_CHUNK_SIZE = 2
    OperatorSubscriber.objects.update(status="active", updated_at=timezone.now())

    job = sync()

    assert job.counts == {"records": 5, "marked": 0, "unmarked": 5}
    assert not RegistrationPrivacy.objects.filter(deactivated_at__isnull=False).exists()


def test_the_operator_feed_is_released_after_each_batch(require_postgres, register, settings):
    """Each batch closes its read of the operator's feed before the next one starts: no
    cursor is left open on the operator's database while the portal writes and reports."""
    _inactive_numbers(register, (41, 42, 43, 44, 45))
    settings.PRIVACY_CHUNK_SIZE = 2
    job = services.number_deactivations_sync_start(
        trigger=PrivacyJob.Trigger.COMMAND, dispatch=False
    )
    open_cursors: list[int] = []

    def count_cursors(message):
        with connections[router.db_for_read(OperatorSubscriber)].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors")
            open_cursors.append(cursor.fetchone()[0])

    services.privacy_job_run(job_id=job.pk, progress=count_cursors)

    assert len(open_cursors) == 4  # three batches and the final line
    assert open_cursors == [0, 0, 0, 0]


def test_unmarking_stamps_when_the_record_changed(register):
    """A number active again: its privacy record says when it was unmarked."""
    registration = register(41)
    services.registrations_deactivation_record(
        deactivated={registration.msisdn: timezone.now() - timedelta(days=3)}, reactivated=[]
    )
    later = timezone.now() + timedelta(hours=1)

    _marked, unmarked = services.registrations_deactivation_record(
        deactivated={}, reactivated=[registration.msisdn], now=later
    )

    assert unmarked == 1
    assert (state(registration).deactivated_at, state(registration).updated_at) == (None, later)


def test_the_privacy_page_queues_a_sync_in_the_operators_name(
    client, operator, register, django_capture_on_commit_callbacks
):
    """The sync started from the privacy page is queued for a worker (run here after the
    commit) and carries the operator admin's name and the page as its trigger."""
    registration = register(42)
    operator_record(registration.msisdn, status="inactive", changed_days_ago=2)
    client.force_login(operator)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/privacy/jobs/", {"kind": "deactivation_sync"})

    assert response.status_code == 302
    job = PrivacyJob.objects.get()
    assert (job.kind, job.trigger, job.requested_by) == ("deactivation_sync", "page", operator)
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts == {"records": 1, "marked": 1, "unmarked": 0}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_deactivation_seen_while_an_erasure_request_is_being_recorded_is_kept(
    require_postgres, register
):
    """An erasure asked for while the number is in service waits for the number to leave
    service. If the sync sees the number go inactive while that request is still being written
    (its privacy record inserted, not yet committed), the deactivation must not be lost: the
    sync's own insert finds the request's record, and marks that one — otherwise the erasure
    would wait for ever (the sync reads only records changed since its last pass)."""
    registration = register(41)
    went_inactive = timezone.now() - timedelta(days=2)
    inserted, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def erasure_request_being_written():
        try:
            with transaction.atomic():
                ensure_states([registration.pk])
                RegistrationPrivacy.objects.filter(registration=registration).update(
                    erasure_requested_at=timezone.now()
                )
                inserted.set()
                release.wait(timeout=20)
        finally:
            connection.close()

    def sync_batch():
        try:
            with transaction.atomic():
                outcome["result"] = services.registrations_deactivation_record(
                    deactivated={registration.msisdn: went_inactive}, reactivated=[]
                )
        except Exception as exc:  # the test's verdict, below
            outcome["error"] = exc
        finally:
            connection.close()

    erasure = threading.Thread(target=erasure_request_being_written)
    erasure.start()
    assert inserted.wait(timeout=20)
    batch = threading.Thread(target=sync_batch)
    batch.start()
    # The sync's insert waits for the erasure request's uncommitted record.
    if not a_session_waits_for_a_lock(tries=200):
        pytest.fail("the sync's insert never waited for the erasure request's record")
    release.set()
    erasure.join(timeout=20)
    batch.join(timeout=20)

    assert "error" not in outcome, outcome
    assert outcome["result"] == (1, 0)
    assert state(registration).deactivated_at == went_inactive
    # And so the next purge carries out the erasure.
    call_command("purge_expired_data", stdout=StringIO())
    registration.refresh_from_db()
    assert registration.full_name == ""


def test_the_command_runs_the_sync_itself_and_queues_no_task(
    register, monkeypatch, django_capture_on_commit_callbacks
):
    """The command is the worker: nothing is sent to the broker for a second one to pick up."""
    registration = register(41)
    operator_record(registration.msisdn, status="inactive", changed_days_ago=3)
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda task, *a, **kw: sent.append(task.name))

    with django_capture_on_commit_callbacks(execute=True):
        job = sync()

    assert sent == []
    assert (job.status, job.counts["marked"]) == (PrivacyJob.Status.SUCCEEDED, 1)
