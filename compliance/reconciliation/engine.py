"""Reconciliation runs: the services behind the page, the API, ``reconcile`` and the tasks.

Life of a run:
1. ``reconciliation_start`` queues it. At most one run is queued or running (a unique "active
   slot" on the row), so two full runs — or a full and an incremental — never overlap.
2. ``reconciliation_plan`` (a task) moves it to running and splits it into chunks: MSISDN ranges
   of about ``RECONCILIATION_CHUNK_ROWS`` rows, plus ID-digest ranges for the per-ID cap. An
   incremental run's chunks cover only what changed on either side since the last successful
   run: by the change sequence, what that run's planning snapshot did not see (``sql.changed``;
   the Python engine by the clock, minus ``RECONCILIATION_WATERMARK_MARGIN`` seconds for
   transactions still open then).
3. ``reconciliation_chunk_work`` (one task per chunk, any number of workers) claims a chunk with
   a compare-and-set, does it in one transaction that also marks it done (fenced by the claim
   token) and adds to the run's progress. The last chunk queues the finish.
   An MSISDN chunk also flags the registrations of what it found (registered → flagged).
4. ``reconciliation_finish`` flags the registrations of the over-limit numbers, hands the new
   discrepancies over (``handover``: the compliance workflow's intake), checks the deferred
   foreign keys of what it wrote and marks the run succeeded — one transaction; the run's
   duration ends there, hand-over and its checks included.

A worker that dies (SIGKILL, OOM) leaves its chunk claimed: a restarted worker of the same name
releases its predecessor's claims at start (``reconciliation_recover``), and the periodic tick
releases any claim older than ``RECONCILIATION_CLAIM_TIMEOUT``. Every step is safe to run twice.
"""

# SQL here is assembled from table and column names of our own models; every value is a bound
# parameter.
# ruff: noqa: S608

from __future__ import annotations

import logging
import math
import threading
import time
from array import array
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import pairwise

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import external_digests, jobs
from core.audit import AuditAction, audit_record
from core.connections import another_connection_sees_ours
from core.operator import get_adapter
from core.queue import enqueue
from subscribers.models import Registration
from subscribers.selectors import NoPolicyInForce, policy_in_force

from ..models import Discrepancy, ReconciliationRun, RunChunk
from . import handover, python, sql

logger = logging.getLogger(__name__)

Run = ReconciliationRun
HANDOVER_FETCH = 10_000
# A run that opened or resolved at least this many discrepancies (and a fifth of the table)
# refreshes the table's statistics when it finishes.
ANALYZE_AFTER_WRITES = 5_000
_ANALYZED_COLUMNS = (
    "msisdn, kind, status, registration_id, outlet_id, id_digest, first_detected_run_id,"
    " last_seen_run_id, detected_at"
)
# Digest prefixes split the ID-group phase: digests are uniform hex, so equal prefix ranges
# hold about equal numbers of groups.
_DIGEST_PREFIX_SPACE = 16**6


def chunk_rows(engine: str = "sql") -> int:
    """MSISDNs per chunk. The set-based engine's chunk is the database's work, so it is large
    (fewer passes over tables whose rows are not in MSISDN order); the Python engine holds its
    chunk in the worker's memory, so it is smaller."""
    if engine == "python":
        return int(getattr(settings, "RECONCILIATION_PYTHON_CHUNK_ROWS", 20_000))
    return int(getattr(settings, "RECONCILIATION_CHUNK_ROWS", 250_000))


def claim_timeout() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "RECONCILIATION_CLAIM_TIMEOUT", 600)))


def watermark_margin() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "RECONCILIATION_WATERMARK_MARGIN", 300)))


def activation_grace() -> timedelta:
    """A registration younger than this (from its verification) is not unknown to the
    operator yet (``RECONCILIATION_ACTIVATION_GRACE_MINUTES``)."""
    return timedelta(minutes=int(getattr(settings, "RECONCILIATION_ACTIVATION_GRACE_MINUTES", 60)))


