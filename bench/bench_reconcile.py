"""Benchmark: the operator snapshot load and reconciliation at operator scale, on PostgreSQL.

    python bench/bench_reconcile.py [--n 1000000] [--outlets 2000] [--chunk-rows 50000]

Generates N registrations (COPY) and the operator's snapshot of them (about N rows, with
every discrepancy kind planted by ``compliance.reconciliation.generator``), then measures in the same run:

1. the snapshot load (``manage.py load_operator_snapshot`` in a child process: worker processes
   check the rows and compute the keyed digests, one COPY, the writes; the loading process's
   peak RSS) into the empty
   operator table, then again with the same file (nothing changed), with the next day's file
   (1 % of the lines changed: only those are converted) and with the first file again, each
   beside a bare ``COPY`` of the same file into a table of text columns (the floor) measured
   just before it. ``--snapshot-only`` stops there; ``--snapshot-scale K`` loads a file K times
   the generated snapshot (each copy's MSISDNs moved to another prefix), for the load at sizes
   whose registrations take too long to generate;
2. a full reconciliation (``manage.py reconcile --full --sync`` in a child process) beside one
   hand-written SQL statement doing the same comparison (``CREATE TABLE AS``, the floor), and
   whether the run found exactly the planted set;
3. an incremental run after 1% of the records changed (half on each side; half of the changes
   make a new discrepancy), and a full run after it to check it reached the same state;
4. the peak RSS of the reconciling processes (their VmHWM), to compare across N.

DATABASE_URL defaults to its own database ``recon_bench`` (created and migrated here; its tables
are emptied). ``--reuse`` runs again on the data a previous run at the same N generated (which
takes minutes at 1M). ``--profile dirty`` plants a finding on ~40 % of the registrations (a first
run at an operator after years of outlet registration). The runs include the hand-over of new
discrepancies to the compliance workflow (clarification requests, review items, notifications)
unless ``--engine-only``. The incremental run follows right after the fresh load and the full
run: it selects its work by the change sequence, so the minutes-old data is not re-read.
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

from bench.common import ensure_database, load_average, print_table  # noqa: E402
from bench.common import run_manage as child  # noqa: E402

# The generator's rates per profile (share of the registrations; see ``generator.Rates``).
PROFILES = {"clean": "Rates()", "dirty": "DIRTY_RATES"}


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
    from compliance.reconciliation.engine import activation_grace, clock_skew

    seconds = timed(
        cursor,
        FLOOR,
        {"cap": cap, "noise": NAME_NOISE, "grace": activation_grace(), "skew": clock_skew()},
    )
    cursor.execute("SELECT count(*) FROM floor_found")
    found = cursor.fetchone()[0]
    cursor.execute("ROLLBACK")
    return seconds, found


# The floor: every kind in one statement, the way one would write it by hand under the same
# rules as the engine (the number's lives included) — one hash join of the two tables, the
# checks on each pair, the operator's unregistered activations, the over-cap groups through the
# digest index. No chunks, no details, no bookkeeping, no hand-over. Same planner settings as a
# chunk. (The engine then confirms the name mismatches with the name rule in Python: the floor
# counts the candidates.)
FLOOR = """
CREATE TEMP TABLE floor_found AS
WITH pairs AS (
    SELECT r.msisdn, r.status AS r_status, r.registered_at,
           coalesce(r.registry_checked_at, r.registered_at) AS grace_start,
           pol.packs_sold_inactive, o.activated_at,
           r.id_number_digest IS DISTINCT FROM o.id_number_digest AS id_differs,
           translate(lower(r.full_name), %(noise)s, '') IS DISTINCT FROM o.name_key
               AS name_differs,
           r.birth_date IS DISTINCT FROM o.birth_date AS birth_differs,
           CASE WHEN o.msisdn IS NULL THEN 'none'
                WHEN o.issued_at IS NOT NULL AND r.registered_at < o.issued_at THEN 'earlier'
                WHEN o.deactivated_at IS NOT NULL AND r.registered_at < o.deactivated_at
                    THEN 'ended'
                WHEN o.deactivated_at IS NOT NULL THEN 'none'
                ELSE 'same' END AS life
    FROM subscribers_registration r
    JOIN subscribers_registrationpolicy pol ON pol.id = r.policy_id
    LEFT JOIN operatordb_operatorsubscriber o ON o.msisdn = r.msisdn
    WHERE r.status <> 'refused' AND r.life_ended_at IS NULL
), heavy AS (
    SELECT id_number_digest AS digest FROM operatordb_operatorsubscriber
    WHERE status = 'active' AND id_number_digest <> ''
    GROUP BY id_number_digest HAVING count(*) > %(cap)s
)
SELECT p.msisdn, k.kind
FROM pairs p CROSS JOIN LATERAL unnest(ARRAY[
    CASE WHEN p.life = 'none' AND p.r_status <> 'awaiting'
              AND p.grace_start <= now() - %(grace)s THEN 'missing_in_operator' END,
    CASE WHEN p.life = 'same' AND p.id_differs THEN 'id_number_mismatch' END,
    CASE WHEN p.life = 'same' AND p.name_differs THEN 'name_mismatch' END,
    CASE WHEN p.life = 'same' AND p.birth_differs THEN 'birth_date_mismatch' END,
    CASE WHEN p.life = 'same' AND p.packs_sold_inactive
              AND p.activated_at < p.registered_at - %(skew)s
         THEN 'activated_before_registration' END]) AS k(kind)
