"""Benchmark: the outlet risk signals at operator scale, on PostgreSQL.

    python bench/bench_risk.py [--n 1000000] [--outlets 2000] [--skip-generate]
                               [--keep-registrations]

Generates N registrations over the last 365 days exactly as ``bench_reports.py`` does
(set-based), then gives them the behaviour the signals look for: family cards (a few shared by
too many NIKs, a few equal to the NIK), NIKs reused across numbers and outlets, a night shift,
bursts faster than a person types, registry refusals, birth dates the registry corrected, and
pre-activation findings. Then it measures, in the same run:

1. the signal rows: a full rebuild (``risk_signals_refresh(full=True)``), and an incremental
   refresh after 10 000 new registrations (what the 5-minute beat task does after the report
   tables), beside the **one-statement floor**: a single ``SELECT … GROUP BY outlet`` that
   reads every registration once and evaluates every per-registration condition — the least a
   rebuild can cost;
2. the page ``GET /risk/`` as the regulator (every outlet ranked, with reasons), for the last
   30 days (the default) and for one year, and the reports dashboard with its risk section —
   warm, median of 5 — and the figures alone (``outlet_risks``).

DATABASE_URL defaults to its own database ``satupintu_bench_risk`` (created and migrated here;
its registration, pack, discrepancy, report and risk tables are emptied).
"""

import argparse
import os
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/satupintu_bench_risk")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

from bench.common import ensure_database, load_average, print_table  # noqa: E402

# Behaviour for the signals, on the generated registrations (ids are 1..N in time order).
BEHAVIOUR = """
-- Outlets work by day: the generator spreads registrations over 24 hours; all but 1 in 50 of
-- those between midnight and 5 a.m. move eight hours later (the 1 in 50 is a night shift).
UPDATE subscribers_registration SET registered_at = registered_at + interval '8 hours'
WHERE EXTRACT(HOUR FROM registered_at AT TIME ZONE 'Asia/Jakarta') < 5 AND id %% 50 <> 0;
-- Family cards: two NIKs a card on average; every 5 000th card holds 14 NIKs; 1 in 2 000
-- registrations gives its NIK as the KK.
UPDATE subscribers_registration SET kk_number_digest = md5('kk' || (id / 2))
WHERE id %% 3 = 0;
UPDATE subscribers_registration SET kk_number_digest = md5('crowded' || (id / 70000))
WHERE id %% 5000 BETWEEN 1 AND 14;
UPDATE subscribers_registration SET kk_number_digest = id_number_digest WHERE id %% 2000 = 7;
-- One NIK on many numbers and at many outlets: 1 in 1 000 registrations reuses the NIK of the
-- registration just before it (seconds apart, at another outlet).
UPDATE subscribers_registration r SET id_number_digest = p.id_number_digest
FROM subscribers_registration p WHERE r.id %% 1000 IN (1, 2) AND p.id = r.id - r.id %% 1000;
-- Refusals and corrected birth dates.
UPDATE subscribers_registration SET status = 'refused' WHERE id %% 700 = 3;
UPDATE subscribers_registration
SET warnings = '[{"code": "nik_birth_date_corrected", "message": "bench"}]'::jsonb
WHERE id %% 450 = 5;
-- Bursts: every 20 000th registration and the 9 after it at one outlet, 15 s apart.
UPDATE subscribers_registration r SET outlet_id = b.outlet_id,
       registered_at = b.registered_at + make_interval(secs => 15 * (r.id - b.id))
FROM subscribers_registration b
WHERE b.id %% 20000 = 0 AND r.id > b.id AND r.id < b.id + 10;
-- Pre-activation findings on 1 in 800 registrations.
INSERT INTO compliance_discrepancy (
    msisdn, kind, status, registration_id, outlet_id, details, id_digest, id_group,
    detected_at, last_seen_at, resolved_at)
SELECT r.msisdn, 'activated_before_registration', 'open', r.id, r.outlet_id, '{}'::jsonb, '',
       '[]'::jsonb, r.registered_at + interval '1 day', r.registered_at + interval '1 day', NULL
FROM subscribers_registration r WHERE r.id %% 800 = 11;
"""

# The scan alone: one read of every registration evaluating every per-registration condition
# (no window, no number grouped) — the least any refresh reads.
SCAN_SQL = """
SELECT r.outlet_id, COUNT(*),
       COUNT(*) FILTER (WHERE r.kk_number_digest <> '' AND r.kk_number_digest = r.id_number_digest),
       COUNT(*) FILTER (WHERE EXTRACT(HOUR FROM r.registered_at AT TIME ZONE 'Asia/Jakarta') < 5),
       COUNT(*) FILTER (WHERE r.status = 'refused'),
       COUNT(*) FILTER (WHERE r.warnings @> '[{"code": "nik_birth_date_corrected"}]'::jsonb)
FROM subscribers_registration r
GROUP BY r.outlet_id
"""

