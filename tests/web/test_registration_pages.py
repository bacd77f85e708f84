"""The registration list, the detail page, the reveal button and the photos, per persona."""

import re

import pytest

from core.models import AuditEvent
from identity.idgen import make_nik
from subscribers import services
from subscribers.models import Registration
from tests.conftest import BUYER_BIRTH, buyer_data, photo_upload
from tests.factories import (
    DealerAdminFactory,
    DealerFactory,
    OutletFactory,
    StaffFactory,
    StarterPackFactory,
    UserFactory,
)

from .conftest import close_streamed

pytestmark = pytest.mark.django_db
FULL_NIK = make_nik(birth_date=BUYER_BIRTH, sex="F", serial=42)


def _register(clerk, pack, serial):
    """Another registration (its photos stay pending: list tests do not need them)."""
    data = buyer_data(pack, id_number=make_nik(birth_date=BUYER_BIRTH, sex="F", serial=serial))
    return services.registration_create(
        clerk=clerk, data=data, id_photo=photo_upload(), face_photo=photo_upload()
    )


@pytest.fixture
def other_registration(clerk2, other_outlet):
    return _register(clerk2, StarterPackFactory(outlet=other_outlet), 77)


# --- the list ----------------------------------------------------------------------------------


def test_anonymous_list_redirects_to_login(client):
    assert client.get("/registrations/")["Location"].startswith("/accounts/login/")


def test_clerk_lists_own_outlet_only_with_masked_ids(
    client, clerk, registration, other_registration
):
    client.force_login(clerk)
    response = client.get("/registrations/")
    html = response.content.decode()
    assert registration.registration_number in html
    assert other_registration.registration_number not in html
    assert registration.id_number_masked in html
    assert FULL_NIK not in html
    assert f'href="/registrations/{registration.pk}/"' in html


def test_dealer_sees_own_outlets_only(client, registration, other_registration, dealer_user):
    foreign_outlet = OutletFactory(dealer=DealerFactory(code="AD0777"), roid="ROFOREIGN77")
    foreign_clerk = StaffFactory(outlet=foreign_outlet).user
    foreign = _register(foreign_clerk, StarterPackFactory(outlet=foreign_outlet), 5)
    client.force_login(dealer_user)
    html = client.get("/registrations/").content.decode()
    assert registration.registration_number in html
    assert other_registration.registration_number in html
    assert foreign.registration_number not in html
    assert client.get(f"/registrations/{foreign.pk}/").status_code == 404
    # the outlet filter of the dealer's home
    filtered = client.get("/registrations/?outlet=ROJKT000002").content.decode()
    assert other_registration.registration_number in filtered
    assert registration.registration_number not in filtered


@pytest.mark.parametrize("typed", ["local", "international", "registration_number"])
def test_search_by_msisdn_as_typed_or_by_number(client, clerk, registration, typed):
    second = _register(clerk, StarterPackFactory(outlet=registration.outlet), 43)
    query = {
        "local": "0" + registration.msisdn[2:],
        "international": registration.msisdn,
        "registration_number": registration.registration_number,
    }[typed]
    client.force_login(clerk)
    html = client.get("/registrations/", {"q": query}).content.decode()
    assert registration.registration_number in html
    assert second.registration_number not in html


def test_list_is_paginated_by_25(client, clerk, outlet):
    for n in range(27):
        _register(clerk, StarterPackFactory(outlet=outlet), 100 + n)
    client.force_login(clerk)
    first = client.get("/registrations/")
    assert len(first.context["page"].object_list) == 25
    assert b'rel="next"' in first.content
    second = client.get("/registrations/?page=2")
    assert len(second.context["page"].object_list) == 2
    assert client.get("/registrations/?page=999").status_code == 200  # last page, not a 500


@pytest.mark.parametrize("persona", ["grapari", "regulator", "operator"])
def test_operator_wide_roles_list_every_outlet(
    client, request, persona, registration, other_registration
):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/registrations/")
    html = response.content.decode()
    assert registration.registration_number in html
    assert other_registration.registration_number in html
    assert "ROJKT000002" in html  # the outlet column for those who see many outlets


def test_regulator_list_masks_names(client, regulator, registration):
    client.force_login(regulator)
    html = client.get("/registrations/").content.decode()
    assert registration.registration_number in html
    assert "Siti Nur" not in html and "S*** N*******" in html


def test_user_without_scope_sees_an_empty_list(client, registration):
    client.force_login(UserFactory(username="nobody"))
    response = client.get("/registrations/")
    assert response.status_code == 200
    assert registration.registration_number.encode() not in response.content


# --- the detail --------------------------------------------------------------------------------


def _detail(registration):
    return f"/registrations/{registration.pk}/"


