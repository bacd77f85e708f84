"""Benchmark: ``POST /api/v1/registrations/`` with two photos of a few MB, beside a floor doing
the same work without the portal.

    python bench/bench_registration_api.py [--requests 300] [--clients 4] [--workers 3]
                                           [--repeat 3] [--warmup 5]

On PostgreSQL (DATABASE_URL, default the ``satupintu_bench`` database; its registration, pack
and audit tables are emptied first). Starts gunicorn (``registration_portal.wsgi``, local
settings with DEBUG off, Celery's broker on the benchmarks' own Redis database —
``BENCH_REDIS_URL``, claimed for the run and refused if it holds anything —, photos in a
temporary folder) on a free port, creates one outlet, clerk and pack stock per client, gets
each clerk a token through ``POST /api/v1/auth/token/``, then sends the registrations from
``--clients`` threads: multipart, an ID photo and a face photo each a real JPEG of random noise
(so it does not compress away). The photo task queues in Redis (no worker runs; the claimed
database is emptied at the end): this measures the request path, which only inspects the
photos.

Each round (one client alone: the latency of the request path; then several at once:
throughput and latency with queueing) starts with ``--warmup`` uncounted requests per client
(connections, imports, caches) and runs ``--repeat`` times: the table gives the median and p95
over all the samples of a round, how many samples lie above the p95 (a p95 resting on a
handful of requests says little) and the spread of the repeated runs' medians.

The floor, in the same run and through the same client code: ``bench/floor_wsgi.py`` under the
same gunicorn — the same bodies read, the same JPEG checks, both files written, the pack
claimed and the registration and audit rows inserted in one transaction — i.e. what the
request costs at least without the portal's framework and rules.
Throttling is raised for the run: it measures the request path, not the rate limits.
"""

import argparse
import io
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    bench_outlets,
    empty_tables,
    free_port,
    own_redis_db,
    print_table,
    setup_django,
    start_gunicorn,
)

setup_django()

import requests  # noqa: E402
from django.db import connection  # noqa: E402
from PIL import Image  # noqa: E402

from accounts.models import User  # noqa: E402
from core import pii  # noqa: E402
from identity import idrules  # noqa: E402
from identity.idgen import make_iccid, make_kk, make_msisdn, make_nik  # noqa: E402
from operatordb.population import upsert_people  # noqa: E402
from operatordb.registry import face_hash  # noqa: E402
from outlets.models import OutletStaff, StarterPack  # noqa: E402
from subscribers.selectors import policy_in_force  # noqa: E402

PASSWORD = "bench-Password-2026"  # noqa: S105 - a throw-away user of the bench database


def noise_jpeg(width: int, height: int) -> bytes:
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def prepare_clerks(clients: int, per_client: int, base: int = 0) -> list[tuple[str, deque]]:
    """One outlet, clerk and stock of packs per client: (username, [MSISDN, ...]). ``base``
    offsets the pack numbers (the floor's stock is its own)."""
    outlets = bench_outlets(clients)
    result = []
    packs = []
    for n, outlet in enumerate(outlets):
        user, _ = User.objects.get_or_create(
            username=f"benchclerk{n}", defaults={"role": User.Role.OUTLET_STAFF}
        )
        user.set_password(PASSWORD)
        user.save()
        OutletStaff.objects.update_or_create(user=user, defaults={"outlet": outlet})
        msisdns = []
        for i in range(per_client):
            serial = 10_000_000 + base + n * 100_000 + i
            msisdns.append(make_msisdn(serial, prefix="62858"))
            packs.append(
                StarterPack(
                    msisdn=msisdns[-1],
                    iccid=make_iccid(serial, prefix="896258"),
                    dealer_id=outlet.dealer_id,
                    outlet=outlet,
                )
            )
        result.append((user.username, deque(msisdns)))
    StarterPack.objects.bulk_create(packs)
    return result


