"""A correction is checked against the population registry like a new registration, under the
registration's own rule set (docs/rules.md, "Corrections and the population registry"): a NIK
the registry does not know, a family card that is not the NIK's, a name it does not record are
refused at their fields in Bahasa Indonesia with nothing written; the registry's own values are
accepted and, once GraPARI accepts them, become the registration's; the registry down refuses
the correction clearly (an explanation alone is still taken)."""

from datetime import date, datetime

import pytest
from django.utils import timezone

from compliance.models import Clarification, ClarificationAnswer, ReviewItem
from compliance.workflow.review import review_item_decide
from core import pii
from core.models import AuditEvent
from identity.idgen import make_kk, make_nik
from subscribers.models import Registration, RegistrationPolicy
from tests.conftest import photo_upload

from .conftest import BIRTH, flagged_request, in_registry, make_registration

pytestmark = pytest.mark.django_db
CLARIFICATIONS = "/api/v1/clarifications/"


def _answer(api, clerk, request, **correction):
    client = api(clerk)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    return client.post(
        f"{CLARIFICATIONS}{request.pk}/answer/",
        {"explanation": "Salah ketik di konter.", "evidence_photo": photo_upload(), **correction},
        format="multipart",
    )


def _nothing_written(request: Clarification) -> None:
    request.refresh_from_db()
    assert request.status == "open"
    assert not ClarificationAnswer.objects.exists()
    assert not ReviewItem.objects.exists()
    assert not AuditEvent.objects.filter(action="clarification.answered").exists()


def test_a_nik_the_registry_does_not_know_is_refused_at_id_number(api, clerk, registration):
    request = flagged_request(registration, "id_number_mismatch")
    unknown = make_nik(birth_date=BIRTH, sex="F", serial=5151)  # valid, not at Dukcapil

    response = _answer(api, clerk, request, id_number=unknown)

    assert response.status_code == 400
    assert list(response.json()) == ["id_number"]
    message = response.json()["id_number"][0]
    assert "tidak terdaftar di Dukcapil" in message
    _nothing_written(request)


def test_the_registrys_values_are_accepted_and_applied_when_grapari_accepts(
    api, clerk, grapari, registration
):
    request = flagged_request(registration, "id_number_mismatch")
    right = make_nik(birth_date=BIRTH, sex="F", serial=5152)
    in_registry(registration, id_number=right, full_name="Siti Nurhayati")

    response = _answer(api, clerk, request, id_number=right, full_name="Siti Nurhayati")

    assert response.status_code == 201, response.content
    item = ReviewItem.objects.get(clarification=request, status="open")
    review_item_decide(actor=grapari, item=item, decision="accept")
    registration.refresh_from_db()
    assert registration.full_name == "Siti Nurhayati"
    assert registration.id_number_digest == pii.digest(right)


def test_a_name_the_registry_does_not_record_is_refused_at_full_name(api, clerk, registration):
    request = flagged_request(registration)
    in_registry(registration)  # Dukcapil records her as "Siti Nur'aini"

    response = _answer(api, clerk, request, full_name="Siti Nurhayati")

    assert response.status_code == 400
    assert list(response.json()) == ["full_name"]
    assert "Dukcapil" in response.json()["full_name"][0]
    _nothing_written(request)


@pytest.fixture
def registration_2019(outlet, clerk):
    """A registration made under the 2018-11 rule set (NIK + KK, both checked by Dukcapil)."""
    made = datetime(2019, 6, 3, 10, tzinfo=timezone.get_current_timezone())
    return make_registration(
        outlet,
        clerk=clerk,
        policy=RegistrationPolicy.objects.get(code="2018-11"),
        registered_at=made,
    )


def test_a_family_card_that_is_not_the_niks_is_refused_where_the_rule_asks_for_a_kk(
    api, clerk, registration_2019
):
    request = flagged_request(registration_2019)
    in_registry(registration_2019)
    wrong_kk = make_kk(recorded=date(2019, 1, 2), serial=888)

    response = _answer(api, clerk, request, kk_number=wrong_kk)

    assert response.status_code == 400
    assert list(response.json()) == ["kk_number"]
    assert "KK" in response.json()["kk_number"][0]
    _nothing_written(request)


def test_the_niks_own_family_card_is_accepted(api, clerk, registration_2019):
    request = flagged_request(registration_2019)
    right_kk = make_kk(recorded=date(2019, 1, 2), serial=889)
    in_registry(registration_2019, kk_number=right_kk)

    response = _answer(api, clerk, request, kk_number=right_kk)

    assert response.status_code == 201, response.content
    answer = ClarificationAnswer.objects.get()
    assert set(answer.correction) == {"kk_number"}
    assert pii.decrypt(answer.correction_kk_number_encrypted) == right_kk


def test_a_correction_is_judged_under_the_registrations_rule_set(api, clerk, registration):
    """Under 2026-07 (NIK + face) no KK is asked: a family card the registry does not pair is
    not a reason to refuse the correction, as at the counter."""
    request = flagged_request(registration)
    other_kk = make_kk(recorded=date(2019, 1, 2), serial=890)
    in_registry(registration, full_name="Siti Nurhayati")

    response = _answer(api, clerk, request, full_name="Siti Nurhayati", kk_number=other_kk)

    assert response.status_code == 201, response.content


def test_the_registry_down_refuses_the_correction_clearly(api, clerk, registration, settings):
    request = flagged_request(registration)
    in_registry(registration, full_name="Siti Nurhayati")
    settings.POPULATION_REGISTRY_MOCK_FAULT = "down"

    response = _answer(api, clerk, request, full_name="Siti Nurhayati")

    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]
    message = response.json()["non_field_errors"][0]
    assert "Dukcapil" in message and "kirim" in message.lower()
    _nothing_written(request)
    unchanged = Registration.objects.get(pk=registration.pk)
    assert unchanged.full_name == "Siti Nur'aini"

    # An explanation alone needs no registry: it is taken now.
    alone = api(clerk).post(
        f"{CLARIFICATIONS}{request.pk}/answer/",
        {"explanation": "KTP pembeli sudah dicek ulang."},
        format="json",
    )
    assert alone.status_code == 201, alone.content


def test_a_correction_of_the_address_alone_does_not_ask_the_registry(
    api, clerk, registration, settings
):
    request = flagged_request(registration)
    settings.POPULATION_REGISTRY_MOCK_FAULT = "down"

    response = _answer(api, clerk, request, address="Jl. Mawar 3, Bandung")

    assert response.status_code == 201, response.content


def test_the_web_form_shows_the_registrys_refusal_at_the_field(client, clerk, registration):
    request = flagged_request(registration, "id_number_mismatch")
    client.force_login(clerk)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"

    response = client.post(
        f"/compliance/clarifications/{request.pk}/",
        {
            "explanation": "Salah ketik NIK.",
            "id_number": make_nik(birth_date=BIRTH, sex="F", serial=5153),
            "evidence_photo": photo_upload(),
        },
    )

    assert response.status_code == 200
    assert "tidak terdaftar di Dukcapil" in response.context["form"].errors["id_number"][0]
    _nothing_written(request)
