"""Benchmark: regulator reporting at operator scale, on PostgreSQL.

    python bench/bench_reports.py [--n 1000000] [--outlets 2000] [--xlsx-rows 100000]

Generates N registrations over the last 365 days (set-based: ``INSERT … SELECT
generate_series``, not through the registration service), with discrepancies (2.5 %), IDs
over the cap, outlets registering one ID repeatedly and a few restricted registrations; then
measures, in the same run:

1. the summary tables: a full rebuild, and an incremental refresh after 10 000 new
   registrations (what the 5-minute beat task does);
2. the dashboard for a one-year period as the regulator: the figures (``report_figures``) and
   the whole page (``GET /reports/``), warm, median of 5;
3. the CSV export of the regulator (``manage.py export_report registrations --user …`` in a
   child process: the real service — ExportJob, masking, restricted rows left out, SHA-256,
   private storage, copy to the output) beside ``COPY (SELECT …) TO STDOUT`` of the same rows
   with the same masking, for all N rows and for a period holding about N/5 rows, with the
   child's peak RSS (``ru_maxrss``) to show memory flat in the row count;
4. the XLSX export rate (rows/s) beside openpyxl's own write-only rate for the same rows.

DATABASE_URL defaults to its own database ``satupintu_bench_reports`` (created and migrated
here; its registration, pack, discrepancy and report tables are emptied).
"""

import argparse
import filecmp
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/satupintu_bench_reports")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
# The export jobs' files go to a temporary folder removed at the end, not the checkout's
# private_media (the children inherit this environment).
WORKDIR = Path(tempfile.mkdtemp(prefix="bench_reports_"))
os.environ.setdefault("PRIVATE_MEDIA_ROOT", str(WORKDIR / "private_media"))

from bench.common import bench_outlets, ensure_database, print_table  # noqa: E402
from bench.common import run_manage as child  # noqa: E402

GENERATE = """
INSERT INTO outlets_starterpack (msisdn, iccid, dealer_id, outlet_id, status, created_at, updated_at)
SELECT '62811' || lpad(g::text, 8, '0'), NULL, %(dealer)s,
       (%(outlets)s::bigint[])[1 + (CASE WHEN g %% 5000 < 5 THEN g / 5000 ELSE g END) %% %(n_outlets)s],
       'registered', now(), now()
FROM generate_series(1, %(n)s) g;

INSERT INTO subscribers_registration (
    registration_number, outlet_id, clerk_id, starter_pack_id, msisdn, iccid, policy_id,
    id_type, id_number_encrypted, id_number_digest, id_number_masked,
    kk_number_encrypted, kk_number_digest, kk_number_masked,
    full_name, birth_place, birth_date, sex, address, nationality,
    id_photo, id_photo_thumb, face_photo, face_photo_thumb, photo_status,
    consent_at, document_checked, status, review_reasons, source,
    registered_at, created_at, updated_at)
SELECT 'SPB' || lpad(p.id::text, 10, '0'), p.outlet_id, NULL, p.id, p.msisdn, '', %(policy)s,
       CASE WHEN p.id %% 50 = 0 THEN 'passport' WHEN p.id %% 23 = 0 THEN 'sim'
            WHEN p.id %% 97 = 0 THEN 'kitas' ELSE 'ktp' END,
       'gAAAAAB-not-a-real-token', d.digest,
       '3171' || repeat('*', 8) || lpad((p.id %% 10000)::text, 4, '0'),
       '', '', '',
       'Pembeli Bench ' || p.id, 'Jakarta', date '1970-01-01' + (p.id %% 15000)::int,
       CASE WHEN p.id %% 2 = 0 THEN 'F' ELSE 'M' END, 'Jl. Bench No. ' || p.id, 'ID',
       '', '', '', '', 'none',
       t.at, true,
       CASE WHEN p.id %% 97 = 0 THEN 'blocked' WHEN p.id %% 31 = 0 THEN 'flagged'
            ELSE 'registered' END,
       '[]'::jsonb, 'import', t.at, t.at, t.at
FROM outlets_starterpack p
CROSS JOIN LATERAL (
    SELECT %(start)s::timestamptz + make_interval(secs => (p.id - 1) * %(step)s::float) AS at
) t
CROSS JOIN LATERAL (
    SELECT md5(CASE WHEN p.id %% 5000 < 5 THEN 'heavy' || (p.id / 5000)
                    ELSE 'id' || (p.id %% %(ids)s) END) AS digest
) d;

INSERT INTO compliance_discrepancy (
    msisdn, kind, status, registration_id, outlet_id, details, id_digest, id_group,
    detected_at, last_seen_at, resolved_at)
SELECT r.msisdn,
       (ARRAY['missing_in_operator', 'id_number_mismatch', 'name_mismatch',
              'birth_date_mismatch', 'unregistered_activation', 'id_over_limit'])
           [1 + (r.id / 40) %% 6],
       CASE WHEN (r.id / 40) %% 5 = 0 THEN 'resolved' ELSE 'open' END,
       r.id, r.outlet_id, '{}'::jsonb, '', '[]'::jsonb,
       r.registered_at + interval '2 days', r.registered_at + interval '2 days',
       CASE WHEN (r.id / 40) %% 5 = 0 THEN r.registered_at + interval '9 days' END
FROM subscribers_registration r
WHERE r.id %% 40 = 0;

INSERT INTO privacy_registrationprivacy (registration_id, restricted_at, updated_at)
SELECT id, now(), now() FROM subscribers_registration WHERE id %% 10000 = 7;
"""

