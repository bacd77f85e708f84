"""What the holder's door (/nomor-saya/) keeps under a person's NIK is theirs: a personal-data
export lists their disputes (with their note), their sessions and the processing of both; an
erasure leaves nothing of them in the door's tables (no digest, masked NIK or note), while a
dispute still being handled stays actionable; a restore gets it erased again."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from core import pii
from holders.models import HolderDispute, HolderKeepChoice, HolderSession
from holders.services import holder_disputes_block_due
from privacy import services
from subscribers.models import Registration
from tests.holders.conftest import CommittingAPIClient, log_in, make_person

pytestmark = pytest.mark.django_db

NOTE = "Saya tidak pernah membeli nomor ini"


@pytest.fixture
def door(django_capture_on_commit_callbacks):
    client = CommittingAPIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.capture = django_capture_on_commit_callbacks
    return client


@pytest.fixture
def disputed(door, outlet):
    """A holder who visited the door twice and disputed their second number with a note."""
    person = make_person(outlet, numbers=3)
    log_in(door, person)
    log_in(door, person)
    ref = door.get("/api/v1/holder/numbers/").json()["results"][1]["ref"]
    answer = door.post("/api/v1/holder/disputes/", {"msisdn": ref, "note": NOTE}, format="json")
    assert answer.status_code == 201, answer.content
    return person


def _request(operator, person):
    return services.data_subject_request_open(
        actor=operator, id_number=person.nik, channel="grapari"
    )


def test_the_export_holds_the_disputes_sessions_and_their_processing(operator, disputed):
    request = _request(operator, disputed)

    data = json.loads(services.data_subject_request_export(actor=operator, request=request).content)

    [dispute] = data["holder_disputes"]
    assert dispute["msisdn"] == disputed.registrations[1].msisdn
    assert dispute["note"] == NOTE and dispute["status"] == "notice"
    assert dispute["reported_at"] and dispute["blocked_after"]
    assert len(data["holder_sessions"]) == 2
    assert all(s["opened_at"] and "*" in s["login_number"] for s in data["holder_sessions"])
    assert data["holder_numbers_not_kept"] == []
    actions = {entry["action"] for entry in data["processing_log"]}
    assert {"holder.session_start", "holder.dispute_open"} <= actions
    # Never the door's secrets.
    text = json.dumps(data)
    session = HolderSession.objects.first()
    assert session.code_hash not in text and session.token_hash not in text
    csv = services.data_subject_request_export(actor=operator, request=request, fmt="csv").content
    assert NOTE.encode() in csv and b"holder_sessions" in csv


def test_the_request_page_shows_the_door_records(client, operator, disputed):
    request = _request(operator, disputed)
    client.force_login(operator)
    html = client.get(f"/privacy/requests/{request.pk}/", HTTP_ACCEPT_LANGUAGE="en").content
    assert b'id="holder-door"' in html and b"Reported as not theirs" in html
    assert b"2 visits to the door" in html


def _leftovers(person) -> list[str]:
    """Every value of the door's tables that still names the person."""
    digests = set(pii.digests(person.nik))
    masked = {r.id_number_masked for r in person.registrations}
    found = []
    for model in (HolderSession, HolderDispute, HolderKeepChoice):
        for row in model.objects.values():
            for name, value in row.items():
                if value in digests or value in masked or value == NOTE:
                    found.append(f"{model.__name__}.{name}")
    return found


def test_erasure_leaves_nothing_of_the_person_and_the_dispute_goes_on(operator, disputed):
    assert _leftovers(disputed)
    request = _request(operator, disputed)

    outcome = services.data_subject_request_erase(actor=operator, request=request)

    assert outcome.holder_sessions_deleted == 2
    assert _leftovers(disputed) == []
    assert not HolderSession.objects.exists()
    dispute = HolderDispute.objects.get()
    assert outcome.holder_disputes_erased == [dispute.pk]
    assert (dispute.nik_digest, dispute.note, dispute.session_id) == ("", "", None)
    # The workflow still has what it reads: the number is blocked after the notice window.
    assert dispute.msisdn == disputed.registrations[1].msisdn and dispute.review_item_id
    assert holder_disputes_block_due(now=timezone.now() + timedelta(hours=25)) == 1
    dispute.refresh_from_db()
    assert dispute.status == HolderDispute.Status.BLOCKED
    assert Registration.objects.get(pk=dispute.registration_id).status == "blocked"
    request.refresh_from_db()
    assert request.actions[-1]["result"]["holder_disputes_erased"] == [dispute.pk]


def test_a_restore_gets_the_door_records_erased_again(operator, disputed):
    request = _request(operator, disputed)
    digest = HolderDispute.objects.get().nik_digest
    services.data_subject_request_erase(actor=operator, request=request)
    # A backup taken before the erasure brings the dispute's values back.
    HolderDispute.objects.update(nik_digest=digest, note=NOTE)

    counts = services.erasure_ledger_reapply()

    assert counts["holder_records"] == 1
    assert _leftovers(disputed) == []


def test_anonymising_the_disputed_registration_drops_the_dispute_s_digest_and_note(
    operator, disputed
):
    dispute = HolderDispute.objects.get()

    services.registrations_anonymise(
        registration_ids=[dispute.registration_id], actor="test", reason="retention"
    )

    dispute.refresh_from_db()
    assert (dispute.nik_digest, dispute.note) == ("", "")
