"""Benchmark: the preview of a draft rule set on N past registrations, beside a one-statement
floor, on PostgreSQL.

    python bench/bench_rule_preview.py [--n 1000000] [--outlets 2000] [--skip-generate]

Generates N registrations over the last 365 days (set-based: ``INSERT … SELECT
generate_series``), under the rule set in force (2026-07): NIKs holding one to a dozen numbers,
a few outlets of the operator's own and a few authorised in writing, imports, KKs, insiders
(the dealer's staff's NIKs). A draft copies the rule set with the cap lowered to 2. Measured:

1. the preview as the job runs it (``preview_run``: every chunk, the progress recorded, the
   figures summarised and stored), median of 3;
2. the same in one chunk (one statement);
3. the floor: ONE hand-written statement doing the least a set-based preview must — read the
   period's registrations, number each NIK's earlier ones (the window over the NIK) and count
   those at or over the cap per outlet — no facts, no rule sets, no second verdict.

The goal: the preview within 3× the floor. Wall time (median and best of the rounds, floor and
preview alternated) and CPU time (this process and its PostgreSQL backend: the load of the
shared machine stretches wall time far more than CPU time).

DATABASE_URL defaults to its own database ``satupintu_bench_rules`` (created and migrated here;
its registration, pack, staff and audit tables are emptied).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/satupintu_bench_rules")

from bench.common import bench_outlets, ensure_database, load_average, print_table  # noqa: E402

GENERATE = """
UPDATE outlets_outlet SET kind = 'operator' WHERE id = ANY(%(operator_outlets)s);
UPDATE outlets_outlet SET operator_authorised_from = date '2026-01-01'
WHERE id = ANY(%(authorised_outlets)s);

INSERT INTO outlets_starterpack (msisdn, iccid, dealer_id, outlet_id, status, created_at, updated_at)
SELECT '62813' || lpad(g::text, 8, '0'), NULL, %(dealer)s,
       (%(outlets)s::bigint[])[1 + g %% %(n_outlets)s], 'registered', now(), now()
FROM generate_series(1, %(n)s) g;

INSERT INTO subscribers_registration (
    registration_number, outlet_id, clerk_id, starter_pack_id, msisdn, iccid, policy_id,
    id_type, id_number_encrypted, id_number_digest, id_number_masked,
    kk_number_encrypted, kk_number_digest, kk_number_masked,
    full_name, birth_place, birth_date, sex, address, nationality,
    id_photo, id_photo_thumb, face_photo, face_photo_thumb, photo_status,
    consent_at, document_checked, statement_signed, status, review_reasons, warnings, source,
    category, company_name, declared_purpose, face_sha256, registered_at, created_at, updated_at)
SELECT 'SPR' || lpad(p.id::text, 10, '0'), p.outlet_id, NULL, p.id, p.msisdn, '', %(policy)s,
       CASE WHEN p.id %% 50 = 0 THEN 'passport' WHEN p.id %% 23 = 0 THEN 'sim' ELSE 'ktp' END,
       'gAAAAAB-not-a-real-token', d.digest,
       '3171' || repeat('*', 8) || lpad((p.id %% 10000)::text, 4, '0'),
       '', CASE WHEN p.id %% 3 = 0 THEN md5('kk' || (p.id %% 90000)) ELSE '' END, '',
       'Pembeli Bench ' || p.id, 'Jakarta', date '1970-01-01' + (p.id %% 15000)::int,
       CASE WHEN p.id %% 2 = 0 THEN 'F' ELSE 'M' END, 'Jl. Bench No. ' || p.id,
       CASE WHEN p.id %% 50 = 0 THEN 'JP' ELSE 'ID' END,
       '', '', '', '', 'none',
       t.at, p.id %% 211 <> 0, CASE WHEN p.id %% 7 = 0 THEN NULL ELSE true END,
       CASE WHEN p.id %% 97 = 0 THEN 'blocked' WHEN p.id %% 31 = 0 THEN 'flagged'
            ELSE 'registered' END,
       '[]'::jsonb, '[]'::jsonb,
       CASE WHEN p.id %% 5 = 0 THEN 'import' ELSE 'web' END,
       CASE WHEN p.id %% 41 = 0 THEN 'corporate' ELSE 'personal' END,
       CASE WHEN p.id %% 41 = 0 THEN 'PT Bench' ELSE '' END,
       CASE WHEN p.id %% 13 = 0 THEN 'usaha' ELSE '' END,
       CASE WHEN p.id %% 5 = 0 THEN '' ELSE md5('face' || p.id) END,
       t.at, t.at, t.at
