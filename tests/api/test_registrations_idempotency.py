"""Idempotency-Key on POST /api/v1/registrations/: a retry gets the first answer, creates nothing."""

import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from core.models import AuditEvent
from identity.idgen import make_nik
from subscribers import idempotency
from subscribers.models import IdempotencyRecord, Registration
from tests.conftest import BUYER_BIRTH, buyer_data, image_bytes, photo_upload

from .conftest import REGISTRATIONS, assert_nothing_written, post_registration

pytestmark = pytest.mark.django_db

KEY = "3f0c8d5e-8a51-4b8e-9d1f-6d1c2f7b9a10"


def _json_post(client, data, key=KEY):
    return client.post(REGISTRATIONS, data, format="json", headers={"Idempotency-Key": key})


def test_retry_returns_the_first_answer_and_creates_nothing(client_for, clerk, pack):
    client = client_for(clerk)

    first = post_registration(client, pack, headers={"Idempotency-Key": KEY})
    retry = post_registration(client, pack, headers={"Idempotency-Key": KEY})

    assert first.status_code == retry.status_code == 201, first.content
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Registration.objects.count() == 1
    assert AuditEvent.objects.filter(action="registration.create").count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.user == clerk and record.key == KEY and record.response_status == 201
    assert buyer_data(pack)["id_number"] not in str(record.response_body)


def test_without_a_key_a_second_post_is_a_new_attempt(client_for, clerk, pack):
    client = client_for(clerk)
    assert post_registration(client, pack).status_code == 201

    again = post_registration(client, pack)

    assert again.status_code == 400
    assert "already registered" in again.json()["msisdn"][0]
    assert not IdempotencyRecord.objects.exists()


def test_same_key_with_another_body_is_a_422(client_for, clerk, pack):
    client = client_for(clerk)
    assert post_registration(client, pack, headers={"Idempotency-Key": KEY}).status_code == 201

    other = post_registration(
        client,
        pack,
        headers={"Idempotency-Key": KEY},
        id_number=make_nik(birth_date=BUYER_BIRTH, sex="F", serial=43),
    )

    assert other.status_code == 422
    assert "already used with a different request body" in other.json()["detail"]
    assert Registration.objects.count() == 1


def test_a_refusal_is_the_first_answer_too(client_for, clerk, pack):
    client = client_for(clerk)
    refused = buyer_data(pack, consent=False)

    first = _json_post(client, refused)
    retry = _json_post(client, refused)
    corrected = _json_post(client, buyer_data(pack))

    assert first.status_code == retry.status_code == 400
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    # The key has its answer: a corrected body needs a new key.
    assert corrected.status_code == 422
    assert_nothing_written(pack)
    assert IdempotencyRecord.objects.get().response_status == 400


def test_keys_belong_to_their_user(client_for, clerk, clerk2, pack, other_pack):
    first = post_registration(client_for(clerk), pack, headers={"Idempotency-Key": KEY})
    second = post_registration(client_for(clerk2), other_pack, headers={"Idempotency-Key": KEY})

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert Registration.objects.count() == 2


def test_body_order_and_encoding_do_not_matter_for_json(client_for, clerk, pack):
    client = client_for(clerk)
    data = buyer_data(pack, consent=False)
    reordered = dict(reversed(list(data.items())))

    first = _json_post(client, data)
    retry = _json_post(client, reordered)

    assert retry.status_code == first.status_code == 400
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_another_photo_is_another_body(client_for, clerk, pack):
    client = client_for(clerk)
    headers = {"Idempotency-Key": KEY}
    assert post_registration(client, pack, headers=headers).status_code == 201
    data = {
        **buyer_data(pack),
        "id_photo": photo_upload("ktp.jpg", color=(1, 2, 3)),
        "face_photo": photo_upload("face.jpg"),
    }

    response = client.post(REGISTRATIONS, data, format="multipart", headers=headers)

    assert response.status_code == 422


@pytest.mark.parametrize("key", ["", "   ", "k" * 101, "kunci rahasia", "kunci\u00e9"])
def test_malformed_key_is_refused(client_for, clerk, pack, key):
    response = post_registration(client_for(clerk), pack, headers={"Idempotency-Key": key})

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert_nothing_written(pack)
    assert not IdempotencyRecord.objects.exists()


