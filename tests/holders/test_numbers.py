"""What a verified holder sees: their own current numbers, masked but the login number."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from privacy.models import RegistrationPrivacy
from subscribers.models import Category, Registration

from .conftest import add_number, log_in, make_person

pytestmark = pytest.mark.django_db


def _shown(msisdn: str) -> str:
    local = "0" + msisdn[2:]
    return f"{local[:4]}-****-{local[-4:]}"


def test_the_holder_sees_their_numbers_and_nobody_elses(holder_api, outlet, other_outlet):
    person = make_person(outlet, numbers=2)
    add_number(person, other_outlet, status=Registration.Status.AWAITING)
    stranger = make_person(outlet, numbers=2)
    log_in(holder_api, person)
    rows = holder_api.get("/api/v1/holder/numbers/").json()["results"]
    assert [r["msisdn"] for r in rows] == [
        "0" + person.msisdns[0][2:],
        _shown(person.msisdns[1]),
        _shown(person.msisdns[2]),
    ]
    assert [r["login_number"] for r in rows] == [True, False, False]
    assert rows[2]["outlet"] == other_outlet.name and rows[2]["city"] == other_outlet.region
    assert [r["status"] for r in rows] == ["active", "active", "awaiting"]
    body = str(rows)
    for msisdn in stranger.msisdns + person.msisdns[1:]:
        assert msisdn[2:] not in body and msisdn not in body


def test_statuses_and_the_cap(holder_api, outlet):
    person = make_person(outlet, numbers=1)
    blocked = add_number(person, outlet, status=Registration.Status.BLOCKED)
    inactive = add_number(person, outlet)
    RegistrationPrivacy.objects.create(registration=inactive, deactivated_at=timezone.now())
    add_number(person, outlet, category=Category.CORPORATE, company_name="PT Maju")
    for _ in range(3):
        add_number(person, outlet)
    log_in(holder_api, person)
    rows = holder_api.get("/api/v1/holder/numbers/").json()["results"]
    by_number = {r["msisdn"]: r for r in rows}
    assert by_number[_shown(blocked.msisdn)]["status"] == "blocked"
    assert by_number[_shown(inactive.msisdn)]["status"] == "inactive"
    # Cap 3 of the rules in force: personal active ones counted in order of registration —
    # the login number and the next two; the corporate one does not count.
    assert [r["over_cap"] for r in rows] == [False, False, False, False, False, False, True]


def test_an_ended_life_of_a_recycled_number_is_not_shown(holder_api, outlet):
    person = make_person(outlet, numbers=2)
    recycled = person.registrations[1]
    newcomer = make_person(outlet, numbers=0)
    add_number(
        newcomer, outlet, msisdn=recycled.msisdn, registered_at=timezone.now() - timedelta(hours=1)
    )
    log_in(holder_api, person)
    rows = holder_api.get("/api/v1/holder/numbers/").json()["results"]
    assert len(rows) == 1


def test_a_refused_registration_is_not_shown(holder_api, outlet):
    person = make_person(outlet, numbers=1)
    add_number(person, outlet, status=Registration.Status.REFUSED)
    log_in(holder_api, person)
    assert len(holder_api.get("/api/v1/holder/numbers/").json()["results"]) == 1


@pytest.mark.parametrize("path", ["/api/v1/holder/numbers/", "/api/v1/holder/disputes/"])
def test_outsiders_are_refused(holder_api, clerk, grapari, path):
    assert holder_api.get(path).status_code == 401
    holder_api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert holder_api.get(path).status_code == 401
    # Staff credentials are not a holder's: a clerk's API token, a GraPARI login.
    token = "holderdoor0clerk0token000000000000000000"
    ApiToken.objects.issue(user=clerk, key=token)
    holder_api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert holder_api.get(path).status_code == 401
    holder_api.credentials()
    holder_api.force_authenticate(grapari)
    assert holder_api.get(path).status_code in (401, 403)


def test_a_face_verified_holder_sees_the_same_list(
    client, outlet, django_capture_on_commit_callbacks
):
    from tests.conftest import image_bytes, register_person

    person = make_person(outlet, numbers=2)
    register_person({"id_number": person.nik, "kk_number": person.kk, "birth_date": "1988-05-04"})
    from django.core.files.uploadedfile import SimpleUploadedFile

    answer = client.post(
        "/nomor-saya/wajah/",
        {
            "id_number": person.nik,
            "face_photo": SimpleUploadedFile("me.jpg", image_bytes(), "image/jpeg"),
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    page = client.get("/nomor-saya/nomor/").content.decode()
    for msisdn in person.msisdns:
        assert _shown(msisdn) in page


def test_a_wrong_face_is_sent_to_a_grapari(client, outlet):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import register_person

    person = make_person(outlet, numbers=1)
    register_person({"id_number": person.nik, "kk_number": person.kk, "birth_date": "1988-05-04"})
    other_face = _striped()
    answer = client.post(
        "/nomor-saya/wajah/",
        {"id_number": person.nik, "face_photo": SimpleUploadedFile("x.jpg", other_face)},
    )
    assert answer.status_code == 400
    assert "GraPARI" in answer.content.decode()
    assert client.get("/nomor-saya/nomor/").status_code == 302


def _striped() -> bytes:
    """A picture that is not the reference face (different structure, not only colour)."""
    from io import BytesIO

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 320), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for x in range(0, 320, 40):
        draw.rectangle([x, 0, x + 19, 320], fill=(0, 0, 0))
    buffer = BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def test_the_list_costs_the_same_queries_for_two_numbers_or_eight(holder_api, outlet):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(numbers: int) -> int:
        person = make_person(outlet, numbers=numbers)
        log_in(holder_api, person)
        with CaptureQueriesContext(connection) as captured:
            assert len(holder_api.get("/api/v1/holder/numbers/").json()["results"]) == numbers
        return len(captured.captured_queries)

    assert queries(2) == queries(8)


def test_each_look_is_audited(holder_api, person):
    from core.models import AuditEvent

    log_in(holder_api, person)
    holder_api.get("/api/v1/holder/numbers/")
    event = AuditEvent.objects.get(action="holder.numbers_view")
    assert event.after["numbers"] == 2 and person.nik not in str(event.after)


def test_a_face_photo_over_the_photo_limit_is_refused_at_its_field(client, outlet, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import image_bytes, register_person

    person = make_person(outlet, numbers=1)
    register_person({"id_number": person.nik, "kk_number": person.kk, "birth_date": "1988-05-04"})
    face = image_bytes()
    settings.PHOTO_MAX_BYTES = len(face) - 1  # the registration's own limit, one byte short
    answer = client.post(
        "/nomor-saya/wajah/",
        {"id_number": person.nik, "face_photo": SimpleUploadedFile("me.jpg", face, "image/jpeg")},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert answer.status_code == 400
    assert "too big" in answer.content.decode() or "too large" in answer.content.decode()
    assert client.get("/nomor-saya/nomor/").status_code == 302  # no session was opened


def test_the_lists_are_paginated_as_every_list_of_the_api(holder_api, person):
    log_in(holder_api, person)

    page = holder_api.get("/api/v1/holder/numbers/?page_size=1").json()
    rest = holder_api.get(page["next"]).json()

    assert page["count"] == 2 and len(page["results"]) == 1 and page["previous"] is None
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert {page["results"][0]["ref"], rest["results"][0]["ref"]} == {
        n["ref"] for n in holder_api.get("/api/v1/holder/numbers/").json()["results"]
    }
    disputes = holder_api.get("/api/v1/holder/disputes/").json()
    assert (disputes["count"], disputes["results"]) == (0, [])