WHERE k.kind IS NOT NULL
UNION ALL
SELECT o.msisdn, 'unregistered_activation'
FROM operatordb_operatorsubscriber o
JOIN outlets_outlet ro ON ro.roid = o.outlet_roid
WHERE o.status = 'active' AND o.outlet_roid <> ''
  AND NOT EXISTS (
    SELECT 1 FROM subscribers_registration r
    WHERE r.msisdn = o.msisdn AND r.status <> 'refused' AND r.life_ended_at IS NULL
      AND (o.issued_at IS NULL OR r.registered_at >= o.issued_at))
UNION ALL
SELECT x.msisdn, 'id_over_limit'
FROM heavy h CROSS JOIN LATERAL (
    SELECT o.msisdn, row_number() OVER (ORDER BY o.activated_at NULLS LAST, o.msisdn) AS pos
    FROM operatordb_operatorsubscriber o
    WHERE o.status = 'active' AND o.id_number_digest <> '' AND o.id_number_digest = h.digest
) x
WHERE x.pos > %(cap)s
"""


def bare_copy_seconds(cursor, snapshot_file: Path) -> float:
    """The floor: a bare ``COPY`` of the file into a temporary table of text columns."""
    cursor.execute(
        "CREATE TEMP TABLE bare_copy (msisdn text, iccid text, status text,"
        " activated_at text, outlet_roid text, id_type text, id_number text,"
        " full_name text, birth_date text, issued_at text, deactivated_at text)"
    )
    started = time.perf_counter()
    with snapshot_file.open(encoding="utf-8") as fh:
        cursor.cursor.copy_expert("COPY bare_copy FROM STDIN WITH (FORMAT csv, HEADER)", fh)
    seconds = time.perf_counter() - started
    cursor.execute("DROP TABLE bare_copy")
    return seconds


def scaled_snapshot(snapshot_file: Path, times: int) -> tuple[Path, int]:
    """The snapshot file ``times`` over, each copy's MSISDNs on another prefix (the 4th digit:
    the generator's numbers start 6281 or 6285), streamed: (path, rows)."""
    if times == 1:
        return snapshot_file, sum(1 for _ in snapshot_file.open(encoding="utf-8")) - 1
    path = snapshot_file.with_name(f"snapshot_x{times}.csv")
    moved = {"1": "10234", "5": "56789"}  # the prefix's digit in copy k: moved[d][k]
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        for copy in range(times):
            with snapshot_file.open(encoding="utf-8") as fh:
                header = fh.readline()
                if copy == 0:
                    out.write(header)
                for line in fh:
                    out.write(f"{line[:3]}{moved[line[3]][copy]}{line[4:]}" if copy else line)
                    rows += 1
    return path, rows


def daily_snapshot(snapshot_file: Path, every: int = 100) -> tuple[Path, int]:
    """The next day's file: every ``every``-th line's name edited (one letter added), the rest
    as it was — a daily file where 1 % of the numbers changed: (path, lines edited)."""
    path = snapshot_file.with_name(f"{snapshot_file.stem}_daily.csv")
    edited = 0
    with snapshot_file.open(encoding="utf-8") as fh, path.open("w", encoding="utf-8") as out:
        out.write(fh.readline())
        for i, line in enumerate(fh):
            fields = line.split(",")
            if i % every == 0 and len(fields) > 7 and 0 < len(fields[7]) < 90:
                fields[7] += "a"
                line = ",".join(fields)
                edited += 1
            out.write(line)
    return path, edited


SNAPSHOT_COLUMNS = ["", "rows", "seconds", "rows/s", "vs COPY", "peak RSS MiB", "load average"]


