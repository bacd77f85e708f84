"""scripts/backup.sh and scripts/restore.sh with the real tools (pg_dump, pg_restore, tar) on a
scratch database: a person erased after the backup was taken is erased again in the restored
copy — database rows and photo files — and everyone else comes back whole."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings as django_settings

from core.storage import get_private_storage
from privacy import services
from subscribers.models import Registration

from .conftest import nik, photo_paths

ROOT = Path(__file__).resolve().parents[2]
# The real tools of PostgreSQL (pg_dump, pg_restore) against the test database.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("require_postgres")]


def _env(settings) -> dict:
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "registration_portal.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PRIVATE_MEDIA_ROOT": str(_media_root()),
        "PY": sys.executable,
    }


def _media_root() -> Path:
    """Where this test's photos are (each test has its own private folder)."""
    return Path(get_private_storage().location)


def _run(args, env):
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.fixture
def scratch(settings):
    """A database name for the restore, dropped afterwards."""
    name = f"{settings.DATABASES['default']['NAME']}_restore_{os.getpid()}"
    yield name
    db = django_settings.DATABASES["default"]
    conn = psycopg2.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()


def _restored(settings, name: str, sql: str, params=()):
    db = settings.DATABASES["default"]
    conn = psycopg2.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=name)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        conn.close()


def test_a_restore_erases_again_whoever_was_erased_after_the_backup(
    settings, register, operator, tmp_path, scratch
):
    erased, kept = register(44), register(45)
    Registration.objects.filter(pk=erased.pk).update(status=Registration.Status.BLOCKED)
    erased_files = [p.relative_to(_media_root()) for p in photo_paths(erased)]
    kept_files = [p.relative_to(_media_root()) for p in photo_paths(kept)]
    assert erased_files and kept_files
    env = _env(settings)

    folder = Path(_run(["scripts/backup.sh", str(tmp_path / "backups")], env).strip())
    assert {p.name for p in folder.iterdir()} >= {"database.dump", "private_media.tar.gz"}

    request = services.data_subject_request_open(
        actor=operator, id_number=nik(44), channel="grapari"
    )
    services.data_subject_request_erase(actor=operator, request=request)

    media = tmp_path / "restored_media"
    _run(["scripts/restore.sh", str(folder), scratch, str(media)], env)

    rows = dict(
        (pk, (name, digest))
        for pk, name, digest in _restored(
            settings,
            scratch,
            "SELECT id, full_name, id_number_digest FROM subscribers_registration",
        )
    )
    assert rows[erased.pk] == ("", "")  # the backup held them; the ledger erased them again
    assert rows[kept.pk] == (kept.full_name, kept.id_number_digest)
    assert not [f for f in erased_files if (media / f).exists()]
    assert all((media / f).exists() for f in kept_files)
    ledger = _restored(settings, scratch, "SELECT count(*) FROM privacy_erasureledger")
    assert ledger == [(1,)]  # carried over from the live database


def test_backup_refuses_a_database_it_cannot_dump(settings, tmp_path):
    env = {**_env(settings), "DATABASE_URL": "sqlite:///db.sqlite3"}
    done = subprocess.run(
        ["scripts/backup.sh", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "only PostgreSQL" in done.stderr


def test_restore_refuses_to_overwrite_the_live_database(settings, tmp_path):
    env = _env(settings)
    live = settings.DATABASES["default"]["NAME"]
    done = subprocess.run(
        ["scripts/restore.sh", str(tmp_path), live], cwd=ROOT, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 2 and "new database" in done.stderr


def test_backups_older_than_the_ledger_are_deleted(settings, tmp_path):
    """A backup kept longer than the erasure ledger could bring back people no one remembers
    erasing: backup.sh deletes folders older than BACKUP_RETENTION_DAYS."""
    dest = tmp_path / "backups"
    old, recent = dest / "20260101T010000Z", dest / "20261201T010000Z"
    for folder in (old, recent):
        folder.mkdir(parents=True)
    subprocess.run(["touch", "-d", "40 days ago", str(old)], check=True)
    subprocess.run(["touch", "-d", "2 days ago", str(recent)], check=True)
    env = {**_env(settings), "BACKUP_RETENTION_DAYS": "35"}
    made = Path(_run(["scripts/backup.sh", str(dest)], env).strip())
    assert not old.exists() and recent.exists() and made.exists()
    checked = subprocess.run(["sha256sum", "--check", "SHA256SUMS"], cwd=made, capture_output=True)
    assert checked.returncode == 0
