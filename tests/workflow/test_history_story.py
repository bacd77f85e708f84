"""A registration's history as a story: days, one sentence per event, looks folded."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.audit import AuditAction, audit_record
from core.models import AuditEvent
from tests.factories import UserFactory

from .conftest import flagged_request

pytestmark = pytest.mark.django_db


def _look(actor, registration, action=AuditAction.REGISTRATION_PHOTO_VIEW, *, days_ago=0):
    event = audit_record(actor=actor, action=action, target=registration, after={"kind": "x"})
    AuditEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )


def test_photo_views_fold_into_one_line_per_viewer_per_day(client, grapari, registration):
    grapari.first_name, grapari.last_name = "Dewi", "Lestari"
    grapari.save()
    other = UserFactory(username="grapari2", role="grapari", first_name="Tono")
    for _ in range(4):
        _look(grapari, registration)
    _look(other, registration)
    _look(grapari, registration, days_ago=2)
    flagged_request(registration, "name_mismatch")
    client.force_login(grapari)

    html = client.get(f"/compliance/registrations/{registration.pk}/history/").content.decode()

    # Four views today by one viewer are one line; the other viewer and the other day, theirs.
    assert html.count("viewed the photos 4 times") == 1
    assert html.count("viewed the photos once") == 2
    assert "Dewi Lestari (GraPARI reviewer)" in html
    assert html.count('class="history-day"') == 2
    # The request's sentence names the finding in words.
    assert "Clarification requested: Name differs" in html
    assert "registration.photo_view" not in html and "name_mismatch" not in html


def test_the_operator_admin_may_read_the_raw_rows(client, operator, grapari, registration):
    _look(grapari, registration)
    client.force_login(operator)

    story = client.get(f"/compliance/registrations/{registration.pk}/history/").content.decode()
    raw = client.get(f"/compliance/registrations/{registration.pk}/history/?raw=1")

    assert "?raw=1" in story and "registration.photo_view" not in story
    assert "registration.photo_view" in raw.content.decode()


def test_only_the_operator_admin_gets_the_raw_rows(client, grapari, registration):
    _look(grapari, registration)
    client.force_login(grapari)

    html = client.get(f"/compliance/registrations/{registration.pk}/history/?raw=1")

    assert "registration.photo_view" not in html.content.decode()
    assert "viewed the photos once" in html.content.decode()


def test_what_the_portal_did_by_itself_is_told_as_the_portals(client, grapari, registration):
    # A reconciliation run flags a registration under the actor "system" (no person).
    AuditEvent.objects.create(
        actor_label="system",
        action=AuditAction.REGISTRATION_FLAG,
        target_type="subscribers.registration",
        target_id=str(registration.pk),
        before={"status": "registered"},
        after={"status": "flagged", "reconciliation_run": 2},
    )
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    client.force_login(grapari)

    html = client.get(f"/compliance/registrations/{registration.pk}/history/").content.decode()

    assert "<strong>Portal</strong>: Registrasi ditandai" in html
    assert "system" not in html