# The floor: ONE hand-written statement computing the same thing as the rebuild — every
# signal's registrations counted per outlet, under the same rules (the clerk's previous
# registration by a window; each NIK and KK registered often enough joined with itself within
# the time window; the crowded family cards) — with nothing written: no signal rows, no
# per-month figures, no bookkeeping. {pre} and {dispute} are the two sets the rules define
# (findings not dismissed, disputes not dismissed); the settings are the defaults'.
FLOOR_SQL = """
WITH numbers AS MATERIALIZED (
    SELECT 'nik' AS via, r.id, r.outlet_id, r.registered_at, r.id_number_digest AS d,
           r.id_number_digest AS nik
    FROM subscribers_registration r
    WHERE r.id_number_digest = ANY(ARRAY(
        SELECT id_number_digest FROM subscribers_registration WHERE id_number_digest <> ''
        GROUP BY 1 HAVING COUNT(*) >= %(least_nik)s))
    UNION ALL
    SELECT 'kk', r.id, r.outlet_id, r.registered_at, r.kk_number_digest, r.id_number_digest
    FROM subscribers_registration r
    WHERE r.kk_number_digest IN (
        SELECT kk_number_digest FROM subscribers_registration WHERE kk_number_digest <> ''
        GROUP BY 1 HAVING COUNT(*) >= %(least_kk)s)
), pairs AS (
    SELECT a.via, a.id, a.outlet_id, COUNT(*) AS n, COUNT(DISTINCT b.outlet_id) AS outlets
    FROM numbers a
    JOIN numbers b ON b.via = a.via AND b.d = a.d
                  AND b.registered_at BETWEEN a.registered_at - %(window)s
                                          AND a.registered_at + %(window)s
    GROUP BY a.via, a.id, a.outlet_id
), flagged AS (
    SELECT x.outlet_id, x.id, s.code
    FROM (
        SELECT y.*, y.registered_at - LAG(y.registered_at) OVER (
                   PARTITION BY y.outlet_id, y.clerk_id ORDER BY y.registered_at, y.id
               ) < %(gap)s AS fast
        FROM (  -- the conditions evaluated while reading, so the window sorts narrow rows
            SELECT r.outlet_id, r.clerk_id, r.id, r.registered_at,
                   r.id IN ({pre}) AS pre,
                   r.kk_number_digest <> '' AND r.kk_number_digest = r.id_number_digest
                       AS kk_nik,
                   EXTRACT(HOUR FROM r.registered_at AT TIME ZONE 'Asia/Jakarta') < 5 AS odd,
                   r.status = 'refused' AS refused,
                   r.id IN ({dispute}) AS disputed,
                   r.warnings @> '[{{"code": "nik_birth_date_corrected"}}]'::jsonb AS corrected
            FROM subscribers_registration r
            OFFSET 0
        ) y
    ) x
    CROSS JOIN LATERAL unnest(array_remove(ARRAY[
        CASE WHEN x.pre THEN 'pre_activation' END,
        CASE WHEN x.kk_nik THEN 'kk_equals_nik' END,
        CASE WHEN x.odd THEN 'odd_hours' END,
        CASE WHEN x.fast THEN 'too_fast' END,
        CASE WHEN x.refused THEN 'registry_refused' END,
        CASE WHEN x.disputed THEN 'holder_dispute' END,
        CASE WHEN x.corrected THEN 'birth_date_contradiction' END
    ], NULL)) AS s(code)
    WHERE x.pre OR x.kk_nik OR x.odd OR x.fast OR x.refused OR x.disputed OR x.corrected
    UNION ALL
    SELECT p.outlet_id, p.id, 'nik_reuse' FROM pairs p WHERE p.via = 'nik' AND p.n >= %(reuse)s
    UNION ALL
    SELECT p.outlet_id, p.id, 'id_spread' FROM pairs p WHERE p.outlets >= %(spread)s
    UNION ALL
    SELECT c.outlet_id, c.id, 'kk_crowded' FROM numbers c
    WHERE c.via = 'kk' AND c.d IN (
        SELECT d FROM numbers WHERE via = 'kk' AND nik <> '' GROUP BY d
        HAVING COUNT(DISTINCT nik) > %(kk_max)s)
)
SELECT outlet_id, code, COUNT(DISTINCT id) FROM flagged GROUP BY 1, 2
"""


