"""Codes stored by the portal are read in words on Indonesian pages: the kinds of a review item
(a holder's report among them), the fields of a proposed correction, the registry's face
verdict, and the actors that are not people in a history (docs/language.md)."""

from types import SimpleNamespace

import pytest
from django.utils import timezone, translation

from compliance.models import ReviewItem
from compliance.workflow.story import who
from tests.conftest import photo_upload

from .conftest import answered_item, make_registration

pytestmark = pytest.mark.django_db


def test_a_holders_report_among_an_items_kinds_is_said_in_words():
    item = ReviewItem(kind="holder_dispute", discrepancy_kinds=",holder_dispute,name_mismatch,")
    other = ReviewItem(kind="clarification_answered", discrepancy_kinds=",holder_dispute,")

    with translation.override("id"):
        assert item.kinds_text == "Nama berbeda"  # its own kind is its title already
        assert other.kinds_text == "Disanggah oleh pemilik NIK"
    assert "holder_dispute" not in item.kinds_text + other.kinds_text


def test_a_proposed_correction_shows_the_fields_labels_and_the_sexs_word(
    client, clerk, registration
):
    item = answered_item(
        registration,
        clerk,
        correction={"full_name": "Siti Nurhayati", "sex": "F", "birth_date": "1990-08-17"},
        photo=photo_upload(),
        registry_confirms=True,
    )
    client.force_login(clerk)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"

    page = client.get(f"/compliance/clarifications/{item.clarification_id}/")

    html = page.content.decode()
    section = html[html.index('class="facts correction"') :]
    section = section[: section.index("</dl>")]
    assert "Nama lengkap" in section
    for code in ("full_name", "birth_date", ">sex<"):
        assert code not in section


def test_the_face_verdict_is_said_in_words(client, outlet, clerk):
    registration = make_registration(
        outlet,
        clerk=clerk,
        face_verdict="match",
        face_score=1.0,
        registry_checked_at=timezone.now(),
    )
    client.force_login(clerk)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"

    page = client.get(f"/registrations/{registration.pk}/")

    html = page.content.decode()
    assert "wajah: cocok (orang yang sama) (1,00)" in html
    assert "wajah: match" not in html


@pytest.mark.parametrize(
    ("actor", "words"),
    [
        ("holders", "Portal, atas laporan pemilik NIK"),
        ("holder", "Pemilik NIK, melalui halaman pemilik NIK"),
        ("retention-purge", "Pembersihan masa simpan data"),
        ("restore", "Portal, saat memulihkan cadangan"),
    ],
)
def test_actors_that_are_not_people_are_named_in_words(actor, words):
    with translation.override("id"):
        assert who(SimpleNamespace(actor=None, actor_label=actor)) == words
