"""The clerk's photos survive a failed submit: kept server-side for the session's next try,
then deleted (on success, on a fresh form, and by the purge after an hour)."""

import os
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from identity.idgen import make_nik
from subscribers.heldphotos import held_photos_purge
from subscribers.models import Registration
from tests.conftest import BUYER_BIRTH, buyer_data, photo_upload

from .conftest import form_data
from .test_registration_form import URL, _stored_files

pytestmark = pytest.mark.django_db


def _photos() -> dict:
    return {"id_photo": photo_upload("ktp.jpg"), "face_photo": photo_upload("face.jpg")}


def test_photos_of_a_failed_submit_are_used_by_the_retry(client, clerk, pack, settings):
    client.force_login(clerk)

    failed = client.post(URL, {**form_data(pack, birth_date="17/08/1990"), **_photos()})

    assert failed.status_code == 200 and "birth_date" in failed.context["form"].errors
    assert len(_stored_files(settings, held=True)) == 2
    html = failed.content.decode()
    assert 'data-held="id_photo"' in html and 'data-held="face_photo"' in html
    assert (
        'name="id_photo" accept' in html and "required" not in html.split('name="id_photo"')[1][:80]
    )

    # The correction is sent without photos: the kept ones are used, then deleted.
    retry = client.post(URL, form_data(pack))

    assert retry.status_code == 302
    registration = Registration.objects.get()
    assert registration.id_photo and registration.face_photo
    assert _stored_files(settings, held=True) == []


def test_a_new_photo_replaces_the_kept_one(client, clerk, pack, settings):
    client.force_login(clerk)
    client.post(URL, {**form_data(pack, birth_date="17/08/1990"), **_photos()})

    before = set(_stored_files(settings, held=True))

    again = client.post(
        URL,
        {**form_data(pack, birth_date="17/08/1990"), "face_photo": photo_upload("new-face.jpg")},
    )

    after = set(_stored_files(settings, held=True))
    assert len(after) == 2 and len(after & before) == 1  # the ID photo kept, the face replaced
    assert "new-face.jpg" in again.content.decode()


def test_kept_photos_are_never_carried_over_to_another_buyer(client, clerk, pack, settings):
    """The clerk turns to another buyer in the same form: the first buyer's photos are not
    attached to the second's registration — they are deleted, and the photos are asked for."""
    client.force_login(clerk)
    client.post(URL, {**form_data(pack, birth_date="17/08/1990"), **_photos()})
    assert len(_stored_files(settings, held=True)) == 2
    other = buyer_data(
        pack,
        id_number=make_nik(birth_date=BUYER_BIRTH, sex="F", serial=43),
        full_name="Dewi Lestari",
    )

    response = client.post(URL, form_data(pack, **other))

    assert response.status_code == 200
    assert {"id_photo", "face_photo"} <= set(response.context["form"].errors)
    assert not Registration.objects.exists()
    assert _stored_files(settings, held=True) == []
    assert 'data-held="' not in response.content.decode()


def test_kept_photos_follow_the_same_id_number_typed_another_way(client, clerk, pack, settings):
    client.force_login(clerk)
    data = form_data(pack, birth_date="17/08/1990")
    client.post(URL, {**data, **_photos()})
    nik = data["id_number"]

    retry = client.post(URL, form_data(pack, id_number=f" {nik[:6]} {nik[6:12]}-{nik[12:]} "))

    assert retry.status_code == 302
    assert Registration.objects.get().id_photo


def test_photos_of_a_submit_without_an_id_number_are_not_kept(client, clerk, pack, settings):
    client.force_login(clerk)

    client.post(URL, {**form_data(pack, id_number=""), **_photos()})

    assert _stored_files(settings, held=True) == []


def test_a_fresh_form_forgets_the_kept_photos(client, clerk, pack, settings):
    client.force_login(clerk)
    client.post(URL, {**form_data(pack, birth_date="17/08/1990"), **_photos()})

    html = client.get(URL).content.decode()

    assert _stored_files(settings, held=True) == []
    assert 'id="held-photos"' not in html


def test_kept_photos_belong_to_their_session_only(client, clerk, pack, settings):
    client.force_login(clerk)
    client.post(URL, {**form_data(pack, birth_date="17/08/1990"), **_photos()})
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(clerk)  # the same clerk on another device: another session

    response = other.post(URL, form_data(pack))

    assert response.status_code == 200
    assert {"id_photo", "face_photo"} & set(response.context["form"].errors)
    assert not Registration.objects.exists()


def test_the_purge_deletes_kept_photos_after_an_hour(client, clerk, pack, settings):
    client.force_login(clerk)
    client.post(URL, {**form_data(pack, birth_date="17/08/1990"), **_photos()})
    assert held_photos_purge() == 0  # young: kept
    root = settings.STORAGES["private"]["OPTIONS"]["location"]
    an_hour_ago = (timezone.now() - timedelta(minutes=61)).timestamp()
    for name in _stored_files(settings, held=True):
        os.utime(os.path.join(root, name), (an_hour_ago, an_hour_ago))

    assert held_photos_purge(now=timezone.now() + timedelta(hours=1)) == 2

    assert _stored_files(settings, held=True) == []
    # and a retry no longer finds them
    response = client.post(URL, form_data(pack))
    assert response.status_code == 200 and not Registration.objects.exists()