def snapshot_load(connection, snapshot_file: Path, rows: int) -> list[list[str]]:
    """Section 1: the load into the empty operator table, the same file again, the next day's
    file (1 % of its lines changed) and the first file again (the same 1 % changed back), each
    in a child process beside a bare COPY of the same file measured just before it: the
    table's rows."""
    table = []
    daily, edited = daily_snapshot(snapshot_file)
    for label, path in (
        ("load_operator_snapshot, empty table", snapshot_file),
        ("again, same file (nothing changed)", snapshot_file),
        (f"next day, {edited:,} lines changed (1 %)", daily),
        (f"first file again ({edited:,} changed back)", snapshot_file),
    ):
        with connection.cursor() as cursor:
            copy_seconds = bare_copy_seconds(cursor, path)
        copy_load = load_average()
        connection.close()
        _wall, rss, out = child(["load_operator_snapshot", str(path), "--json"])
        load = json.loads(out)
        table += [
            ["bare COPY (text columns)", f"{rows:,}", f"{copy_seconds:.2f}",
             f"{rows / copy_seconds:,.0f}", "1.0x", "-", copy_load],
            [f"{label}; {load['converted']:,} converted", f"{load['rows']:,}",
             f"{load['seconds']:.2f}",
             f"{load['rows'] / load['seconds']:,.0f}", f"{load['seconds'] / copy_seconds:.1f}x",
             rss, load_average()],
        ]  # fmt: skip
    daily.unlink()
    return table


