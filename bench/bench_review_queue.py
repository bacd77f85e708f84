"""Benchmark: GraPARI's review queue page with 100 000 open items, on PostgreSQL.

    python bench/bench_review_queue.py [--items 100000] [--small 1000] [--repeat 30]

Fills the queue set-based (``build_registrations`` by COPY, then one ``INSERT … SELECT`` of
review items over them, spread over 200 outlets in 8 provinces, three kinds, deadlines from
four days overdue to two weeks ahead; plus 30% as many items already decided), then requests
the queue as a GraPARI reviewer through Django's test client (the whole request: middleware,
session, the scoped selector, keyset page, capped count, template) — first with ``--small``
open items, then with ``--items`` — and prints per scenario the median and p95 page time and
the number of SQL queries per page, which must be the same at both sizes.

Then the same scenarios through the real server path: gunicorn (2 workers, local settings,
DEBUG off) on a free port, the reviewer's session cookie, ``requests`` over HTTP — what the
reviewer's browser waits for, minus the network.

The floor, in the same run: the bare SQL the first page cannot do without — the page itself
(``SELECT … WHERE status = 'open' ORDER BY due_at, id LIMIT 26``) and the capped count of the
open items (``SELECT count(*) FROM (SELECT 1 … LIMIT 10001)``) — through psycopg2.

DATABASE_URL defaults to its own database ``satupintu_bench_review`` (created and migrated
here; its registration, pack, audit and compliance tables are emptied).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/satupintu_bench_review")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # not a line per login

from bench.common import ensure_database, print_table  # noqa: E402

PROVINCES = ("31", "32", "33", "35", "51", "73", "12", "64")


# Review items over registrations [lo, hi) by id: open ones, set-based. Kinds, deadlines and
# queue times are spread deterministically by id.
FILL = """
INSERT INTO compliance_reviewitem
    (kind, status, msisdn, registration_id, outlet_id, dealer_id, province, region,
     discrepancy_kinds, queued_at, due_at, decision, reason, decided_at)
SELECT (ARRAY['flagged_registration', 'answered_clarification', 'expired_clarification'])[r.id %% 3 + 1],
       %(status)s, r.msisdn, r.id, r.outlet_id, o.dealer_id, o.province, o.region,
       (ARRAY[',name_mismatch,', ',birth_date_mismatch,', ',id_number_mismatch,name_mismatch,',
              ',missing_in_operator,'])[r.id %% 4 + 1],
       now() - make_interval(hours => ((r.id * 37) %% 2000)::int),
       now() + make_interval(hours => (((r.id * 7919) %% 432) - 96)::int),
       %(decision)s, '', %(decided_at)s