def clock_skew() -> timedelta:
    """How much earlier than its registration an activation may be before it is
    ``activated_before_registration`` (``RECONCILIATION_CLOCK_SKEW_SECONDS``)."""
    return timedelta(seconds=int(getattr(settings, "RECONCILIATION_CLOCK_SKEW_SECONDS", 300)))


def max_attempts() -> int:
    return int(getattr(settings, "RECONCILIATION_MAX_ATTEMPTS", 5))


# Chunk claims: the one resumable-job implementation. A chunk is claimed for one transaction;
# its claim time is its only sign of life, so a claim older than the timeout is taken over.
CHUNK_LEASE = jobs.Lease(
    model=RunChunk,
    stale_after=claim_timeout,
    waiting=(RunChunk.Status.PENDING,),
    running=RunChunk.Status.CLAIMED,
    beat_field="claimed_at",
)


def inline_worker_name() -> str:
    return jobs.worker_name()


class RunAlreadyActive(Exception):
    """Another run is queued or running; ``run`` is that run (or None if it just ended)."""

    def __init__(self, run: ReconciliationRun | None):
        super().__init__("A reconciliation run is already in progress.")
        self.run = run


def active_run() -> ReconciliationRun | None:
    return Run.objects.filter(status__in=Run.ACTIVE_STATUSES).first()


def current_id_cap() -> int | None:
    """The per-ID cap of the policy in force now; None when it sets none."""
    try:
        return policy_in_force().max_numbers_per_id
    except NoPolicyInForce:
        return None


# --- start ---------------------------------------------------------------------------------


def reconciliation_start(
    *, mode: str, trigger: str, requested_by=None, dispatch: bool = True
) -> ReconciliationRun:
    """Queue a run of ``mode`` and, after commit, its planning task (unless ``dispatch`` is off:
    ``reconcile --sync`` works it inline).

    Raises ``RunAlreadyActive`` while another run is queued or running. A run asked for by a
    person is audited.
    """
    if mode not in Run.Mode.values:
        raise ValueError(f"unknown reconciliation mode {mode!r}")
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            run = Run.objects.create(
                mode=mode, trigger=trigger, requested_by=user, active_slot="active"
            )
            audit_record(
                actor=user,
                action=AuditAction.RECONCILIATION_START,
                target=run,
                after={"mode": mode, "trigger": trigger},
            )
    except IntegrityError as exc:
        raise RunAlreadyActive(active_run()) from exc
    if dispatch:
        _send("plan_run", run.pk)
    return run


def _send(task_name: str, *args) -> None:
    """Queue one of the run's own tasks (after the commit; a broker outage is left to the
    periodic recovery, ``reconciliation_recover``)."""
    # The tasks module wraps this one's services: it is imported when a task is sent.
    from . import tasks

    task = {"plan_run": tasks.plan_run, "work_chunk": tasks.work_chunk,
            "finish_run": tasks.finish_run}[task_name]  # fmt: skip
    enqueue(task, *args)


# --- planning ------------------------------------------------------------------------------


def _previous_success() -> ReconciliationRun | None:
    return (
        Run.objects.filter(status=Run.Status.SUCCEEDED, started_at__isnull=False)
        .order_by("-started_at")
        .first()
    )


def _ranges(bounds: list[str]) -> list[tuple[str | None, str | None]]:
    return list(pairwise([None, *bounds, None]))


