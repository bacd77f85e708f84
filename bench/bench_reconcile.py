"""Benchmark: the operator snapshot load and reconciliation at operator scale, on PostgreSQL.

    python bench/bench_reconcile.py [--n 1000000] [--outlets 2000] [--chunk-rows 50000]

Generates N registrations (COPY) and the operator's snapshot of them (about N rows, with
every discrepancy kind planted by ``compliance.reconciliation.generator``), then measures in the same run:

1. the snapshot load (``load_snapshot``: streaming checks + COPY into staging + upsert) beside a
   bare ``COPY`` of the same file into a table of text columns (the floor);
2. a full reconciliation (``manage.py reconcile --full --sync`` in a child process) beside one
   hand-written SQL statement doing the same comparison (``CREATE TABLE AS``, the floor), and
   whether the run found exactly the planted set;
3. an incremental run after 1% of the records changed (half on each side; half of the changes
   make a new discrepancy), and a full run after it to check it reached the same state;
4. the peak RSS of the reconciling processes (their VmHWM), to compare across N.

DATABASE_URL defaults to its own database ``recon_bench`` (created and migrated here; its tables
are emptied). ``--reuse`` runs again on the data a previous run at the same N generated (which
takes minutes at 1M). The hand-over to the compliance workflow is stubbed out unless
``--with-workflow``: what the workflow does with new discrepancies is its own cost. The incremental run uses RECONCILIATION_WATERMARK_MARGIN=0: the generated data is
minutes old, and the default 5-minute margin would re-examine all of it.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/recon_bench")

from bench.common import ensure_database, print_table  # noqa: E402
from bench.common import run_manage as child  # noqa: E402


def timed(cursor, sql: str, params=None) -> float:
    started = time.perf_counter()
    cursor.execute(sql, params or {})
    return time.perf_counter() - started


def run_floor(cursor, *, cap) -> tuple[float, int]:
    """The floor (``FLOOR``) in a transaction rolled back afterwards, with a chunk's planner
    settings: (seconds, (msisdn, kind) pairs found)."""
    from compliance.reconciliation.sql import NAME_NOISE, work_mem

    cursor.execute("BEGIN")
    cursor.execute(
        "SELECT set_config('work_mem', %s, true), set_config('random_page_cost', '1.1', true),"
        " set_config('jit', 'off', true)",
        [work_mem()],
    )
    seconds = timed(cursor, FLOOR, {"cap": cap, "noise": NAME_NOISE})
    cursor.execute("SELECT count(*) FROM floor_found")
    found = cursor.fetchone()[0]
    cursor.execute("ROLLBACK")
    return seconds, found


# The floor: every kind in one statement, the way one would write it by hand — one hash join of
# the two tables, the checks on each pair, the over-cap groups through the digest index. No
# chunks, no details, no bookkeeping. Same planner settings as a chunk.
FLOOR = """
CREATE TEMP TABLE floor_found AS
WITH pairs AS (
    SELECT coalesce(r.msisdn, o.msisdn) AS msisdn,
           o.msisdn IS NULL AS k_missing,
           r.id IS NOT NULL AND o.msisdn IS NOT NULL
               AND r.id_number_digest IS DISTINCT FROM o.id_number_digest AS k_id,
           r.id IS NOT NULL AND o.msisdn IS NOT NULL
               AND translate(lower(r.full_name), %(noise)s, '') IS DISTINCT FROM o.name_key
               AS k_name,
           r.id IS NOT NULL AND o.msisdn IS NOT NULL
               AND r.birth_date IS DISTINCT FROM o.birth_date AS k_birth,
           r.id IS NULL AND o.status = 'active' AND o.outlet_roid <> ''
               AND EXISTS (SELECT 1 FROM outlets_outlet ro WHERE ro.roid = o.outlet_roid)
               AS k_unregistered
    FROM subscribers_registration r
    FULL JOIN operatordb_operatorsubscriber o ON o.msisdn = r.msisdn
), heavy AS (
    SELECT id_number_digest AS digest FROM operatordb_operatorsubscriber
    WHERE status = 'active' AND id_number_digest <> ''
    GROUP BY id_number_digest HAVING count(*) > %(cap)s
)
SELECT p.msisdn, k.kind
FROM pairs p CROSS JOIN LATERAL unnest(ARRAY[
    CASE WHEN p.k_missing THEN 'missing_in_operator' END,
    CASE WHEN p.k_id THEN 'id_number_mismatch' END,
    CASE WHEN p.k_name THEN 'name_mismatch' END,
    CASE WHEN p.k_birth THEN 'birth_date_mismatch' END,
    CASE WHEN p.k_unregistered THEN 'unregistered_activation' END]) AS k(kind)
