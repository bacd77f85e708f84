"""A real Celery worker on PostgreSQL and Redis is killed (SIGKILL) in the middle of a chunk;
after a restart the run completes and the discrepancies are those of an uninterrupted run."""

import psycopg2
import pytest
from django.db import connection

from compliance.models import Discrepancy, ReconciliationRun, RunChunk
from compliance.reconciliation.engine import reconciliation_start
from compliance.reconciliation.generator import build_registrations, generate_operator_data
from tests.celery_support import WorkerProcess, use_broker, wait_for, worker_env

from .conftest import CASE_COUNTS, open_set, run_inline, truth_set


def _lock_discrepancies():
    """A second connection that holds the discrepancy table against writes, so the worker's
    next chunk blocks half-way — a deterministic "mid-chunk" for the kill."""
    db = connection.settings_dict
    blocker = psycopg2.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
    )
    blocker.cursor().execute(f"LOCK TABLE {Discrepancy._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
    return blocker


def _someone_waits_for_the_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_is_restarted_and_the_run_completes_as_if_uninterrupted(
    require_postgres, policies, redis_broker
):
    broker = redis_broker
    build_registrations(1500, outlets=5, seed=21)
    generate_operator_data(counts=CASE_COUNTS, seed=5)
    env = worker_env(broker, RECONCILIATION_CHUNK_ROWS="60", RECONCILIATION_PYTHON_CHUNK_ROWS="60")
    worker = WorkerProcess(env, name="recon")

    with use_broker(broker):
        worker.start()
        try:
            run = reconciliation_start(mode="full", trigger="api")  # queued on commit
            wait_for(
                lambda: ReconciliationRun.objects.get(pk=run.pk).chunks_done >= 5,
                timeout=60,
                interval=0.01,
            )
            blocker = _lock_discrepancies()
            try:
                wait_for(_someone_waits_for_the_lock, timeout=30, interval=0.05)
                interrupted = RunChunk.objects.get(run=run, status=RunChunk.Status.CLAIMED)
                assert interrupted.claimed_by == worker.hostname
                worker.kill()
            finally:
                blocker.rollback()
                blocker.close()
            run.refresh_from_db()
            assert run.status == "running" and run.chunks_done < run.chunks_total
            done_before = run.chunks_done

            worker.start()  # the same worker name: it releases its predecessor's claim
            wait_for(
                lambda: not ReconciliationRun.objects.get(pk=run.pk).is_active,
                timeout=180,
                interval=0.2,
            )
        finally:
            worker.stop()

    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.chunks_done == run.chunks_total > done_before
    interrupted.refresh_from_db()
    assert interrupted.status == "done" and interrupted.attempts == 2
    # Exactly what an uninterrupted run finds: the planted set, each once.
    assert open_set() == truth_set()
    assert Discrepancy.objects.count() == len(open_set())
    assert run.counts == run.opened
    check = run_inline("full")
    assert sum(check.opened.values()) == 0 and sum(check.resolved.values()) == 0
    assert open_set() == truth_set()
