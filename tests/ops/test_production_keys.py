"""Production refuses weak keys: short or non-random ones, the demo values committed in the
repository (declared once in settings/keys.py, which local.py and test.py read), and a digest
key equal to an encryption key. `make check-deploy` generates real ones."""

import base64
import builtins
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from registration_portal.settings import keys
from tests.ops.test_operations import ROOT, _manage, _production_env

LOCAL_FERNET = keys.LOCAL_DEMO_KEYS["FIELD_ENCRYPTION_KEYS"]
TEST_FERNET = keys.TEST_DEMO_KEYS["FIELD_ENCRYPTION_KEYS"]
TEXT_FERNET = base64.urlsafe_b64encode(b"correct horse battery staple 123").decode()
STRONG_DIGEST = secrets.token_urlsafe(32)


def _fernet() -> str:
    return Fernet.generate_key().decode()


def test_generated_keys_pass():
    env = _production_env(FIELD_ENCRYPTION_KEYS=_fernet(), ID_DIGEST_KEY=STRONG_DIGEST)
    result = _manage("check", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"FIELD_ENCRYPTION_KEYS": LOCAL_FERNET}, "committed in the repository"),
        ({"FIELD_ENCRYPTION_KEYS": TEST_FERNET}, "committed in the repository"),
        ({"FIELD_ENCRYPTION_KEYS": f"{_fernet()},{LOCAL_FERNET}"}, "committed in the repository"),
        ({"FIELD_ENCRYPTION_KEYS": "c2hvcnQ="}, "32"),
        ({"FIELD_ENCRYPTION_KEYS": TEXT_FERNET}, "random"),
        ({"ID_DIGEST_KEY": "x"}, "ID_DIGEST_KEY"),
        ({"ID_DIGEST_KEY": keys.LOCAL_DEMO_KEYS["ID_DIGEST_KEY"]}, "ID_DIGEST_KEY"),
        ({"ID_DIGEST_KEY": keys.TEST_DEMO_KEYS["ID_DIGEST_KEY"]}, "ID_DIGEST_KEY"),
        ({"ID_DIGEST_KEY": "a" * 64}, "random"),
        ({"ID_DIGEST_KEY": "0123456789" * 5}, "random"),
        ({"SECRET_KEY": keys.LOCAL_DEMO_KEYS["SECRET_KEY"] * 2}, "SECRET_KEY"),
    ],
)
def test_production_refuses_weak_keys(override, message):
    env = _production_env(**{"ID_DIGEST_KEY": STRONG_DIGEST, **override})
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-2000:]


def test_the_digest_key_must_differ_from_every_encryption_key():
    first, second = _fernet(), _fernet()
    env = _production_env(FIELD_ENCRYPTION_KEYS=f"{first},{second}", ID_DIGEST_KEY=second)
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "ID_DIGEST_KEY must not be one of the FIELD_ENCRYPTION_KEYS" in result.stderr


# A key assigned in a committed file: `("NAME", "value")` or `"NAME": "value"` in code, and
# `NAME=value` / `NAME: value` at a line's start (env files, compose files, docs). A shell
# expansion (`$(...)`, `${...}`) is generated, not committed. The tests' own deliberately weak
# values (each refused above) are left out.
KEY_NAMES = "SECRET_KEY|FIELD_ENCRYPTION_KEYS|ID_DIGEST_KEY"
ASSIGNED_KEY = re.compile(
    rf"""["']({KEY_NAMES})["']\s*[:,]\s*["']([^"'\s]+)["']"""
    rf"""|^[ \t]*(?:export[ \t]+|-[ \t]+)?({KEY_NAMES})[ \t]*[=:][ \t]*["']?([^"'\s$()]+)$""",
    re.MULTILINE,
)


def _committed_files():
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if name.startswith("tests/"):
            continue
        if path.is_file() and path.suffix not in {".mo", ".png", ".ttf", ".jpg", ".pdf"}:
            yield path


def test_every_key_committed_in_the_repository_is_refused():
    """Production refuses the committed demo keys from a list, reading no file at start-up; this
    search over the repository keeps that list complete: a key written into a settings file, a
    doc or a compose file must be added to ``settings/keys.py`` (and is then refused)."""
    found = {}
    for path in _committed_files():
        text = path.read_text(errors="replace")
        for match in ASSIGNED_KEY.finditer(text):
            for value in (match.group(2) or match.group(4)).split(","):
                found[value] = path.relative_to(ROOT)
    assert set(found) >= keys.COMMITTED_KEYS, "the search no longer sees the demo keys"
    unlisted = {v: str(p) for v, p in found.items() if v not in keys.COMMITTED_KEYS}
    assert not unlisted, f"committed keys production would accept: {unlisted}"
    # The demo keys themselves now live in keys.py only.
    assert set(found.values()) <= {Path("registration_portal/settings/keys.py")}, found


def test_a_value_containing_a_committed_key_is_refused():
    env = _production_env(
        FIELD_ENCRYPTION_KEYS=_fernet(),
        ID_DIGEST_KEY=STRONG_DIGEST + keys.TEST_DEMO_KEYS["ID_DIGEST_KEY"],
    )
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "ID_DIGEST_KEY is a demo value committed" in result.stderr


def test_start_up_reads_no_file_of_the_repository(monkeypatch):
    """The key check is a comparison with a list: no walk over the source tree."""
    opened = []

    def refuse(*args, **kwargs):
        opened.append(args)
        raise AssertionError("the key check read the file system")

    monkeypatch.setattr(os, "walk", refuse)
    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    keys.check_production_keys(
        secret_key=secrets.token_urlsafe(50),
        encryption_keys=[_fernet()],
        digest_key=STRONG_DIGEST,
    )
    with pytest.raises(ImproperlyConfigured, match="committed"):
        keys.check_production_keys(
            secret_key=secrets.token_urlsafe(50),
            encryption_keys=[keys.LOCAL_DEMO_KEYS["FIELD_ENCRYPTION_KEYS"]],
            digest_key=STRONG_DIGEST,
        )
    assert opened == []


def _make_check_deploy(**env_overrides):
    env = _production_env(**env_overrides)
    for name in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ID_DIGEST_KEY"):
        if name not in env_overrides:
            env.pop(name, None)
    return subprocess.run(
        ["make", "-s", "check-deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_make_check_deploy_generates_real_keys():
    result = _make_check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "override",
    [
        {"ID_DIGEST_KEY": "x"},
        {"FIELD_ENCRYPTION_KEYS": LOCAL_FERNET},
        {"SECRET_KEY": "short"},
    ],
)
def test_make_check_deploy_fails_on_a_weak_key(override):
    result = _make_check_deploy(**override)
    assert result.returncode != 0