# 10 000 registrations made today at 50 outlets, for the incremental refresh.
TODAY_SQL = """
-- A rerun on the same data (--skip-generate) replaces the previous run's "today" rows.
DELETE FROM subscribers_registration WHERE msisdn LIKE '62899%%';
DELETE FROM outlets_starterpack WHERE msisdn LIKE '62899%%';

INSERT INTO outlets_starterpack (msisdn, iccid, dealer_id, outlet_id, status, created_at, updated_at)
SELECT '62899' || lpad(g::text, 8, '0'), NULL, o.dealer_id, o.id, 'registered', now(), now()
FROM generate_series(1, 10000) g
JOIN outlets_outlet o ON o.roid = 'ROBENCH' || lpad((1 + g %% 50)::text, 5, '0');

INSERT INTO subscribers_registration (
    registration_number, outlet_id, starter_pack_id, msisdn, iccid, policy_id, id_type,
    id_number_encrypted, id_number_digest, id_number_masked, kk_number_encrypted,
    kk_number_digest, kk_number_masked, full_name, birth_place, birth_date, sex, address,
    nationality, id_photo, id_photo_thumb, face_photo, face_photo_thumb, photo_status,
    consent_at, document_checked, status, review_reasons, source, registered_at, created_at,
    updated_at)
SELECT 'SPT' || lpad(p.id::text, 10, '0'), p.outlet_id, p.id, p.msisdn, '', %(policy)s, 'ktp',
       'gAAAAAB-not-a-real-token', md5('today' || p.id), '3171********0000', '', '', '',
       'Pembeli Hari Ini', 'Jakarta', date '1990-01-01', 'F', 'Jl. Bench', 'ID', '', '', '', '',
       'none', now(), true, 'registered', '[]'::jsonb, 'api',
       now() - make_interval(secs => p.id %% 3600), now(), now()
FROM outlets_starterpack p WHERE p.msisdn LIKE '62899%%';
"""

# The regulator's registrations export as one COPY: the same rows, columns, masking (the
# stored masked ID), restricted rows left out, same order.
COPY_SQL = """
COPY (
    SELECT r.registration_number,
           to_char(r.registered_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD HH24:MI:SS')
               AS registered_at,
           r.msisdn, NULLIF(r.iccid, '') AS iccid, o.roid AS outlet_roid, o.name AS outlet_name,
           d.code AS dealer_code, o.province, r.id_type,
           NULLIF(r.id_number_masked, '') AS id_number, r.sex,
           r.nationality, r.status, r.source, p.code AS policy,
           NULLIF(r.declared_purpose, '') AS declared_purpose
    FROM subscribers_registration r
    JOIN outlets_outlet o ON o.id = r.outlet_id
    JOIN outlets_dealer d ON d.id = o.dealer_id
    JOIN subscribers_registrationpolicy p ON p.id = r.policy_id
    WHERE r.registered_at >= '{start}' AND r.registered_at < '{end}'
      AND NOT EXISTS (SELECT 1 FROM privacy_registrationprivacy x
                      WHERE x.registration_id = r.id AND x.restricted_at IS NOT NULL)
    ORDER BY r.registered_at, r.id
) TO STDOUT WITH (FORMAT csv, HEADER)
"""


