"""gunicorn's access log names paths without their secrets: invitation and receipt tokens,
query values (a NIK typed in a search) and the same in the Referer."""

import datetime
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from core.logredact import redact_path, redact_query, redact_url

ROOT = Path(__file__).resolve().parents[2]
INVITATION = "/outlets/invitation/MTI/cz1b2c-0f9e8d7c6b5a4e3d2c1b0a9f8e7d6c5b/"
RECEIPT = "/registrations/receipt/REG-2026-000001:1v9XyZ:AbCdEfGhIjKlMnOpQrStUvWxYz0/"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (INVITATION, "/outlets/invitation/[redacted]/[redacted]/"),
        (RECEIPT, "/registrations/receipt/[redacted]/"),
        (RECEIPT.rstrip("/") + ".pdf", "/registrations/receipt/[redacted].pdf"),
        ("/registrations/12/", "/registrations/12/"),
        ("/api/v1/registrations/", "/api/v1/registrations/"),
        # Something shaped like a key anywhere in a path.
        ("/x/sp_3q2v9XyZAbCdEfGhIjKlMnOpQrStUvWxYz01234/", "/x/[redacted]/"),
    ],
)
def test_redact_path(path, expected):
    assert redact_path(path) == expected


def test_redact_query_keeps_names_only():
    assert redact_query("q=3171234567890001&page=2") == "q=[redacted]&page=[redacted]"
    assert redact_query("") == ""


def test_redact_url():
    assert redact_url(f"https://satupintu.example.id{INVITATION}?next=/x") == (
        "https://satupintu.example.id/outlets/invitation/[redacted]/[redacted]/?next=[redacted]"
    )
    assert redact_url("-") == "-"


def _access_line(uri: str, referer: str = "-") -> str:
    """One access-log line as gunicorn writes it with the project's configuration."""
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    for name in ("logger_class", "access_log_format"):
        if name in settings:
            config.set(name, settings[name])
    config.set("accesslog", "-")
    logger = config.logger_class(config)
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    logger.access_log.handlers = [Collect()]
    path, _, query = uri.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_REFERER": referer,
        "HTTP_USER_AGENT": "test",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[("REFERER", referer)])
    logger.access(response, request, environ, datetime.timedelta(seconds=0.01))
    return records[0]


def test_the_access_log_has_no_tokens():
    line = _access_line(INVITATION + "?next=/home", referer=f"https://h{RECEIPT}")

    assert "cz1b2c" not in line and "MTI" not in line
    assert "AbCdEfGh" not in line
    assert "/outlets/invitation/[redacted]/[redacted]/" in line
    assert " 200 " in line


def test_the_access_log_has_no_searched_id_numbers():
    line = _access_line("/registrations/?q=3171234567890001")

    assert "3171234567890001" not in line
    assert "/registrations/?q=[redacted]" in line


def test_gunicorn_limits_request_lines_and_headers():
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert settings["limit_request_line"] <= 8190
    assert settings["limit_request_fields"] <= 100
    assert settings["limit_request_field_size"] <= 8190


def test_the_image_runs_gunicorn_with_the_configuration():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "gunicorn.conf.py" in cmd