def timed(fn, repeat: int = 1) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="registrations (default 1M)")
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data")
    parser.add_argument(
        "--keep-registrations",
        action="store_true",
        help="reuse the generated registrations, give them the behaviour again",
    )
    args = parser.parse_args()
    n = args.n

    ensure_database()
    from bench.common import setup_django

    setup_django()
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from bench.bench_reports import TODAY_SQL, generate
    from reports.periods import Period
    from reports.scope import ReportFilter, ReportScope
    from reports.summary import summaries_refresh
    from risk.figures import outlet_risks
    from risk.refresh import risk_signals_refresh, tune
    from risk.signals import PRE_ACTIVATION_KIND
    from subscribers.models import RegistrationPolicy

    print(f"bench_risk: N={n:,} registrations over 365 days, {args.outlets} outlets, "
          f"{os.cpu_count()} cores, load {load_average()}")  # fmt: skip
    today = timezone.localdate()
    if not args.skip_generate:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE risk_registrationsignal, risk_recentoutletrisk, risk_riskstate"
            )
        started = time.perf_counter()
        if not args.keep_registrations:
            generate(n, args.outlets)
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM compliance_discrepancy WHERE kind = %s", [PRE_ACTIVATION_KIND]
            )
            cursor.execute(BEHAVIOUR, {})
            cursor.execute("VACUUM ANALYZE")
        print(f"  generated {n:,} registrations with behaviour in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        summaries_refresh(full=True)
    regulator, _ = User.objects.get_or_create(
        username="bench_regulator", defaults={"role": User.Role.REGULATOR}
    )

    # 1. The signal rows beside the one-statement floor, in wall time and in CPU time (this
    # process and its PostgreSQL backend: the load of the shared machine stretches wall time
    # far more than CPU time).
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def cpu() -> float:
        try:
            with open(f"/proc/{backend}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # another machine's backend: wall time only
            return float("nan")
        return time.process_time() + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def measured(fn, repeat: int) -> tuple[float, float]:
        """Best wall time and best CPU time of ``repeat`` runs."""
        walls, cpus = [], []
        for _ in range(repeat):
            spent = cpu()
            walls += timed(fn)
            cpus.append(cpu() - spent)
        return min(walls), min(cpus)

    from django.conf import settings

    from risk.refresh import _disputed_ids, _pre_activated_ids, _sql

    assert (settings.RISK_ODD_HOUR_FROM, settings.RISK_ODD_HOUR_TO) == (0, 5)  # as written
    assert settings.TIME_ZONE == "Asia/Jakarta"
    pre_sql, pre_params = _sql(_pre_activated_ids())
    dispute_sql, dispute_params = _sql(_disputed_ids())

    def named(sql: str, prefix: str) -> str:  # the ORM's %s as named placeholders
        count = iter(range(sql.count("%s")))
        return re.sub(r"%s", lambda _: f"%({prefix}{next(count)})s", sql)

    floor_sql = FLOOR_SQL.format(pre=named(pre_sql, "pre"), dispute=named(dispute_sql, "dispute"))
    floor_params = {
        **{f"pre{i}": v for i, v in enumerate(pre_params)},
        **{f"dispute{i}": v for i, v in enumerate(dispute_params)},
        "least_nik": min(settings.RISK_NIK_REUSE_MIN, settings.RISK_SPREAD_OUTLETS_MIN),
        "least_kk": min(settings.RISK_SPREAD_OUTLETS_MIN, settings.RISK_KK_MAX_NIKS + 1),
        "window": timedelta(hours=settings.RISK_WINDOW_HOURS),
        "gap": timedelta(seconds=settings.RISK_MIN_SECONDS_BETWEEN),
        "reuse": settings.RISK_NIK_REUSE_MIN,
        "spread": settings.RISK_SPREAD_OUTLETS_MIN,
        "kk_max": settings.RISK_KK_MAX_NIKS,
    }
    floor_counts: dict = {}

    def run_floor() -> None:
        # The same session settings as the refresh's transaction (risk.refresh.tune).
        with transaction.atomic(), connection.cursor() as cursor:
            tune(cursor)
            cursor.execute(floor_sql, floor_params)
            floor_counts.clear()
            floor_counts.update({(o, c): n for o, c, n in cursor.fetchall()})

    def run_scan() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            tune(cursor)
            cursor.execute(SCAN_SQL)
            cursor.fetchall()

    run_scan()  # warm the cache as the rebuild will find it
    scan, scan_cpu = measured(run_scan, repeat=3)
    floor, floor_cpu = measured(run_floor, repeat=3)
    full, full_cpu = measured(lambda: risk_signals_refresh(full=True, recent=False), repeat=2)
    print(f"  full rebuild {full:.2f} s ({full_cpu:.2f} s CPU), floor {floor:.2f} s "
          f"({floor_cpu:.2f} s CPU), load {load_average()}", flush=True)  # fmt: skip
    # The floor computes what the rebuild writes: the same registrations per outlet and signal.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT outlet_id, signal, COUNT(DISTINCT registration_id) "
            "FROM risk_registrationsignal GROUP BY 1, 2"
        )
        written = {(o, c): n for o, c, n in cursor.fetchall()}
    same = written == floor_counts
    print(f"  the rebuild's rows agree with the floor's counts (outlet × signal): "
          f"{'yes' if same else 'NO'} ({len(written):,} and {len(floor_counts):,} pairs)")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE risk_registrationsignal")
        cursor.execute(
            "SELECT count(*), count(DISTINCT registration_id) FROM risk_registrationsignal"
        )
        signal_rows, flagged = cursor.fetchone()
        cursor.execute("SELECT signal, count(*) FROM risk_registrationsignal GROUP BY 1 ORDER BY 1")
        per_signal = cursor.fetchall()
        # A previous run's "today" registrations (--keep-registrations) go first.
        for table in ("compliance_discrepancy", "privacy_registrationprivacy"):
            cursor.execute(
                f"DELETE FROM {table} WHERE registration_id IN "
                "(SELECT id FROM subscribers_registration WHERE msisdn LIKE '62899%%')",
                [],
            )
        cursor.execute("DELETE FROM subscribers_registration WHERE msisdn LIKE '62899%%'", [])
        cursor.execute("DELETE FROM outlets_starterpack WHERE msisdn LIKE '62899%%'", [])
        cursor.execute(TODAY_SQL, {"policy": RegistrationPolicy.objects.get(code="2026").pk})
    summaries_refresh()
    incremental, incremental_cpu = measured(lambda: risk_signals_refresh(recent=False), 1)
    recent, recent_cpu = measured(lambda: risk_signals_refresh(recent=True), 1)
    print_table(
        "Signal rows: refresh beside the one-statement floor (the same signals, nothing written)"
        f", load {load_average()}",
        ["what", "seconds", "× floor", "CPU s", "× floor CPU"],
        [
            ["the scan alone: one read, per-registration conditions", f"{scan:.2f}",
             f"{scan / floor:.2f}×", f"{scan_cpu:.2f}", f"{scan_cpu / floor_cpu:.2f}×"],
            ["floor: one statement computing every signal per outlet", f"{floor:.2f}",
             "1.00×", f"{floor_cpu:.2f}", "1.00×"],
            ["full rebuild (every signal)", f"{full:.2f}", f"{full / floor:.2f}×",
             f"{full_cpu:.2f}", f"{full_cpu / floor_cpu:.2f}×"],
            ["incremental, 10 000 new registrations", f"{incremental:.2f}",
             f"{incremental / floor:.2f}×", f"{incremental_cpu:.2f}",
             f"{incremental_cpu / floor_cpu:.2f}×"],
            ["incremental + outlets above the baseline (30 days)", f"{recent:.2f}", "–",
             f"{recent_cpu:.2f}", "–"],
        ],
    )  # fmt: skip
    print(f"  {signal_rows:,} signal rows on {flagged:,} registrations: "
          + ", ".join(f"{code} {count:,}" for code, count in per_signal))  # fmt: skip

    # 2. The pages, warm, median of 5.
    client = Client()
    client.force_login(regulator)
    scope = ReportScope.for_user(regulator)
    rows = []
    for label, first in (("last 30 days", today - timedelta(days=29)),
                         ("one year", today - timedelta(days=365))):  # fmt: skip
        flt = ReportFilter(Period(first, today))
        risks = outlet_risks(flt, scope)
        figures_s = statistics.median(timed(lambda flt=flt: outlet_risks(flt, scope), repeat=5))
        query = f"date_from={first}&date_to={today}"
        for page, url in (("/risk/", f"/risk/?{query}"), ("/reports/", f"/reports/?{query}")):
            assert client.get(url).status_code == 200
            page_s = statistics.median(timed(lambda url=url: client.get(url), repeat=5))
            rows.append(
                [
                    label,
                    page,
                    f"{sum(1 for r in risks if r.rank):,} of {len(risks):,}",
                    f"{figures_s * 1000:.0f}",
                    f"{page_s * 1000:.0f}",
                ]
            )
    print_table(
        f"Pages as the regulator (every outlet), warm, median of 5, load {load_average()}",
        ["period", "page", "outlets ranked", "figures ms", "whole page ms"],
        rows,
    )


if __name__ == "__main__":
    main()
