"""The digest key is a managed secret: its fingerprint is stored with the data, and a process
with another key refuses to run instead of silently matching nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import pii
from core.models import DigestKeyState
from privacy import services
from subscribers.models import Registration

from .conftest import nik

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_the_configured_key_matches_the_stored_fingerprint(settings):
    assert pii.digest_key_check() == "ok"
    assert DigestKeyState.objects.get().fingerprint == pii.key_fingerprint(settings.ID_DIGEST_KEY)


def test_a_changed_key_is_refused_with_what_to_do(settings):
    settings.ID_DIGEST_KEY = "another-digest-key-0123456789abcdefXYZ"
    with pytest.raises(pii.DigestKeyMismatch, match="rotate_digest_key"):
        pii.digest_key_check()


def test_with_the_old_key_as_previous_look_ups_read_both(settings, register, operator):
    """Dual reading: the new key configured, the old one as ID_DIGEST_KEY_PREVIOUS — a
    registration digested under the old key is still found by its person."""
    registration = register(42)
    old = settings.ID_DIGEST_KEY
    settings.ID_DIGEST_KEY, settings.ID_DIGEST_KEY_PREVIOUS = (
        "new-digest-key-0123456789abcdefXYZ",
        old,
    )
    assert pii.digest_key_check() == "rotating"
    assert (
        Registration.objects.filter(id_number_digest__in=pii.digests(nik(42))).get() == registration
    )
    request = services.data_subject_request_open(
        actor=operator, id_number=nik(42), channel="grapari"
    )
    assert request.found["registrations"] == 1


def test_manage_py_refuses_a_wrong_key_and_keyless_commands_run(require_postgres, settings):
    """The real command line: a data command stops with the message; building catalogues or
    static files needs no key at all."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "registration_portal.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "ID_DIGEST_KEY": "another-digest-key-0123456789abcdefXYZ",
    }
    # The fingerprint row the migrations recorded is committed: the subprocess reads it.
    refused = subprocess.run(
        [sys.executable, "manage.py", "showmigrations", "core"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "ID_DIGEST_KEY is not the key" in refused.stderr
    assert "rotate_digest_key" in refused.stderr
    keyless = subprocess.run(
        [sys.executable, "manage.py", "compilemessages", "--help"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert keyless.returncode == 0, keyless.stderr