def _digest_ranges(rows: int, engine: str) -> list[tuple[str | None, str | None]]:
    parts = max(1, math.ceil(rows / chunk_rows(engine)))
    bounds = [f"{i * _DIGEST_PREFIX_SPACE // parts:06x}" for i in range(1, parts)]
    return _ranges(bounds)


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def _plan_msisdn_phase_sql(run, *, relation: str, changed: bool) -> tuple[list[str], int]:
    """MSISDN boundaries (quantiles) and the records the phase will examine."""
    reg = sql.REG
    if changed:
        changed_where, changed_params = sql.changed(run)
        params = {"since": run.since, **changed_params}
        params.update(sql.grace_params(run.since, run.started_at))
        sources = [
            f"SELECT msisdn AS k FROM {reg} WHERE {changed_where}",
            f"SELECT msisdn AS k FROM {reg} WHERE {sql.GRACE_ENDING}",
            f"SELECT msisdn AS k FROM {relation} WHERE {changed_where}",
        ]
        rows = sum(sql.scalar(f"SELECT count(*) FROM ({source}) s", params) for source in sources)
    else:
        # The planner's estimates and a sample: exact enough to split, and cheap.
        params = {}
        sizes = [sql.estimated_rows(reg), sql.estimated_rows(relation)]
        rows = sum(sizes)
        sources = [
            f"SELECT msisdn AS k FROM {table}{sql.sample_clause(size)}"
            for table, size in zip((reg, relation), sizes, strict=True)
        ]
    # About chunk_rows MSISDNs per chunk: each has its registration and its operator record.
    parts = max(1, math.ceil(rows / (2 * chunk_rows())))
    return sql.msisdn_boundaries(sources, params, parts=parts), rows


def _plan_msisdn_phase_python(run, *, adapter, changed: bool) -> tuple[list[str], int]:
    registrations = Registration.objects.order_by("msisdn")
    if changed:
        registrations = registrations.annotate(
            grace_start=Coalesce("registry_checked_at", "registered_at")
        ).filter(Q(updated_at__gte=run.since) | python.grace_ending(run.since, run.started_at))
    step = chunk_rows("python")
    bounds: set[str] = set()
    rows = 0
    for stream in (
        registrations.values_list("msisdn", flat=True).iterator(chunk_size=2000),
        adapter.msisdns(since=run.since if changed else None),
    ):
        for i, msisdn in enumerate(stream, start=1):
            rows += 1
            if i % step == 0:
                bounds.add(msisdn)
    # Each source gave a boundary every `step` of its keys: every other one of the merged list
    # makes chunks of about `step` MSISDNs.
    return sorted(bounds)[1::2], rows


def _plan_group_rows(run, *, adapter, relation: str | None, changed: bool) -> int:
    """Active operator records the ID-group phase will examine (an estimate for a full one)."""
    if relation is not None and run.engine == "sql":
        if changed:
            changed_where, changed_params = sql.changed(run)
            return sql.scalar(
                f"SELECT count(*) FROM {relation} WHERE {changed_where}",
                {"since": run.since, **changed_params},
            )
        return sql.estimated_rows(relation)
    if changed:
        return sum(1 for _ in adapter.msisdns(since=run.since))
    return sum(1 for _ in adapter.iter_active_by_digest(None, None))


