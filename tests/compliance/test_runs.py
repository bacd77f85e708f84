"""Run life cycle: no overlap, compare-and-set claims, take-over of dead workers' chunks,
recovery, the periodic tick, giving up after repeated failures."""

import math
from datetime import timedelta
from io import StringIO

import pytest
from celery.app.task import Task
from django.core.management import CommandError, call_command
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils import timezone

from compliance.models import Discrepancy, ReconciliationRun, RunChunk
from compliance.reconciliation import engine
from compliance.reconciliation.engine import (
    RunAlreadyActive,
    _claim,
    _work_claimed,
    reconciliation_chunk_work,
    reconciliation_plan,
    reconciliation_recover,
    reconciliation_start,
    reconciliation_tick,
)
from compliance.reconciliation.selectors import run_summary
from core.audit import AuditAction, command_line_actor
from core.models import AuditEvent
from operatordb.adapter import MockOperatorDatabase
from operatordb.models import OperatorSubscriber

from .conftest import open_set, truth_set


@pytest.fixture
def sent(monkeypatch, django_capture_on_commit_callbacks):
    """The tasks the services queue, as (task name, args), recorded where they leave for the
    broker (Celery's ``apply_async``) instead of running eagerly. What is queued after a
    commit is sent when the test's ``django_capture_on_commit_callbacks`` block ends."""
    calls = []

    def publish(task, args=None, kwargs=None, **options):
        calls.append((task.name.rsplit(".", 1)[-1], *(args or ())))

    monkeypatch.setattr(Task, "apply_async", publish)
    return calls


def _planned_run(mode="full") -> ReconciliationRun:
    run = reconciliation_start(mode=mode, trigger="command", dispatch=False)
    assert reconciliation_plan(run_id=run.pk, dispatch=False)
    return ReconciliationRun.objects.get(pk=run.pk)


def test_two_runs_never_overlap(generated):
    first = reconciliation_start(mode="full", trigger="command", dispatch=False)

    for mode in ("full", "incremental"):
        with pytest.raises(RunAlreadyActive) as exc:
            reconciliation_start(mode=mode, trigger="api", dispatch=False)
        assert exc.value.run == first
    # The database itself refuses a second active run, whoever writes it.
    with pytest.raises(IntegrityError), transaction.atomic():
        ReconciliationRun.objects.create(mode="full", trigger="web", active_slot="active")
    assert ReconciliationRun.objects.count() == 1

    engine.reconciliation_run_inline(run_id=first.pk)
    assert reconciliation_start(mode="full", trigger="api", dispatch=False).status == "queued"


def test_planning_twice_plans_once(generated):
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    assert reconciliation_plan(run_id=run.pk, dispatch=False) is True
    chunks = RunChunk.objects.filter(run=run).count()
    assert reconciliation_plan(run_id=run.pk, dispatch=False) is False
    assert RunChunk.objects.filter(run=run).count() == chunks


def test_a_chunk_is_claimed_by_one_worker_only(generated):
    run = _planned_run()
    chunk = run.chunks.first()

    token = _claim(chunk_id=chunk.pk, worker="w1@host", task_id="t1")
    assert token
    assert _claim(chunk_id=chunk.pk, worker="w2@host", task_id="t2") is None
    # Celery redelivering the same task (its worker died) may take its own claim back.
    again = _claim(chunk_id=chunk.pk, worker="w3@host", task_id="t1")
    assert again and again != token
    chunk.refresh_from_db()
    assert (chunk.claimed_by, chunk.attempts) == ("w3@host", 2)


