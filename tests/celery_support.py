"""A real Celery worker for the tests that are about tasks: a subprocess on Redis, sharing the
test database (PostgreSQL: the worker connects to pytest-django's test_<name> database)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from registration_portal.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]


# The Redis databases a worker test may take for itself (REDIS_URL's server; the apps use the
# low numbers). Each test claims one that is empty, so tests running at once (``-n``, two
# checkouts) never share one, and flushes only the one it claimed.
TEST_REDIS_DATABASES = (11, 13, 15)  # 12: make loadtest; 14: the registration benchmark
_CLAIM_KEY = "satu-pintu:test-claim"


def _redis_server() -> str:
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return base.rsplit("/", 1)[0]


@contextlib.contextmanager
def own_redis_db():
    """The URL of a Redis database of this test's own, or None when Redis cannot be reached or
    every test database is taken.

    The first empty one of ``TEST_REDIS_DATABASES`` is claimed with a marker key (``SET NX``:
    of two tests racing for it, one wins); at the end it is flushed — it held nothing before
    the claim — unless the claim is no longer this test's. A database holding anything else
    is never touched.
    """
    import uuid

    import redis

    token = uuid.uuid4().hex
    for number in TEST_REDIS_DATABASES:
        url = f"{_redis_server()}/{number}"
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=1)
            if client.dbsize() or not client.set(_CLAIM_KEY, token, nx=True):
                continue
        except redis.RedisError:
            break
        if client.dbsize() != 1:  # someone wrote in between: leave it to them
            client.delete(_CLAIM_KEY)
            continue
        try:
            yield url
        finally:
            if client.get(_CLAIM_KEY) == token.encode():
                client.flushdb()
        return
    yield None


def redis_available(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def worker_env(broker: str, **extra: str) -> dict:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="registration_portal.settings.test",
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        CELERY_BROKER_URL=broker,
        CELERY_RESULT_BACKEND=broker,
        CELERY_TASK_ALWAYS_EAGER="0",
    )
    env.update(extra)
    return env


def _reset_connections() -> None:
    """Drop pooled broker connections so the next publish uses the current broker_url."""
    # Not force_close_all(): kombu keeps pools in global registries that would hand the closed
    # pool back ("Acquire on closed pool"). Dropping our references is enough for tests.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    # The result backend is cached per thread on first use: drop it too, or a later test
    # would still talk to the previous test's (perhaps stopped) Redis.
    celery_app._local.__dict__.pop("backend", None)


@contextlib.contextmanager
def use_broker(broker: str):
    """Point this process's Celery app at ``broker`` and make tasks really go through it."""
    keys = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    saved_env = {k: os.environ.get(k) for k in keys}
    saved = {k: celery_app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    os.environ.update(dict.fromkeys(keys, broker))
    celery_app.conf.update(broker_url=broker, result_backend=broker, task_always_eager=False)
    _reset_connections()
    try:
        yield
    finally:
        celery_app.conf.update(saved)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset_connections()


class WorkerProcess:
    """``celery worker`` in a subprocess; ``kill()`` sends SIGKILL like an OOM killer would."""

    def __init__(self, env: dict, *, concurrency: int = 1, name: str = "test"):
        self.env = env
        self.concurrency = concurrency
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.hostname = f"{name}-{os.getpid()}@localhost"

    def start(self, timeout: float = 30) -> "WorkerProcess":
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "registration_portal",
                "worker",
                "--pool=solo" if self.concurrency == 1 else "--pool=prefork",
                f"--concurrency={self.concurrency}",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "-n",
                self.hostname,
                "-l",
                os.environ.get("WORKER_LOG_LEVEL", "warning"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(os.environ.get("WORKER_LOG", os.devnull), "ab"),  # noqa: SIM115
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("worker exited early (set WORKER_LOG=path to see why)")
                if celery_app.control.ping(destination=[self.hostname], timeout=0.5):
                    return self
            raise RuntimeError("worker did not answer ping")
        except BaseException:
            self.stop()  # never leak a worker that would eat the next test's tasks
            raise

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
