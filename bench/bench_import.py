"""Benchmark: ``import_registrations`` of N valid rows beside a bare COPY of the same file.

    python bench/bench_import.py [--rows 100000] [--outlets 50] [--slices 20000]

On PostgreSQL (DATABASE_URL, default the ``satupintu_bench`` database; its registration, pack
and audit tables are emptied first). The rows are valid under the rule set in force at their
``registered_at`` (ID types it accepts; NIK + KK from 2017 on), for packs the portal does not
know yet, and every buyer with a NIK is enrolled in the mock population registry first (one
COPY and one upsert), so every row is validated — against the registry where its rule set asks
—, creates its pack, its registration and its audit row. The floor is a ``COPY`` of
the same file into a temporary table of text columns: no parsing, no validation, no indexes.
Peak RSS is the import command's own high-water mark (``VmHWM``), and beside it the largest of
its worker processes'. The command's start-up
(Python, Django, the policy book) is measured alone on a file of only the header, so the CPU
a row is given with and without it.
"""

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, bench_env, bench_outlets, empty_tables, print_table, setup_django

setup_django()

from django.db import connection, transaction  # noqa: E402

from accounts.management.commands.seed_demo import (  # noqa: E402
    BIRTH_PLACES,
    FAMILY_NAMES,
    GIVEN_NAMES_F,
    GIVEN_NAMES_M,
    STREETS,
)
from core import pii  # noqa: E402
from core.masking import mask_id_number  # noqa: E402
from core.models import AuditEvent  # noqa: E402
from identity import idrules  # noqa: E402
from identity.idgen import make_iccid, make_kk, make_msisdn, make_nik  # noqa: E402
from subscribers.imports import COLUMNS  # noqa: E402
from subscribers.imports.prepare import PolicyBook  # noqa: E402
from subscribers.models import Registration  # noqa: E402

NIK_REGIONS = {"31": "7104", "32": "7305", "33": "7401", "35": "7811", "51": "7102",
               "73": "7101", "12": "7103", "64": "7201"}  # fmt: skip


def generate_csv(path: Path, rows: int, outlets, people: Path) -> int:
    """Write ``rows`` import rows to ``path``, each valid under the rule set in force on its
    sale date, and the buyers with a NIK to ``people`` (COPY text of the registry's columns,
    for ``enrol_buyers``); returns how many buyers that is.

    ID types follow the rule set of the day: a driving licence (1 row in 20) only where the
    rule set accepts it for a citizen — carrying the NIK from the NIK era on, an old 12-digit
    number before it, half of the time —, a KTP otherwise; a foreign passport (1 in 50) only
    where accepted. Every buyer with a NIK is in the population registry, with the name, birth
    date, sex, place of birth and KK the row says."""
    book = PolicyBook()
    rng = random.Random(42)
    first_day, span = date(2015, 1, 1), (date(2026, 11, 1) - date(2015, 1, 1)).days
    enrolled = 0
    with (
        path.open("w", encoding="utf-8", newline="") as fh,
        people.open("w", encoding="utf-8") as registry,
    ):
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
            policy = book.policies[book.on(sold.date())]
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
            if i % 20 == 7 and policy.accepts("sim", "ID"):
                # The new licences carry the NIK; before the NIK era some are the old 12 digits.
                id_type = "sim"
                if not policy.nik_required and i % 40 == 27:
                    id_number = f"{(i * 7) % 10**12:012d}"
            elif i % 50 == 13 and policy.accepts("passport", "MY"):
                id_type, id_number, nationality, kk = "passport", f"X{i:08d}", "MY", ""
            given = rng.choice(GIVEN_NAMES_F if sex == "F" else GIVEN_NAMES_M)
            name = f"{given} {rng.choice(FAMILY_NAMES)}".strip()
            writer.writerow([
                make_msisdn(i, prefix="62859") if i % 3 else "0" + make_msisdn(i, prefix="62859")[2:],
                make_iccid(i, prefix="896259"),
                id_type, id_number, kk, name,
                city, born.isoformat(), sex,
                f"{rng.choice(STREETS)} No. {1 + i % 150}, RT {1 + i % 12:02d}/RW {1 + i % 9:02d}, {city}",
                nationality, outlet.roid,
                sold.isoformat(timespec="seconds") if i % 4 else sold.date().isoformat(),
            ])  # fmt: skip
            if id_number == nik:
                registry.write(
                    "\t".join([
                        pii.digest(nik), mask_id_number(nik), name,
                        idrules.normalize_name_for_comparison(name), born.isoformat(), sex,
                        pii.digest(kk), mask_id_number(kk), city, "f", "",
                    ]) + "\n"
                )  # fmt: skip
                enrolled += 1
    return enrolled


