"""The operator admin's /privacy/ pages, per persona: everyone else gets 403 (pages) or 404
(requests); the look-up is a POST; exports are private downloads; erase/restrict ask first."""

import json

import pytest
from django.test import Client

from core import pii
from core.models import AuditEvent
from privacy import services
from privacy.models import DataSubjectRequest, PrivacyJob

from .conftest import deactivate, nik

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def subject_request(operator, register):
    register(42)
    return services.data_subject_request_open(actor=operator, id_number=nik(42), channel="letter")


def request_urls(pk: int) -> list[str]:
    return [
        f"/privacy/requests/{pk}/",
        f"/privacy/requests/{pk}/erase/",
        f"/privacy/requests/{pk}/restrict/",
        f"/privacy/requests/{pk}/lift-restriction/",
    ]


def test_anonymous_is_sent_to_login(client, subject_request):
    for url in ["/privacy/", "/privacy/jobs/", *request_urls(subject_request.pk)]:
        assert client.get(url)["Location"].startswith("/accounts/login/"), url


@pytest.mark.parametrize("persona", ["clerk", "dealer_user", "grapari", "regulator"])
def test_other_roles_get_403_or_404_and_nothing_is_written(
    client, request, persona, subject_request
):
    client.force_login(request.getfixturevalue(persona))
    events = AuditEvent.objects.count()
    assert client.get("/privacy/").status_code == 403
    assert client.post("/privacy/", {"id_number": nik(42), "channel": "letter"}).status_code == 403
    assert client.get("/privacy/jobs/").status_code == 403
    assert client.post("/privacy/jobs/", {"kind": "retention_purge"}).status_code == 403
    for url in request_urls(subject_request.pk):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"confirm": "on"}).status_code == 404, url
    export = f"/privacy/requests/{subject_request.pk}/export/"
    assert client.post(export, {"format": "json"}).status_code == 404
    assert AuditEvent.objects.count() == events
    assert DataSubjectRequest.objects.count() == 1 and not PrivacyJob.objects.exists()


def test_operator_looks_up_a_number_and_sees_the_records(client, operator, register):
    registration = register(42)
    client.force_login(operator)
    page = client.get("/privacy/")
    assert page.status_code == 200 and b'name="id_number"' in page.content

    response = client.post(
        "/privacy/", {"id_number": nik(42), "channel": "grapari", "reference": "T-9"}
    )

    subject_request = DataSubjectRequest.objects.get()
    assert response["Location"] == f"/privacy/requests/{subject_request.pk}/"
    detail = client.get(response["Location"])
    html = detail.content.decode()
    assert detail.status_code == 200
    assert "no-store" in detail["Cache-Control"]
    assert registration.registration_number in html and "Siti Nur" in html
    assert nik(42) not in html  # masked on the page; the full number is in the export only
    assert "· Satu Pintu</title>" in html  # extends base.html
    actions = list(
        AuditEvent.objects.filter(action__startswith="privacy.dsr").values_list("action", flat=True)
    )
    assert sorted(actions) == ["privacy.dsr_lookup", "privacy.dsr_view"]


def test_bad_number_is_shown_at_its_field_and_nothing_written(client, operator):
    client.force_login(operator)
    response = client.post("/privacy/", {"id_number": "-", "channel": "grapari"})
    assert response.status_code == 200
    assert b"Enter the ID number" in response.content
    assert not DataSubjectRequest.objects.exists()
    assert not AuditEvent.objects.exists()