def test_clerk_sees_detail_with_masked_id_and_thumbnails(client, clerk, registration):
    client.force_login(clerk)
    response = client.get(_detail(registration))
    assert response.status_code == 200
    html = response.content.decode()
    assert registration.id_number_masked in html and FULL_NIK not in html
    assert f"/registrations/{registration.pk}/photos/id_photo_thumb/" in html
    assert f"/registrations/{registration.pk}/photos/face_photo_thumb/" in html
    assert "Reveal ID number" not in html  # clerks hold no reveal permission
    assert not AuditEvent.objects.filter(action="registration.view").exists()


def test_clerk_of_another_outlet_gets_404(client, clerk2, registration):
    client.force_login(clerk2)
    assert client.get(_detail(registration)).status_code == 404
    assert client.post(f"{_detail(registration)}reveal/").status_code == 404


def test_anonymous_detail_redirects(client, registration):
    assert client.get(_detail(registration))["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona", ["grapari", "regulator", "operator", "dealer_user"])
def test_a_look_by_another_role_is_audited(client, request, persona, registration):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    assert client.get(_detail(registration)).status_code == 200
    event = AuditEvent.objects.get(action="registration.view")
    assert event.actor == user and event.target_id == str(registration.pk)


def test_regulator_detail_is_masked_and_shows_no_photos(client, regulator, registration):
    client.force_login(regulator)
    html = client.get(_detail(registration)).content.decode()
    assert "Siti Nur" not in html
    assert "Jl. Kenanga" not in html
    assert "/photos/" not in html
    assert "Photos are not shown to your role." in html
    assert "Reveal ID number" not in html


def test_photos_being_processed_are_announced(client, clerk, pack, photos):
    reg = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    # no on_commit in a test transaction: the task has not run yet
    assert reg.photo_status == Registration.PhotoStatus.PENDING
    client.force_login(clerk)
    html = client.get(_detail(reg)).content.decode()
    assert 'id="photos-pending"' in html
    assert "/photos/" not in html
    # and the raw upload (EXIF, GPS...) is never served
    assert client.get(f"/registrations/{reg.pk}/photos/id_photo/").status_code == 404


# --- reveal ------------------------------------------------------------------------------------


def test_grapari_reveals_the_id_number_and_it_is_audited(client, grapari, registration):
    client.force_login(grapari)
    detail = client.get(_detail(registration)).content.decode()
    assert "Reveal ID number" in detail
    assert client.get(f"{_detail(registration)}reveal/").status_code == 405  # POST only
    response = client.post(f"{_detail(registration)}reveal/")
    assert response.status_code == 200
    assert re.search(rf'id="revealed-id-number"[^>]*>{FULL_NIK}<', response.content.decode())
    assert response["Cache-Control"] == "private, no-store"
    event = AuditEvent.objects.get(action="registration.reveal_id_number")
    assert event.actor == grapari and FULL_NIK not in str(event.after)
    assert event.after == {"id_number": registration.id_number_masked}  # whose number was shown


@pytest.mark.parametrize("persona", ["clerk", "regulator", "dealer_user"])
def test_reveal_without_the_permission_is_403(client, request, persona, registration):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(f"{_detail(registration)}reveal/")
    assert response.status_code == 403
    assert FULL_NIK.encode() not in response.content
    assert not AuditEvent.objects.filter(action="registration.reveal_id_number").exists()


# --- photos ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["id_photo", "id_photo_thumb", "face_photo", "face_photo_thumb"])
def test_clerk_gets_each_photo_privately_and_audited(client, clerk, registration, kind):
    client.force_login(clerk)
    response = client.get(f"/registrations/{registration.pk}/photos/{kind}/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    close_streamed(response)
    assert body.startswith(b"\xff\xd8\xff")  # a JPEG
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].startswith("inline")
    event = AuditEvent.objects.get(action="registration.photo_view")
    assert event.actor == clerk and event.after == {"kind": kind}


def test_photo_outsiders(client, clerk2, other_dealer_user, registration):
    url = f"/registrations/{registration.pk}/photos/face_photo/"
    assert client.get(url)["Location"].startswith("/accounts/login/")
    for outsider in (clerk2, other_dealer_user):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="registration.photo_view").exists()


def test_regulator_sees_no_photos(client, regulator, registration):
    client.force_login(regulator)
    for kind in ("id_photo", "face_photo_thumb"):
        response = client.get(f"/registrations/{registration.pk}/photos/{kind}/")
        assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="registration.photo_view").exists()


def test_unknown_photo_kind_is_404(client, clerk, registration):
    client.force_login(clerk)
    for kind in ("id_number_encrypted", "..", "id_photo.jpg"):
        assert client.get(f"/registrations/{registration.pk}/photos/{kind}/").status_code == 404


def test_grapari_and_dealer_see_photos(client, grapari, registration):
    dealer = DealerAdminFactory(
        user=UserFactory(username="dealer_b"), dealer=registration.outlet.dealer
    ).user
    for user in (grapari, dealer):
        client.force_login(user)
        response = client.get(f"/registrations/{registration.pk}/photos/id_photo_thumb/")
        assert response.status_code == 200
        close_streamed(response)