def _handover_seconds(run_ids: list[int]) -> dict[int, float]:
    """The hand-over's share of each run's duration (its finish audit row records it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT target_id::bigint, coalesce((after->>'handover_seconds')::float8, 0)"
            " FROM compliance_auditevent WHERE action = 'reconciliation.finish'"
            " AND target_type = 'compliance.reconciliationrun' AND target_id = ANY(%s)",
            [[str(pk) for pk in run_ids]],
        )
        found = dict(cursor.fetchall())
    return {pk: found.get(pk, 0.0) for pk in run_ids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="registrations (default 1M)")
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument(
        "--chunk-rows", type=int, default=None, help="MSISDNs per chunk (default: the setting)"
    )
    parser.add_argument(
        "--engine-only",
        action="store_true",
        help="leave out the hand-over of new discrepancies to the compliance workflow"
        " (clarification requests, review items, notifications), included by default",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="clean",
        help="clean: ~7 %% of the registrations with a finding; dirty: ~40 %% (a first run"
        " at an operator after years of outlet registration)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the data generated by a previous run at the same N (generation is slow)",
    )
    parser.add_argument(
        "--snapshot-only",
        action="store_true",
        help="only the snapshot load (section 1), then stop",
    )
    parser.add_argument(
        "--snapshot-scale",
        type=int,
        default=1,
        metavar="K",
        help="load a snapshot file K times (1 to 5) the generated one (MSISDNs moved per copy);"
        " implies --snapshot-only",
    )
    args = parser.parse_args()
    if not 1 <= args.snapshot_scale <= 5:
        parser.error("--snapshot-scale is 1 to 5")
    n = args.n
    run_env = {"BENCH_STUB_HANDOVER": "1" if args.engine_only else "0"}
    if args.chunk_rows:
        run_env["RECONCILIATION_CHUNK_ROWS"] = args.chunk_rows

    ensure_database()
    from bench.common import setup_django

    setup_django()
    from django.db import connection

    from compliance.reconciliation.engine import chunk_rows, current_id_cap
    from compliance.reconciliation.generator import (
        DIRTY_RATES,
        Rates,
        build_registrations,
        generate_operator_data,
    )

    print(
        f"bench_reconcile: N={n:,}, {os.cpu_count()} cores,"
        f" chunks of {args.chunk_rows or chunk_rows():,} MSISDNs"
    )
    workdir = Path(tempfile.gettempdir()) / f"recon_bench_{args.profile}_{n}"
    snapshot_file = workdir / "snapshot.csv"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM subscribers_registration")
        reusable = args.reuse and snapshot_file.exists() and cursor.fetchone()[0] == n
        if reusable:
            # The generated data of a previous run at this N (which put it back as it was):
            # what the runs wrote is emptied, and the operator table, loaded again below.
            cursor.execute(
                "TRUNCATE compliance_auditevent, compliance_discrepancy, compliance_runchunk,"
                " compliance_notification, compliance_clarification,"
                " compliance_reconciliationrun, operatordb_operatorsubscriber"
                " RESTART IDENTITY CASCADE"
            )
            cursor.execute(
                "UPDATE subscribers_registration SET status = 'registered' WHERE status = 'flagged'"
            )
        else:
            cursor.execute(
                "TRUNCATE subscribers_registration, outlets_starterpack, compliance_auditevent,"
                " compliance_notification, compliance_clarification,"
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
        planted = generate_operator_data(
            rates=DIRTY_RATES if args.profile == "dirty" else Rates(),
            seed=2,
            csv_path=snapshot_file,
        )
        rows = planted.operator_rows
        print(
            f"  wrote the operator snapshot ({rows:,} rows,"
            f" {snapshot_file.stat().st_size >> 20} MiB) in {time.perf_counter() - started:.0f} s;"
            f" planted {planted.expected_kinds()}"
        )

    # 1. Snapshot load beside a bare COPY of the same file: first into the empty table, then
    #    the same file again.
    if args.snapshot_scale > 1:
        snapshot_file, rows = scaled_snapshot(snapshot_file, args.snapshot_scale)
        print(f"  a snapshot {args.snapshot_scale} times the generated one: {rows:,} rows")
    snapshot_table = snapshot_load(connection, snapshot_file, rows)
    if args.snapshot_only or args.snapshot_scale > 1:
        print_table("Snapshot load", SNAPSHOT_COLUMNS, snapshot_table)
        if args.snapshot_scale > 1:
            snapshot_file.unlink()
            with connection.cursor() as cursor:  # --reuse finds the generated state again
                cursor.execute("TRUNCATE operatordb_operatorsubscriber RESTART IDENTITY")
        return
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load

    # 2. The floor: one statement doing the same comparison.
    cap = current_id_cap()
    with connection.cursor() as cursor:
        floor_seconds, floor_found = run_floor(cursor, cap=cap)
    floor_load = load_average()
    connection.close()

    # 3. The full run, in a child process.
    full_wall, full_rss, out = child(["reconcile", "--full", "--sync", "--json"], **run_env)
    full = json.loads(out)
    full_load = load_average()
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
    inc_load = load_average()
    _check_wall, check_rss, out = child(["reconcile", "--full", "--sync", "--json"], **run_env)
    check = json.loads(out)
    check_load = load_average()
    same_state = sum(check["opened"].values()) == 0 and sum(check["resolved"].values()) == 0

    print_table("Snapshot load", SNAPSHOT_COLUMNS, snapshot_table)
    full_seconds = full["duration_seconds"]
    print_table(
        "Reconciliation",
        ["", "seconds", "vs floor", "chunks", "rows", "found", "peak RSS MiB", "load average"],
        [
            ["floor: one SQL statement", f"{floor_seconds:.2f}", "1.0x", "1", "-",
             f"{floor_found:,}", "-", floor_load],
            ["full run (reconcile --sync)", f"{full_seconds:.2f}",
             f"{full_seconds / floor_seconds:.1f}x", full["progress"]["total"],
             f"{full['progress']['rows_done']:,}", f"{sum(full['counts'].values()):,}",
             full_rss, full_load],
            [f"incremental, {changed:,} rows changed", f"{incremental['duration_seconds']:.2f}",
             f"{incremental['duration_seconds'] / floor_seconds:.2f}x",
             incremental["progress"]["total"], f"{incremental['progress']['rows_done']:,}",
             f"{sum(incremental['counts'].values()):,}", inc_rss, inc_load],
            ["full run again (check)", f"{check['duration_seconds']:.2f}",
             f"{check['duration_seconds'] / floor_seconds:.1f}x", check["progress"]["total"],
             f"{check['progress']['rows_done']:,}", f"{sum(check['counts'].values()):,}",
             check_rss, check_load],
        ],
    )  # fmt: skip
    handover = _handover_seconds([full["id"], incremental["id"], check["id"]])
    print(
        f"\n  full run: {full_wall:.1f} s wall in its process (Django start-up included,"
        f" {full_wall / floor_seconds:.1f}x the floor); of its {full_seconds:.2f} s the hand-over"
        f" took {handover[full['id']]:.2f} s, the engine {full_seconds - handover[full['id']]:.2f} s"
        f" ({(full_seconds - handover[full['id']]) / floor_seconds:.1f}x the floor);"
        f" exactly the planted set: {'yes' if missed == false_alarms == 0 else 'NO'}"
        f" (missed {missed}, false alarms {false_alarms})"
    )
    print(
        f"  incremental: hand-over {handover[incremental['id']]:.2f} s of"
        f" {incremental['duration_seconds']:.2f} s; {_inc_wall:.1f} s wall in its process"
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
