"""Fault test: a client (a real HTTP client against the live server) gives up on a slow
registration and sends it again. With the same ``Idempotency-Key`` there is one registration
and the retry gets the first answer — also when it arrives while the first is still running;
without the key, the pack is already taken and the retry is refused with a clear 400."""

import time

import pytest
import requests

from accounts.models import ApiToken
from subscribers import idempotency, services
from subscribers.models import Registration
from tests.celery_support import wait_for
from tests.factories import StarterPackFactory

from .helpers import REGISTRATIONS, multipart

SLOW_SECONDS = 3.0


@pytest.fixture
def first_registration_is_slow(monkeypatch):
    """The first registration stalls inside its transaction (after the Idempotency-Key claim
    and the pack claim, before the commit): a slow disk, a lock, a busy database."""
    real = services.audit_record
    stalled = []

    def audit_record(**kwargs):
        if kwargs.get("action") == "registration.create" and not stalled:
            stalled.append(time.monotonic())
            time.sleep(SLOW_SECONDS)
        return real(**kwargs)

    monkeypatch.setattr(services, "audit_record", audit_record)
    return stalled


@pytest.fixture
def api(clerk, live_server):
    token = ApiToken.objects.issue(user=clerk)[1]
    headers = {"Authorization": f"Token {token}", "Accept-Language": "en"}

    def post(pack, *, key=None, timeout):
        fields, files = multipart(pack)
        extra = {"Idempotency-Key": key} if key else {}
        return requests.post(
            f"{live_server.url}{REGISTRATIONS}",
            data=fields,
            files=files,
            headers={**headers, **extra},
            timeout=timeout,
        )

    return post


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_after_a_timeout_gets_the_first_answer_and_creates_nothing(
    require_postgres, outlet, api, first_registration_is_slow
):
    pack = StarterPackFactory(outlet=outlet)
    key = "5f0c2a34-timeout-retry"

    with pytest.raises(requests.Timeout):
        api(pack, key=key, timeout=1.0)
    wait_for(lambda: first_registration_is_slow, timeout=10, interval=0.02)
    assert time.monotonic() - first_registration_is_slow[0] < SLOW_SECONDS  # still in flight
    # The retry arrives while the first is still running: it waits for it, and answers with it.
    retry = api(pack, key=key, timeout=15)
    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    registration = Registration.objects.get()
    assert retry.json()["id"] == registration.pk
    assert retry.json()["registration_number"] == registration.registration_number

    # Later retries: the same answer, still one registration.
    again = api(pack, key=key, timeout=15)
    assert (again.status_code, again.json()) == (201, retry.json())
    # A retry without the key: the pack is taken, a clear refusal at the field.
    keyless = api(pack, timeout=15)
    assert keyless.status_code == 400
    assert keyless.json()["msisdn"] == ["This starter pack is already registered."]
    assert Registration.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_that_would_wait_too_long_is_told_to_come_back(
    require_postgres, outlet, api, first_registration_is_slow, monkeypatch
):
    monkeypatch.setattr(idempotency, "IN_FLIGHT_WAIT_SECONDS", 0.5)
    pack = StarterPackFactory(outlet=outlet)
    key = "5f0c2a34-in-progress"

    with pytest.raises(requests.Timeout):
        api(pack, key=key, timeout=0.5)
    wait_for(lambda: first_registration_is_slow, timeout=10, interval=0.02)
    busy = api(pack, key=key, timeout=15)
    assert busy.status_code == 409
    assert "still being processed" in busy.json()["detail"]
    retry_after = int(busy.headers["Retry-After"])
    assert not Registration.objects.exists()  # the first has not committed; this one did nothing

    deadline = time.monotonic() + SLOW_SECONDS + 10
    while (answer := api(pack, key=key, timeout=15)).status_code == 409:
        assert time.monotonic() < deadline
        time.sleep(retry_after / 4)
    assert answer.status_code == 201 and answer.headers["Idempotent-Replayed"] == "true"
    assert answer.json()["id"] == Registration.objects.get().pk
