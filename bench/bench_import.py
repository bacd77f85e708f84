"""Benchmark: ``import_registrations`` of N valid rows beside a bare COPY of the same file.

    python bench/bench_import.py [--rows 100000] [--outlets 50]

On PostgreSQL (DATABASE_URL, default the ``satupintu_bench`` database; its registration, pack
and audit tables are emptied first). The rows are valid under the policy in force at their
``registered_at`` (NIK + KK from 2017 on), for packs the portal does not know yet, so every row
is validated, creates its pack, its registration and its audit row. The floor is a ``COPY`` of
the same file into a temporary table of text columns: no parsing, no validation, no indexes.
Peak RSS is the import process's (``getrusage(RUSAGE_CHILDREN)``).
"""

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, bench_env, bench_outlets, empty_tables, print_table, setup_django

setup_django()

from django.db import connection  # noqa: E402

from accounts.management.commands.seed_demo import (  # noqa: E402
    BIRTH_PLACES,
    FAMILY_NAMES,
    GIVEN_NAMES_F,
    GIVEN_NAMES_M,
    STREETS,
)
from compliance.models import AuditEvent  # noqa: E402
from subscribers.idgen import make_iccid, make_kk, make_msisdn, make_nik  # noqa: E402
from subscribers.imports import COLUMNS  # noqa: E402
from subscribers.models import Registration  # noqa: E402

NIK_REGIONS = {"31": "7104", "32": "7305", "33": "7401", "35": "7811", "51": "7102",
               "73": "7101", "12": "7103", "64": "7201"}  # fmt: skip


def generate_csv(path: Path, rows: int, outlets) -> None:
    rng = random.Random(42)
    first_day, span = date(2015, 1, 1), (date(2026, 11, 1) - date(2015, 1, 1)).days
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(rows):
            outlet = outlets[i % len(outlets)]
            province = outlet.province
            region = NIK_REGIONS[province]
            sex = "F" if i % 2 else "M"
            born = date(1960, 1, 1) + timedelta(days=(i * 7919) % 16_000)
            sold = datetime.combine(
                first_day + timedelta(days=rng.randrange(span)), datetime.min.time()
            )
            sold += timedelta(minutes=rng.randrange(8 * 60, 21 * 60))
            city = rng.choice(BIRTH_PLACES)
            nik = make_nik(
                birth_date=born,
                sex=sex,
                province=province,
                regency=region[:2],
                district=region[2:],
                serial=i // 16_000 * 97 + i % 97 + 1,
            )
            kk = make_kk(
                recorded=date(2005 + i % 10, 1 + i % 12, 1 + i % 28),
                region=province + region,
                serial=i % 9999 + 1,
            )
            id_type, id_number, nationality = "ktp", nik, "ID"
            if i % 20 == 7:
                id_type = "sim"  # the new licences carry the NIK; some are the old 12 digits
                id_number = nik if i % 40 == 7 else f"{(i * 7) % 10**12:012d}"
            elif i % 50 == 13:
                id_type, id_number, nationality, kk = "passport", f"X{i:08d}", "MY", ""
            given = rng.choice(GIVEN_NAMES_F if sex == "F" else GIVEN_NAMES_M)
            writer.writerow([
                make_msisdn(i, prefix="62859") if i % 3 else "0" + make_msisdn(i, prefix="62859")[2:],
                make_iccid(i, prefix="896259"),
                id_type, id_number, kk,
                f"{given} {rng.choice(FAMILY_NAMES)}".strip(),
                city, born.isoformat(), sex,
                f"{rng.choice(STREETS)} No. {1 + i % 150}, RT {1 + i % 12:02d}/RW {1 + i % 9:02d}, {city}",
                nationality, outlet.roid,
                sold.isoformat(timespec="seconds") if i % 4 else sold.date().isoformat(),
            ])  # fmt: skip


def run_import(path: Path) -> tuple[float, float, str]:
    """Wall seconds of the command (process start included), its peak RSS in MB, its output."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "import_registrations", str(path)],
        env=bench_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"import failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak_mb, done.stdout.strip()


def copy_floor(path: Path) -> float:
    import psycopg2

    settings = connection.settings_dict
    conn = psycopg2.connect(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"],
        host=settings["HOST"], port=settings["PORT"] or 5432,
    )  # fmt: skip
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE import_floor ({})".format(
                    ", ".join(f"{c} text" for c in COLUMNS)
                )
            )
            started = time.perf_counter()
            with path.open(encoding="utf-8") as fh:
                cursor.copy_expert("COPY import_floor FROM STDIN WITH (FORMAT csv, HEADER)", fh)
            return time.perf_counter() - started
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--outlets", type=int, default=50)
    args = parser.parse_args()

    outlets = bench_outlets(args.outlets)
    empty_tables()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registrations.csv"
        started = time.perf_counter()
        generate_csv(path, args.rows, outlets)
        generated = time.perf_counter() - started
        size_mb = os.path.getsize(path) / 1e6
        print(f"generated {args.rows} rows ({size_mb:.1f} MB) in {generated:.1f} s")

        floor = copy_floor(path)
        first, first_rss, output = run_import(path)
        print(output)
        imported = Registration.objects.count()
        audited = AuditEvent.objects.filter(action="registration.import").count()
        if imported != args.rows or audited != args.rows:
            sys.exit(
                f"expected {args.rows} registrations and audit rows, got {imported}, {audited}"
            )
        again, _rss, output = run_import(path)
        print(output)

    rate = args.rows / first
    print_table(
        f"import_registrations, {args.rows} rows, PostgreSQL {connection.pg_version // 10000}, "
        f"{os.cpu_count()} cores",
        ["", "seconds", "rows/s", "peak RSS MB"],
        [
            ["COPY into a temp table (floor)", f"{floor:.2f}", f"{args.rows / floor:,.0f}", "-"],
            ["import_registrations", f"{first:.2f}", f"{rate:,.0f}", f"{first_rss:.0f}"],
            ["same file again (all skipped)", f"{again:.2f}", f"{args.rows / again:,.0f}", "-"],
        ],
    )
    print(
        f"\ngoal >= 10,000 rows/s with full validation: {'met' if rate >= 10_000 else 'NOT met'} "
        f"({rate / (args.rows / floor):.1%} of the COPY floor; the command's wall time includes "
        "process start-up)"
    )


if __name__ == "__main__":
    main()
