"""Fixtures of the API tests: clients per persona, a registration made through the service."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from core.models import AuditEvent
from identity.idgen import make_nik
from outlets.models import StarterPack
from subscribers import services
from subscribers.models import Registration
from tests.conftest import buyer_data, photo_upload

REGISTRATIONS = "/api/v1/registrations/"
VALIDATE = "/api/v1/registrations/validate/"
OTHER_BUYER_BIRTH = date(1985, 1, 9)


@pytest.fixture
def client_for(db):
    """``client_for(user)``: an API client authenticated as ``user`` (anonymous for None).

    Messages are asked for in English so assertions do not depend on the translation
    catalogue; Bahasa Indonesia stays the default for real callers.
    """

    def make(user=None) -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def fresh_photos() -> dict:
    return {"id_photo": photo_upload("ktp.jpg"), "face_photo": photo_upload("face.jpg")}


def post_registration(client, pack, *, url=REGISTRATIONS, photos=True, headers=None, **overrides):
    """POST a valid buyer for ``pack`` (with ``overrides``) as multipart with photos, or as
    JSON when ``photos`` is False."""
    data = buyer_data(pack, **overrides)
    if not photos:
        return client.post(url, data, format="json", headers=headers)
    return client.post(url, {**data, **fresh_photos()}, format="multipart", headers=headers)


def assert_nothing_written(pack, *, registrations_before: int = 0) -> None:
    assert Registration.objects.count() == registrations_before
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.IN_STOCK
    assert not AuditEvent.objects.filter(action="registration.create").exists()


@pytest.fixture
def registration(clerk, pack):
    """A registration at ``clerk``'s outlet, made through the service like any other."""
    return services.registration_create(
        clerk=clerk, data=buyer_data(pack), id_photo=photo_upload(), face_photo=photo_upload()
    )


@pytest.fixture
def other_registration(clerk2, other_pack):
    """A registration at ``clerk2``'s outlet (same dealer, another outlet)."""
    return services.registration_create(
        clerk=clerk2,
        data=buyer_data(
            other_pack,
            id_number=make_nik(birth_date=OTHER_BUYER_BIRTH, sex="M", serial=77),
            birth_date=OTHER_BUYER_BIRTH.isoformat(),
            sex="M",
            full_name="Budi Santoso",
        ),
        id_photo=photo_upload(),
        face_photo=photo_upload(),
    )
