"""Fault test: the server's database connection dies in the middle of a registration (its
backend is terminated after the pack was claimed, before the commit). The client gets a clean
503 — JSON with ``detail`` and ``Retry-After`` from the API, a friendly page in the browser —
nothing is half-written (no registration, the pack still in stock, no audit row, no photo in
the private storage), and the very next request succeeds on a fresh connection."""

from pathlib import Path

import pytest
import requests
from django.db import connection

from accounts.models import ApiToken
from core.models import AuditEvent
from outlets.models import StarterPack
from subscribers import services
from subscribers.models import Registration
from tests.factories import StarterPackFactory

from .helpers import REGISTRATIONS, browser_session, multipart, post_form


@pytest.fixture
def connection_dies_once(monkeypatch):
    """Our own boundary inside the registration's transaction (the audit writer) first kills
    the database session serving the request — as a fail-over or a restart would."""
    real = services.audit_record
    fired = []

    def audit_record(**kwargs):
        if kwargs.get("action") == "registration.create" and not fired:
            fired.append(kwargs["target"].msisdn)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real(**kwargs)

    monkeypatch.setattr(services, "audit_record", audit_record)
    return fired


def _photos_on_disk(settings) -> list[Path]:
    root = Path(settings.STORAGES["private"]["OPTIONS"]["location"])
    return [p for p in root.rglob("*") if p.is_file()]


def _nothing_written(pack, settings) -> None:
    assert not Registration.objects.exists()
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.IN_STOCK
    assert not AuditEvent.objects.filter(action="registration.create").exists()
    assert _photos_on_disk(settings) == []  # not even the raw uploads


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("idempotency_key", [None, "retry-after-db-drop-1"])
def test_the_api_answers_503_writes_nothing_and_the_next_request_succeeds(
    require_postgres, clerk, outlet, live_server, settings, connection_dies_once, idempotency_key
):
    pack = StarterPackFactory(outlet=outlet)
    token = ApiToken.objects.issue(user=clerk)[1]
    headers = {"Authorization": f"Token {token}", "Accept-Language": "en"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    fields, files = multipart(pack)

    response = requests.post(
        f"{live_server.url}{REGISTRATIONS}", data=fields, files=files, headers=headers, timeout=15
    )
    assert connection_dies_once == [pack.msisdn]  # the fault really happened mid-request
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("application/json")
    assert int(response.headers["Retry-After"]) > 0
    assert "nothing was saved" in response.json()["detail"]
    assert "Traceback" not in response.text
    _nothing_written(pack, settings)

    # The very next request (the same one retried, with its key if it had one) goes through.
    retry = requests.post(
        f"{live_server.url}{REGISTRATIONS}", data=fields, files=files, headers=headers, timeout=15
    )
    assert retry.status_code == 201, retry.text
    assert "Idempotent-Replayed" not in retry.headers  # the 503 was not remembered
    registration = Registration.objects.get()
    assert retry.json()["id"] == registration.pk and registration.starter_pack_id == pack.pk
    # Only the registration's own files (eager Celery here: photos and thumbnails made).
    root = Path(settings.STORAGES["private"]["OPTIONS"]["location"])
    own = {registration.id_photo.name, registration.face_photo.name}
    own |= {registration.id_photo_thumb.name, registration.face_photo_thumb.name}
    assert {str(p.relative_to(root)) for p in _photos_on_disk(settings)} == own


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_form_shows_a_friendly_page_writes_nothing_and_the_next_submit_succeeds(
    require_postgres, clerk, outlet, live_server, settings, connection_dies_once
):
    pack = StarterPackFactory(outlet=outlet)
    browser = browser_session(live_server.url, "clerk")

    response = post_form(browser, live_server.url, pack)
    assert connection_dies_once == [pack.msisdn]
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    assert int(response.headers["Retry-After"]) > 0
    assert "Nothing was saved" in response.text and "Traceback" not in response.text
    _nothing_written(pack, settings)

    again = post_form(browser, live_server.url, pack)
    assert again.status_code == 302, again.text[:500]
    registration = Registration.objects.get()
    assert again.headers["Location"] == f"/registrations/{registration.pk}/receipt/"
    receipt = browser.get(f"{live_server.url}{again.headers['Location']}", timeout=10)
    assert registration.registration_number in receipt.text
