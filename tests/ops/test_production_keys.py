"""Production refuses weak keys: short or non-random ones, any value committed in the
repository (the demo keys of local.py and test.py, the Dockerfile's build values), and a
digest key equal to an encryption key. `make check-deploy` generates real ones."""

import base64
import secrets
import subprocess

import pytest
from cryptography.fernet import Fernet

from tests.ops.test_operations import ROOT, _manage, _production_env

LOCAL_FERNET = "bG9jYWwtZGV2LW9ubHktZmVybmV0LWtleS0wMDAwMDA="  # settings/local.py
TEST_FERNET = "dGVzdC1vbmx5LWZlcm5ldC1rZXktMDAwMDAwMDAwMDA="  # settings/test.py
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
        ({"ID_DIGEST_KEY": "local-dev-only-digest-key"}, "ID_DIGEST_KEY"),
        ({"ID_DIGEST_KEY": "test-only-digest-key"}, "ID_DIGEST_KEY"),
        ({"ID_DIGEST_KEY": "a" * 64}, "random"),
        ({"ID_DIGEST_KEY": "0123456789" * 5}, "random"),
        ({"SECRET_KEY": "local-dev-only-not-secret-3c9f1b7e" * 2}, "SECRET_KEY"),
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


def test_a_key_in_any_committed_file_is_refused(tmp_path, monkeypatch):
    """Not only the keys of the settings: any value found in the repository's files."""
    docs_key = _fernet()
    note = ROOT / "docs" / "_keycheck_probe.md"
    note.write_text(f"Example: FIELD_ENCRYPTION_KEYS={docs_key}\n")
    try:
        result = _manage(
            "check",
            env=_production_env(FIELD_ENCRYPTION_KEYS=docs_key, ID_DIGEST_KEY=STRONG_DIGEST),
        )
    finally:
        note.unlink()
    assert result.returncode != 0
    assert "docs/_keycheck_probe.md" in result.stderr


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