_REGISTRY_COLUMNS = (
    "nik_digest", "nik_masked", "full_name", "name_key", "birth_date", "sex", "kk_digest",
    "kk_masked", "birth_place", "head_of_family", "face_hash",
)  # fmt: skip


def enrol_buyers(people: Path) -> None:
    """Put the generated buyers in the mock population registry (``PopulationRecord``) the way
    ``load_population_registry`` would leave them — keyed digests, masks, the name's comparison
    key —, set-based: one COPY into a staging table, one upsert by NIK digest."""
    columns = ", ".join(_REGISTRY_COLUMNS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _REGISTRY_COLUMNS[1:])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE bench_people ON COMMIT DROP AS "
            f"SELECT {columns} FROM operatordb_populationrecord WITH NO DATA"
        )
        with people.open(encoding="utf-8") as fh:
            cursor.cursor.copy_expert(f"COPY bench_people ({columns}) FROM STDIN", fh)
        cursor.execute(
            f"INSERT INTO operatordb_populationrecord ({columns}, updated_at) "
            f"SELECT {columns}, now() FROM bench_people "
            f"ON CONFLICT (nik_digest) DO UPDATE SET {updates}, updated_at = now()"
        )


APP_NAME = "satupintu-bench-import"


class Run(NamedTuple):
    wall: float  # seconds, process start-up included
    peak_mb: float  # the command's process (VmHWM)
    worker_peak_mb: float  # the largest of its worker processes (0: none ran)
    python_cpu: float  # seconds: the command and its worker processes
    postgres_cpu: float  # seconds: the command's PostgreSQL backends
    output: str
    own_cpu: float = 0.0  # seconds: the command's own process, without its worker processes
    backends: tuple[float, ...] = ()  # seconds: each PostgreSQL backend, largest first


def run_import(path: Path, options: tuple[str, ...] = ()) -> Run:
    """Run the command as a user would, measuring its time, memory and CPU (its own and its
    PostgreSQL backend's: the machine is shared, CPU time says what an idle one would do);
    ``options``: the command's own (``--chunk-size``, ``--workers``)."""
    env = {**bench_env(), "PGAPPNAME": APP_NAME}
    sampler = BackendCpu(APP_NAME)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler.start()
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _LAUNCHER,
            str(ROOT / "manage.py"),
            "import_registrations",
            str(path),
            *options,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    postgres_cpu = sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"import failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    python_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    own, workers, own_cpu = done.stderr.rsplit("PEAK_KB=", 1)[1].split()[:3]
    return Run(
        wall,
        int(own) / 1024,
        int(workers) / 1024,
        python_cpu,
        postgres_cpu,
        done.stdout.strip(),
        float(own_cpu),
        tuple(sorted(sampler.seen.values(), reverse=True)),
    )


# manage.py, then its own peak memory (VmHWM: since exec, unlike getrusage's maxrss, which keeps
# the size of the process it was forked from) and its worker processes' largest (they are forked
# from it: their maxrss is theirs); then its own CPU time, without its worker processes'.
_LAUNCHER = """
import os, resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    with open("/proc/self/status") as status:
        hwm = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(f"PEAK_KB={hwm} {workers} {own.ru_utime + own.ru_stime}", file=sys.stderr)
"""


class BackendCpu(threading.Thread):
    """CPU seconds used by the PostgreSQL backends of ``application_name`` on the benchmark's
    database (read from /proc every 50 ms while they live; PostgreSQL runs on this machine)."""

    def __init__(self, application_name: str) -> None:
        super().__init__(daemon=True)
        self.application_name = application_name
        self.seen: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg2

        conn = psycopg2.connect(**_pg_params())
        conn.autocommit = True
        tick = os.sysconf("SC_CLK_TCK")
        with conn.cursor() as cursor:
            while not self.done.wait(0.05):
                cursor.execute(
                    # This database's: other benchmarks of the cluster may share the name.
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                    "AND datname = current_database()",
                    [self.application_name],
                )
                for (pid,) in cursor.fetchall():
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.seen[pid] = (int(fields[11]) + int(fields[12])) / tick
        conn.close()

    def stop(self) -> float:
        self.done.set()
        self.join()
        return sum(self.seen.values())


