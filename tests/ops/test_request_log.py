"""No log line carries a secret path segment: Django's request log writes the path of every
4xx at WARNING (``Not Found: /registrations/receipt/<token>/``), and the invitation and receipt
links are credentials. The configured console handler is read, as the operator reads it."""

import io
import logging

import pytest

from core.logredact import redact_text
from tests.ops.test_access_log import INVITATION, RECEIPT


@pytest.fixture
def console():
    """What the project's console handler (settings.LOGGING) writes during the test."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "name", None) == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.django_db
@pytest.mark.parametrize("path", [RECEIPT, RECEIPT.rstrip("/") + ".pdf", INVITATION])
def test_a_refused_link_is_logged_without_its_token(client, console, path):
    response = client.get(path)
    assert response.status_code in (404, 410)
    log = console.getvalue()
    assert "WARNING django.request" in log  # the line is there...
    assert "[redacted]" in log  # ...with the secret replaced
    secret = path.strip("/").split("/")[-1].removesuffix(".pdf")
    assert secret not in log
    assert "1v9XyZ" not in log and "cz1b2c" not in log


@pytest.mark.django_db
def test_a_search_is_logged_without_what_was_searched(client, console):
    logging.getLogger("django.server").info('"GET /registrations/?q=3171234567890001 HTTP/1.1"')
    log = console.getvalue()
    assert "/registrations/?q=[redacted]" in log
    assert "3171234567890001" not in log


def test_redact_text_leaves_plain_words_and_file_paths():
    assert redact_text("Not Found: /registrations/12/") == "Not Found: /registrations/12/"
    assert redact_text(f"Forbidden (CSRF): {INVITATION}") == (
        "Forbidden (CSRF): /outlets/invitation/[redacted]/[redacted]/"
    )
    assert redact_text("see https://x.example/a?token=abc") == (
        "see https://x.example/a?token=[redacted]"
    )
