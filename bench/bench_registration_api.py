"""Benchmark: ``POST /api/v1/registrations/`` with two photos of a few MB, beside a bare INSERT.

    python bench/bench_registration_api.py [--requests 300] [--clients 6] [--workers 3]

On PostgreSQL (DATABASE_URL, default the ``satupintu_bench`` database; its registration, pack
and audit tables are emptied first). Starts gunicorn (``registration_portal.wsgi``, local
settings with DEBUG off, Celery's broker on Redis database 14, photos in a temporary folder)
on a free port, creates one outlet, clerk and pack stock per client, gets each clerk a token
through ``POST /api/v1/auth/token/``, then sends the registrations from ``--clients`` threads:
multipart, an ID photo and a face photo each a real JPEG of random noise (so it does not
compress away). The photo task queues in Redis (no worker runs) and that Redis database is
flushed at the end: this measures the request path, which only inspects the photos.

The floor, in the same run: the same number of single-row INSERTs of a registration into
the same table (psycopg2, autocommit, one client), i.e. what storing the row costs at least.
Throttling is raised for the run: it measures the request path, not the rate limits.
"""

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, bench_env, bench_outlets, empty_tables, print_table, setup_django

setup_django()

import requests  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from PIL import Image  # noqa: E402

from accounts.models import User  # noqa: E402
from core import pii  # noqa: E402
from core.masking import mask_id_number  # noqa: E402
from identity.idgen import make_iccid, make_kk, make_msisdn, make_nik  # noqa: E402
from outlets.models import OutletStaff, StarterPack  # noqa: E402
from subscribers.selectors import policy_in_force  # noqa: E402

PASSWORD = "bench-Password-2026"  # noqa: S105 - a throw-away user of the bench database
BROKER = "redis://127.0.0.1:6379/14"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def noise_jpeg(width: int, height: int) -> bytes:
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def prepare_clerks(clients: int, per_client: int) -> list[tuple[str, deque]]:
    """One outlet, clerk and stock of packs per client: (username, [MSISDN, ...])."""
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
            serial = 10_000_000 + n * 100_000 + i
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


def start_gunicorn(port: int, workers: int, media: str) -> subprocess.Popen:
    env = bench_env()
    env.update(
        DJANGO_SETTINGS_MODULE="registration_portal.settings.local",
        CELERY_BROKER_URL=BROKER,
        CELERY_RESULT_BACKEND=BROKER,
        PRIVATE_MEDIA_ROOT=media,
        API_THROTTLE_USER="1000000/minute",
        API_THROTTLE_ANON="1000000/minute",
        API_THROTTLE_TOKEN="1000000/minute",  # noqa: S106 - a rate, not a secret
        CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",  # not a line per login (django-axes) in the figures
        PYTHONWARNINGS="ignore::UserWarning",  # whitenoise: no collected static files here
    )
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "registration_portal.wsgi",
            "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--timeout", "120", "--log-level", "warning",
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200:
                return server
        except requests.RequestException:
            pass
        if server.poll() is not None:
            sys.exit("gunicorn did not start")
        time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not answer /healthz within a minute")


