"""Operations: health probes, strict settings, production hardening, security headers."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_readyz_reports_database_and_broker(client, settings):
    # The test settings point the broker at REDIS_URL when set, else the filesystem broker.
    response = client.get("/readyz")
    body = response.json()
    assert body["database"] == "ok"
    assert response.status_code == (200 if body["broker"] == "ok" else 503)


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_down(client, settings):
    from registration_portal.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"


def _postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/test"


def _production_env(**overrides) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "FIELD_ENCRYPTION_KEYS",
            "ID_DIGEST_KEY",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update(
        DJANGO_SETTINGS_MODULE="registration_portal.settings.production",
        SECRET_KEY="p" * 20 + "-Xq9!rT2#vL7@kM4$wN8%zB3^cF6&hJ1*",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        # Generated, as production requires (registration_portal/settings/keys.py).
        ID_DIGEST_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="satupintu.example.id",
        PUBLIC_BASE_URL="https://satupintu.example.id",
        # Production runs on PostgreSQL only (a suite run on SQLite still checks it).
        DATABASE_URL=_postgres_url(),
        REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    )
    env.update(overrides)
    return env


def _manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_without_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DEBUG": "1"}, "DEBUG"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_URL": "sqlite:///x.sqlite3"}, "PostgreSQL"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
        ({"PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "http://satupintu.example.id"}, "https"),
        ({"PUBLIC_BASE_URL": "satupintu.example.id"}, "PUBLIC_BASE_URL"),
    ],
)
def test_production_refuses_to_start_with_bad_settings(override, message):
    env = _production_env(**override)
    if override.get("SECRET_KEY") == "":
        env.pop("SECRET_KEY")
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert message in result.stderr


def test_security_headers_on_pages(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=(self)" in response["Permissions-Policy"]
    assert response["X-Request-ID"]


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Data tidak ditemukan."}  # Bahasa Indonesia first
