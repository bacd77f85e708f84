"""One ID number, records that disagree (one NIK, two people): the request's page and the
command say so and list them (masked, with what disagrees); export, erase, restrict and lift
are refused with a readable 409 — never a 500 — until the operator admin names the person or
decides each record; nobody else reaches any of it."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.models import AuditEvent
from privacy import services
from privacy.models import DataSubjectRequest, RegistrationPrivacy

from .conftest import deactivate, nik

pytestmark = pytest.mark.django_db

ACTIONS = ("erase", "restrict", "lift-restriction")


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def two_people(register):
    """Dewi's NIK, and a registration someone else made with it under another name."""
    return register(55, full_name="Dewi Lestari"), register(55, full_name="Bambang Susilo")


@pytest.fixture
def ambiguous_request(client, operator, two_people):
    client.force_login(operator)
    client.post("/privacy/", {"id_number": nik(55), "channel": "grapari"})
    return DataSubjectRequest.objects.get()


def test_the_page_lists_the_records_that_disagree(client, ambiguous_request, two_people):
    mine, theirs = two_people

    html = client.get(f"/privacy/requests/{ambiguous_request.pk}/").content.decode()

    assert "The records of this ID number disagree" in html
    assert "No registration holds this ID number" not in html
    for registration in (mine, theirs):
        assert registration.registration_number in html
        assert f'name="registration:{registration.pk}"' in html
    assert "Dewi Lestari" in html and "Bambang Susilo" in html
    assert mine.id_number_masked in html and nik(55) not in html  # masked, never in full
    assert "Differs in" in html
    # The actions that would be refused are not offered.
    assert f"/privacy/requests/{ambiguous_request.pk}/erase/" not in html


def test_every_action_is_refused_with_a_readable_409(client, ambiguous_request, two_people):
    pk = ambiguous_request.pk
    for fmt in ("json", "csv"):
        response = client.post(f"/privacy/requests/{pk}/export/", {"format": fmt})
        assert response.status_code == 409
        assert "Content-Disposition" not in response
        assert "may be more than one person" in response.content.decode()
        assert "no-store" in response["Cache-Control"]
    for action in ACTIONS:
        response = client.post(f"/privacy/requests/{pk}/{action}/", {"confirm": "on"})
        assert response.status_code == 409, action
        html = response.content.decode()
        assert "Nothing was done" in html and two_people[1].registration_number in html
    assert not RegistrationPrivacy.objects.exists()
    ambiguous_request.refresh_from_db()
    assert ambiguous_request.actions == []
    assert not AuditEvent.objects.filter(
        action__in=["privacy.dsr_export", "privacy.dsr_erase", "privacy.dsr_restrict"]
    ).exists()


def test_deciding_each_record_on_the_page_unlocks_the_actions(
    client, operator, ambiguous_request, two_people
):
    mine, theirs = two_people
    pk = ambiguous_request.pk
    url = f"/privacy/requests/{pk}/decide/"
    # Nothing chosen: nothing recorded.
    assert client.post(url, {}).status_code == 302
    assert not AuditEvent.objects.filter(action="privacy.dsr_decide").exists()
    # One of two decided: the other still disagrees, actions still refused.
    client.post(url, {f"registration:{mine.pk}": "include"})
    assert client.post(f"/privacy/requests/{pk}/export/", {"format": "json"}).status_code == 409

    response = client.post(url, {f"registration:{theirs.pk}": "exclude"})

    assert response["Location"] == f"/privacy/requests/{pk}/"
    html = client.get(response["Location"]).content.decode()
    assert "The records of this ID number disagree" not in html
    assert mine.registration_number in html
    export = client.post(f"/privacy/requests/{pk}/export/", {"format": "json"})
    assert export.status_code == 200
    assert [r["full_name"] for r in json.loads(export.content)["registrations"]] == ["Dewi Lestari"]
    assert AuditEvent.objects.filter(action="privacy.dsr_decide", actor=operator).count() == 2
    # A key the number did not match is refused readably, not a 500.
    bad = client.post(url, {f"registration:{mine.pk}": "sideways"})
    assert bad.status_code == 302