def _pg_params() -> dict:
    settings = connection.settings_dict
    return {
        "dbname": settings["NAME"],
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "host": settings["HOST"],
        "port": settings["PORT"] or 5432,
    }


def copy_floor(path: Path) -> float:
    import psycopg2

    conn = psycopg2.connect(**_pg_params())
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


# The phases of the engine timed by ``--slices``: (module, attribute, label).
_SLICES = (
    ("prepare", "clean_registration_fields", "the form's rules (rules.clean_registration_fields)"),
    ("pii", "encrypt_many", "encryption of ID and KK numbers (bulk Fernet)"),
    ("pii", "digest_many", "digests (bulk HMAC)"),
    ("prepare", "_candidate", "the checked row as written (masks, ISO text)"),
    ("prepare", "_prepare_chunk", "= every check before the database"),
    ("judging", "_registry", "the population registry's lookup"),
    ("judging", "_fetch_postgresql", "packs and cap counts"),
    ("judging", "insider_digests", "the dealer's people"),
    ("judging.ChunkWriter", "_judge", "judging each row against the lookups"),
    ("writing", "_copy", "COPY statements (PostgreSQL's work in the wall time)"),
    ("judging", "write_chunk", "= writing (COPY lines, ids, COPY)"),
    ("judging.ChunkWriter", "judge_and_write", "= the chunk against the database"),
    ("connection", "commit", "commit (deferred foreign-key checks)"),
)