def generate(n: int, outlets_count: int) -> tuple:
    from django.db import connection
    from django.utils import timezone

    from subscribers.models import RegistrationPolicy

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE subscribers_registration, subscribers_idempotencyrecord, "
            "outlets_starterpack, compliance_discrepancy, compliance_auditevent, "
            "privacy_registrationprivacy, reports_exportjob, reports_dailyoutletstats, "
            "reports_dailydiscrepancystats, reports_flaggedidregistration, "
            "reports_summarystate RESTART IDENTITY CASCADE"
        )
    outlets = bench_outlets(outlets_count)
    today = timezone.localdate()
    first_day = today - timedelta(days=365)
    start = timezone.make_aware(timezone.datetime.combine(first_day, timezone.datetime.min.time()))
    span = (365 * 86400) - 1
    policy = RegistrationPolicy.objects.get(code="2026")
    with connection.cursor() as cursor:
        cursor.execute(
            GENERATE,
            {
                "n": n,
                "start": start,
                "step": span / n,
                "dealer": outlets[0].dealer_id,
                "outlets": [o.pk for o in outlets],
                "n_outlets": len(outlets),
                "policy": policy.pk,
                "ids": int(n * 0.8),
            },
        )
        cursor.execute("VACUUM ANALYZE")
    return first_day, today - timedelta(days=1)


