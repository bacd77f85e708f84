"""An operator takes over a crashed personal-data job at once (``--take-over``) instead of
waiting ``PRIVACY_JOB_STALE_SECONDS``: audited, and a worker still alive after all stops at its
next chunk without writing."""

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from core import jobs
from core.audit import AuditAction, command_line_actor
from core.models import AuditEvent
from privacy import services
from privacy.models import PrivacyJob
from subscribers.models import Registration

from .conftest import deactivate

pytestmark = pytest.mark.django_db
RETENTION = 730


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.RETENTION_DAYS_AFTER_DEACTIVATION = RETENTION
    settings.PRIVACY_CHUNK_SIZE = 1
    # The crashed worker's heartbeat stays fresh for the whole test: only a take-over helps.
    settings.PRIVACY_JOB_STALE_SECONDS = 3600


def anonymised_events():
    return AuditEvent.objects.filter(action=AuditAction.PRIVACY_REGISTRATIONS_ANONYMISED)


def take_overs():
    return AuditEvent.objects.filter(action=AuditAction.JOB_TAKE_OVER)


@pytest.fixture
def crashed_purge(register):
    """A purge of three registrations whose worker died after its first chunk (the job is left
    running with a fresh heartbeat, as after a SIGKILL)."""
    for serial in (41, 42, 43):
        deactivate(register(serial), days_ago=RETENTION + 1)

    def killed(message):
        raise KeyboardInterrupt  # not an Exception: the job stays "running"

    job = services.retention_purge_start(trigger=PrivacyJob.Trigger.COMMAND, dispatch=False)
    with pytest.raises(KeyboardInterrupt):
        services.privacy_job_run(job_id=job.pk, worker="worker@dead-host", progress=killed)
    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.RUNNING and job.claimed_by == "worker@dead-host"
    assert anonymised_events().count() == 1
    return job


def test_without_take_over_the_command_refuses_and_says_how(crashed_purge):
    with pytest.raises(CommandError, match="--take-over"):
        call_command("purge_expired_data", stdout=StringIO())
    crashed_purge.refresh_from_db()
    assert crashed_purge.status == PrivacyJob.Status.RUNNING
    assert crashed_purge.claimed_by == "worker@dead-host"
    assert anonymised_events().count() == 1
    assert not take_overs().exists()


def test_take_over_finishes_the_crashed_purge_at_once_and_is_audited(crashed_purge):
    out = StringIO()
    call_command("purge_expired_data", "--take-over", "--reason", "host rebooted", stdout=out)

    crashed_purge.refresh_from_db()
    assert crashed_purge.status == PrivacyJob.Status.SUCCEEDED
    assert crashed_purge.counts["anonymised"] == 3
    assert "succeeded" in out.getvalue()
    # Resumed from its cursor: the first registration was not anonymised twice.
    assert anonymised_events().count() == 3
    assert not Registration.objects.exclude(full_name="").exists()
    event = take_overs().get()
    assert event.actor_label == command_line_actor()
    assert (event.target_type, event.target_id) == ("privacy.privacyjob", str(crashed_purge.pk))
    assert event.before["worker"] == "worker@dead-host"
    assert event.before["stale"] is False  # taken over before the stale period ran out
    assert event.after["reason"] == "host rebooted"
    assert event.after["worker"] == crashed_purge.claimed_by != "worker@dead-host"


def test_a_worker_that_was_alive_after_all_writes_nothing_more(crashed_purge):
    old_token, stale_copy = crashed_purge.claim_token, PrivacyJob.objects.get(pk=crashed_purge.pk)
    late_writes = []

    def progress(message):
        # The "dead" worker wakes up while the new holder runs, and tries to save its chunk.
        if not late_writes:
            try:
                services.jobs.checkpoint(stale_copy, old_token, cursor={"phase": "x"}, counts={})
                late_writes.append("saved")
            except jobs.ClaimLost:
                late_writes.append("claim lost")

    services.privacy_job_run(
        job_id=crashed_purge.pk, take_over_by=command_line_actor(), progress=progress
    )
    assert late_writes == ["claim lost"]
    crashed_purge.refresh_from_db()
    assert crashed_purge.status == PrivacyJob.Status.SUCCEEDED
    assert crashed_purge.counts["anonymised"] == 3
    assert anonymised_events().count() == 3


def test_take_over_of_a_job_nobody_runs_is_an_ordinary_start(register):
    deactivate(register(41), days_ago=RETENTION + 1)
    call_command("purge_expired_data", "--take-over", stdout=StringIO())
    job = PrivacyJob.objects.get()
    assert job.status == PrivacyJob.Status.SUCCEEDED and job.counts["anonymised"] == 1
    assert not take_overs().exists()


def test_the_rotation_and_the_sync_take_over_too(crashed_purge):
    """The same flag on the other commands that resume jobs."""
    job = PrivacyJob.objects.create(
        kind=PrivacyJob.Kind.KEY_ROTATION,
        trigger=PrivacyJob.Trigger.COMMAND,
        status=PrivacyJob.Status.RUNNING,
        claim_token="0" * 32,
        claimed_by="worker@gone",
        parameters={"chunk_size": 1},
        heartbeat_at=crashed_purge.heartbeat_at,
    )
    with pytest.raises(CommandError, match="--take-over"):
        call_command("rotate_encryption_keys", stdout=StringIO())
    call_command("rotate_encryption_keys", "--take-over", stdout=StringIO())
    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert take_overs().get().target_id == str(job.pk)

    sync = PrivacyJob.objects.create(
        kind=PrivacyJob.Kind.DEACTIVATION_SYNC,
        trigger=PrivacyJob.Trigger.SCHEDULE,
        status=PrivacyJob.Status.RUNNING,
        claim_token="1" * 32,
        claimed_by="worker@gone",
        parameters={"chunk_size": 1, "since": None},
        heartbeat_at=crashed_purge.heartbeat_at,
    )
    with pytest.raises(CommandError, match="--take-over"):
        call_command("sync_number_deactivations", stdout=StringIO())
    call_command("sync_number_deactivations", "--take-over", stdout=StringIO())
    sync.refresh_from_db()
    assert sync.status == PrivacyJob.Status.SUCCEEDED
    assert take_overs().count() == 2


def test_only_an_operator_takes_over_from_the_portal(crashed_purge, clerk, operator):
    with pytest.raises(PermissionDenied):
        services.privacy_job_run(job_id=crashed_purge.pk, take_over_by=clerk)
    crashed_purge.refresh_from_db()
    assert crashed_purge.claimed_by == "worker@dead-host"
    assert not take_overs().exists()

    services.privacy_job_run(job_id=crashed_purge.pk, take_over_by=operator, reason="stuck")
    crashed_purge.refresh_from_db()
    assert crashed_purge.status == PrivacyJob.Status.SUCCEEDED
    event = take_overs().get()
    assert event.actor == operator and event.after["reason"] == "stuck"