def slices(path: Path, rows: int) -> None:
    """The engine in this process and thread (no workers, no writer thread) on the first
    ``rows`` rows of ``path``, each phase's CPU and wall time a row: where the time goes,
    without a profiler's distortion."""
    import gc
    from collections import Counter
    from itertools import islice

    from django.db.backends.base.base import BaseDatabaseWrapper

    from core import pii
    from subscribers import imports
    from subscribers.imports import judging, prepare, writing

    owners = {"prepare": prepare, "pii": pii, "judging": judging, "writing": writing,
              "judging.ChunkWriter": judging.ChunkWriter, "connection": BaseDatabaseWrapper}  # fmt: skip
    cpu, wall, originals = Counter(), Counter(), []

    def timed(function, label):
        def run(*args, **kwargs):
            c, w = time.process_time(), time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                cpu[label] += time.process_time() - c
                wall[label] += time.perf_counter() - w

        return run

    for owner, name, label in _SLICES:
        target = owners[owner]
        originals.append((target, name, getattr(target, name)))
        setattr(target, name, timed(getattr(target, name), label))
    empty_tables()
    gc.freeze()
    try:
        c, w = time.process_time(), time.perf_counter()
        with path.open(encoding="utf-8", newline="") as fh:
            result = imports.registrations_import(
                rows=islice(imports.read_registration_csv(fh), rows), workers=0, background=False
            )
        total_cpu, total_wall = time.process_time() - c, time.perf_counter() - w
    finally:
        for target, name, original in originals:
            setattr(target, name, original)
    n = result.rows
    print_table(
        f"where the time goes: the engine in one thread, {n} rows ({result.imported} imported), "
        f"load average {os.getloadavg()[0]:.1f}",
        ["phase", "CPU us/row", "wall us/row"],
        [
            *([label, f"{cpu[label] / n * 1e6:.1f}", f"{wall[label] / n * 1e6:.1f}"]
              for _, _, label in _SLICES),
            ["whole engine", f"{total_cpu / n * 1e6:.1f}", f"{total_wall / n * 1e6:.1f}"],
        ],
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--outlets", type=int, default=50)
    parser.add_argument(
        "--slices",
        type=int,
        default=0,
        metavar="N",
        help="then time each phase of the engine in one process on the first N rows",
    )
    parser.add_argument("--chunk-size", type=int, default=0, help="the command's --chunk-size")
    parser.add_argument("--workers", type=int, default=-1, help="the command's --workers")
    args = parser.parse_args()
    options = (
        *(("--chunk-size", str(args.chunk_size)) if args.chunk_size else ()),
        *(("--workers", str(args.workers)) if args.workers >= 0 else ()),
    )

    outlets = bench_outlets(args.outlets)
    empty_tables()
    with tempfile.TemporaryDirectory() as tmp:
        path, people = Path(tmp) / "registrations.csv", Path(tmp) / "people.tsv"
        started = time.perf_counter()
        enrolled = generate_csv(path, args.rows, outlets, people)
        generated = time.perf_counter() - started
        size_mb = os.path.getsize(path) / 1e6
        print(f"generated {args.rows} rows ({size_mb:.1f} MB) in {generated:.1f} s")
        started = time.perf_counter()
        enrol_buyers(people)
        print(
            f"enrolled {enrolled} buyers in the mock population registry in "
            f"{time.perf_counter() - started:.1f} s"
        )

        floor = copy_floor(path)
        header_only = Path(tmp) / "empty.csv"
        header_only.write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
        startup = run_import(header_only, options)
        first = run_import(path, options)
        print(first.output)
        imported = Registration.objects.count()
        audited = AuditEvent.objects.filter(action="registration.import").count()
        if imported != args.rows or audited != args.rows:
            sys.exit(
                f"expected {args.rows} registrations and audit rows, got {imported}, {audited}"
            )
        again = run_import(path, options)
        print(again.output)
        if args.slices:
            slices(path, args.slices)

    n = args.rows
    load = os.getloadavg()[0]
    print_table(
        f"import_registrations {' '.join(options)}".rstrip()
        + f", {n} rows, PostgreSQL {connection.pg_version // 10000}, "
        f"{os.cpu_count()} cores, load average {load:.1f} at the end",
        ["", "seconds", "rows/s", "peak RSS MB (worker)", "CPU us/row (python + postgres)"],
        [
            ["COPY into a temp table (floor)", f"{floor:.2f}", f"{n / floor:,.0f}", "-", "-"],
            [
                "start-up alone (a file of only the header)",
                f"{startup.wall:.2f}",
                "-",
                f"{startup.peak_mb:.0f}",
                f"{startup.python_cpu * 1e3:.0f} ms + {startup.postgres_cpu * 1e3:.0f} ms",
            ],
            *(
                [
                    label,
                    f"{run.wall:.2f}",
                    f"{n / run.wall:,.0f}",
                    f"{run.peak_mb:.0f} ({run.worker_peak_mb:.0f})",
                    f"{run.python_cpu / n * 1e6:.0f} + {run.postgres_cpu / n * 1e6:.0f}",
                ]
                for label, run in (
                    ("import_registrations", first),
                    ("same file again (all skipped)", again),
                )
            ),
        ],
    )
    print(
        "\nCPU us a row by process (import_registrations): the command "
        f"{first.own_cpu / n * 1e6:.0f} (start-up included), its worker processes "
        f"{(first.python_cpu - first.own_cpu) / n * 1e6:.0f} together, its PostgreSQL backends "
        + " + ".join(f"{cpu / n * 1e6:.0f}" for cpu in first.backends if cpu / n >= 0.5e-6)
        + (
            f" (and {short} short-lived ones: parallel query workers)"
            if (short := sum(1 for cpu in first.backends if cpu / n < 0.5e-6))
            else ""
        )
    )
    rate = n / first.wall
    cpu_per_row = (first.python_cpu + first.postgres_cpu) / n
    python_rows = (first.python_cpu - startup.python_cpu) / n
    postgres_rows = (first.postgres_cpu - startup.postgres_cpu) / n
    print(
        f"\ngoal >= 10,000 rows/s with full validation: {'met' if rate >= 10_000 else 'NOT met'}"
        f" ({rate:,.0f} rows/s, wall time of the command including its start-up). The CPU it "
        f"used, {cpu_per_row * 1e6:.0f} us a row, bounds an idle {os.cpu_count()}-core machine "
        f"at {os.cpu_count() / cpu_per_row:,.0f} rows/s; without the start-up, "
        f"{python_rows * 1e6:.0f} + {postgres_rows * 1e6:.0f} us a row, "
        f"{os.cpu_count() / (python_rows + postgres_rows):,.0f} rows/s."
    )


if __name__ == "__main__":
    main()