def test_naming_the_person_on_the_look_up_narrows_the_records(client, operator, two_people):
    mine, theirs = two_people
    client.force_login(operator)

    response = client.post(
        "/privacy/",
        {
            "id_number": nik(55),
            "channel": "grapari",
            "full_name": "DEWI  lestari",
            "birth_date": mine.birth_date.isoformat(),
        },
    )

    request = DataSubjectRequest.objects.get()
    assert request.found["ambiguous"] == [f"registration:{theirs.pk}"]
    html = client.get(response["Location"]).content.decode()
    assert f'name="registration:{theirs.pk}"' in html
    assert f'name="registration:{mine.pk}"' not in html  # hers: not in question
    bad_date = client.post(
        "/privacy/", {"id_number": nik(55), "channel": "grapari", "birth_date": "17/08/1990"}
    )
    assert bad_date.status_code == 200 and b"YYYY-MM-DD" in bad_date.content


def test_other_errors_of_an_action_are_readable_too(client, operator, register, settings):
    register(42)
    client.force_login(operator)
    client.post("/privacy/", {"id_number": nik(42), "channel": "grapari"})
    request = DataSubjectRequest.objects.get()
    settings.FIELD_ENCRYPTION_KEYS = ["x" * 43 + "="]  # the numbers' key is gone

    response = client.post(f"/privacy/requests/{request.pk}/export/", {"format": "json"})

    assert response.status_code == 400
    assert "cannot be decrypted" in response.content.decode()


@pytest.mark.parametrize("persona", ["clerk", "dealer_user", "grapari", "regulator"])
def test_outsiders_get_404_on_an_ambiguous_request(client, request, persona, operator, two_people):
    subject_request = services.data_subject_request_open(
        actor=operator, id_number=nik(55), channel="grapari"
    )
    client.force_login(request.getfixturevalue(persona))
    events = AuditEvent.objects.count()
    pk = subject_request.pk
    keys = {f"registration:{r.pk}": "include" for r in two_people}
    assert client.get(f"/privacy/requests/{pk}/").status_code == 404
    assert client.post(f"/privacy/requests/{pk}/decide/", keys).status_code == 404
    assert client.post(f"/privacy/requests/{pk}/export/", {"format": "json"}).status_code == 404
    for action in ACTIONS:
        assert (
            client.post(f"/privacy/requests/{pk}/{action}/", {"confirm": "on"}).status_code == 404
        )
    assert client.post("/privacy/", {"id_number": nik(55), "channel": "letter"}).status_code == 403
    subject_request.refresh_from_db()
    assert subject_request.decisions == {}
    assert AuditEvent.objects.count() == events


def test_anonymous_is_sent_to_login_from_the_decision(client, operator, two_people):
    subject_request = services.data_subject_request_open(
        actor=operator, id_number=nik(55), channel="grapari"
    )
    response = client.post(f"/privacy/requests/{subject_request.pk}/decide/", {})
    assert response["Location"].startswith("/accounts/login/")


def test_the_command_names_the_records_that_disagree(two_people):
    mine, theirs = two_people
    out = StringIO()

    call_command("data_subject_request", nik(55), stdout=out)

    text = out.getvalue()
    assert "0 registration(s)" in text and "2 record(s) of this ID number disagree" in text
    for registration in (mine, theirs):
        assert f"registration:{registration.pk}" in text
        assert registration.registration_number in text
    assert "differs: name" in text and nik(55) not in text

    out = StringIO()
    with pytest.raises(CommandError, match="may be another person"):
        call_command("data_subject_request", nik(55), "--restrict", stdout=out)
    assert f"registration:{theirs.pk}" in out.getvalue()
    assert not RegistrationPrivacy.objects.exists()


def test_the_command_acts_once_each_record_is_decided(two_people, tmp_path):
    mine, theirs = two_people
    deactivate(mine, days_ago=1)
    out = StringIO()

    call_command(
        "data_subject_request",
        nik(55),
        "--decide",
        f"registration:{mine.pk}=include",
        "--decide",
        f"registration:{theirs.pk}=exclude",
        "--erase",
        stdout=out,
    )

    text = out.getvalue()
    assert "1 registration(s)" in text and "disagree" not in text
    assert f"anonymised [{mine.pk}]" in text
    theirs.refresh_from_db()
    assert theirs.full_name == "Bambang Susilo"


def test_the_command_narrowed_by_name_lists_only_the_other_record(two_people):
    mine, theirs = two_people
    out = StringIO()
    call_command(
        "data_subject_request",
        nik(55),
        "--name",
        "Dewi Lestari",
        "--birth-date",
        mine.birth_date.isoformat(),
        stdout=out,
    )
    text = out.getvalue()
    assert "1 registration(s)" in text and "1 record(s) of this ID number disagree" in text
    assert f"registration:{theirs.pk}" in text and f"registration:{mine.pk} " not in text