def test_a_stale_claim_is_taken_over_and_the_late_worker_counts_nothing(
    generated, sent, caplog, django_capture_on_commit_callbacks
):
    run = _planned_run()
    chunk = run.chunks.filter(phase="msisdn").first()
    slow = _claim(chunk_id=chunk.pk, worker="slow@host", task_id="a")
    RunChunk.objects.filter(pk=chunk.pk).update(claimed_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        done = reconciliation_chunk_work(chunk_id=chunk.pk, worker="fast@host", task_id="b")
    assert done == "done"
    assert sent == []  # not the run's last chunk: no finish queued
    with caplog.at_level("WARNING", logger="compliance.reconciliation.engine"):
        assert _work_claimed(chunk_id=chunk.pk, token=slow, dispatch=True) == "claim-lost"

    run.refresh_from_db()
    assert run.chunks_done == 1
    chunk.refresh_from_db()
    assert (chunk.status, chunk.claimed_by) == ("done", "fast@host")
    assert f"reconciliation chunk {chunk.pk}: claim taken over, work discarded" in caplog.messages


def test_a_restarted_worker_releases_its_predecessors_claims(
    generated, sent, django_capture_on_commit_callbacks
):
    run = _planned_run()
    dead, alive = run.chunks.order_by("seq")[:2]
    booted = timezone.now() + timedelta(seconds=1)
    _claim(chunk_id=dead.pk, worker="w1@host", task_id="x")
    _claim(chunk_id=alive.pk, worker="w2@host", task_id="y")

    with django_capture_on_commit_callbacks(execute=True):
        queued = reconciliation_recover(node="w1@host", booted_at=booted)

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, alive.status) == ("pending", "claimed")
    pending = set(run.chunks.filter(status="pending").values_list("pk", flat=True))
    assert {args[1] for name, *args in sent if name == "work_chunk"} == pending
    assert queued == len(pending)


def test_a_restarted_worker_keeps_the_claims_it_made_since_it_started(generated, sent):
    """Killed mutant: the restart recovery lost its ``claimed_at < booted_at`` condition and a
    worker that had already started taking chunks released its own fresh claims (another
    worker would then do the same chunk)."""
    run = _planned_run()
    before_restart, after_restart = run.chunks.order_by("seq")[:2]
    _claim(chunk_id=before_restart.pk, worker="w1@host", task_id="x")
    booted = timezone.now()
    fresh = _claim(chunk_id=after_restart.pk, worker="w1@host", task_id="y")

    reconciliation_recover(node="w1@host", booted_at=booted)

    before_restart.refresh_from_db()
    after_restart.refresh_from_db()
    assert before_restart.status == "pending" and before_restart.claim_token == ""
    assert (after_restart.status, after_restart.claim_token) == ("claimed", fresh)
    # The fresh claim's work still counts.
    assert _work_claimed(chunk_id=after_restart.pk, token=fresh, dispatch=False) == "done"


def test_the_tick_recovers_stale_work_and_finishes_a_run_whose_finish_was_lost(
    generated, sent, django_capture_on_commit_callbacks
):
    run = _planned_run()
    for chunk in run.chunks.all():
        reconciliation_chunk_work(chunk_id=chunk.pk, worker="w@host", dispatch=False)
    # The worker died between its last chunk and queueing the finish.
    assert ReconciliationRun.objects.get(pk=run.pk).status == "running"

    with django_capture_on_commit_callbacks(execute=True):
        assert reconciliation_tick() is None  # a run is in progress: no new one
    assert ("finish_run", run.pk) in sent
    engine.reconciliation_finish(run_id=run.pk)
    assert ReconciliationRun.objects.get(pk=run.pk).status == "succeeded"

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        new = reconciliation_tick()
    assert new.mode == "incremental" and new.trigger == "schedule"
    assert sent == [("plan_run", new.pk)]


def test_a_chunk_that_keeps_failing_fails_the_run_and_frees_the_slot(generated, settings):
    """The operator's database goes away after the run was planned (its table is gone, as
    when the snapshot load drops it): every claim of the first chunk fails, and after
    ``RECONCILIATION_MAX_ATTEMPTS`` the run fails with the database's own error."""
    settings.RECONCILIATION_MAX_ATTEMPTS = 2
    run = _planned_run()
    table = OperatorSubscriber._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_gone")

    run = engine.reconciliation_run_inline(run_id=run.pk)

    assert run.status == "failed" and run.active_slot is None
    # The database's own words: 'relation "…" does not exist' (PostgreSQL), 'no such table: …'.
    assert (
        f'relation "{table}" does not exist' in run.error or f"no such table: {table}" in run.error
    )
    assert run.error.startswith("chunk 1 failed 2 times")
    assert run.chunks.get(seq=1).attempts == 3  # two failures, then the claim that gave up
    assert run.chunks_done == 0 and not Discrepancy.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table}_gone RENAME TO {table}")
    assert reconciliation_start(mode="full", trigger="command", dispatch=False)