def fire(base: str, clerks, total: int, photos: list[bytes]) -> tuple[list[float], float, list]:
    """Send ``total`` registrations spread over the clerks, one thread each (each clerk's
    MSISDNs are a deque: a pack used in one round is not offered again)."""
    latencies: list[float] = []
    failures: list = []
    lock = threading.Lock()
    per_clerk = [total // len(clerks) + (i < total % len(clerks)) for i in range(len(clerks))]

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
        except requests.RequestException as exc:
            with lock:
                failures.append(("token", str(exc)))
            barrier.abort()
            return
        barrier.wait()
        for i in range(per_clerk[index]):
            n = index + i
            files = {
                "id_photo": ("ktp.jpg", photos[n % 2], "image/jpeg"),
                "face_photo": ("face.jpg", photos[2 + n % 2], "image/jpeg"),
            }
            started = time.perf_counter()
            msisdn = msisdns.popleft()
            response = session.post(
                f"{base}/api/v1/registrations/",
                data=buyer(int(msisdn[-7:]), msisdn),
                files=files,
                headers={"Idempotency-Key": str(uuid.uuid4())},
                timeout=120,
            )
            elapsed = time.perf_counter() - started
            with lock:
                if response.status_code == 201:
                    latencies.append(elapsed)
                else:
                    failures.append((response.status_code, response.text[:300]))

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


def bare_inserts(count: int) -> tuple[list[float], float]:
    """``count`` single-row INSERTs of a registration, each its own transaction."""
    import psycopg2

    outlet = bench_outlets(1)[0]
    policy = policy_in_force()
    packs = StarterPack.objects.bulk_create(
        StarterPack(
            msisdn=make_msisdn(20_000_000 + i, prefix="62858"),
            iccid=make_iccid(20_000_000 + i, prefix="896258"),
            dealer_id=outlet.dealer_id,
            outlet=outlet,
        )
        for i in range(count)
    )
    nik = make_nik(birth_date=date(1990, 8, 17), sex="F", serial=42)
    kk = make_kk(recorded=date(2015, 3, 2), serial=7)
    settings = connection.settings_dict
    conn = psycopg2.connect(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"],
        host=settings["HOST"], port=settings["PORT"] or 5432,
    )  # fmt: skip
    conn.autocommit = True
    sql = (
        "INSERT INTO subscribers_registration (registration_number, outlet_id, clerk_id, "
        "starter_pack_id, msisdn, iccid, policy_id, id_type, id_number_encrypted, "
        "id_number_digest, id_number_masked, kk_number_encrypted, kk_number_digest, "
        "kk_number_masked, full_name, birth_place, birth_date, sex, address, nationality, "
        "id_photo, id_photo_thumb, face_photo, face_photo_thumb, photo_status, consent_at, "
        "document_checked, status, review_reasons, source, registered_at, created_at, "
        "updated_at) VALUES (%s, %s, NULL, %s, %s, %s, %s, 'ktp', %s, %s, %s, %s, %s, %s, "
        "'Siti Nur''aini', 'Bandung', '1990-08-17', 'F', 'Jl. Kenanga No. 5, Bandung', 'ID', "
        "'photos/a.jpg', '', 'photos/b.jpg', '', 'pending', %s, true, 'registered', '[]', "
        "'api', %s, %s, %s) RETURNING id"
    )
    latencies = []
    started = time.perf_counter()
    try:
        with conn.cursor() as cursor:
            for i, pack in enumerate(packs):
                now = timezone.now()
                values = (
                    f"SPBENCH{i:08d}", outlet.pk, pack.pk, pack.msisdn, pack.iccid, policy.pk,
                    pii.encrypt(nik), pii.digest(nik), mask_id_number(nik),
                    pii.encrypt(kk), pii.digest(kk), mask_id_number(kk),
                    now, now, now, now,
                )  # fmt: skip
                began = time.perf_counter()
                cursor.execute(sql, values)
                cursor.fetchone()
                latencies.append(time.perf_counter() - began)
    finally:
        conn.close()
    return latencies, time.perf_counter() - started


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--clients", type=int, default=4, help="client threads of the second round, one clerk each"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    args = parser.parse_args()
    # Stopped from outside: still stop the server (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    empty_tables()
    clerks = prepare_clerks(args.clients, args.requests)
    photos = [noise_jpeg(2000, 1500) for _ in range(4)]  # two ID photos, two face photos
    body_mb = (len(photos[0]) + len(photos[2])) / 1e6
    port = free_port()
    # One client alone: the latency of the request path. Then several at once: throughput,
    # and latency when requests queue for the server's workers.
    alone = args.requests // 3
    rounds = [
        ("1 client", clerks[:1], alone),
        (f"{args.clients} clients", clerks, args.requests - alone),
    ]
    results = []
    import redis

    with tempfile.TemporaryDirectory() as media:
        server = start_gunicorn(port, args.workers, media)
        try:
            for label, round_clerks, count in rounds:
                latencies, wall, failures = fire(
                    f"http://127.0.0.1:{port}", round_clerks, count, photos
                )
                if failures:
                    print(f"{label}: {len(failures)} requests failed, e.g.: {failures[:3]}")
                if not latencies:
                    sys.exit("no registration succeeded")
                results.append((label, latencies, wall))
        finally:
            server.terminate()
            server.wait(timeout=30)
            redis.Redis.from_url(BROKER).flushdb()  # the photo tasks no worker took

    floor, floor_wall = bare_inserts(alone)
    ms = 1000

    def figures(values, wall, digits):
        return [
            len(values),
            f"{statistics.median(values) * ms:.{digits}f}",
            f"{p95(values) * ms:.{digits}f}",
            f"{max(values) * ms:.{digits}f}",
            f"{len(values) / wall:.1f}",
        ]

    print_table(
        f"POST /api/v1/registrations/ with two photos ({body_mb:.1f} MB a request), gunicorn "
        f"{args.workers} workers, PostgreSQL {connection.pg_version // 10000}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
        ["", "n", "median ms", "p95 ms", "max ms", "per second"],
        [
            *([f"API, {label}", *figures(values, wall, 1)] for label, values, wall in results),
            ["bare INSERT of the row (floor)", *figures(floor, floor_wall, 2)],
        ],
    )
    alone_p95 = p95(results[0][1]) * ms
    print(
        f"\ngoal p95 <= 150 ms (one client, no queueing): {'met' if alone_p95 <= 150 else 'NOT met'}"
        f" ({alone_p95:.0f} ms)"
    )


if __name__ == "__main__":
    main()
