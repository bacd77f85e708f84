"""Benchmark: how reconciliation and exports scale with Celery workers, on PostgreSQL + Redis.

    python bench/bench_scale_workers.py [--rows 500000] [--chunk-rows 50000] [--exports 4]
                                        [--workers 1,2] [--pool solo|prefork] [--rounds 2]
                                        [--reuse]
    scripts/bench.sh scale_workers        # the same, on make bench's database

Generates N registrations and the operator's snapshot of them (``compliance.reconciliation.generator``, as
``bench_reconcile`` does), loads the snapshot and does one full reconciliation inline (the
first run: it opens every planted discrepancy). Then, with real ``celery worker`` processes
on Redis — by default 1, then 2 processes with ``--pool=solo`` (one task at a time each: the
deployment unit one adds per machine); ``--pool prefork`` uses one worker with
``--concurrency`` N instead:

1. a full reconciliation queued through Celery (plan → chunks claimed by compare-and-set →
   finish) in steady state (the nightly run: nothing new to open), ``--rounds`` times for each
   worker count, alternating: the run's duration, rows/s, chunks and how they split between
   the workers, each worker's peak RSS; beside the floor measured in the same run (one SQL
   statement computing the same (msisdn, kind) set, ``bench_reconcile.FLOOR``);
2. ``--exports`` regulator CSV exports of every registration (masked, the COPY path) queued at
   once and drained by the workers: wall time from queueing to the last file stored,
   exports/min, rows/s; beside ``COPY (SELECT …) TO STDOUT`` of the same rows, the same number
   of times, one at a time and two connections at once;
3. table + index bytes per row of the big tables (``pg_total_relation_size``), for the
   hardware estimate in docs/scaling.md.

Every figure is printed with the load average at the time: the machine is shared.

DATABASE_URL defaults to its own database ``satupintu_bench_scale`` (created and migrated;
its tables are emptied). The broker is REDIS_URL's server (default 127.0.0.1:6379), database
13, whose queue is purged first. ``--reuse`` keeps the data a previous run at the same N made.
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/satupintu_bench_scale")

from bench.common import (  # noqa: E402
    bench_env,
    bench_redis_url,
    ensure_database,
    load_average,
    own_redis_db,
    peak_rss_mib,
    print_table,
)

AUDIT_SAMPLE = 20_000


def broker_url() -> str:
    """The benchmarks' own Redis database (``BENCH_REDIS_URL``), claimed by ``main``."""
    return bench_redis_url()


# --- data ------------------------------------------------------------------------------------