def enrol_buyers(clerks: list[tuple[str, deque]], face: bytes) -> None:
    """Put every buyer the run will send in the mock population registry, with ``face`` as
    their reference photo: the rules in force check the NIK, the KK and the face there."""
    reference = face_hash(face)
    people = {}
    for _, msisdns in clerks:
        for msisdn in msisdns:
            body = buyer(int(msisdn[-7:]), msisdn)
            name = body["full_name"]
            people[pii.digest(body["id_number"])] = {
                "nik_digest": pii.digest(body["id_number"]),
                "nik_masked": body["id_number"][:4] + "*" * 8 + body["id_number"][-4:],
                "full_name": name,
                "name_key": idrules.normalize_name_for_comparison(name),
                "birth_date": date.fromisoformat(body["birth_date"]),
                "sex": body["sex"],
                "kk_digest": pii.digest(body["kk_number"]),
                "kk_masked": "",
                "birth_place": body["birth_place"],
                "head_of_family": False,
                "face_hash": reference,
            }
    rows = list(people.values())
    for start in range(0, len(rows), 5000):
        upsert_people(rows[start : start + 5000])


def buyer(n: int, msisdn: str) -> dict:
    born = date(1970, 1, 1) + timedelta(days=(n * 37) % 12_000)
    sex = "F" if n % 2 else "M"
    return {
        "msisdn": "0" + msisdn[2:],
        "id_type": "ktp",
        "id_number": make_nik(birth_date=born, sex=sex, province="32", regency="73", serial=n + 1),
        "kk_number": make_kk(recorded=date(2014, 6, 3), region="327305", serial=n + 1),
        "full_name": "Siti Nur'aini" if sex == "F" else "Ahmad Hidayat",
        "birth_place": "Bandung",
        "birth_date": born.isoformat(),
        "sex": sex,
        "address": "Jl. Diponegoro No. 5, RT 03/RW 07, Bandung",
        "nationality": "ID",
        "consent": "true",
        "document_checked": "true",
    }


def start_server(port: int, workers: int, media: str, broker: str, app: str):
    db = connection.settings_dict
    return start_gunicorn(
        port,
        workers,
        app=app,
        CELERY_BROKER_URL=broker,
        CELERY_RESULT_BACKEND=broker,
        PRIVATE_MEDIA_ROOT=media,
        FLOOR_DSN=(
            f"dbname={db['NAME']} user={db['USER']} host={db['HOST']} port={db['PORT'] or 5432}"
            + (f" password={db['PASSWORD']}" if db["PASSWORD"] else "")
        ),
        FLOOR_MEDIA=media,
        FLOOR_POLICY=str(policy_in_force().pk),
    )