WHERE (p.k_missing OR p.k_id OR p.k_name OR p.k_birth OR p.k_unregistered)
  AND k.kind IS NOT NULL
UNION ALL
SELECT x.msisdn, 'id_over_limit'
FROM heavy h CROSS JOIN LATERAL (
    SELECT o.msisdn, row_number() OVER (ORDER BY o.activated_at NULLS LAST, o.msisdn) AS pos
    FROM operatordb_operatorsubscriber o
    WHERE o.status = 'active' AND o.id_number_digest <> '' AND o.id_number_digest = h.digest
) x
WHERE x.pos > %(cap)s
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="registrations (default 1M)")
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument(
        "--chunk-rows", type=int, default=None, help="MSISDNs per chunk (default: the setting)"
    )
    parser.add_argument(
        "--with-workflow",
        action="store_true",
        help="include the compliance workflow's handling of new discrepancies in the runs",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the data generated by a previous run at the same N (generation is slow)",
    )
    args = parser.parse_args()
    n = args.n
    run_env = {
        "RECONCILIATION_WATERMARK_MARGIN": 0,
        "BENCH_STUB_HANDOVER": "0" if args.with_workflow else "1",
    }
    if args.chunk_rows:
        run_env["RECONCILIATION_CHUNK_ROWS"] = args.chunk_rows

    ensure_database()
    from bench.common import setup_django

    setup_django()
    from django.db import connection

    from compliance.reconciliation.engine import chunk_rows, current_id_cap
    from compliance.reconciliation.generator import (
        Rates,
        build_registrations,
        generate_operator_data,
    )
    from operatordb.snapshot import load_snapshot

    print(
        f"bench_reconcile: N={n:,}, {os.cpu_count()} cores,"
        f" chunks of {args.chunk_rows or chunk_rows():,} MSISDNs"
    )
    workdir = Path(tempfile.gettempdir()) / f"recon_bench_{n}"
    snapshot_file = workdir / "snapshot.csv"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM subscribers_registration")
        reusable = args.reuse and snapshot_file.exists() and cursor.fetchone()[0] == n
        if reusable:
            # The generated data of a previous run at this N (which put it back as it was):
            # what the runs wrote is emptied, and the operator table, loaded again below.
            cursor.execute(
                "TRUNCATE compliance_auditevent, compliance_discrepancy, compliance_runchunk,"
                " compliance_reconciliationrun, operatordb_operatorsubscriber"
                " RESTART IDENTITY CASCADE"
            )
            cursor.execute(
                "UPDATE subscribers_registration SET status = 'registered' WHERE status = 'flagged'"
            )
        else:
            cursor.execute(
                "TRUNCATE subscribers_registration, outlets_starterpack, compliance_auditevent,"
                " compliance_discrepancy, compliance_runchunk, compliance_reconciliationrun,"
                " operatordb_operatorsubscriber, operatordb_injecteddiscrepancy,"
                " operatordb_populationrecord RESTART IDENTITY CASCADE"
            )
    if reusable:
        rows = sum(1 for _ in snapshot_file.open(encoding="utf-8")) - 1
        print(f"  reusing the {n:,} registrations and the snapshot in {workdir}")
    else:
        started = time.perf_counter()
        build_registrations(n, outlets=args.outlets, seed=1)
        print(f"  generated {n:,} registrations in {time.perf_counter() - started:.0f} s")
        workdir.mkdir(exist_ok=True)
        started = time.perf_counter()
        planted = generate_operator_data(rates=Rates(), seed=2, csv_path=snapshot_file)
        rows = planted.operator_rows
        print(
            f"  wrote the operator snapshot ({rows:,} rows,"
            f" {snapshot_file.stat().st_size >> 20} MiB) in {time.perf_counter() - started:.0f} s;"
            f" planted {planted.expected_kinds()}"
        )

    # 1. Snapshot load beside a bare COPY of the same file.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bare_copy (msisdn text, iccid text, status text,"
            " activated_at text, outlet_roid text, id_type text, id_number text,"
            " full_name text, birth_date text, issued_at text, deactivated_at text)"
        )
        started = time.perf_counter()
        with snapshot_file.open(encoding="utf-8") as fh:
            cursor.cursor.copy_expert("COPY bare_copy FROM STDIN WITH (FORMAT csv, HEADER)", fh)
        copy_seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bare_copy")
    load = load_snapshot(snapshot_file)
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load

    # 2. The floor: one statement doing the same comparison.
    cap = current_id_cap()
    with connection.cursor() as cursor:
        floor_seconds, floor_found = run_floor(cursor, cap=cap)
    connection.close()

    # 3. The full run, in a child process.
    full_wall, full_rss, out = child(["reconcile", "--full", "--sync", "--json"], **run_env)
    full = json.loads(out)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE d.msisdn IS NULL), count(*) FILTER (WHERE t.msisdn IS NULL)"
            " FROM (SELECT msisdn, kind FROM compliance_discrepancy WHERE status = 'open') d"
            " FULL JOIN (SELECT msisdn, kind FROM operatordb_injecteddiscrepancy WHERE expected) t"
            " USING (msisdn, kind)"
        )
        missed, false_alarms = cursor.fetchone()

    # 4. 1% of the records changed, half on each side, half of the changes making a new
    #    discrepancy: operator side birth dates corrected wrongly (new mismatches) and numbers
    #    deactivated; portal side names edited (new mismatches) and addresses edited (nothing to
    #    find). Then an incremental run.
    with connection.cursor() as cursor:
        changed = 0
        for sql in (
            "UPDATE operatordb_operatorsubscriber SET birth_date = birth_date + 1,"
            " updated_at = now() WHERE id % 400 = 7 AND birth_date IS NOT NULL",
            "UPDATE operatordb_operatorsubscriber SET status = 'inactive',"
            " updated_at = now() WHERE id % 400 = 207 AND status = 'active'",
            "UPDATE subscribers_registration SET full_name = full_name || ' Putra',"
            " updated_at = now() WHERE id % 400 = 11",
            "UPDATE subscribers_registration SET address = address || ' RT 02',"
            " updated_at = now() WHERE id % 400 = 211",
        ):
            cursor.execute(sql)
            changed += cursor.rowcount
    connection.close()
    _inc_wall, inc_rss, out = child(["reconcile", "--sync", "--json"], **run_env)
    incremental = json.loads(out)
    _check_wall, check_rss, out = child(["reconcile", "--full", "--sync", "--json"], **run_env)
    check = json.loads(out)
    same_state = sum(check["opened"].values()) == 0 and sum(check["resolved"].values()) == 0

    print_table(
        "Snapshot load (same file)",
        ["", "rows", "seconds", "rows/s", "vs COPY"],
        [
            ["bare COPY (text columns)", f"{rows:,}", f"{copy_seconds:.2f}",
             f"{rows / copy_seconds:,.0f}", "1.0x"],
            ["load_operator_snapshot", f"{load.rows:,}", f"{load.seconds:.2f}",
             f"{load.rate:,.0f}", f"{load.seconds / copy_seconds:.1f}x"],
        ],
    )  # fmt: skip
    full_seconds = full["duration_seconds"]
    print_table(
        "Reconciliation",
        ["", "seconds", "vs floor", "chunks", "rows", "found", "peak RSS MiB"],
        [
            ["floor: one SQL statement", f"{floor_seconds:.2f}", "1.0x", "1", "-",
             f"{floor_found:,}", "-"],
            ["full run (reconcile --sync)", f"{full_seconds:.2f}",
             f"{full_seconds / floor_seconds:.1f}x", full["progress"]["total"],
             f"{full['progress']['rows_done']:,}", f"{sum(full['counts'].values()):,}",
             full_rss],
            [f"incremental, {changed:,} rows changed", f"{incremental['duration_seconds']:.2f}",
             f"{incremental['duration_seconds'] / floor_seconds:.2f}x",
             incremental["progress"]["total"], f"{incremental['progress']['rows_done']:,}",
             f"{sum(incremental['counts'].values()):,}", inc_rss],
            ["full run again (check)", f"{check['duration_seconds']:.2f}",
             f"{check['duration_seconds'] / floor_seconds:.1f}x", check["progress"]["total"],
             f"{check['progress']['rows_done']:,}", f"{sum(check['counts'].values()):,}",
             check_rss],
        ],
    )  # fmt: skip
    print(
        f"\n  full run: {full_wall:.1f} s wall in its process (Django start-up included);"
        f" exactly the planted set: {'yes' if missed == false_alarms == 0 else 'NO'}"
        f" (missed {missed}, false alarms {false_alarms})"
    )
    print(
        f"  incremental = {incremental['duration_seconds'] / full_seconds:.1%} of the full run;"
        f" the full run after it changed nothing: {'yes' if same_state else 'NO'}"
    )
    # Put the portal side back, so that --reuse finds the generated data as it was.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE subscribers_registration SET full_name = left(full_name, -6)"
            " WHERE id % 400 = 11"
        )
        cursor.execute(
            "UPDATE subscribers_registration SET address = left(address, -6) WHERE id % 400 = 211"
        )
    print(f"  snapshot file kept in {workdir} (--reuse runs again on the same data)")


if __name__ == "__main__":
    main()