FROM outlets_starterpack p
CROSS JOIN LATERAL (
    SELECT %(start)s::timestamptz + make_interval(secs => (p.id - 1) * %(step)s::float) AS at
) t
CROSS JOIN LATERAL (
    SELECT md5(CASE WHEN p.id %% 2000 < 12 THEN 'heavy' || (p.id / 2000)
                    ELSE 'id' || (p.id %% %(ids)s) END) AS digest
) d;

-- The dealer's people: staff whose NIKs (and KKs) also buy.
INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined, role, preferred_language)
SELECT '!', false, 'bench_clerk_' || g, '', '', '', false, true, now(), 'outlet_staff', 'id'
FROM generate_series(1, 200) g;
INSERT INTO outlets_outletstaff (user_id, outlet_id, is_active, joined_at, id_number_encrypted,
                                 id_number_digest, kk_number_encrypted, kk_number_digest)
SELECT u.id, (%(outlets)s::bigint[])[1 + u.id %% %(n_outlets)s], true, now(),
       '', md5('id' || (u.id * 997)), '', md5('kk' || (u.id * 991))
FROM accounts_user u WHERE u.username LIKE 'bench_clerk_%%';
"""

FLOOR = """
SELECT outlet_id, count(*), count(*) FILTER (WHERE held >= 2)
FROM (
    SELECT outlet_id, count(*) OVER (
        PARTITION BY id_number_digest COLLATE "C" ORDER BY registered_at, id
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS held
    FROM subscribers_registration
    WHERE registered_at >= %(start)s AND registered_at < %(end)s
) judged
GROUP BY outlet_id
"""


def generate(n: int, outlets_count: int):
    from django.db import connection
    from django.utils import timezone

    from subscribers.models import RegistrationPolicy

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE subscribers_registration, subscribers_rulepreview, outlets_starterpack, "
            "outlets_outletstaff, compliance_auditevent, privacy_registrationprivacy "
            "RESTART IDENTITY CASCADE"
        )
        cursor.execute("DELETE FROM accounts_user WHERE username LIKE 'bench_clerk_%%'")
    outlets = bench_outlets(outlets_count)
    today = timezone.localdate()
    first_day = today - timedelta(days=365)
    start = timezone.make_aware(timezone.datetime.combine(first_day, timezone.datetime.min.time()))
    ids = [o.pk for o in outlets]
    with connection.cursor() as cursor:
        cursor.execute(
            GENERATE,
            {
                "n": n,
                "start": start,
                "step": (365 * 86400 - 1) / n,
                "dealer": outlets[0].dealer_id,
                "outlets": ids,
                "n_outlets": len(ids),
                "operator_outlets": ids[::100],
                "authorised_outlets": ids[1::50],
                "policy": RegistrationPolicy.objects.get(code="2026-07").pk,
                "ids": int(n * 0.45),
            },
        )
        cursor.execute("VACUUM ANALYZE")
    return first_day, today - timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="registrations (default 1M)")
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data")
    args = parser.parse_args()

    ensure_database()
    from bench.common import setup_django

    setup_django()
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from subscribers import drafts, preview
    from subscribers.models import RegistrationPolicy, RulePreview

    print(f"bench_rule_preview: N={args.n:,} registrations over 365 days, {args.outlets} "
          f"outlets, {os.cpu_count()} cores, load {load_average()}")  # fmt: skip
    today = timezone.localdate()
    period = (today - timedelta(days=365), today - timedelta(days=1))
    if not args.skip_generate:
        started = time.perf_counter()
        period = generate(args.n, args.outlets)
        print(f"  generated in {time.perf_counter() - started:.0f} s")
    operator, _ = User.objects.get_or_create(
        username="bench_operator",
        defaults={"role": User.Role.OPERATOR, "is_staff": True, "is_superuser": True},
    )
    draft = drafts.draft_create(
        actor=operator, source=RegistrationPolicy.objects.get(code="2026-07")
    )
    draft.max_numbers_per_id = 2
    draft.save()
    start, end = preview.period_bounds(*period)
    rows = preview.period_registrations(*period).count()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def cpu() -> float:
        """CPU seconds of this process and of its PostgreSQL backend (the load of the shared
        machine stretches wall time, much less CPU time)."""
        with open(f"/proc/{backend}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return time.process_time() + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def floor() -> float:
        began = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            # The same room to sort as the preview's statement gets (preview._tune).
            cursor.execute("SET LOCAL work_mem = %s", [preview.WORK_MEM])
            cursor.execute(FLOOR, {"start": start, "end": end})
            cursor.fetchall()
        return time.perf_counter() - began

    def job(chunk_rows: int | None = None) -> tuple[float, RulePreview]:
        if chunk_rows:
            preview.ROWS_PER_CHUNK = chunk_rows
        item = RulePreview.objects.create(
            draft=draft, period_from=period[0], period_to=period[1], requested_by=operator
        )
        began = time.perf_counter()
        preview.preview_run(preview_id=item.pk)
        seconds = time.perf_counter() - began
        item.refresh_from_db()
        return seconds, item

    default_chunk = preview.ROWS_PER_CHUNK
    floor()  # warm the cache
    # Alternated, round after round: the machine is shared, its load moves.
    timings: dict[str, list[float]] = {"floor": [], "one": [], "job": []}
    cpus: dict[str, list[float]] = {"floor": [], "one": [], "job": []}
    chunks = {"floor": 1}
    for _round in range(args.repeat):
        spent = cpu()
        timings["floor"].append(floor())
        cpus["floor"].append(cpu() - spent)
        for key, chunk_rows in (("one", rows + 1), ("job", default_chunk)):
            spent = cpu()
            seconds, item = job(chunk_rows)
            cpus[key].append(cpu() - spent)
            timings[key].append(seconds)
            chunks[key] = item.chunks_total
    floor_s = statistics.median(timings["floor"])
    labels = {
        "floor": "floor: one statement (window + count per outlet)",
        "one": "preview_run, one chunk (one statement)",
        "job": "preview_run, as the job runs it",
    }
    results = [
        [labels[key], chunks[key], statistics.median(values), min(values), min(cpus[key])]
        for key, values in timings.items()
    ]
    floor_cpu = min(cpus["floor"])
    totals = item.result["totals"]
    best_floor = min(timings["floor"])
    print_table(
        f"preview of a draft (cap 3 → 2) on {rows:,} registrations, {args.repeat} rounds",
        ["", "chunks", "median s", "× floor", "best s", "× best floor", "CPU s", "× floor CPU"],
        [
            [label, n, f"{median:.2f}", f"{median / floor_s:.2f}", f"{best:.2f}",
             f"{best / best_floor:.2f}", f"{spent:.2f}", f"{spent / floor_cpu:.2f}"]
            for label, n, median, best, spent in results
        ],
    )  # fmt: skip
    changes = totals["decisions"]
    print(
        f"\n  judged differently: {totals['changed']:,}; newly refused over the cap: "
        f"{changes['over_cap']['new']:,}; refused before/after: "
        f"{totals['outcomes']['refused']['before']:,}/{totals['outcomes']['refused']['after']:,}"
        f"; load {load_average()}"
    )


if __name__ == "__main__":
    main()