def test_an_operator_takes_over_a_run_whose_worker_died(generated):
    """``reconcile --take-over``: a chunk claimed a moment ago by a worker that is gone is
    taken over at once (audited), the run is finished here, and the dead worker's claim is
    worth nothing if it wakes up."""
    run = _planned_run()
    chunk = run.chunks.order_by("seq").first()
    dead = _claim(chunk_id=chunk.pk, worker="w1@lost-node", task_id="x")
    with pytest.raises(CommandError, match="--take-over"):
        call_command("reconcile", "--sync", stdout=StringIO())

    call_command("reconcile", "--take-over", "--reason", "node lost", stdout=StringIO())

    run.refresh_from_db()
    assert run.status == "succeeded" and run.chunks_done == run.chunks_total
    assert open_set() == truth_set()
    event = AuditEvent.objects.get(action=AuditAction.JOB_TAKE_OVER)
    assert (event.target_type, event.target_id) == ("compliance.runchunk", str(chunk.pk))
    assert event.actor_label == command_line_actor()
    assert event.before["worker"] == "w1@lost-node" and event.before["stale"] is False
    assert event.after["reason"] == "node lost"
    chunk.refresh_from_db()  # worked here, under this process's name: one attempt more
    assert (chunk.attempts, chunk.claimed_by) == (2, engine.inline_worker_name())
    assert chunk.claim_task_id == ""
    # The dead worker wakes up: its claim is worth nothing, the chunk counted once.
    assert _work_claimed(chunk_id=chunk.pk, token=dead, dispatch=False) != "done"
    run.refresh_from_db()
    assert run.chunks_done == run.chunks_total


def test_take_over_without_a_run_in_progress_says_so(generated):
    with pytest.raises(CommandError, match="nothing to take over"):
        call_command("reconcile", "--take-over", stdout=StringIO())
    assert not AuditEvent.objects.filter(action=AuditAction.JOB_TAKE_OVER).exists()


def test_celery_tasks_run_the_whole_run(generated, django_capture_on_commit_callbacks):
    """Eager Celery (the test settings): start → plan → chunks → finish, through the tasks."""
    with django_capture_on_commit_callbacks(execute=True):
        run = reconciliation_start(mode="full", trigger="api")

    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert open_set() == truth_set()
    assert not Discrepancy.objects.filter(status="open").exclude(last_seen_run=run).exists()


def test_a_redelivered_task_takes_back_only_its_own_live_claim(generated, sent):
    """Celery redelivering a task may take back the claim it made, nothing else: not a chunk
    it already finished (done once, never twice), and without a task id (a command's inline
    run) there is no redelivery — another task-less worker is refused."""
    run = _planned_run()
    first, second = run.chunks.filter(phase="msisdn").order_by("seq")[:2]

    assert reconciliation_chunk_work(chunk_id=first.pk, worker="w1@host", task_id="t1") == "done"
    assert _claim(chunk_id=first.pk, worker="w2@host", task_id="t1") is None
    first.refresh_from_db()
    assert (first.status, first.claimed_by, first.attempts) == ("done", "w1@host", 1)

    assert _claim(chunk_id=second.pk, worker="w1@host", task_id="")
    assert _claim(chunk_id=second.pk, worker="w2@host", task_id="") is None
    second.refresh_from_db()
    assert (second.claimed_by, second.attempts) == ("w1@host", 1)