def reconciliation_plan(*, run_id: int, dispatch: bool = True) -> bool:
    """Move a queued run to running and split it into chunks, in one transaction (a worker
    dying half-way leaves it queued). Returns False when the run was not queued (done twice),
    or failed at once because the operator's snapshot is under a retired digest key."""
    if refusal := external_digests.reconciliation_refusal():
        reconciliation_fail(run_id=run_id, error=refusal)
        return False
    adapter = get_adapter()
    with transaction.atomic():
        # What this run sees (before anything here writes); the next incremental run reads
        # what it did not.
        snapshot = sql.current_snapshot() if connection.vendor == "postgresql" else ""
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != Run.Status.QUEUED:
            return False
        now = timezone.now()
        relation = adapter.same_database_relation(using=DEFAULT_DB_ALIAS)
        set_based = relation is not None and connection.vendor == "postgresql"
        if getattr(settings, "RECONCILIATION_ENGINE", "auto") == "python":
            set_based = False
        run.engine = "sql" if set_based else "python"
        run.id_cap = current_id_cap()
        run.started_at = now
        run.status = Run.Status.RUNNING
        previous = _previous_success()
        if run.engine == "sql":
            run.snapshot = snapshot
        if run.mode == Run.Mode.INCREMENTAL and previous is not None:
            if run.engine == "sql" and previous.snapshot:
                # By the change sequence: nothing committed late is missed, nothing re-read
                # for the clock's sake. ``since`` still bounds the activation grace periods
                # that ended in between.
                run.changes_after = previous.snapshot
                run.since = previous.started_at
            else:
                run.since = previous.started_at - watermark_margin()
        changed = run.since is not None
        # A new cap changes every group's verdict: the ID groups are then examined in full.
        groups_changed = changed and previous.id_cap == run.id_cap

        if run.engine == "sql":
            bounds, rows = _plan_msisdn_phase_sql(run, relation=relation, changed=changed)
        else:
            bounds, rows = _plan_msisdn_phase_python(run, adapter=adapter, changed=changed)
        group_rows = _plan_group_rows(
            run, adapter=adapter, relation=relation, changed=groups_changed
        )
        scope = RunChunk.Scope.CHANGED if changed else RunChunk.Scope.ALL
        group_scope = RunChunk.Scope.CHANGED if groups_changed else RunChunk.Scope.ALL
        msisdn_ranges = _ranges(bounds)
        group_ranges = _digest_ranges(group_rows, run.engine)
        chunks = [
            RunChunk(
                run=run,
                phase=RunChunk.Phase.MSISDN,
                scope=scope,
                key_from=lo,
                key_to=hi,
                rows_planned=planned,
            )
            for (lo, hi), planned in zip(
                msisdn_ranges, _split(rows, len(msisdn_ranges)), strict=True
            )
        ] + [
            RunChunk(
                run=run,
                phase=RunChunk.Phase.ID_GROUP,
                scope=group_scope,
                key_from=lo,
                key_to=hi,
                rows_planned=planned,
            )
            for (lo, hi), planned in zip(
                group_ranges, _split(group_rows, len(group_ranges)), strict=True
            )
        ]
        for seq, chunk in enumerate(chunks, start=1):
            chunk.seq = seq
        RunChunk.objects.bulk_create(chunks)
        run.chunks_total = len(chunks)
        run.rows_total = rows + group_rows
        run.save()
        if dispatch:
            transaction.on_commit(lambda: reconciliation_dispatch(run_id=run.pk))
    logger.info(
        "reconciliation run %s planned: %s, %s chunks, ~%s rows",
        run.pk,
        run.mode,
        run.chunks_total,
        run.rows_total,
    )
    return True


# --- dispatch and recovery ------------------------------------------------------------------