FROM subscribers_registration r JOIN outlets_outlet o ON o.id = r.outlet_id
WHERE r.id >= %(lo)s AND r.id < %(hi)s
"""


def fill(cursor, lo: int, hi: int, *, decided: bool = False) -> None:
    cursor.execute(
        FILL,
        {
            "lo": lo,
            "hi": hi,
            "status": "decided" if decided else "open",
            "decision": "dismiss" if decided else "",
            "decided_at": time.strftime("%Y-%m-%d %H:%M:%S+00") if decided else None,
        },
    )


def measure(client, url: str, params: dict, repeat: int) -> tuple[list[float], int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, sql = [], []
    queries = 0
    for n in range(repeat + 2):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, params)
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{url} {params}: {response.status_code}")
        if n >= 2:  # two warm-up requests
            times.append(elapsed * 1000)
            queries = len(captured.captured_queries)
            sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    return times, queries, statistics.median(sql)


def stats(times: list[float]) -> tuple[str, str]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.1f}", f"{p95:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    ensure_database()
    from bench.common import setup_django

    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from compliance.models import ReviewItem
    from compliance.reconciliation.generator import build_registrations
    from compliance.workflow.selectors import encode_cursor
    from outlets.models import Outlet

    settings.ALLOWED_HOSTS = ["*"]
    n, small = args.items, args.small
    print(f"bench_review_queue: {n:,} open items (and {small:,} first), {os.cpu_count()} cores")
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE subscribers_registration, outlets_starterpack, compliance_auditevent,"
            " compliance_reviewitem, compliance_clarification, compliance_discrepancy"
            " RESTART IDENTITY CASCADE"
        )
    started = time.perf_counter()
    decided = int(n * 0.3)
    build_registrations(n + decided, outlets=200, seed=1, dealer_code="ADREVIEW")
    for index, outlet in enumerate(Outlet.objects.filter(roid__startswith="ROGEN").order_by("pk")):
        Outlet.objects.filter(pk=outlet.pk).update(
            province=PROVINCES[index % len(PROVINCES)], region=f"Kota {index % 40}"
        )
    with connection.cursor() as cursor:
        fill(cursor, 1, small + 1)
        fill(cursor, n + 1, n + decided + 1, decided=True)
        cursor.execute("VACUUM ANALYZE compliance_reviewitem")
    print(f"  generated the data in {time.perf_counter() - started:.0f} s")

    reviewer, _ = User.objects.get_or_create(username="bench-grapari", defaults={"role": "grapari"})
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(reviewer)
    outlet = Outlet.objects.filter(roid__startswith="ROGEN").order_by("pk")[7]

    def scenarios():
        middle = ReviewItem.objects.filter(status="open").order_by("due_at", "pk")
        middle = middle[ReviewItem.objects.filter(status="open").count() // 2]
        return [
            ("page 1", "/compliance/review/", {}),
            ("middle of the queue", "/compliance/review/", {"after": encode_cursor(middle)}),
            ("province 35", "/compliance/review/", {"province": "35"}),
            ("one outlet", "/compliance/review/", {"outlet": outlet.roid}),
            ("expired, overdue", "/compliance/review/", {"kind": "expired_clarification", "overdue": "yes"}),
            ("finding: birth date", "/compliance/review/", {"discrepancy_kind": "birth_date_mismatch"}),
            ("API page 1", "/api/v1/review-items/", {}),
        ]  # fmt: skip

    results: dict[str, dict[int, tuple]] = {}
    served: dict[str, tuple] = {}
    for size in (small, n):
        if size == n:
            with connection.cursor() as cursor:
                fill(cursor, small + 1, n + 1)
                cursor.execute("VACUUM ANALYZE compliance_reviewitem")
        for name, url, params in scenarios():
            times, queries, sql = measure(client, url, params, args.repeat)
            results.setdefault(name, {})[size] = (*stats(times), queries, f"{sql:.1f}")

    # The real server path: gunicorn over HTTP with the reviewer's session cookie.
    import requests

    from bench.common import free_port, start_gunicorn
    from compliance.workflow.selectors import COUNT_CAP

    port = free_port()
    server = start_gunicorn(port, 2)
    http = requests.Session()
    http.cookies.set(
        settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value
    )
    http.headers["Accept-Language"] = "en"
    try:
        for name, url, params in scenarios():
            times = []
            for attempt in range(args.repeat + 2):
                started = time.perf_counter()
                response = http.get(f"http://127.0.0.1:{port}{url}", params=params, timeout=60)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"gunicorn {url} {params}: {response.status_code}")
                if attempt >= 2:
                    times.append(elapsed * 1000)
            served.setdefault(name, stats(times))
    finally:
        server.terminate()
        server.wait(timeout=30)

    with connection.cursor() as cursor:
        floor = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            cursor.execute(
                "SELECT * FROM compliance_reviewitem WHERE status = 'open'"
                " ORDER BY due_at, id LIMIT 26"
            )
            cursor.fetchall()
            cursor.execute(
                "SELECT count(*) FROM (SELECT 1 FROM compliance_reviewitem"
                " WHERE status = 'open' LIMIT %s) AS capped",
                [COUNT_CAP + 1],
            )
            cursor.fetchall()
            floor.append((time.perf_counter() - started) * 1000)

    rows = []
    for name, by_size in results.items():
        small_median, small_p95, small_q, _small_sql = by_size[small]
        median, p95, queries, sql = by_size[n]
        rows.append(
            [name, small_median, small_p95, small_q, median, p95, queries, sql, *served[name]]
        )
    rows.append(
        ["floor: bare SQL of page 1 and its count", "", "", "", *stats(floor), 2, "", "", ""]
    )
    print_table(
        f"Review queue page as GraPARI (ms; {args.repeat} requests each after 2 warm-ups)",
        [
            "scenario",
            f"median {small:,}",
            "p95",
            "queries",
            f"median {n:,}",
            "p95",
            "queries",
            "of which SQL",
            f"gunicorn median {n:,}",
            "p95",
        ],
        rows,
    )
    grew = [name for name, by_size in results.items() if by_size[small][2] != by_size[n][2]]
    print(
        "\n  queries per page: "
        + ("the same at both sizes" if not grew else f"GREW for {', '.join(grew)}")
    )


if __name__ == "__main__":
    main()