def test_the_runs_rows_are_the_sum_of_its_chunks(generated, sent):
    """The progress a run shows (rows examined) adds every chunk's rows, not the last one's."""
    run = _planned_run()
    engine.reconciliation_run_inline(run_id=run.pk)

    run.refresh_from_db()
    rows = list(run.chunks.values_list("rows_examined", flat=True))
    assert len(rows) > 2 and run.chunks_done == len(rows)
    assert run.rows_done == sum(rows) > max(rows)


def test_a_released_claim_says_so_on_the_chunk_and_in_the_log(generated, sent, caplog):
    """An operator reading a chunk that went back to pending sees why, and the worker's log
    counts the claims released."""
    run = _planned_run()
    stale = run.chunks.order_by("seq")[:2]
    for chunk in stale:
        _claim(chunk_id=chunk.pk, worker="gone@host", task_id=f"t{chunk.pk}")
    RunChunk.objects.filter(pk__in=[c.pk for c in stale]).update(
        claimed_at=timezone.now() - timedelta(hours=1)
    )

    with caplog.at_level("WARNING", logger="compliance.reconciliation.engine"):
        reconciliation_recover()

    for chunk in stale:
        chunk.refresh_from_db()
        assert (chunk.status, chunk.claim_token, chunk.last_error) == (
            "pending", "", "claim released",
        )  # fmt: skip
    assert "reconciliation: released 2 interrupted chunk claim(s)" in caplog.messages


class RemoteOperator(MockOperatorDatabase):
    """The operator's records behind an adapter whose data does not live in the portal's
    database (a real operator's system): the same records, no SQL relation here."""

    def same_database_relation(self, *, using: str) -> None:
        return None


def test_the_engine_follows_where_the_operators_records_live(require_postgres, generated, settings):
    """Set-based when the operator's records are a table of this database; the Python engine
    when the setting asks for it (split by its own chunk size) or when the records are
    elsewhere — as the run reports it, and the findings are the same."""
    settings.RECONCILIATION_CHUNK_ROWS = 100_000
    set_based = _planned_run()
    engine.reconciliation_fail(run_id=set_based.pk, error="stopped")
    settings.RECONCILIATION_ENGINE = "python"
    asked = _planned_run()
    engine.reconciliation_fail(run_id=asked.pk, error="stopped")
    settings.RECONCILIATION_ENGINE = "auto"
    settings.OPERATORDB_ADAPTER = f"{__name__}.RemoteOperator"
    remote = engine.reconciliation_run_inline(
        run_id=reconciliation_start(mode="full", trigger="command", dispatch=False).pk
    )

    engines = [run_summary(run)["engine"] for run in (set_based, asked, remote)]
    assert engines == ["sql", "python", "python"]
    assert set_based.chunks.filter(phase="id_group").count() == 1
    groups = asked.chunks.filter(phase="id_group")
    group_rows = sum(groups.values_list("rows_planned", flat=True))
    assert groups.count() == math.ceil(group_rows / 40) > 1  # RECONCILIATION_PYTHON_CHUNK_ROWS
    assert remote.status == "succeeded", remote.error
    assert open_set() == truth_set()


def test_the_plan_reports_its_chunks_and_rows(generated, caplog):
    """The chunks numbered from 1, each with its share of the rows to examine; the progress
    the run shows counts those rows, and the worker's log says what was planned."""
    with caplog.at_level("INFO", logger="compliance.reconciliation.engine"):
        run = _planned_run()

    chunks = list(run.chunks.order_by("seq"))
    assert [chunk.seq for chunk in chunks] == list(range(1, len(chunks) + 1))
    assert {chunk.phase for chunk in chunks} == {"msisdn", "id_group"}
    assert all(chunk.rows_planned > 0 for chunk in chunks)
    rows = sum(chunk.rows_planned for chunk in chunks)
    assert run_summary(run)["progress"] == {
        "done": 0, "total": len(chunks), "rows_done": 0, "rows_total": rows,
    }  # fmt: skip
    planned = f"reconciliation run {run.pk} planned: full, {len(chunks)} chunks, ~{rows} rows"
    assert planned in caplog.messages