def reconciliation_dispatch(*, run_id: int, chunk_ids: list[int] | None = None) -> int:
    """Queue the work a run still needs: its planning, its pending chunks (all, or
    ``chunk_ids``), or its finish. Duplicates are harmless (every step is a compare-and-set).
    Returns how many tasks were queued."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None or not run.is_active:
        return 0
    if run.status == Run.Status.QUEUED:
        _send("plan_run", run.pk)
        return 1
    pending = run.chunks.filter(status=RunChunk.Status.PENDING)
    if chunk_ids is not None:
        pending = pending.filter(pk__in=chunk_ids)
    ids = list(pending.order_by("seq").values_list("pk", flat=True))
    if not ids:
        if not run.chunks.exclude(status=RunChunk.Status.DONE).exists():
            _send("finish_run", run.pk)
            return 1
        return 0
    RunChunk.objects.filter(pk__in=ids).update(dispatched_at=timezone.now())
    for chunk_id in ids:
        _send("work_chunk", run.pk, chunk_id)
    return len(ids)


def reconciliation_recover(*, node: str | None = None, booted_at: datetime | None = None) -> int:
    """Get interrupted runs going again; returns how many tasks were queued.

    - ``node`` (a restarted worker's name): its predecessor's claims made before ``booted_at``
      are released at once — that process is gone.
    - Any claim older than ``RECONCILIATION_CLAIM_TIMEOUT`` is released (its worker is gone or
      stuck; the fencing token keeps a late finisher from counting twice).
    - Released chunks, chunks queued long ago and never taken, plannings and finishes that
      were lost are queued again.
    """
    now = timezone.now()
    stale_before = now - claim_timeout()
    queued = 0
    for run in Run.objects.filter(status__in=Run.ACTIVE_STATUSES):
        if run.status == Run.Status.QUEUED:
            if node is not None or run.created_at < stale_before:
                queued += reconciliation_dispatch(run_id=run.pk)
            continue
        chunks = RunChunk.objects.filter(run_id=run.pk)
        if node is not None:
            mine = chunks.filter(claimed_by=node)
            if booted_at is not None:
                mine = mine.filter(claimed_at__lt=booted_at)
            _release(mine)
            # A worker killed as a whole also took the messages it had reserved with it (the
            # broker gives them back only after its visibility timeout): queue every pending
            # chunk again; a duplicate finds its chunk claimed or done and does nothing.
            queued += reconciliation_dispatch(run_id=run.pk)
            continue
        released = _release(chunks.filter(CHUNK_LEASE.stale(now)))
        forgotten = chunks.filter(status=RunChunk.Status.PENDING).filter(
            Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale_before)
        )
        released += list(forgotten.values_list("pk", flat=True))
        if released:
            queued += reconciliation_dispatch(run_id=run.pk, chunk_ids=released)
        elif not chunks.exclude(status=RunChunk.Status.DONE).exists():
            queued += reconciliation_dispatch(run_id=run.pk)
    return queued


def _release(chunks) -> list[int]:
    """Put claimed chunks back to pending. ``chunks`` is a single-table filter; it is applied
    again in the UPDATE, so a chunk claimed afresh in between is left alone."""
    chunks = chunks.filter(status=RunChunk.Status.CLAIMED)
    ids = list(chunks.values_list("pk", flat=True))
    if not ids:
        return []
    released = chunks.filter(pk__in=ids).update(
        status=RunChunk.Status.PENDING, claim_token="", last_error="claim released"
    )
    if released:
        logger.warning("reconciliation: released %s interrupted chunk claim(s)", released)
    return ids


def reconciliation_tick(*, mode: str = Run.Mode.INCREMENTAL) -> ReconciliationRun | None:
    """The periodic job: recover interrupted runs, then start a run of ``mode`` unless one is
    in progress. Returns the new run, if any."""
    reconciliation_recover()
    try:
        return reconciliation_start(mode=mode, trigger=Run.Trigger.SCHEDULE)
    except RunAlreadyActive:
        logger.info("reconciliation tick: a run is in progress, no new %s run", mode)
        return None


# --- chunk work -----------------------------------------------------------------------------


def _claim(*, chunk_id: int, worker: str, task_id: str) -> str | None:
    """Compare-and-set a chunk to ``claimed``: pending, or claimed long ago, or claimed by this
    very task before (Celery redelivered it after its worker died). Returns the claim token."""
    redelivered = Q(status=RunChunk.Status.CLAIMED, claim_task_id=task_id) if task_id else None
    return jobs.claim(
        CHUNK_LEASE,
        chunk_id,
        worker=worker,
        also=redelivered,
        claim_task_id=task_id[:64],
        attempts=F("attempts") + 1,
    )


def _process(chunk: RunChunk, run: ReconciliationRun, now) -> sql.ChunkResult:
    adapter = get_adapter()
    if run.engine == "sql":
        relation = adapter.same_database_relation(using=DEFAULT_DB_ALIAS)
        if relation is None:
            raise RuntimeError("the operator adapter no longer lives in this database")
        engine = sql
        kwargs = {"relation": relation}
    else:
        engine = python
        kwargs = {"adapter": adapter}
    if chunk.phase == RunChunk.Phase.MSISDN:
        return engine.process_msisdn_chunk(chunk=chunk, run=run, now=now, **kwargs)
    return engine.process_id_group_chunk(chunk=chunk, run=run, now=now, **kwargs)


def _merge(total: dict, part: dict) -> dict:
    merged = dict(total)
    for kind, count in part.items():
        merged[kind] = merged.get(kind, 0) + count
    return merged


def _add_progress(run_id: int, result: sql.ChunkResult) -> bool:
    """Add a finished chunk to its run (row-locked, so exactly one chunk sees the last one)."""
    run = Run.objects.select_for_update().get(pk=run_id)
    run.chunks_done += 1
    run.rows_done += result.rows
    run.counts = _merge(run.counts, result.found)
    run.opened = _merge(run.opened, result.opened)
    run.resolved = _merge(run.resolved, result.resolved)
    run.save(update_fields=["chunks_done", "rows_done", "counts", "opened", "resolved"])
    return run.chunks_done >= run.chunks_total


def reconciliation_chunk_work(
    *, chunk_id: int, worker: str, task_id: str = "", dispatch: bool = True
) -> str:
    """Claim one chunk and do it; returns what happened ("done", "not-claimed", "claim-lost",
    "run-failed"). Safe to run twice: the second finds it claimed or done.

    The chunk's discrepancy writes, its ``done`` mark (only while this claim's token is still
    on it) and the run's progress commit in one transaction. On an error the chunk goes back to
    pending and the error propagates (the task retries); after ``RECONCILIATION_MAX_ATTEMPTS``
    claims the run fails.
    """
    token = _claim(chunk_id=chunk_id, worker=worker, task_id=task_id)
    if token is None:
        return "not-claimed"
    return _work_claimed(chunk_id=chunk_id, token=token, dispatch=dispatch)


def _work_claimed(*, chunk_id: int, token: str, dispatch: bool) -> str:
    chunk = RunChunk.objects.select_related("run").get(pk=chunk_id)
    run = chunk.run
    if run.status != Run.Status.RUNNING:
        _release(RunChunk.objects.filter(pk=chunk.pk, claim_token=token))
        return "not-claimed"
    if chunk.attempts > max_attempts():
        reconciliation_fail(
            run_id=run.pk,
            error=f"chunk {chunk.seq} failed {chunk.attempts - 1} times: {chunk.last_error}",
        )
        return "run-failed"
    try:
        with transaction.atomic():
            result = _process(chunk, run, timezone.now())
            if result.rows is None:
                result.rows = chunk.rows_planned
            done = CHUNK_LEASE.fenced(chunk.pk, token).update(
                status=RunChunk.Status.DONE,
                finished_at=timezone.now(),
                rows_examined=result.rows,
                counts=result.as_counts(),
                last_error="",
            )
            if done != 1:
                raise jobs.ClaimLost
            last = _add_progress(run.pk, result)
    except jobs.ClaimLost:
        logger.warning("reconciliation chunk %s: claim taken over, work discarded", chunk_id)
        return "claim-lost"
    except Exception as exc:
        RunChunk.objects.filter(
            pk=chunk.pk, status=RunChunk.Status.CLAIMED, claim_token=token
        ).update(status=RunChunk.Status.PENDING, claim_token="", last_error=repr(exc)[:2000])
        raise
    if last and dispatch:
        _send("finish_run", run.pk)
    return "done"


# --- finish ---------------------------------------------------------------------------------


def _hand_over(run: ReconciliationRun) -> int:
    # Every discrepancy the run newly opened, in one call: each receiver takes its own (the
    # workflow's intake the outlet-accountable ones, its review queue those unknown to the
    # operator) and batches them itself. The ids travel as a packed array (8 bytes each).
    ids = array("q")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Discrepancy._meta.db_table}"
            " WHERE first_detected_run_id = %s AND status = %s ORDER BY id",
            [run.pk, Discrepancy.Status.OPEN],
        )
        while rows := cursor.fetchmany(HANDOVER_FETCH):
            ids.extend(row[0] for row in rows)
    if ids:
        handover.hand_over(discrepancy_ids=ids)
    return len(ids)


def _check_deferred_constraints() -> None:
    """Check now the foreign keys of every row this transaction wrote (Django declares them
    deferred: PostgreSQL would check them one row at a time at the commit, after the run's
    ``finished_at`` — for a first run's hand-over, hundreds of thousands of checks). So the
    run's duration covers them, and a violation fails the finish here, not its commit. Then
    deferred again, as Django's own constraint check does (the finish may be nested in a
    larger transaction)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _refresh_statistics(run: ReconciliationRun) -> None:
    """ANALYZE the discrepancy table after a run that changed a good part of it (a first run
    opens tens of thousands): the hand-over's queries and the next run's, minutes later, are
    planned on its real size, not on the statistics of the table before it (autovacuum's
    own ANALYZE comes later)."""
    if run.engine != "sql" or connection.vendor != "postgresql":
        return
    written = sum((run.opened or {}).values()) + sum((run.resolved or {}).values())
    if written < ANALYZE_AFTER_WRITES:
        return
    if written < sql.estimated_rows(Discrepancy._meta.db_table) // 5:
        return
    # The columns the engine and the workflow select and join on: the details (JSON) would
    # cost most of the sampling and steer no plan.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Discrepancy._meta.db_table} ({_ANALYZED_COLUMNS})")


