"""/registrations/new/: the clerk's form, its personas, and the catalogue of bad input."""

import io
import os
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape
from PIL import Image

from core.models import AuditEvent
from identity.idgen import make_nik
from outlets.models import Outlet, StarterPack
from subscribers.models import Registration
from tests.clock import EDGE_DAYS, shift_years
from tests.conftest import BUYER_BIRTH, image_bytes, photo_upload

from .conftest import form_data

WIB = ZoneInfo("Asia/Jakarta")

pytestmark = pytest.mark.django_db
URL = "/registrations/new/"


def _photos() -> dict:
    return {"id_photo": photo_upload("ktp.jpg"), "face_photo": photo_upload("face.jpg")}


def _stored_files(settings, *, held: bool = False) -> list[str]:
    """Files in the private storage: the registrations' (default), or the photos kept for the
    clerk's retry (``held=True``, subscribers.heldphotos)."""
    root = settings.STORAGES["private"]["OPTIONS"]["location"]
    names = [
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _subdirs, files in os.walk(root)
        for name in files
    ]
    return [name for name in names if name.startswith("held/") == held]


# --- who may open it ----------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/registrations/new/")


@pytest.mark.parametrize("persona", ["dealer_user", "grapari", "regulator", "operator"])
def test_other_roles_get_a_friendly_403(client, persona, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(URL)
    assert response.status_code == 403
    assert b"Only staff of an outlet can register buyers" in response.content
    assert b"Back to your home page" in response.content


def test_clerk_sees_the_form_with_the_policy_in_force_and_the_packs(
    client, clerk, pack, other_pack
):
    client.force_login(clerk)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for name in (
        "msisdn",
        "iccid",
        "id_type",
        "id_number",
        "kk_number",
        "full_name",
        "birth_place",
        "birth_date",
        "sex",
        "address",
        "nationality",
        "id_photo",
        "face_photo",
        "consent",
        "document_checked",
    ):
        assert f'name="{name}"' in html, name
    # the 2026-07 rules: NIK + a face the population registry verifies, an ID photo, no
    # student card
    assert "a photo of the buyer's face, verified by the population registry" in html
    assert "checked against the population registry (Dukcapil)" in html
    assert 'value="student_card"' not in html
    assert 'capture="environment"' in html and 'capture="user"' in html
    assert 'accept="image/*"' in html
    # the outlet's own stock is offered, another outlet's is not
    assert f'value="0{pack.msisdn[2:]}"' in html
    assert other_pack.msisdn[2:] not in html
    # CSP: no inline script or style anywhere
    assert "<script>" not in html and "style=" not in html


def test_suspended_outlet_says_why_up_front(client, clerk, outlet):
    outlet.status = Outlet.Status.SUSPENDED
    outlet.status_reason = "Clarification overdue."
    outlet.save()
    client.force_login(clerk)
    response = client.get(URL)
    assert response.status_code == 200
    assert b"is suspended and cannot register buyers" in response.content
    assert b"Clarification overdue." in response.content
    assert b'name="id_number"' not in response.content


# --- success -----------------------------------------------------------------------------------


def test_clerk_registers_a_buyer_and_lands_on_the_receipt(
    client, clerk, pack, django_capture_on_commit_callbacks
):
    client.force_login(clerk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(URL, {**form_data(pack), **_photos()})
    assert len(callbacks) == 1  # the photo task, queued after the commit
    reg = Registration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/registrations/{reg.pk}/receipt/"
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.REGISTERED
    assert reg.source == Registration.Source.WEB
    assert reg.document_checked is True
    assert reg.clerk == clerk
    reg.refresh_from_db()
    assert reg.photo_status == Registration.PhotoStatus.READY  # eager Celery after commit
    assert AuditEvent.objects.filter(action="registration.create", target_id=str(reg.pk)).exists()

    receipt = client.get(response["Location"])
    assert receipt.status_code == 200
    assert reg.registration_number.encode() in receipt.content


def test_msisdn_may_be_typed_in_the_62_form(client, clerk, pack):
    client.force_login(clerk)
    response = client.post(URL, {**form_data(pack, msisdn=pack.msisdn), **_photos()})
    assert response.status_code == 302
    assert Registration.objects.get().msisdn == pack.msisdn


# --- the catalogue of bad input: an error at its field, the input kept, nothing written -------


def _truncated_jpeg() -> SimpleUploadedFile:
    data = image_bytes("JPEG", size=(640, 480))
    return SimpleUploadedFile("ktp.jpg", data[: len(data) // 2], content_type="image/jpeg")


def _noise_jpeg(size=(1200, 900)) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


NIK_F = make_nik(birth_date=BUYER_BIRTH, sex="F", serial=42)
LONG = "A" * 10_000

BAD_INPUT = {
    "malformed NIK": ({"id_number": "31710157089"}, {}, "id_number", "exactly 16 digits"),
    "bad province": (
        {"id_number": make_nik(birth_date=BUYER_BIRTH, sex="F", province="99", serial=42)},
        {},
        "id_number",
        "province code",
    ),
    "impossible date in NIK": (
        {"id_number": "3171013208900042", "sex": "M"},
        {},
        "id_number",
        "not a real date of birth",
    ),
    "wrong sex offset": ({"sex": "M"}, {}, "sex", "does not agree with the NIK"),
    "birth date disagreeing with NIK": (
        {"birth_date": "1991-08-17"},
        {},
        "birth_date",
        "does not agree with the NIK",
    ),
    "missing consent": ({"consent": False}, {}, "consent", "must agree"),
    "document not checked": (
        {"document_checked": False},
        {},
        "document_checked",
        "original document in person",
    ),
    "non-image named .jpg": (
        {},
        {"id_photo": SimpleUploadedFile("ktp.jpg", b"MZ\x90\x00 not a photo at all" * 50)},
        "id_photo",
        "not a photo",
    ),
    "truncated JPEG": ({}, {"id_photo": "TRUNCATED"}, "id_photo", "damaged or incomplete"),
    "script tags in the name": (
        {"full_name": "<script>alert('x')</script>"},
        {},
        "full_name",
        "letters, spaces",
    ),
    "SQL in the name": (
        {"full_name": "Robert'); DROP TABLE subscribers_registration;--"},
        {},
        "full_name",
        "letters, spaces",
    ),
    "10 000-character name": ({"full_name": LONG}, {}, "full_name", "at most 100 characters"),
    "10 000-character address": ({"address": LONG}, {}, "address", "at most 300 characters"),
    "10 000-character ID number": ({"id_number": "1" * 10_000}, {}, "id_number", "at most 40"),
    "wrong date format": ({"birth_date": "17-08-1990"}, {}, "birth_date", "YYYY-MM-DD"),
    "impossible calendar date": ({"birth_date": "1990-02-30"}, {}, "birth_date", "YYYY-MM-DD"),
    "unknown ID type": ({"id_type": "driver_licence"}, {}, "id_type", "Choose one of the ID"),
    "ID type not accepted now": ({"id_type": "student_card"}, {}, "id_type", "Choose one of"),
    "a citizen's passport": (
        {"id_type": "passport", "id_number": "A1234567"},
        {},
        "id_type",
        "registers with their NIK",
    ),
    "missing face photo": ({}, {"face_photo": None}, "face_photo", "required"),
    "bad ICCID check digit": ({"iccid": "8962100000000100001"}, {}, "iccid", "ICCID"),
    "landline number": ({"msisdn": "0215551234"}, {}, "msisdn", "Indonesian mobile number"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_shown_at_its_field_and_nothing_is_written(
    client, clerk, pack, settings, case
):
    overrides, file_overrides, field, message = BAD_INPUT[case]
    files = _photos()
    for name, upload in file_overrides.items():
        if upload is None:
            files.pop(name)
        elif upload == "TRUNCATED":
            files[name] = _truncated_jpeg()
        else:
            files[name] = upload
    client.force_login(clerk)
    response = client.post(URL, {**form_data(pack, **overrides), **files})

    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert any(message in error for error in form.errors[field]), form.errors[field]
    html = response.content.decode()
    # the message is on the page, next to its field (inside that field's error box)
    assert f'id="id_{field}_error"' in html
    box = html.split(f'id="id_{field}_error"', 1)[1].split("</div>", 1)[0]
    assert escape(form.errors[field][0]) in box
    # what the clerk typed is kept (escaped: no markup injected into the page)
    typed_name = overrides.get("full_name", "Siti Nur'aini")
    if len(typed_name) < 200:
        assert escape(typed_name) in html
    assert "<script>alert(" not in html
    # nothing written
    assert not Registration.objects.exists()
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.IN_STOCK
    assert not AuditEvent.objects.exists()
    assert _stored_files(settings) == []


def test_every_fault_is_reported_in_one_round_trip(client, clerk, pack):
    """A shape error (date format) does not hide the rule errors (NIK, pack) of the same post."""
    client.force_login(clerk)
    data = form_data(pack, birth_date="17/08/1990", id_number="9971015708900042", consent=False)
    response = client.post(URL, {**data, **_photos()})
    errors = response.context["form"].errors
    assert {"birth_date", "id_number", "consent"} <= set(errors)
    assert b'id="held-photos"' in response.content  # the photos are kept for the retry
    assert not Registration.objects.exists()


def test_enormous_photo_is_refused(client, clerk, pack, settings):
    settings.PHOTO_MAX_BYTES = 200 * 1024
    big = SimpleUploadedFile("ktp.jpg", _noise_jpeg(), content_type="image/jpeg")
    assert big.size > settings.PHOTO_MAX_BYTES
    client.force_login(clerk)
    response = client.post(URL, {**form_data(pack), **_photos(), "id_photo": big})
    assert "too large" in response.context["form"].errors["id_photo"][0]
    assert not Registration.objects.exists()
    assert not AuditEvent.objects.exists()


def test_pack_of_another_outlet(client, clerk, pack, other_pack):
    client.force_login(clerk)
    response = client.post(URL, {**form_data(other_pack), **_photos()})
    assert "not in your outlet's stock" in response.context["form"].errors["msisdn"][0]
    other_pack.refresh_from_db()
    assert other_pack.status == StarterPack.Status.IN_STOCK
    assert not Registration.objects.exists()
    assert not AuditEvent.objects.exists()


def test_pack_already_registered(client, clerk, pack, registration):
    before = AuditEvent.objects.count()
    client.force_login(clerk)
    response = client.post(
        URL,
        {
            **form_data(pack, id_number=make_nik(birth_date=BUYER_BIRTH, sex="F", serial=9)),
            **_photos(),
        },
    )
    assert "already registered" in response.context["form"].errors["msisdn"][0]
    assert Registration.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_suspended_outlet_refuses_a_post_with_the_reason_on_top(client, clerk, pack, outlet):
    outlet.status = Outlet.Status.SUSPENDED
    outlet.save()
    client.force_login(clerk)
    response = client.post(URL, {**form_data(pack), **_photos()})
    assert response.status_code == 200
    assert "is suspended" in response.context["form"].non_field_errors()[0]
    assert b"is suspended and cannot register buyers" in response.content
    assert not Registration.objects.exists()
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.IN_STOCK
    assert not AuditEvent.objects.exists()


def test_staff_own_id_is_refused_at_the_id_number(client, clerk, pack):
    from core import pii

    staff = clerk.outlet_staff
    staff.id_number_digest = pii.digest(NIK_F)
    staff.save()
    client.force_login(clerk)
    response = client.post(URL, {**form_data(pack), **_photos()})
    # End user only: nobody of the dealer's people (docs/rules.md).
    assert "Only the end user" in response.context["form"].errors["id_number"][0]
    assert not Registration.objects.exists()


@pytest.mark.parametrize("today", EDGE_DAYS, ids=str)
@pytest.mark.parametrize("ahead", [timedelta(days=1), "a year"], ids=["tomorrow", "a-year"])
def test_birth_date_in_the_future(client, clerk, pack, today, ahead):
    """Whatever day it is (a leap day included: the clock is frozen on it), a birth date after
    today is refused."""
    with time_machine.travel(datetime.combine(today, time(10), tzinfo=WIB), tick=False):
        client.force_login(clerk)
        later = shift_years(today, 1) if ahead == "a year" else today + ahead
        response = client.post(URL, {**form_data(pack, birth_date=later.isoformat()), **_photos()})
    assert "birth_date" in response.context["form"].errors
    assert not Registration.objects.exists()


# --- validation as the clerk types (app.js) -----------------------------------------------------

VALIDATE = "/registrations/new/validate/"


def test_validate_reports_every_fault_as_json_and_writes_nothing(client, clerk, pack):
    client.force_login(clerk)
    data = form_data(pack, id_number="12345", birth_date="1990-13-01", consent=False)
    response = client.post(VALIDATE, data)
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert "16 digits" in body["errors"]["id_number"][0]
    assert "YYYY-MM-DD" in body["errors"]["birth_date"][0]
    assert "consent" in body["errors"]
    assert not Registration.objects.exists()
    assert not AuditEvent.objects.exists()


def test_validate_a_good_body_with_photos(client, clerk, pack):
    client.force_login(clerk)
    response = client.post(VALIDATE, {**form_data(pack), **_photos()})
    assert response.json() == {"valid": True, "errors": {}, "warnings": []}
    assert not Registration.objects.exists()
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.IN_STOCK


def test_validate_is_for_outlet_staff_and_post_only(client, clerk, dealer_user):
    assert client.post(VALIDATE, {})["Location"].startswith("/accounts/login/")
    client.force_login(dealer_user)
    assert client.post(VALIDATE, {}).status_code == 403
    client.force_login(clerk)
    assert client.get(VALIDATE).status_code == 405
