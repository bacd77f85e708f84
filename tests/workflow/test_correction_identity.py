"""A correction never replaces a verified face (docs/rules.md, "A correction never replaces a
verified face"): the NIK of a holder the registry identified by their face cannot be changed by
a correction (the other person registers anew at the counter); a NIK correction still allowed
drops the old face evidence; a proposal accepted after the rule came in drops it too and sends
the registration back to GraPARI's queue as ``identity_replaced``."""

from datetime import date

import pytest
from django.core.files.base import ContentFile

from compliance.models import ClarificationAnswer, ReviewItem
from compliance.workflow.review import review_item_decide
from core import pii
from identity.idgen import make_kk, make_nik
from subscribers.models import Registration
from tests.conftest import photo_upload

from .conftest import BIRTH, answered_item, flagged_request, in_registry, make_registration

pytestmark = pytest.mark.django_db
CLARIFICATIONS = "/api/v1/clarifications/"
AGUS = {
    "full_name": "Agus Pratama",
    "birth_date": "1985-01-09",
    "sex": "M",
}


def _agus() -> dict:
    return {
        "id_number": make_nik(birth_date=date(1985, 1, 9), sex="M", serial=77),
        "kk_number": make_kk(recorded=date(2012, 6, 14), serial=311),
        **AGUS,
    }


@pytest.fixture
def face_verified(outlet, clerk):
    """Siti, registered at the counter under 2026-07: her face matched by Dukcapil."""
    registration = make_registration(
        outlet, clerk=clerk, face_verdict="match", face_score=1.0, face_sha256="ab" * 32
    )
    registration.face_photo.save("face.jpg", ContentFile(b"siti's face"), save=True)
    return registration


def _answer(api, clerk, request, **correction):
    client = api(clerk)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    return client.post(
        f"{CLARIFICATIONS}{request.pk}/answer/",
        {"explanation": "Data pembeli salah.", "evidence_photo": photo_upload(), **correction},
        format="multipart",
    )


def test_another_persons_nik_is_refused_on_a_face_verified_registration(api, clerk, face_verified):
    request = flagged_request(face_verified, "id_number_mismatch")
    agus = _agus()
    in_registry(face_verified, **agus)  # a real person Dukcapil knows, all data agreeing

    response = _answer(api, clerk, request, **agus)

    assert response.status_code == 400
    assert list(response.json()) == ["id_number"]
    message = response.json()["id_number"][0]
    assert "NIK tidak dapat diubah dengan koreksi" in message
    assert "wajah" in message and "loket" in message
    assert not ClarificationAnswer.objects.exists()
    face_verified.refresh_from_db()
    assert face_verified.full_name == "Siti Nur'aini"
    assert face_verified.face_verdict == "match"


def test_the_verified_holders_other_data_can_still_be_corrected(api, clerk, face_verified):
    request = flagged_request(face_verified)
    in_registry(face_verified, full_name="Siti Nurhayati")

    response = _answer(api, clerk, request, full_name="Siti Nurhayati")

    assert response.status_code == 201, response.content


def test_a_nik_correction_without_a_face_drops_no_evidence_it_does_not_have(
    clerk, grapari, registration
):
    right = make_nik(birth_date=BIRTH, sex="F", serial=5160)
    item = answered_item(registration, clerk, correction={"id_number": right}, photo=photo_upload())

    review_item_decide(actor=grapari, item=item, decision="accept")

    registration.refresh_from_db()
    assert registration.id_number_digest == pii.digest(right)
    assert registration.face_verdict == "" and registration.face_score is None
    assert not any(r["code"] == "identity_replaced" for r in registration.review_reasons)


def test_a_nik_change_proposed_before_the_rule_drops_the_face_and_flags_the_registration(
    clerk, grapari, registration, django_capture_on_commit_callbacks
):
    """A proposal already pending when the rule came in: GraPARI accepts it, the old holder's
    verdict, score, fingerprint and photo go, and the registration is flagged for review."""
    agus = _agus()
    item = answered_item(registration, clerk, correction=agus, photo=photo_upload())
    Registration.objects.filter(pk=registration.pk).update(
        face_verdict="match", face_score=1.0, face_sha256="ab" * 32, status="registered"
    )
    registration.refresh_from_db()
    registration.face_photo.save("face.jpg", ContentFile(b"siti's face"), save=True)
    storage, name = registration.face_photo.storage, registration.face_photo.name

    with django_capture_on_commit_callbacks(execute=True):
        review_item_decide(actor=grapari, item=item, decision="accept")

    registration.refresh_from_db()
    assert registration.full_name == "Agus Pratama"
    assert (registration.face_verdict, registration.face_score, registration.face_sha256) == (
        "",
        None,
        "",
    )
    assert not registration.face_photo
    assert not storage.exists(name)
    assert registration.status == "flagged"
    assert [r["code"] for r in registration.review_reasons][-1] == "identity_replaced"
    # The history keeps what was replaced.
    assert registration.versions.get().values["full_name"] == "Siti Nur'aini"
    assert ReviewItem.objects.filter(pk=item.pk, status="decided").exists()
    # Back in GraPARI's queue, as a flagged registration: the settling did not verify it.
    assert ReviewItem.objects.filter(
        registration=registration, kind="flagged_registration", status="open"
    ).exists()


def _proposed_rows(html: str) -> dict[str, str]:
    start = html.index('id="proposed-sides"')
    table = html[start : html.index("</table>", start)]
    return {
        chunk.split('"')[1]: chunk.split('data-agrees="')[1].split('"')[0]
        for chunk in table.split("<tr data-field=")[1:]
    }


def test_the_review_page_shows_the_registry_on_the_proposed_person_and_says_it_is_another(
    client, clerk, grapari, registration
):
    """A pending correction to another person (proposed before the rule, or on a registration
    without a face): the reviewer reads what Dukcapil holds for the *proposed* NIK and is told
    plainly that the correction replaces the whole person."""
    agus = _agus()
    item = answered_item(registration, clerk, correction=agus, photo=photo_upload())
    Registration.objects.filter(pk=registration.pk).update(face_verdict="match", face_score=1.0)
    client.force_login(grapari)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"

    page = client.get(f"/compliance/review/{item.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    section = html[html.index('id="proposed-registry"') :]
    assert "Agus Pratama" in section and "1985-01-09" in section
    assert _proposed_rows(html) == {
        "full_name": "yes",
        "birth_date": "yes",
        "sex": "yes",
        "kk_number": "yes",
    }
    assert 'id="person-replaced"' in section
    assert "Koreksi ini mengganti orangnya" in section
    assert "wajah" in section


def test_a_typo_correction_is_not_called_another_person(client, clerk, grapari, registration):
    item = answered_item(
        registration, clerk, correction={"full_name": "Siti Nurhayati"}, photo=photo_upload()
    )
    client.force_login(grapari)

    page = client.get(f"/compliance/review/{item.pk}/")

    html = page.content.decode()
    assert 'id="proposed-registry"' in html
    assert 'id="person-replaced"' not in html and 'id="nik-changed"' not in html
    assert _proposed_rows(html)["full_name"] == "yes"
