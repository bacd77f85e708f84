"""Shared by the benchmarks: the bench database (created, migrated, Django set up on it),
``manage.py`` in a child process with its peak memory, demo-like people, the machine's load,
a table."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/satupintu_bench"


def bench_env() -> dict[str, str]:
    """The environment the benchmarks and the processes they start run with."""
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("DJANGO_SETTINGS_MODULE", "registration_portal.settings.local")
    env["DEBUG"] = "0"  # DEBUG keeps every query in memory: not what production does
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


def ensure_database(url: str | None = None) -> None:
    """Create the database of ``url`` (default ``DATABASE_URL``) if it is missing, and migrate
    it. PostgreSQL only: the benchmarks measure what production runs."""
    import environ
    import psycopg2
    from psycopg2 import sql

    url = url or bench_env()["DATABASE_URL"]
    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        sys.exit("The benchmarks run on PostgreSQL: set DATABASE_URL to a postgres:// URL.")
    conn = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"],
        host=config["HOST"],
        port=config["PORT"] or 5432,
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"created database {config['NAME']}")
    conn.close()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env={**bench_env(), "DATABASE_URL": url},
        check=True,
    )


def setup_django() -> None:
    os.environ.update(bench_env())
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
        sys.exit(
            "The benchmarks run on a PostgreSQL database whose name contains 'bench' (they "
            f"empty its tables); DATABASE_URL points at {connection.settings_dict['NAME']!r}."
        )


def empty_tables() -> None:
    """Start from empty registration, pack and audit tables (the bench database only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE subscribers_registration, subscribers_idempotencyrecord, "
            "outlets_starterpack, compliance_auditevent RESTART IDENTITY CASCADE"
        )
        cursor.execute("VACUUM ANALYZE")


def bench_outlets(count: int) -> list:
    """``count`` active outlets of one bench dealer, in several provinces."""
    from outlets.models import Dealer, Outlet

    dealer, _ = Dealer.objects.get_or_create(code="ADBENCH", defaults={"name": "PT Bench"})
    provinces = ("31", "32", "33", "35", "51", "73", "12", "64")
    outlets = []
    for n in range(1, count + 1):
        outlet, _ = Outlet.objects.update_or_create(
            roid=f"ROBENCH{n:05d}",
            defaults={
                "dealer": dealer,
                "name": f"Konter Bench {n}",
                "region": "Bench",
                "province": provinces[n % len(provinces)],
                "status": Outlet.Status.ACTIVE,
            },
        )
        outlets.append(outlet)
    return outlets


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, r in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if index == 0:
            print("  " + "  ".join("-" * w for w in widths))


# Runs manage.py and reports its own peak RSS: VmHWM of /proc/self/status, the high-water mark
# of this program's memory since exec. Not getrusage: on Linux its maxrss keeps the size of the
# process the child was forked from (the benchmark itself) across exec.
_LAUNCHER = """
import os, runpy, sys
sys.argv = sys.argv[1:]
if os.environ.get("BENCH_STUB_HANDOVER") == "1":
    # The engine alone: the compliance workflow's reaction to new discrepancies (clarification
    # requests, notifications) is that workflow's cost, not reconciliation's.
    import django
    django.setup()
    import compliance.reconciliation.handover
    compliance.reconciliation.handover.receivers.clear()
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    with open("/proc/self/status") as status:
        hwm = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(f"MAXRSS_KB={hwm}", file=sys.stderr)
"""


def run_manage(args: list[str], **extra_env) -> tuple[float, int, str]:
    """``manage.py args`` in a child process: (seconds, peak RSS in MiB, stdout)."""
    env = {**bench_env(), **{k: str(v) for k, v in extra_env.items()}}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, "manage.py", *args, "--skip-checks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    rss_kb = int(proc.stderr.rsplit("MAXRSS_KB=", 1)[1].split()[0])
    return seconds, rss_kb // 1024, proc.stdout


def peak_rss_mib(pid: int) -> int:
    """The high-water mark of a running process's memory (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        return int(next(line.split()[1] for line in status if line.startswith("VmHWM:"))) // 1024


def load_average() -> str:
    """The 1/5/15-minute load average, to print beside every figure (the machine is shared)."""
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def bench_redis_url() -> str:
    """The Redis database the benchmarks queue into: ``BENCH_REDIS_URL``, by default database
    14 of the local server (the tests claim 11, 13 and 15, ``make loadtest`` 12)."""
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


@contextmanager
def own_redis_db(url: str | None = None):
    """Claim the benchmarks' Redis database for this run and yield its URL.

    A database that holds anything is not this run's to use or to empty: the run stops and
    says so. The claim is a marker key set with ``NX``; at the end the database is flushed —
    it held nothing before the claim — only while the claim is still this run's."""
    import uuid

    import redis

    url = url or bench_redis_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    token = uuid.uuid4().hex
    if client.dbsize() or not client.set("satupintu:bench:claim", token, nx=True):
        sys.exit(
            f"Redis database {url} is not empty: another run or program uses it. Name an "
            "empty one with BENCH_REDIS_URL."
        )
    try:
        yield url
    finally:
        if client.get("satupintu:bench:claim") == token.encode():
            client.flushdb()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    port: int, workers: int, *, app: str = "registration_portal.wsgi", **extra_env
) -> subprocess.Popen:
    """gunicorn serving ``app`` on ``port`` over the bench database (local settings, DEBUG
    off, throttles raised: the benchmarks measure the request path, not the rate limits);
    returns once ``/healthz`` answers."""
    import requests

    env = bench_env()
    env.update(
        DJANGO_SETTINGS_MODULE="registration_portal.settings.local",
        API_THROTTLE_USER="1000000/minute",
        API_THROTTLE_ANON="1000000/minute",
        API_THROTTLE_TOKEN="1000000/minute",  # noqa: S106 - a rate, not a secret
        CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",  # not a line per login (django-axes) in the figures
        PYTHONWARNINGS="ignore::UserWarning",  # whitenoise: no collected static files here
    )
    env.update({key: str(value) for key, value in extra_env.items()})
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", app,
            "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--timeout", "120", "--log-level", "warning", "--access-logfile", "/dev/null",
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