def test_expired_key_is_free_again(client_for, clerk, pack, settings):
    client = client_for(clerk)
    refused = buyer_data(pack, consent=False)
    assert _json_post(client, refused).status_code == 400
    IdempotencyRecord.objects.update(
        created_at=IdempotencyRecord.objects.get().created_at
        - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS + 1)
    )

    response = post_registration(client, pack, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert IdempotencyRecord.objects.get().response_status == 201
    assert idempotency.idempotency_records_purge() == 0


def test_purge_deletes_expired_answers(client_for, clerk, pack, settings):
    assert _json_post(client_for(clerk), buyer_data(pack, consent=False)).status_code == 400
    later = IdempotencyRecord.objects.get().created_at + timedelta(
        hours=settings.IDEMPOTENCY_KEY_TTL_HOURS + 1
    )

    assert idempotency.idempotency_records_purge(now=later) == 1
    assert not IdempotencyRecord.objects.exists()


def test_record_and_registration_commit_together(client_for, clerk, pack, monkeypatch):
    """A crash after the registration but before its answer is stored leaves neither."""
    client = client_for(clerk)

    def crash(self, *args, **kwargs):
        if kwargs.get("update_fields"):
            raise RuntimeError("worker killed")
        return original_save(self, *args, **kwargs)

    original_save = IdempotencyRecord.save
    monkeypatch.setattr(IdempotencyRecord, "save", crash)

    with pytest.raises(RuntimeError):
        post_registration(client, pack, headers={"Idempotency-Key": KEY})

    assert_nothing_written(pack)
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
    # The client's retry then runs afresh.
    assert post_registration(client, pack, headers={"Idempotency-Key": KEY}).status_code == 201


def test_losing_the_race_for_the_key_replays_the_winners_answer(
    client_for, clerk, pack, monkeypatch
):
    """The duplicate that did not see the winner's record in time gets IntegrityError on the
    unique (user, key) and answers with the winner's stored answer."""
    client = client_for(clerk)
    winner = post_registration(client, pack, headers={"Idempotency-Key": KEY})
    assert winner.status_code == 201
    real_stored = idempotency._stored
    calls = []

    def stored_after_the_first_look(**kwargs):
        calls.append(kwargs)
        return None if len(calls) == 1 else real_stored(**kwargs)

    monkeypatch.setattr(idempotency, "_stored", stored_after_the_first_look)

    loser = post_registration(client, pack, headers={"Idempotency-Key": KEY})

    assert len(calls) == 2  # looked, lost the claim, looked again
    assert loser.status_code == 201
    assert loser.json() == winner.json()
    assert Registration.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_registration(require_postgres, client_for, clerk, pack):
    """Two copies of one request at the same moment on PostgreSQL: one registration, and both
    callers get its 201."""
    buyer_data(pack)  # the buyer is put in the mock population registry once, before the race
    barrier = threading.Barrier(2)
    answers = []

    def send():
        try:
            barrier.wait(timeout=10)
            answers.append(
                post_registration(client_for(clerk), pack, headers={"Idempotency-Key": KEY})
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [a.status_code for a in answers] == [201, 201], [a.content for a in answers]
    assert answers[0].json() == answers[1].json()
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
    assert Registration.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_another_photo_of_the_same_size_is_another_body(client_for, clerk, pack):
    """Killed mutant: the photo fingerprint compared sizes, not contents. A retry with a
    different photo of exactly the same byte length must not be replayed as the first."""
    client = client_for(clerk)
    headers = {"Idempotency-Key": KEY}
    first_photo = image_bytes(color=(200, 120, 40))
    other_photo = bytearray(first_photo)
    other_photo[-3] ^= 0xFF  # same length, other bytes (a JPEG's trailing scan data)
    assert len(other_photo) == len(first_photo) and bytes(other_photo) != first_photo

    def post(id_photo: bytes):
        data = {
            **buyer_data(pack),
            "id_photo": SimpleUploadedFile("ktp.jpg", id_photo, content_type="image/jpeg"),
            "face_photo": photo_upload("face.jpg"),
        }
        return client.post(REGISTRATIONS, data, format="multipart", headers=headers)

    assert post(first_photo).status_code == 201
    retry = post(bytes(other_photo))

    assert retry.status_code == 422, retry.content
    assert "already used with a different request body" in retry.json()["detail"]
    assert Registration.objects.count() == 1


def test_the_first_answer_and_its_replay_are_the_same_json(clerk):
    """The answer is stored as JSON: what the first call returns must be exactly what a replay
    returns (tuples become lists, keys become strings), not the producer's Python objects."""
    calls = []

    def produce():
        calls.append(1)
        return 201, {"id": 7, "checks": ("nik", "kk"), 3: "three"}

    first = idempotency.run_idempotent(user=clerk, key=KEY, fingerprint="f", produce=produce)
    replay = idempotency.run_idempotent(user=clerk, key=KEY, fingerprint="f", produce=produce)

    assert len(calls) == 1 and replay.replayed and not first.replayed
    assert first.body == replay.body == {"id": 7, "checks": ["nik", "kk"], "3": "three"}


def test_a_clerks_second_key_is_a_new_request_not_the_first_ones_replay(client_for, clerk, pack):
    """The stored answer is found by the clerk *and* the key: a corrected form sent under a new
    key is registered, not answered with the first key's refusal (or a 422)."""
    client = client_for(clerk)
    refused = post_registration(client, pack, headers={"Idempotency-Key": KEY}, consent=False)
    assert refused.status_code == 400

    corrected = post_registration(
        client, pack, headers={"Idempotency-Key": "9b1d4c1e-2f3a-4d5b-8c6d-7e8f9a0b1c2d"}
    )

    assert corrected.status_code == 201, corrected.content
    assert "Idempotent-Replayed" not in corrected.headers
    assert Registration.objects.count() == 1
    assert IdempotencyRecord.objects.filter(user=clerk).count() == 2


@pytest.mark.django_db(transaction=True)
def test_with_a_key_the_registry_is_asked_outside_any_transaction(
    client_for, clerk, pack, monkeypatch
):
    """The population registry's network wait (its lookup and the face verification) holds no
    transaction open and no lock on the key, with an Idempotency-Key as without one."""
    from operatordb.registry import MockPopulationRegistry

    in_transaction = []
    for name in ("lookup", "verify_face"):
        original = getattr(MockPopulationRegistry, name)

        def spy(self, *args, _original=original, **kwargs):
            in_transaction.append(connection.in_atomic_block)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(MockPopulationRegistry, name, spy)

    response = post_registration(client_for(clerk), pack, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201, response.content
    assert in_transaction == [False, False]  # asked twice (the person, the face), never inside
    assert IdempotencyRecord.objects.get().response_status == 201