def reconciliation_finish(*, run_id: int) -> bool:
    """Close a run whose chunks are all done: flag, hand over, mark succeeded — one
    transaction. Returns False if the run is not running or still has chunks to do."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != Run.Status.RUNNING:
            return False
        if run.chunks.exclude(status=RunChunk.Status.DONE).exists():
            return False
        now = timezone.now()
        engine = sql if run.engine == "sql" else python
        if connection.vendor == "postgresql":
            # The chunks' planner settings for this transaction too: the hand-over looks its
            # batches up by id and number in tables just read (cached), not by scanning them.
            with connection.cursor() as cursor:
                sql.chunk_settings(cursor)
        flagged = engine.flag_over_limit(run=run, now=now) + sum(
            (counts or {}).get("flagged", 0)
            for counts in run.chunks.values_list("counts", flat=True)
        )
        _refresh_statistics(run)
        handover_started = time.perf_counter()
        handed = _hand_over(run)
        _check_deferred_constraints()
        handover_seconds = time.perf_counter() - handover_started
        run.status = Run.Status.SUCCEEDED
        # The run's duration is its whole cost: it ends when its results are visible, hand-over
        # to the workflow included.
        run.finished_at = timezone.now()
        run.active_slot = None
        run.rows_total = max(run.rows_total, run.rows_done)
        run.save()
        audit_record(
            actor=None,
            action=AuditAction.RECONCILIATION_FINISH,
            target=run,
            after={
                "found": run.counts,
                "opened": run.opened,
                "resolved": run.resolved,
                "flagged": flagged,
                "handed_over": handed,
                # The hand-over's share of the run's duration (the benchmark reports it).
                "handover_seconds": round(handover_seconds, 3),
            },
        )
    logger.info("reconciliation run %s succeeded: %s", run.pk, run.counts)
    return True


def reconciliation_fail(*, run_id: int, error: str) -> bool:
    """Give up on a run (its slot is freed; what its finished chunks wrote stays true)."""
    with transaction.atomic():
        updated = Run.objects.filter(pk=run_id, status__in=Run.ACTIVE_STATUSES).update(
            status=Run.Status.FAILED,
            finished_at=timezone.now(),
            active_slot=None,
            error=error[:5000],
        )
        if updated:
            audit_record(
                actor=None,
                action=AuditAction.RECONCILIATION_FAIL,
                target_type="compliance.reconciliationrun",
                target_id=str(run_id),
                after={"error": error[:500]},
            )
    if updated:
        logger.error("reconciliation run %s failed: %s", run_id, error)
    return bool(updated)


# --- inline ---------------------------------------------------------------------------------


def _next_claimable(run_id: int) -> int | None:
    return (
        RunChunk.objects.filter(run_id=run_id)
        .filter(CHUNK_LEASE.claimable())
        .order_by("seq")
        .values_list("pk", flat=True)
        .first()
    )


def reconciliation_take_over(
    *, run_id: int, actor, reason: str = "", worker: str | None = None
) -> ReconciliationRun:
    """An operator takes over a run whose workers are gone (``reconcile --take-over``): every
    chunk still claimed is taken over at once, without waiting ``RECONCILIATION_CLAIM_TIMEOUT``
    (one audit row each) and worked here, then the run is finished inline. A worker still
    alive after all finds its claim lost and discards its chunk."""
    worker = worker or inline_worker_name()
    claimed = RunChunk.objects.filter(run_id=run_id, status=RunChunk.Status.CLAIMED)
    for chunk_id in claimed.order_by("seq").values_list("pk", flat=True):
        try:
            token = jobs.take_over(
                CHUNK_LEASE,
                chunk_id,
                actor=actor,
                reason=reason,
                worker=worker,
                claim_task_id="",
                attempts=F("attempts") + 1,
            )
        except jobs.NotRunning:  # done or released a moment ago
            continue
        try:
            _work_claimed(chunk_id=chunk_id, token=token, dispatch=False)
        except Exception:
            logger.exception("reconciliation chunk %s failed; it will be retried", chunk_id)
    return reconciliation_run_inline(run_id=run_id, worker=worker)


def inline_threads() -> int:
    """Threads an inline run works its chunks on (``RECONCILIATION_INLINE_THREADS``)."""
    return max(1, int(getattr(settings, "RECONCILIATION_INLINE_THREADS", 2)))


def _work_chunks_inline(run_id: int, worker: str, stop: threading.Event | None = None) -> None:
    """Claim and work the run's chunks one after the other until none is left to claim (or
    ``stop`` is set: the chunk in hand is finished, no other is claimed)."""
    while (chunk_id := _next_claimable(run_id)) is not None:
        if stop is not None and stop.is_set():
            break
        if not Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).exists():
            break
        try:
            reconciliation_chunk_work(chunk_id=chunk_id, worker=worker, dispatch=False)
        except Exception:
            logger.exception("reconciliation chunk %s failed; it will be retried", chunk_id)


def _work_chunks_on_thread(run_id: int, worker: str, stop: threading.Event) -> None:
    try:
        _work_chunks_inline(run_id, worker, stop)
    except BaseException:
        stop.set()  # an interrupt: the other threads stop too
        raise
    finally:
        connection.close()  # this thread's own


def reconciliation_run_inline(*, run_id: int, worker: str | None = None) -> ReconciliationRun:
    """Do a run in this process (``reconcile --sync``, tests, the benchmark): plan it if
    needed, work every chunk it can claim, finish. Another worker may share the work.

    Where another connection sees what this one holds (``another_connection_sees_ours``:
    PostgreSQL, outside a caller's transaction), the chunks are worked by ``inline_threads()``
    threads at once, each on a connection of its own, as that many Celery workers would: each
    claims a chunk (compare-and-set), works it in its transaction, and takes the next, so a
    chunk is worked once however the threads meet. Elsewhere one chunk after the other."""
    worker = worker or inline_worker_name()
    reconciliation_plan(run_id=run_id, dispatch=False)
    threads = min(inline_threads(), RunChunk.objects.filter(run_id=run_id).count())
    if threads > 1 and another_connection_sees_ours():
        # Interrupted (Ctrl-C in the waiting thread, or in a chunk's), every thread finishes
        # the chunk in hand and claims no other: the run stays running, its other chunks
        # pending, for the recovery or ``--take-over``, as when one chunk at a time stops.
        stop = threading.Event()
        with ThreadPoolExecutor(threads, thread_name_prefix="reconcile") as pool:
            futures = [
                pool.submit(_work_chunks_on_thread, run_id, f"{worker}/{i}", stop)
                for i in range(threads)
            ]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                stop.set()
                raise
    else:
        _work_chunks_inline(run_id, worker)
    reconciliation_finish(run_id=run_id)
    return Run.objects.get(pk=run_id)