def test_a_chunk_past_its_attempts_fails_the_run_without_being_worked(generated, settings):
    settings.RECONCILIATION_MAX_ATTEMPTS = 2
    run = _planned_run()
    chunk = run.chunks.order_by("seq").first()
    RunChunk.objects.filter(pk=chunk.pk).update(attempts=2, last_error="OperationalError()")

    assert reconciliation_chunk_work(chunk_id=chunk.pk, worker="w@host") == "run-failed"

    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "chunk 1 failed 2 times: OperationalError()")
    assert run.chunks_done == 0 and not Discrepancy.objects.exists()


def test_a_chunk_claimed_when_its_run_has_ended_is_released_not_worked(generated):
    """The run failed (another chunk gave up) while workers held claims: each gives its own
    claim back, and only its own."""
    run = _planned_run()
    chunk = run.chunks.order_by("seq").first()
    first = _claim(chunk_id=chunk.pk, worker="w1@host", task_id="a")
    RunChunk.objects.filter(pk=chunk.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    second = _claim(chunk_id=chunk.pk, worker="w2@host", task_id="b")
    engine.reconciliation_fail(run_id=run.pk, error="stopped")

    assert _work_claimed(chunk_id=chunk.pk, token=first, dispatch=False) == "not-claimed"
    chunk.refresh_from_db()
    assert (chunk.status, chunk.claim_token) == ("claimed", second)
    assert _work_claimed(chunk_id=chunk.pk, token=second, dispatch=False) == "not-claimed"

    chunk.refresh_from_db()
    assert (chunk.status, chunk.claim_token, chunk.last_error) == ("pending", "", "claim released")
    assert chunk.finished_at is None and not Discrepancy.objects.exists()


def test_a_failed_chunk_says_why_until_it_succeeds(require_postgres, generated):
    """A chunk whose work fails goes back to pending with the error on it (the runs page
    shows it); a worker whose claim was taken over meanwhile leaves the new claim alone; once
    the chunk is done the error is gone and its end time is recorded."""
    run = _planned_run()
    chunk = run.chunks.filter(phase="msisdn").order_by("seq").first()
    late = _claim(chunk_id=chunk.pk, worker="slow@host", task_id="a")
    RunChunk.objects.filter(pk=chunk.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    token = _claim(chunk_id=chunk.pk, worker="fast@host", task_id="b")
    table = OperatorSubscriber._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_gone")

    with pytest.raises(ProgrammingError):
        _work_claimed(chunk_id=chunk.pk, token=late, dispatch=False)
    chunk.refresh_from_db()
    assert (chunk.status, chunk.claimed_by, chunk.claim_token) == ("claimed", "fast@host", token)
    with pytest.raises(ProgrammingError):
        _work_claimed(chunk_id=chunk.pk, token=token, dispatch=False)
    chunk.refresh_from_db()
    assert (chunk.status, chunk.claim_token) == ("pending", "")
    assert f'relation "{table}" does not exist' in chunk.last_error

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table}_gone RENAME TO {table}")
    assert reconciliation_chunk_work(chunk_id=chunk.pk, worker="w3@host", dispatch=False) == "done"
    chunk.refresh_from_db()
    assert (chunk.status, chunk.last_error) == ("done", "")
    assert chunk.finished_at is not None
    run.refresh_from_db()
    assert run.chunks_done == 1


# --- recovery, dispatch and failure, as the tasks queued and the rows left show them ------------


def _long_ago():
    return timezone.now() - engine.claim_timeout() - timedelta(minutes=1)


def test_recovery_queues_again_only_what_was_lost(
    generated, sent, django_capture_on_commit_callbacks
):
    """Of a running run's chunks, recovery queues again the one claimed by a worker silent for
    longer than the claim time-out, the one queued long ago and never taken, and the one never
    queued; not the one queued a moment ago nor the one being worked. It returns how many
    tasks it queued."""
    run = _planned_run()
    assert run.chunks.count() >= 5
    stale, forgotten, never, recent, busy = run.chunks.order_by("seq")[:5]
    _claim(chunk_id=stale.pk, worker="w1@gone", task_id="a")
    RunChunk.objects.filter(pk=stale.pk).update(claimed_at=_long_ago())
    _claim(chunk_id=busy.pk, worker="w2@alive", task_id="b")
    RunChunk.objects.filter(pk=forgotten.pk).update(dispatched_at=_long_ago())
    RunChunk.objects.filter(pk=recent.pk).update(dispatched_at=timezone.now())
    RunChunk.objects.filter(run=run).exclude(
        pk__in=[stale.pk, forgotten.pk, never.pk, recent.pk, busy.pk]
    ).update(status="done")

    with django_capture_on_commit_callbacks(execute=True):
        queued = reconciliation_recover()

    again = sorted(chunk_id for name, run_id, *rest in sent if name == "work_chunk"
                   for chunk_id in rest)  # fmt: skip
    assert again == sorted([stale.pk, forgotten.pk, never.pk])
    assert queued == 3
    assert all(run_id == run.pk for name, run_id, *_ in sent)
    busy.refresh_from_db()
    assert (busy.status, busy.claimed_by) == ("claimed", "w2@alive")
    for chunk in RunChunk.objects.filter(pk__in=again):
        assert chunk.status == "pending" and chunk.dispatched_at > _long_ago()


def test_recovery_plans_a_run_queued_long_ago_but_not_one_just_queued(
    generated, sent, django_capture_on_commit_callbacks
):
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert reconciliation_recover() == 0  # its planning may still be on its way
    assert sent == []

    ReconciliationRun.objects.filter(pk=run.pk).update(created_at=_long_ago())
    with django_capture_on_commit_callbacks(execute=True):
        assert reconciliation_recover() == 1
    assert sent == [("plan_run", run.pk)]


def test_dispatch_queues_a_runs_next_step_and_says_how_many(
    generated, sent, django_capture_on_commit_callbacks
):
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.reconciliation_dispatch(run_id=run.pk) == 1
    assert sent == [("plan_run", run.pk)]

    sent.clear()
    assert reconciliation_plan(run_id=run.pk, dispatch=False)
    chunks = list(run.chunks.order_by("seq").values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.reconciliation_dispatch(run_id=run.pk) == len(chunks)
    assert sent == [("work_chunk", run.pk, pk) for pk in chunks]
    assert not run.chunks.filter(dispatched_at__isnull=True).exists()

    sent.clear()
    run.chunks.update(status="done")
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.reconciliation_dispatch(run_id=run.pk) == 1
    assert sent == [("finish_run", run.pk)]

    sent.clear()
    engine.reconciliation_fail(run_id=run.pk, error="stopped")
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.reconciliation_dispatch(run_id=run.pk) == 0
    assert sent == []


def test_a_failed_run_is_recorded_once_with_its_error(generated, caplog):
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    error = "chunk 1 failed 3 times: " + "OperationalError('server closed the connection') " * 150
    before = timezone.now()

    with caplog.at_level("ERROR", logger="compliance.reconciliation.engine"):
        assert engine.reconciliation_fail(run_id=run.pk, error=error) is True

    run.refresh_from_db()
    assert (run.status, run.active_slot, run.error) == ("failed", None, error[:5000])
    assert before <= run.finished_at <= timezone.now()
    event = AuditEvent.objects.get(action=AuditAction.RECONCILIATION_FAIL)
    assert (event.target_type, event.target_id) == ("compliance.reconciliationrun", str(run.pk))
    assert event.after == {"error": error[:500]}
    assert f"reconciliation run {run.pk} failed: {error}" in caplog.messages
    # Failing it again changes nothing and records nothing more.
    assert engine.reconciliation_fail(run_id=run.pk, error="again") is False
    assert AuditEvent.objects.filter(action=AuditAction.RECONCILIATION_FAIL).count() == 1
    assert ReconciliationRun.objects.get(pk=run.pk).error == error[:5000]
