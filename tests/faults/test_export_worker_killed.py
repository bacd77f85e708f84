"""Fault test: a real Celery worker (PostgreSQL, Redis) is SIGKILLed in the middle of writing a
regulator export. The sweep (as beat runs it) gives the job to a new worker, which writes it
once: one stored file whose SHA-256 is the one recorded, every row of the scope in it, no
half-written file left behind, and a late redelivery of the first message changes nothing."""

import hashlib
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.conf import settings as django_settings
from django.db import connection

from compliance.reconciliation.generator import build_registrations
from reports import services, tasks
from reports.models import ExportJob
from subscribers.models import Registration
from tests.celery_support import WorkerProcess, use_broker, wait_for, worker_env

from .conftest import backends_waiting_for_a_lock, second_connection

WIB = ZoneInfo("Asia/Jakarta")
PERIOD = (date(2026, 3, 1), date(2026, 3, 5))
PARAMS = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()}
# More rows than one progress step of the XLSX writer (10 000): the job records progress, and
# has more to write after it.
ROWS = 12_000
HOLD = 7_007  # advisory lock key: the test holds it, the worker's next progress waits for it
STALE_SECONDS = 2


def _hold_exports_after_first_progress():
    """A trigger (test scaffolding, dropped afterwards): once an export has recorded progress,
    its next update of the job row waits for the advisory lock ``HOLD`` — a deterministic
    "mid-write" (file half made, nothing stored) for the kill."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION faults_hold_export() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN PERFORM pg_advisory_xact_lock({HOLD}); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER faults_hold_export BEFORE UPDATE ON reports_exportjob FOR EACH ROW"
            " WHEN (OLD.status = 'running' AND OLD.rows_done > 0)"
            " EXECUTE FUNCTION faults_hold_export()"
        )


def _release_exports():
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS faults_hold_export ON reports_exportjob")
        cursor.execute("DROP FUNCTION IF EXISTS faults_hold_export()")


def _terminate_waiting_backends() -> None:
    """A SIGKILLed worker's database session would be gone with its host's TCP connection;
    here it still waits for the lock, so end it as the network would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND query ILIKE '%reports_exportjob%'"
        )


def _stored_files(root: Path) -> list[str]:
    exports = root / "exports"
    return sorted(
        str(p.relative_to(root))
        for p in exports.rglob("*")
        if p.is_file() and ".work" not in p.parts
    )


def _work_files(root: Path) -> list[str]:
    work = root / "exports" / ".work"
    return sorted(p.name for p in work.iterdir()) if work.exists() else []


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_export_whose_worker_is_killed_is_redone_once_and_leaves_no_partial_file(
    require_postgres, policies, regulator, settings, redis_broker
):
    broker = redis_broker
    settings.REPORTS_EXPORT_STALE_SECONDS = STALE_SECONDS
    build_registrations(ROWS, outlets=3, seed=7, registered_from=datetime(2026, 3, 1, tzinfo=WIB))
    in_scope = Registration.objects.filter(
        registered_at__gte=datetime.combine(PERIOD[0], time(0), tzinfo=WIB),
        registered_at__lt=datetime.combine(date(2026, 3, 6), time(0), tzinfo=WIB),
    ).count()
    assert in_scope > 10_000
    root = Path(django_settings.STORAGES["private"]["OPTIONS"]["location"])
    env = worker_env(
        broker, PRIVATE_MEDIA_ROOT=str(root), REPORTS_EXPORT_STALE_SECONDS=str(STALE_SECONDS)
    )
    worker = WorkerProcess(env, name="export")
    blocker = second_connection()
    blocker.autocommit = True
    blocker.cursor().execute("SELECT pg_advisory_lock(%s)", [HOLD])
    _hold_exports_after_first_progress()

    with use_broker(broker):
        try:
            worker.start()
            job = services.export_job_create(
                user=regulator, kind="registrations", format="xlsx", data=PARAMS, trigger="api"
            )
            # Mid-write: running with rows recorded, and waiting to record more.
            wait_for(
                lambda: backends_waiting_for_a_lock("%reports_exportjob%"),
                timeout=60,
                interval=0.05,
            )
            assert [name for name in _work_files(root) if name.startswith(f"export-{job.pk}-")]
            worker.kill()
            _terminate_waiting_backends()
            blocker.close()
            _release_exports()
            job.refresh_from_db()
            assert job.status == "running" and job.attempts == 1
            assert 0 < job.rows_done < job.rows_total
            assert _stored_files(root) == []  # nothing stored by the killed attempt

            # Beat's sweep, once the claim has gone quiet for the stale age, re-queues it.
            wait_for(
                lambda: (
                    ExportJob.objects.get(pk=job.pk).heartbeat_at
                    < services.timezone.now() - services.timedelta(seconds=STALE_SECONDS)
                ),
                timeout=STALE_SECONDS + 5,
            )
            worker.start()
            outcome = services.export_jobs_sweep()
            assert outcome["requeued"] == 1
            wait_for(
                lambda: ExportJob.objects.get(pk=job.pk).status in ("succeeded", "failed"),
                timeout=60,
            )
            job.refresh_from_db()
            assert job.status == "succeeded", job.error
            first = (job.attempts, job.file.name, job.sha256, job.finished_at)

            # The killed worker's message, delivered again late: the job is not run again.
            late = tasks.run_export_job.apply_async(args=[job.pk], ignore_result=False)
            assert late.get(timeout=30) == "succeeded"
        finally:
            worker.stop()
            blocker.close()
            _release_exports()

    job.refresh_from_db()
    assert (job.attempts, job.file.name, job.sha256, job.finished_at) == first
    assert job.attempts == 2
    # Exactly one file for the job, and no half-written one anywhere in the private storage.
    assert _stored_files(root) == [job.file.name]
    assert _work_files(root) == []
    content = (root / job.file.name).read_bytes()
    assert hashlib.sha256(content).hexdigest() == job.sha256 and len(content) == job.size
    workbook = openpyxl.load_workbook(root / job.file.name, read_only=True)
    assert sum(1 for _ in workbook["registrations"].iter_rows()) == in_scope + 1  # + header
    assert job.rows_done == job.rows_total == in_scope