def test_export_is_a_private_download(client, operator, subject_request):
    client.force_login(operator)
    url = f"/privacy/requests/{subject_request.pk}/export/"
    assert client.get(url).status_code == 405

    response = client.post(url, {"format": "json"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    assert json.loads(response.content)["registrations"][0]["id_number"] == nik(42)
    csv_response = client.post(url, {"format": "csv"})
    assert csv_response["Content-Type"].startswith("text/csv")
    assert client.post(url, {"format": "xml"}).status_code == 400
    assert AuditEvent.objects.filter(action="privacy.dsr_export").count() == 2


def test_erase_asks_for_confirmation_first(client, operator, subject_request):
    registration = subject_request_registration(subject_request)
    deactivate(registration, days_ago=1)
    client.force_login(operator)
    url = f"/privacy/requests/{subject_request.pk}/erase/"

    page = client.get(url)
    assert page.status_code == 200 and b"cannot be undone" in page.content
    unconfirmed = client.post(url, {})
    assert unconfirmed.status_code == 200
    registration.refresh_from_db()
    assert registration.full_name == "Siti Nur'aini"
    assert not AuditEvent.objects.filter(action="privacy.dsr_erase").exists()

    done = client.post(url, {"confirm": "on"})

    assert done["Location"] == f"/privacy/requests/{subject_request.pk}/"
    registration.refresh_from_db()
    assert registration.full_name == ""
    assert AuditEvent.objects.filter(action="privacy.dsr_erase", actor=operator).exists()


def subject_request_registration(subject_request):
    from privacy.selectors import data_subject_records

    return data_subject_records(digests=subject_request.id_number_digests).registrations[0]


def test_restrict_and_lift_from_the_page(client, operator, subject_request):
    registration = subject_request_registration(subject_request)
    client.force_login(operator)
    client.post(f"/privacy/requests/{subject_request.pk}/restrict/", {"confirm": "on"})
    assert registration.privacy.restricted_at is not None
    client.post(f"/privacy/requests/{subject_request.pk}/lift-restriction/", {"confirm": "on"})
    registration.privacy.refresh_from_db()
    assert registration.privacy.restricted_at is None
    assert client.get(f"/privacy/requests/{subject_request.pk}/unknown/").status_code == 404


def test_posts_need_the_csrf_token(operator, subject_request):
    browser = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(operator)
    assert browser.post("/privacy/", {"id_number": nik(42), "channel": "letter"}).status_code == 403
    url = f"/privacy/requests/{subject_request.pk}/erase/"
    assert browser.post(url, {"confirm": "on"}).status_code == 403
    assert DataSubjectRequest.objects.count() == 1
    assert not AuditEvent.objects.filter(action="privacy.dsr_erase").exists()


def test_jobs_page_previews_and_starts_a_purge(
    client, operator, register, settings, django_capture_on_commit_callbacks
):
    settings.RETENTION_DAYS_AFTER_DEACTIVATION = 30
    deactivate(register(42), days_ago=31)
    client.force_login(operator)
    page = client.get("/privacy/jobs/")
    assert page.status_code == 200
    assert b'<dd id="due-count">1</dd>' in page.content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/privacy/jobs/", {"kind": "retention_purge"})

    assert response.status_code == 302
    job = PrivacyJob.objects.get()
    assert (job.status, job.trigger, job.requested_by) == ("succeeded", "page", operator)
    assert job.counts["anonymised"] == 1
    assert client.get("/privacy/jobs/").content.count(b'<dd id="due-count">0</dd>') == 1


def test_the_digest_rotation_starts_from_the_page_only_with_both_keys(
    require_postgres, client, operator, register, settings, django_capture_on_commit_callbacks
):
    """Without the pair of keys deployed the page says what to do and starts nothing; with
    them the job is queued and a worker re-digests everything."""
    register(42)
    client.force_login(operator)
    response = client.post("/privacy/jobs/", {"kind": "digest_rotation"}, follow=True)
    assert response.status_code == 200
    assert b"ID_DIGEST_KEY_PREVIOUS" in response.content
    assert not PrivacyJob.objects.exists()

    old = settings.ID_DIGEST_KEY
    settings.ID_DIGEST_KEY, settings.ID_DIGEST_KEY_PREVIOUS = (
        "page-new-digest-key-0123456789abc",
        old,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/privacy/jobs/", {"kind": "digest_rotation"})
    assert response.status_code == 302
    job = PrivacyJob.objects.get()
    assert (job.kind, job.status, job.requested_by) == ("digest_rotation", "succeeded", operator)
    from subscribers.models import Registration

    assert Registration.objects.get().id_number_digest == pii._hmac(
        "page-new-digest-key-0123456789abc", nik(42)
    )


def test_the_digest_rotation_is_refused_plainly_off_postgresql(
    client, operator, register, settings, monkeypatch
):
    """On another database (SQLite under ``make run``) the page says the rotation needs
    PostgreSQL and starts nothing; the command says the same and stops."""
    from django.core.management import CommandError, call_command
    from django.db import connection

    register(42)
    settings.ID_DIGEST_KEY, settings.ID_DIGEST_KEY_PREVIOUS = (
        "page-new-digest-key-0123456789abc",
        settings.ID_DIGEST_KEY,
    )
    monkeypatch.setattr(connection, "vendor", "sqlite")
    client.force_login(operator)
    response = client.post("/privacy/jobs/", {"kind": "digest_rotation"}, follow=True)
    assert b"needs PostgreSQL" in response.content
    assert not PrivacyJob.objects.exists()
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("rotate_digest_key")
    assert not PrivacyJob.objects.exists()


def test_other_roles_cannot_start_a_digest_rotation(client, clerk, settings):
    settings.ID_DIGEST_KEY_PREVIOUS = "previous-digest-key-0123456789abc"
    client.force_login(clerk)
    assert client.post("/privacy/jobs/", {"kind": "digest_rotation"}).status_code in (403, 404)
    assert not PrivacyJob.objects.exists()