def timed(fn, repeat: int = 1) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def copy_floor(cursor, start, end, path: Path) -> float:
    sql = COPY_SQL.format(start=start.isoformat(), end=end.isoformat())
    started = time.perf_counter()
    with path.open("wb") as fh:
        cursor.cursor.copy_expert(sql, fh)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="registrations (default 1M)")
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data")
    args = parser.parse_args()
    n = args.n

    ensure_database()
    from bench.common import setup_django

    setup_django()
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from reports.figures import report_figures
    from reports.periods import Period
    from reports.rows import period_bounds
    from reports.scope import ReportFilter, ReportScope
    from reports.summary import summaries_refresh
    from subscribers.models import RegistrationPolicy

    print(f"bench_reports: N={n:,} registrations over 365 days, {args.outlets} outlets, "
          f"{os.cpu_count()} cores")  # fmt: skip
    if args.skip_generate:
        today = timezone.localdate()
        first_day, last_day = today - timedelta(days=365), today - timedelta(days=1)
    else:
        started = time.perf_counter()
        first_day, last_day = generate(n, args.outlets)
        print(f"  generated {n:,} registrations (INSERT … SELECT) in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    regulator, _ = User.objects.get_or_create(
        username="bench_regulator", defaults={"role": User.Role.REGULATOR}
    )

    # 1. Summary tables.
    full = timed(lambda: summaries_refresh(full=True))[0]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reports_dailyoutletstats, reports_dailydiscrepancystats")
        cursor.execute("SELECT count(*) FROM reports_dailyoutletstats")
        stats_rows = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM reports_flaggedidregistration")
        flagged_rows = cursor.fetchone()[0]
        cursor.execute(TODAY_SQL, {"policy": RegistrationPolicy.objects.get(code="2026").pk})
    incremental = timed(summaries_refresh)[0]

    # 2. The dashboard for one year.
    flt = ReportFilter(Period(first_day, last_day))
    scope = ReportScope.for_user(regulator)
    report_figures(flt, scope)
    figures_s = statistics.median(timed(lambda: report_figures(flt, scope), repeat=5))
    client = Client()
    client.force_login(regulator)
    url = f"/reports/?date_from={first_day}&date_to={last_day}"
    assert client.get(url).status_code == 200
    page_s = statistics.median(timed(lambda: client.get(url), repeat=5))
    figures = report_figures(flt, scope)
    print(
        f"\nsummary tables: full rebuild {full:.1f} s ({stats_rows:,} day×outlet×type rows, "
        f"{flagged_rows:,} flagged-ID rows); incremental refresh after 10 000 new "
        f"registrations {incremental:.2f} s"
    )
    print(
        f"dashboard, one year ({figures.totals.registrations:,} registrations, "
        f"{figures.discrepancies_detected:,} discrepancies, {len(figures.groups)} provinces): "
        f"figures {figures_s * 1000:.0f} ms, whole page {page_s * 1000:.0f} ms (median of 5)"
    )

    # 3. CSV export beside COPY, for two row counts; the export as it runs on PostgreSQL (its
    # query through COPY, in windows) and through Python's csv module (SQLite, unmasked files).
    workdir = WORKDIR
    small_last = first_day + timedelta(days=72)  # about a fifth of the year
    rows = []
    for label, period_end in (("one year", last_day), ("73 days", small_last)):
        start, end = period_bounds(Period(first_day, period_end))
        floor = workdir / "copy.csv"
        with connection.cursor() as cursor:
            copy_s = min(copy_floor(cursor, start, end, floor) for _ in range(2))
        copy_lines = sum(1 for _ in floor.open("rb")) - 1
        for path_name, env in (("COPY", {}), ("csv module", {"REPORTS_CSV_COPY": "0"})):
            out = workdir / "export.csv"
            seconds, rss, stdout = child(
                [
                    "export_report", "registrations", "--from", str(first_day), "--to",
                    str(period_end), "--format", "csv", "--output", str(out), "--user",
                    "bench_regulator",
                ],
                **env,
            )  # fmt: skip
            export_lines = sum(1 for _ in out.open("rb")) - 1
            assert copy_lines == export_lines, (copy_lines, export_lines)
            if path_name == "COPY":  # byte for byte, compared in chunks (memory stays small)
                assert filecmp.cmp(floor, out, shallow=False), "the export and COPY differ"
            job = export_job_timing(stdout)
            rows.append(
                [
                    label,
                    path_name,
                    f"{export_lines:,}",
                    f"{copy_s:.2f}",
                    f"{job:.2f}",
                    f"{seconds:.2f}",
                    f"{job / copy_s:.2f}×",
                    f"{rss}",
                ]
            )
    print_table(
        "CSV export of the regulator (masked, restricted rows left out) vs COPY of the same rows",
        [
            "period",
            "export path",
            "rows",
            "COPY s",
            "export job s",
            "command s",
            "job/COPY",
            "peak RSS MiB",
        ],
        rows,
    )

    # 4. XLSX rate beside openpyxl's own write-only rate.
    xlsx_days = max(1, round(365 * args.xlsx_rows / max(n, 1)))
    xlsx_last = first_day + timedelta(days=xlsx_days - 1)
    out = workdir / "export.xlsx"
    seconds, rss, stdout = child(
        [
            "export_report", "registrations", "--from", str(first_day), "--to", str(xlsx_last),
            "--format", "xlsx", "--output", str(out), "--user", "bench_regulator",
        ]
    )  # fmt: skip
    xlsx_rows = int(stdout.split(" rows")[0].rsplit(" ", 1)[1])
    job = export_job_timing(stdout)
    start, end = period_bounds(Period(first_day, xlsx_last))
    with connection.cursor() as cursor:
        copy_floor(cursor, start, end, workdir / "xlsx_rows.csv")
    bare = bare_openpyxl_rate(workdir / "xlsx_rows.csv", xlsx_rows, workdir / "bare.xlsx")
    print(
        f"\nXLSX: {xlsx_rows:,} rows in {job:.1f} s = {xlsx_rows / job:,.0f} rows/s "
        f"(peak RSS {rss} MiB); openpyxl write-only alone, same rows: {bare:,.0f} rows/s "
        f"({xlsx_rows / job / bare:.0%} of it)"
    )


def export_job_timing(stdout: str) -> float:
    """The export job's own duration (claim to stored file with its hash), from the job."""
    from reports.models import ExportJob

    job_id = int(stdout.split("#", 1)[1].split(":", 1)[0])
    job = ExportJob.objects.get(pk=job_id)
    return (job.finished_at - job.started_at).total_seconds()


def bare_openpyxl_rate(csv_path: Path, rows: int, target: Path) -> float:
    """openpyxl's write-only workbook writing ``rows`` rows of the export's shape (strings
    read from the COPY file beforehand, so only the writing is timed)."""
    import csv
    from itertools import islice

    from openpyxl import Workbook

    with csv_path.open(encoding="utf-8") as fh:
        data = list(islice(csv.reader(fh), rows + 1))
    started = time.perf_counter()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("rows")
    for row in data:
        sheet.append(row)
    workbook.save(target)
    return rows / (time.perf_counter() - started)


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORKDIR, ignore_errors=True)
