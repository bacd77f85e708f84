"""`make run` as a newcomer runs it: no PostgreSQL, no Redis — an SQLite file and the
filesystem broker (scripts/dev.sh). Every migration must apply there, the demo must load, and
the portal must answer and let a demo user in. The rest of the suite runs on PostgreSQL, so
only this test notices a migration written in PostgreSQL's dialect alone."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from accounts.management.commands.seed_demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_line(process: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line)
        if needle in line:
            return lines
    pytest.fail(f"make run never said {needle!r}; its output:\n{''.join(lines[-40:])}")


def test_make_run_on_sqlite_migrates_seeds_and_lets_the_clerk_in(tmp_path):
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL="",
        CELERY_DIR=str(tmp_path / "celery"),
        PRIVATE_MEDIA_ROOT=str(tmp_path / "private_media"),
        PORT=str(port),
        PY=str(ROOT / ".venv" / "bin" / "python"),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "dev.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for_line(process, "Satu Pintu: http", timeout=240)
        base = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        deadline = time.monotonic() + 60
        while True:
            try:
                with opener.open(f"{base}/accounts/login/", timeout=10) as response:
                    login_page = response.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": "clerk", "password": DEMO_PASSWORD}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
            f"{base}/accounts/login/", data=body, headers={"Referer": f"{base}/accounts/login/"}
        )
        with opener.open(request, timeout=30) as response:
            home = response.read().decode()
            landed = response.geturl()
        assert "/accounts/login/" not in landed, home[:2000]
        with opener.open(f"{base}/registrations/new/", timeout=30) as response:
            assert response.status == 200
            assert 'name="msisdn"' in response.read().decode()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
