"""The API answers in the caller's language, Bahasa Indonesia by default — its own messages and
those of the framework underneath (DRF's field errors, a malformed body, an outsider's 404)."""

import pytest
from rest_framework.test import APIClient

from subscribers import services
from tests.conftest import buyer_data, photo_upload

pytestmark = pytest.mark.django_db
URL = "/api/v1/registrations/"


def _client(user, language: str | None = "id") -> APIClient:
    client = APIClient(**({"HTTP_ACCEPT_LANGUAGE": language} if language else {}))
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("language", ["id", None])
def test_a_field_error_of_the_framework_is_in_indonesian(clerk, pack, language):
    response = _client(clerk, language).post(
        URL, {**buyer_data(pack), "consent": "mungkin", "msisdn": ["0812"]}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["consent"] == ["Harus berupa nilai benar/salah (boolean) yang valid."]
    assert body["msisdn"] == ["Bukan teks yang valid."]


def test_a_body_that_is_not_an_object_or_not_json_is_said_in_indonesian(clerk):
    client = _client(clerk)

    not_an_object = client.post(URL, [1, 2], format="json")
    not_json = client.post(URL, b"{bukan json", content_type="application/json")

    assert not_an_object.status_code == 400 == not_json.status_code
    assert "Yang diharapkan objek (dictionary)" in str(not_an_object.json())
    assert not_json.json()["detail"] == "Isi permintaan bukan JSON yang valid (baris 1, kolom 2)."


def test_an_outsiders_404_names_no_model_and_is_in_the_callers_language(clerk, clerk2, other_pack):
    theirs = services.registration_create(
        clerk=clerk2,
        data=buyer_data(other_pack),
        id_photo=photo_upload("ktp.jpg"),
        face_photo=photo_upload("face.jpg"),
    )

    indonesian = _client(clerk).get(f"{URL}{theirs.pk}/")
    english = _client(clerk, "en").get(f"{URL}{theirs.pk}/")

    assert indonesian.status_code == 404 == english.status_code
    assert indonesian.json() == {"detail": "Data tidak ditemukan."}
    assert english.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("id", "Terlalu banyak permintaan: coba lagi dalam 20 detik."),
        ("en", "Too many requests: try again in 20 seconds."),
    ],
)
def test_a_throttled_answer_is_one_sentence_in_the_callers_language(language, said):
    """DRF formats its "Expected available in 20 seconds." before translating it (no catalogue
    matches): the API says the whole sentence itself, with Retry-After."""
    from django.utils import translation
    from rest_framework.exceptions import Throttled

    from core.api import exception_handler

    with translation.override(language):
        response = exception_handler(Throttled(wait=19.2), {"request": None, "view": None})

    assert response.status_code == 429
    assert response.data == {"detail": said}
    assert response["Retry-After"] == "20"


def test_a_long_wait_is_said_in_minutes_and_a_views_own_words_are_kept():
    from django.utils import translation
    from rest_framework.exceptions import Throttled

    from core.api import exception_handler

    context = {"request": None, "view": None}
    with translation.override("id"):
        hour = exception_handler(Throttled(wait=3600), context)
        own = exception_handler(Throttled(wait=3600, detail="Sesi berakhir."), context)

    assert hour.data == {"detail": "Terlalu banyak permintaan: coba lagi dalam 60 menit."}
    assert own.data == {"detail": "Sesi berakhir."}  # DRF's English tail dropped
    assert hour["Retry-After"] == own["Retry-After"] == "3600"


@pytest.mark.parametrize(
    ("language", "said"), [("id", "Data tidak ditemukan."), ("en", "Not found.")]
)
def test_a_path_no_api_route_matches_is_the_apis_404(clerk, settings, language, said):
    """``/api/v1/registrations/abc/`` matches no route: the API's JSON 404 in the caller's
    language, not a page."""
    settings.DEBUG = False
    response = _client(clerk, language).get(f"{URL}abc/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": said}
