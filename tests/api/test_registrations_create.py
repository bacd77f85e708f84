"""POST /api/v1/registrations/ and /validate/: the outlet clerk's journey through the API."""

import pytest

from accounts.models import ApiToken
from core.models import AuditEvent
from outlets.models import StarterPack
from subscribers.models import Registration
from tests.conftest import buyer_data

from .conftest import REGISTRATIONS, VALIDATE, assert_nothing_written, post_registration

pytestmark = pytest.mark.django_db


def test_multipart_with_photos_registers_the_buyer(client_for, clerk, pack):
    nik = buyer_data(pack)["id_number"]

    response = post_registration(client_for(clerk), pack)

    assert response.status_code == 201, response.content
    body = response.json()
    assert {
        "id",
        "registration_number",
        "status",
        "msisdn",
        "id_number_masked",
        "created_at",
    } <= set(body)
    assert body["status"] == "registered"
    assert body["msisdn"] == pack.msisdn  # 08… sent, 62… stored
    assert body["id_number_masked"] == "3171********0042"
    assert nik not in response.content.decode()

    registration = Registration.objects.get(pk=body["id"])
    registration.refresh_from_db()
    assert registration.registration_number == body["registration_number"]
    assert registration.clerk == clerk and registration.outlet == pack.outlet
    assert registration.source == Registration.Source.API
    assert registration.full_name == "Siti Nur'aini"
    assert registration.id_photo and registration.face_photo
    assert registration.face_verdict == "match"  # verified by the population registry
    assert registration.policy.code == "2026-07"
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.REGISTERED
    event = AuditEvent.objects.get(action="registration.create")
    assert event.actor == clerk and event.target_id == str(registration.pk)
    assert event.after["source"] == "api"
    assert nik not in str(event.after)


def test_integrator_registers_with_a_token(client_for, clerk, pack):
    _token, key = ApiToken.objects.issue(user=clerk)
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = post_registration(client, pack)

    assert response.status_code == 201, response.content
    assert Registration.objects.get().clerk == clerk


def test_json_without_photos_is_refused_under_the_2026_policy(client_for, clerk, pack):
    response = post_registration(client_for(clerk), pack, photos=False)

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"id_photo", "face_photo"}
    assert "required" in errors["id_photo"][0]
    assert_nothing_written(pack)


def test_a_photo_sent_as_json_text_is_refused_at_its_field(client_for, clerk, pack):
    data = buyer_data(pack, id_photo="aGVsbG8=", face_photo="aGVsbG8=")

    response = client_for(clerk).post(REGISTRATIONS, data, format="json")

    assert response.status_code == 400
    assert "not a file" in response.json()["id_photo"][0]
    assert_nothing_written(pack)


def test_every_shape_fault_is_reported_at_once(client_for, clerk, pack):
    response = post_registration(
        client_for(clerk), pack, id_type="ktp2", sex="X", birth_date="17/08/1990", address=""
    )

    assert response.status_code == 400
    assert {"id_type", "sex", "birth_date", "address"} <= set(response.json())
    assert_nothing_written(pack)


def test_every_rule_fault_is_reported_at_once(client_for, clerk, pack):
    response = post_registration(
        client_for(clerk), pack, id_number="9971015708900042", consent=False, kk_number="1234"
    )

    assert response.status_code == 400
    assert {"id_number", "consent", "kk_number"} <= set(response.json())
    assert_nothing_written(pack)


def test_body_that_is_not_an_object_is_a_400(client_for, clerk, pack):
    response = client_for(clerk).post(REGISTRATIONS, ["not", "an", "object"], format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert_nothing_written(pack)


def test_malformed_json_is_a_400(client_for, clerk, pack):
    response = client_for(clerk).post(
        REGISTRATIONS, b'{"msisdn": ', content_type="application/json"
    )

    assert response.status_code == 400
    assert "detail" in response.json()
    assert_nothing_written(pack)


@pytest.mark.parametrize("persona", ["regulator", "dealer_user", "grapari", "operator"])
@pytest.mark.parametrize("url", [REGISTRATIONS, VALIDATE])
def test_only_outlet_staff_may_register(client_for, request, persona, url, pack):
    user = request.getfixturevalue(persona)

    response = post_registration(client_for(user), pack, url=url)

    assert response.status_code == 403
    assert "Only staff of an outlet" in response.json()["detail"]
    assert_nothing_written(pack)


def test_anonymous_may_not_register(client_for, pack):
    response = post_registration(client_for(), pack)

    assert response.status_code in (401, 403)
    assert_nothing_written(pack)


# --- validate ---------------------------------------------------------------------------------
def test_validate_accepts_a_good_body_and_writes_nothing(client_for, clerk, pack):
    response = post_registration(client_for(clerk), pack, url=VALIDATE)

    assert response.status_code == 200, response.content
    # What a create would do: register (the population registry answered), with no warning.
    assert response.json() == {"valid": True, "outcome": "registered", "warnings": []}
    assert_nothing_written(pack)
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"id_number": "3171015708900000", "consent": False},
        {"birth_date": "17/08/1990"},
        {"full_name": "<script>alert(1)</script>"},
    ],
)
def test_validate_answers_the_same_400_as_create(client_for, clerk, pack, overrides):
    client = client_for(clerk)

    validated = post_registration(client, pack, url=VALIDATE, **overrides)
    created = post_registration(client, pack, **overrides)

    assert validated.status_code == created.status_code == 400
    assert validated.json() == created.json()
    assert_nothing_written(pack)


def test_validate_of_an_already_registered_pack_is_refused(client_for, clerk, pack):
    client = client_for(clerk)
    assert post_registration(client, pack).status_code == 201

    response = post_registration(client, pack, url=VALIDATE)

    assert response.status_code == 400
    assert "already registered" in response.json()["msisdn"][0]
    assert Registration.objects.count() == 1