def fire(
    base: str, clerks, total: int, photos: list[bytes], warmup: int = 0
) -> tuple[list[float], float, list]:
    """Send ``total`` registrations spread over the clerks, one thread each (each clerk's
    MSISDNs are a deque: a pack used once is not offered again), after ``warmup`` uncounted
    requests per clerk. Returns the counted latencies, the wall time and the failures."""
    latencies: list[float] = []
    failures: list = []
    lock = threading.Lock()
    per_clerk = [total // len(clerks) + (i < total % len(clerks)) for i in range(len(clerks))]

    def send(session, n: int, msisdns: deque, counted: bool) -> None:
        files = {
            "id_photo": ("ktp.jpg", photos[n % 2], "image/jpeg"),
            "face_photo": ("face.jpg", photos[2], "image/jpeg"),  # the registry's reference
        }
        msisdn = msisdns.popleft()
        started = time.perf_counter()
        response = session.post(
            f"{base}/api/v1/registrations/",
            data=buyer(int(msisdn[-7:]), msisdn),
            files=files,
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=120,
        )
        elapsed = time.perf_counter() - started
        with lock:
            if response.status_code != 201:
                failures.append((response.status_code, response.text[:300]))
            elif counted:
                latencies.append(elapsed)

    def client(index: int, username: str, msisdns: deque) -> None:
        session = requests.Session()
        try:
            answer = session.post(
                f"{base}/api/v1/auth/token/",
                json={"username": username, "password": PASSWORD},
                timeout=60,
            )
            answer.raise_for_status()
            session.headers["Authorization"] = f"Token {answer.json()['token']}"
            for i in range(warmup):
                send(session, index + i, msisdns, counted=False)
        except requests.RequestException as exc:
            with lock:
                failures.append(("token", str(exc)))
            barrier.abort()
            return
        barrier.wait()
        for i in range(per_clerk[index]):
            send(session, index + i, msisdns, counted=True)

    barrier = threading.Barrier(len(clerks) + 1)
    threads = [
        threading.Thread(target=client, args=(i, username, msisdns))
        for i, (username, msisdns) in enumerate(clerks)
    ]
    for thread in threads:
        thread.start()
    try:
        barrier.wait(timeout=300)
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        sys.exit(f"a client could not get its token: {failures[:3]}")
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started, failures


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="counted requests per run")
    parser.add_argument(
        "--clients", type=int, default=4, help="client threads of the second round, one clerk each"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each round")
    parser.add_argument("--warmup", type=int, default=5, help="uncounted requests per client")
    args = parser.parse_args()
    # Stopped from outside: still stop the server (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    empty_tables()
    per_client = (args.requests + 2 * args.warmup) * args.repeat
    stock = {
        "API": prepare_clerks(args.clients, per_client),
        "floor": prepare_clerks(args.clients, per_client, base=50_000),
    }
    photos = [noise_jpeg(2000, 1500) for _ in range(3)]  # two ID photos, one face photo
    body_mb = (len(photos[0]) + len(photos[2])) / 1e6
    for clerks in stock.values():
        enrol_buyers(clerks, photos[2])
    alone = args.requests // 3
    results = []
    with own_redis_db() as broker, tempfile.TemporaryDirectory() as media:
        for label, app in (("API", "registration_portal.wsgi"), ("floor", "bench.floor_wsgi")):
            clerks = stock[label]
            rounds = [
                ("1 client", clerks[:1], alone),
                (f"{args.clients} clients", clerks, args.requests - alone),
            ]
            port = free_port()
            server = start_server(port, args.workers, media, broker, app)
            try:
                for name, round_clerks, count in rounds:
                    samples, medians, rates = [], [], []
                    for run in range(args.repeat):
                        latencies, wall, failures = fire(
                            f"http://127.0.0.1:{port}",
                            round_clerks,
                            count,
                            photos,
                            warmup=args.warmup if run == 0 else 0,
                        )
                        if failures:
                            print(f"{label}, {name}: {len(failures)} failed, e.g. {failures[:3]}")
                        if not latencies:
                            sys.exit(f"{label}: no registration succeeded")
                        samples += latencies
                        medians.append(statistics.median(latencies))
                        rates.append(len(latencies) / wall)
                    results.append((f"{label}, {name}", samples, medians, rates))
            finally:
                server.terminate()
                server.wait(timeout=30)

    ms = 1000
    rows = []
    for label, samples, medians, rates in results:
        top = p95(samples)
        rows.append(
            [
                label,
                len(samples),
                f"{statistics.median(samples) * ms:.1f}",
                f"{top * ms:.1f}",
                sum(1 for v in samples if v > top),
                f"{min(medians) * ms:.0f}-{max(medians) * ms:.0f}",
                f"{statistics.median(rates):.1f}",
            ]
        )
    print_table(
        f"POST /api/v1/registrations/ with two photos ({body_mb:.1f} MB a request), gunicorn "
        f"{args.workers} workers, {args.repeat} runs of each round after {args.warmup} warm-up "
        f"requests a client, PostgreSQL {connection.pg_version // 10000}, {os.cpu_count()} "
        f"cores, load average {os.getloadavg()[0]:.1f} at the end",
        ["", "n", "median ms", "p95 ms", "n > p95", "runs' medians ms", "per second"],
        rows,
    )
    api_alone, floor_alone = results[0][1], results[2][1]
    ratio = statistics.median(api_alone) / statistics.median(floor_alone)
    print(f"\nthe API's median over the floor's, one client: {ratio:.1f}x")
    alone_p95 = p95(api_alone) * ms
    verdict = "met" if alone_p95 <= 150 else "NOT met"
    print(f"goal p95 <= 150 ms (one client, no queueing): {verdict} ({alone_p95:.0f} ms)")


if __name__ == "__main__":
    main()
