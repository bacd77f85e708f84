"""What a client retrying with an ``Idempotency-Key`` relies on beyond the happy path: a retry
while the first request still runs, a retry across a deploy, a retry that only reads."""

import threading
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from subscribers import idempotency
from subscribers.models import IdempotencyRecord, Registration
from tests.conftest import buyer_data

from .conftest import post_registration

pytestmark = pytest.mark.django_db

KEY = "3f0c8d5e-8a51-4b8e-9d1f-6d1c2f7b9a10"


def _json_body() -> dict:
    # Keys out of order, a nested object, a list, a value JSON cannot hold (read by its str).
    return {
        "zeta": 1,
        "full_name": "Siti Aminah",
        "address": {"rt": "003", "rw": "007"},
        "checks": ["nik", ("kk", 2)],
        "birth_date": date(1990, 5, 17),
    }


def _multipart_body() -> QueryDict:
    data = QueryDict(mutable=True)
    data.setlist("tags", ["b", "a"])
    data["full_name"] = "Siti Aminah"
    data["id_photo"] = SimpleUploadedFile("ktp.jpg", b"\xff\xd8photo\xff\xd9", "image/jpeg")
    return data


def test_a_key_stored_before_a_deploy_still_matches_after_it(settings):
    """The stored fingerprint is compared with one computed by whatever release answers the
    retry: its encoding (field order, separators, the HMAC's salt and hash, method case, the
    multipart lists, a file by its hash) must not change, or every key stored before a deploy
    is answered 422 "used with a different body". These are the values of the current encoding
    under a known secret; changing them means keys in flight are lost."""
    settings.SECRET_KEY = "pinned-secret-for-the-fingerprint-test"

    as_json = idempotency.request_fingerprint(method="post", path="/api/v1/x/", data=_json_body())
    as_multipart = idempotency.request_fingerprint(
        method="post", path="/api/v1/x/", data=_multipart_body()
    )

    assert as_json == "ac2022503306731f7c89b17dd79703b8b51a93b7e5e6231c0dc25acadff4baa4"
    assert as_multipart == "3a4f14e3ec534fbca8903ff9be610194b7b399b7f840397d9c453d451304a146"


def test_the_uploaded_photo_is_still_readable_after_being_fingerprinted():
    body = _multipart_body()
    first = idempotency.request_fingerprint(method="POST", path="/p/", data=body)

    assert body["id_photo"].read() == b"\xff\xd8photo\xff\xd9"
    assert idempotency.request_fingerprint(method="POST", path="/p/", data=body) == first


def test_a_retry_is_answered_by_reading_the_first_answer_only(client_for, clerk, pack):
    """A retry (a kiosk on a flaky link re-sends) reads the stored answer: it does not try to
    claim the key again, so it neither waits on nor contends for the first request's lock."""
    client = client_for(clerk)
    assert post_registration(client, pack, headers={"Idempotency-Key": KEY}).status_code == 201

    with CaptureQueriesContext(connection) as queries:
        retry = post_registration(client, pack, headers={"Idempotency-Key": KEY})

    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    writes = [q["sql"] for q in queries if "subscribers_idempotencyrecord" in q["sql"]]
    assert writes and all(sql.lstrip().upper().startswith("SELECT") for sql in writes), writes


def test_the_errors_name_the_key(clerk):
    with pytest.raises(idempotency.IdempotencyKeyInvalid) as invalid:
        idempotency.clean_key("  kunci rahasia ")
    assert invalid.value.args == ("kunci rahasia",)
    assert idempotency.clean_key(f"  {KEY}\t") == KEY

    idempotency.run_idempotent(user=clerk, key=KEY, fingerprint="a", produce=lambda: (201, {}))
    with pytest.raises(idempotency.IdempotencyKeyReused) as reused:
        idempotency.run_idempotent(user=clerk, key=KEY, fingerprint="b", produce=lambda: (201, {}))
    assert reused.value.args == (KEY,)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_request_still_runs_is_told_to_retry_later(
    require_postgres, client_for, clerk, pack, monkeypatch
):
    """The first request holds its claim (its transaction is still open); a retry waits at
    most IN_FLIGHT_WAIT_SECONDS, then gets a 409 with Retry-After, creates nothing, and the
    same key works once the first request has ended."""
    monkeypatch.setattr(idempotency, "IN_FLIGHT_WAIT_SECONDS", 0.3)
    buyer_data(pack)  # the buyer is put in the mock population registry before the race
    held, release = threading.Event(), threading.Event()

    def first_request_still_running():
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    user=clerk,
                    key=KEY,
                    request_fingerprint="in flight",
                    response_status=0,
                    response_body={},
                )
                held.set()
                release.wait(timeout=20)
                transaction.set_rollback(True)  # the first request crashes: no answer kept
        finally:
            connection.close()

    holder = threading.Thread(target=first_request_still_running)
    holder.start()
    try:
        assert held.wait(timeout=10)
        client = client_for(clerk)

        retry = post_registration(client, pack, headers={"Idempotency-Key": KEY})
        with pytest.raises(idempotency.IdempotencyKeyInProgress) as in_progress:
            idempotency.run_idempotent(
                user=clerk, key=KEY, fingerprint="x", produce=lambda: (201, {})
            )
    finally:
        release.set()
        holder.join(timeout=30)

    assert retry.status_code == 409, retry.content
    assert retry.headers["Retry-After"].isdigit()
    assert "still being processed" in retry.json()["detail"]
    assert in_progress.value.args == (KEY,)
    assert Registration.objects.count() == 0
    assert not IdempotencyRecord.objects.exists()
    again = post_registration(client, pack, headers={"Idempotency-Key": KEY})
    assert again.status_code == 201, again.content