def prepare_data(n: int, outlets: int, reuse: bool) -> dict:
    """N registrations, the operator snapshot loaded, one full run done inline (the first run,
    which opens the planted discrepancies). Returns what it did, for the report."""
    from django.db import connection

    from compliance.reconciliation.generator import (
        Rates,
        build_registrations,
        generate_operator_data,
    )
    from operatordb.snapshot import load_snapshot

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM subscribers_registration")
        registrations = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM operatordb_operatorsubscriber")
        operator_rows = cursor.fetchone()[0]
    if reuse and registrations == n and operator_rows:
        print(f"  reusing {n:,} registrations and {operator_rows:,} operator records")
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE reports_exportjob RESTART IDENTITY CASCADE")
        return {"generated": False}
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE subscribers_registration, subscribers_idempotencyrecord,"
            " outlets_starterpack, compliance_auditevent, compliance_discrepancy,"
            " compliance_runchunk, compliance_reconciliationrun, operatordb_operatorsubscriber,"
            " operatordb_injecteddiscrepancy, operatordb_populationrecord, reports_exportjob"
            " RESTART IDENTITY CASCADE"
        )
    started = time.perf_counter()
    build_registrations(n, outlets=outlets, seed=1)
    print(f"  generated {n:,} registrations in {time.perf_counter() - started:.0f} s")
    workdir = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    snapshot = workdir / "snapshot.csv"
    started = time.perf_counter()
    planted = generate_operator_data(rates=Rates(), seed=2, csv_path=snapshot)
    print(f"  wrote the operator snapshot ({planted.operator_rows:,} rows) in "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    load = load_snapshot(snapshot)
    snapshot.unlink()
    workdir.rmdir()
    print(f"  loaded it: {load.rows:,} rows in {load.seconds:.1f} s")
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    first = reconcile_inline()
    print(
        f"  first full run, inline (opens every planted discrepancy, flags their"
        f" registrations): {first['seconds']:.1f} s, {first['chunks']} chunks,"
        f" {first['found']:,} found (load {load_average()})"
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"generated": True, "first": first}


def reconcile_inline() -> dict:
    """A full run in this process, the compliance workflow's hand-over stubbed out (its cost
    is the workflow's, measured elsewhere)."""
    from compliance.models import ReconciliationRun
    from compliance.reconciliation import handover
    from compliance.reconciliation.engine import reconciliation_run_inline, reconciliation_start

    saved = handover.receivers[:]
    handover.receivers.clear()
    try:
        run = reconciliation_start(
            mode="full", trigger=ReconciliationRun.Trigger.COMMAND, dispatch=False
        )
        run = reconciliation_run_inline(run_id=run.pk)
    finally:
        handover.receivers[:] = saved
    return {
        "seconds": (run.finished_at - run.started_at).total_seconds(),
        "chunks": run.chunks_total,
        "found": sum(run.counts.values()),
    }


# --- workers ---------------------------------------------------------------------------------


class Workers:
    """``count`` solo worker processes, or one prefork worker of ``count`` children."""

    def __init__(self, count: int, pool: str, env: dict):
        from tests.celery_support import WorkerProcess

        if pool == "solo":
            self.procs = [
                WorkerProcess(env, concurrency=1, name=f"scale{count}-{i + 1}")
                for i in range(count)
            ]
        else:
            self.procs = [WorkerProcess(env, concurrency=count, name=f"scale{count}-prefork")]

    def __enter__(self) -> "Workers":
        for proc in self.procs:
            proc.start(timeout=90)
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.stop()

    def pids(self) -> list[int]:
        """Every process that runs tasks: the solo workers, or a prefork worker's children."""
        out = []
        for proc in self.procs:
            if proc.concurrency == 1:
                out.append(proc.proc.pid)
                continue
            path = Path(f"/proc/{proc.proc.pid}/task/{proc.proc.pid}/children")
            out.extend(int(pid) for pid in path.read_text().split())
        return out

    def peak_rss(self) -> list[int]:
        return [peak_rss_mib(pid) for pid in self.pids()]


def pool_label(pool: str, count: int) -> str:
    # One task at a time is a solo worker whatever --pool says (WorkerProcess's rule).
    return "solo" if count == 1 else f"{pool}, {count} processes" if pool == "prefork" else pool


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def reconcile_with_workers(timeout: float) -> dict:
    """A full run queued through Celery, as beat queues the nightly one."""
    from django.db.models import Count, Sum

    from compliance.models import ReconciliationRun, RunChunk
    from compliance.reconciliation.engine import reconciliation_start

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    run = reconciliation_start(mode="full", trigger=ReconciliationRun.Trigger.COMMAND)
    run = wait(
        lambda: ReconciliationRun.objects.filter(
            pk=run.pk, status__in=[ReconciliationRun.Status.SUCCEEDED, "failed"]
        ).first(),
        timeout,
        "the reconciliation run",
    )
    wall = time.perf_counter() - started
    if run.status != ReconciliationRun.Status.SUCCEEDED:
        raise SystemExit(f"reconciliation run {run.pk} failed: {run.error}")
    split = (
        RunChunk.objects.filter(run=run)
        .values_list("claimed_by")
        .annotate(n=Count("pk"), rows=Sum("rows_examined"))
        .order_by("claimed_by")
    )
    seconds = (run.finished_at - run.started_at).total_seconds()
    return {
        "seconds": seconds,
        "wall": wall,
        "rows": run.rows_done,
        "chunks": run.chunks_total,
        "split": " / ".join(f"{n}" for _who, n, _rows in split),
        "opened": sum(run.opened.values()),
        "load": f"{load_before:.2f}/{os.getloadavg()[0]:.2f}",
    }


def exports_with_workers(count: int, regulator, period: tuple, timeout: float) -> dict:
    """``count`` regulator CSV exports of the period, queued at once; until the last is stored."""
    from reports.models import ExportJob
    from reports.services import export_job_create

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    ids = [
        export_job_create(
            user=regulator,
            kind=ExportJob.Kind.REGISTRATIONS,
            format=ExportJob.Format.CSV,
            data={"date_from": str(period[0]), "date_to": str(period[1])},
            trigger=ExportJob.Trigger.COMMAND,
        ).pk
        for _ in range(count)
    ]
    wait(
        lambda: (
            not ExportJob.objects.filter(pk__in=ids, status__in=ExportJob.ACTIVE_STATUSES).exists()
        ),
        timeout,
        "the exports",
    )
    wall = time.perf_counter() - started
    jobs = list(ExportJob.objects.filter(pk__in=ids))
    failed = [j for j in jobs if j.status != ExportJob.Status.SUCCEEDED]
    if failed:
        raise SystemExit(f"export {failed[0].pk} failed: {failed[0].error}")
    for job in jobs:  # the files are not what is measured; keep the disk clean
        job.file.storage.delete(job.file.name)
    return {
        "wall": wall,
        "rows": sum(j.rows_done for j in jobs),
        "per_job": statistics.median((j.finished_at - j.started_at).total_seconds() for j in jobs),
        "load": f"{load_before:.2f}/{os.getloadavg()[0]:.2f}",
    }


# --- floors ------------------------------------------------------------------------------------


def reconcile_floor() -> tuple[float, int]:
    from django.db import connection

    from bench.bench_reconcile import run_floor
    from compliance.reconciliation.engine import current_id_cap

    with connection.cursor() as cursor:
        return run_floor(cursor, cap=current_id_cap())


def copy_floor(count: int, parallel: int, period: tuple, workdir: Path) -> tuple[float, int]:
    """``count`` COPYs of the export's rows to files, ``parallel`` connections at a time."""
    import psycopg2
    from django.db import connection

    from bench.bench_reports import COPY_SQL
    from reports.periods import Period
    from reports.rows import period_bounds

    start, end = period_bounds(Period(*period))
    sql = COPY_SQL.format(start=start.isoformat(), end=end.isoformat())
    params = connection.get_connection_params()
    pending = list(range(count))
    lock = threading.Lock()
    lines = [0]

    def copier(index: int) -> None:
        conn = psycopg2.connect(**params)
        try:
            while True:
                with lock:
                    if not pending:
                        return
                    job = pending.pop()
                path = workdir / f"copy-{index}-{job}.csv"
                with conn.cursor() as cursor, path.open("wb") as fh:
                    cursor.copy_expert(sql, fh)
                with path.open("rb") as fh:
                    rows = sum(1 for _ in fh) - 1
                path.unlink()
                with lock:
                    lines[0] += rows
        finally:
            conn.close()

    threads = [threading.Thread(target=copier, args=(i,)) for i in range(parallel)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, lines[0]


def sizes_per_row() -> list[list]:
    """Table + index bytes per row of the tables that grow with subscribers; the audit table
    gets a sample of registration.create rows first (the generator writes none)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE compliance_auditevent")
        cursor.execute(
            """
            INSERT INTO compliance_auditevent (actor_id, actor_label, action, target_type,
                target_id, target_repr, request_id, before, after, created_at)
            SELECT NULL, 'clerk' || (r.outlet_id %% 1000), 'registration.create',
                   'subscribers.registration', r.id::text, r.registration_number,
                   md5(r.id::text), NULL,
                   jsonb_build_object('msisdn', r.msisdn, 'outlet', 'ROJKT0000' || r.outlet_id,
                       'id_type', r.id_type, 'id_number', r.id_number_masked,
                       'policy', '2026', 'status', r.status, 'source', 'api'),
                   r.registered_at
            FROM subscribers_registration r ORDER BY r.id LIMIT %s
            """,
            [AUDIT_SAMPLE],
        )
        tables = (
            "subscribers_registration",
            "outlets_starterpack",
            "compliance_auditevent",
            "operatordb_operatorsubscriber",
            "compliance_discrepancy",
        )
        cursor.execute("VACUUM ANALYZE " + ", ".join(tables))
        out = []
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {table}")
            rows = cursor.fetchone()[0]
            cursor.execute(
                "SELECT pg_table_size(%s), pg_indexes_size(%s), pg_total_relation_size(%s)",
                [table, table, table],
            )
            heap, indexes, total = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [table])
            n_indexes = cursor.fetchone()[0]
            out.append(
                [
                    table,
                    f"{rows:,}",
                    n_indexes,
                    *(round(x / max(rows, 1)) for x in (heap, indexes, total)),
                ]
            )
        cursor.execute("TRUNCATE compliance_auditevent")
    return out


# --- main --------------------------------------------------------------------------------------


def alternate_rounds(args, counts, worker_env, *, measure, describe):
    """``args.rounds`` rounds, each measuring every worker count in turn (alternating, so a
    change of the machine's load falls on all of them alike): per count, the list of results
    and the peak RSS of each worker process over the rounds."""
    results: dict[int, list[dict]] = {count: [] for count in counts}
    rss: dict[int, list[int]] = {}
    for round_ in range(args.rounds):
        for count in counts:
            with Workers(count, args.pool, worker_env) as workers:
                result = measure()
                peaks = workers.peak_rss()
                rss[count] = [
                    max(a, b) for a, b in zip(rss.get(count, [0] * count), peaks, strict=False)
                ]
            results[count].append(result)
            print(f"  {describe(count, result)}, round {round_ + 1} (load {result['load']})")
    return results, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000, help="registrations (default 500k)")
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="MSISDNs per chunk")
    parser.add_argument("--exports", type=int, default=4, help="exports queued at once")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--pool", choices=("solo", "prefork"), default="solo")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per count")
    parser.add_argument("--reuse", action="store_true", help="keep a previous run's data")
    parser.add_argument("--skip-reconcile", action="store_true")
    parser.add_argument("--skip-exports", action="store_true")
    args = parser.parse_args()
    with own_redis_db():
        run(args)


def run(args) -> None:
    counts = [int(x) for x in args.workers.split(",")]
    media = tempfile.TemporaryDirectory(prefix="bench_scale_media_")
    os.environ.update(
        CELERY_BROKER_URL=broker_url(),
        CELERY_RESULT_BACKEND=broker_url(),
        CELERY_TASK_ALWAYS_EAGER="0",
        PRIVATE_MEDIA_ROOT=media.name,
        RECONCILIATION_CHUNK_ROWS=str(args.chunk_rows),
        ALLOWED_HOSTS=os.environ.get("ALLOWED_HOSTS", "testserver"),
    )
    ensure_database()
    from bench.common import setup_django

    setup_django()
    from django.utils import timezone

    from accounts.models import User

    print(
        f"bench_scale_workers: N={args.rows:,}, {os.cpu_count()} cores, workers {counts}"
        f" ({args.pool}), chunks of {args.chunk_rows:,} MSISDNs, {args.exports} exports,"
        f" broker {broker_url()}, {timezone.now():%Y-%m-%d %H:%M} UTC, load {load_average()}"
    )
    prepare_data(args.rows, args.outlets, args.reuse)
    worker_env = {**bench_env(), "WORKER_LOG_LEVEL": "warning"}
    timeout = max(600.0, args.rows / 500)

    if not args.skip_reconcile:
        floor_s, floor_found = reconcile_floor()
        floor_load = load_average()
        runs, rss = alternate_rounds(
            args, counts, worker_env,
            measure=lambda: reconcile_with_workers(timeout),
            describe=lambda count, r: (
                f"reconciliation, {count} worker(s): {r['seconds']:.2f} s, chunks per worker"
                f" {r['split']}, opened {r['opened']}"
            ),
        )  # fmt: skip
        rows = [["floor: one SQL statement (1 backend)", f"{floor_s:.2f}", "-", "1", "-", "-",
                 floor_load]]  # fmt: skip
        base = None
        for count in counts:
            best = min(runs[count], key=lambda r: r["seconds"])
            median = statistics.median(r["seconds"] for r in runs[count])
            base = base or median
            rows.append([
                f"full run, {count} worker(s) ({pool_label(args.pool, count)})",
                f"{median:.2f} (best {best['seconds']:.2f})",
                f"{best['rows'] / median:,.0f}",
                f"{best['chunks']} ({best['split']})",
                f"{base / median:.2f}x",
                "/".join(str(x) for x in rss[count]),
                ", ".join(r["load"] for r in runs[count]),
            ])  # fmt: skip
        print_table(
            f"Reconciliation, full run in steady state (nothing new to open), median of"
            f" {args.rounds}; floor found {floor_found:,} (msisdn, kind) pairs",
            ["", "seconds", "rows/s", "chunks (per worker)", "speed-up", "peak RSS MiB",
             "load 1m before/after"],
            rows,
        )  # fmt: skip

    if not args.skip_exports:
        regulator, _ = User.objects.get_or_create(
            username="bench_regulator", defaults={"role": User.Role.REGULATOR}
        )
        today = timezone.localdate()
        period = (today - timedelta(days=365), today - timedelta(days=1))
        workdir = Path(media.name)
        copies = {}
        for parallel in sorted({1, min(2, args.exports)}):
            seconds, lines = copy_floor(args.exports, parallel, period, workdir)
            copies[parallel] = (seconds, lines, load_average())
        results, rss = alternate_rounds(
            args, counts, worker_env,
            measure=lambda: exports_with_workers(args.exports, regulator, period, timeout),
            describe=lambda count, r: (
                f"{args.exports} exports, {count} worker(s): {r['wall']:.2f} s"
            ),
        )  # fmt: skip
        rows = []
        for parallel, (seconds, lines, load) in copies.items():
            rows.append([
                f"floor: {args.exports} × COPY TO STDOUT, {parallel} connection(s)",
                f"{seconds:.2f}", f"{args.exports / seconds * 60:.1f}", f"{lines / seconds:,.0f}",
                "-", "-", "-", load,
            ])  # fmt: skip
        base = None
        for count in counts:
            median = statistics.median(r["wall"] for r in results[count])
            base = base or median
            total_rows = results[count][0]["rows"]
            rows.append([
                f"{args.exports} CSV exports, {count} worker(s) ({pool_label(args.pool, count)})",
                f"{median:.2f}", f"{args.exports / median * 60:.1f}", f"{total_rows / median:,.0f}",
                f"{statistics.median(r['per_job'] for r in results[count]):.2f}",
                f"{base / median:.2f}x", "/".join(str(x) for x in rss[count]),
                ", ".join(r["load"] for r in results[count]),
            ])  # fmt: skip
        print_table(
            f"Regulator CSV exports of every registration ({total_rows // args.exports:,} rows"
            f" each, masked, COPY path) queued at once, median of {args.rounds}",
            ["", "wall s", "exports/min", "rows/s", "s per job", "speed-up", "peak RSS MiB",
             "load 1m"],
            rows,
        )  # fmt: skip

    print_table(
        f"Bytes per row (audit: up to {AUDIT_SAMPLE:,} sampled registration.create rows)",
        ["table", "rows", "indexes", "table B/row", "indexes B/row", "total B/row"],
        sizes_per_row(),
    )
    print(f"\n  load average at the end: {load_average()}")
    media.cleanup()


if __name__ == "__main__":
    main()
