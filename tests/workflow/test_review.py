"""GraPARI's review queue: who sees it, filters and keyset pages, claims, each decision and its
effects, bulk decisions, and the misuse list: another reviewer's item, a decision without its
reason — clear errors, nothing half-written."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from compliance.models import (
    Clarification,
    Discrepancy,
    DiscrepancyOutcome,
    NumberBlock,
    RegistrationVersion,
    ReviewItem,
    Violation,
)
from compliance.workflow import sanctions
from compliance.workflow.clarifications import clarifications_expire_overdue
from compliance.workflow.queue import review_queue_sync
from compliance.workflow.review import (
    review_item_claim,
    review_item_decide,
    review_item_release,
)
from compliance.workflow.support import WorkflowConflict
from core.masking import display_msisdn
from core.models import AuditEvent
from identity.idgen import make_nik
from operatordb.models import OperatorSubscriber
from outlets.models import StarterPack
from tests.conftest import photo_upload
from tests.factories import UserFactory

from .conftest import (
    BIRTH,
    answered_item,
    flagged_request,
    hand_over,
    make_registration,
    open_discrepancy,
)

pytestmark = pytest.mark.django_db
ITEMS = "/api/v1/review-items/"


@pytest.fixture
def reviewer2(db):
    return UserFactory(username="grapari2", role="grapari")


def _decide(api, user, item, **body):
    return api(user).post(f"{ITEMS}{item.pk}/decide/", body, format="json")


# --- who sees the queue -------------------------------------------------------------------------


def test_queue_is_for_reviewers_read_only_for_the_regulator(
    api, client, clerk, dealer_user, regulator, grapari, registration
):
    item = answered_item(registration, clerk)

    assert api(clerk).get(ITEMS).status_code == 403
    assert api(dealer_user).get(ITEMS).status_code == 403
    assert api(clerk).get(f"{ITEMS}{item.pk}/").status_code == 403
    client.force_login(clerk)
    assert client.get("/compliance/review/").status_code == 403
    assert api(regulator).get(ITEMS).json()["count"] == 1
    assert _decide(api, regulator, item, decision="dismiss", reason="x").status_code == 403
    assert api(grapari).get(ITEMS).json()["results"][0]["id"] == item.pk


def test_regulator_sees_no_photos_and_masked_names(api, regulator, clerk, registration):
    item = answered_item(
        registration, clerk, correction={"full_name": "Siti Nurhayati"}, photo=photo_upload()
    )

    body = api(regulator).get(f"{ITEMS}{item.pk}/").json()

    assert body["registration_data"]["photos"] == []
    assert "Nur'aini" not in str(body) and "Nurhayati" not in str(body)
    assert body["request"]["answers"][0]["evidence_photo_url"] is None


def test_review_page_shows_everything_needed(client, grapari, clerk, registration):
    OperatorSubscriber.objects.create(
        msisdn=registration.msisdn,
        status="active",
        full_name="Siti Nurhayati",
        id_type="ktp",
        id_number_masked="3171********0999",
    )
    item = answered_item(
        registration, clerk, correction={"full_name": "Siti Nurhayati"}, photo=photo_upload()
    )
    client.force_login(grapari)

    page = client.get(f"/compliance/review/{item.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert registration.registration_number in html
    assert "3171********0999" in html  # the operator's record
    assert "The buyer showed the KTP again." in html  # the outlet's answer
    assert "/evidence/" in html  # the evidence, for reviewers
    assert 'id="history"' in html and "Clarification answered" in html
    # Looking at someone else's registration is recorded.
    assert AuditEvent.objects.filter(action="registration.view", actor=grapari).exists()


# --- filters and pages --------------------------------------------------------------------------


def test_filters_and_most_overdue_first(api, grapari, clerk, outlet, other_outlet, clerk2):
    old = answered_item(make_registration(outlet), clerk)
    new = answered_item(make_registration(other_outlet), clerk2)
    expired_request = flagged_request(make_registration(outlet))
    Clarification.objects.filter(pk=expired_request.pk).update(
        due_at=timezone.now() - timedelta(days=2)
    )
    clarifications_expire_overdue()
    expired = ReviewItem.objects.get(clarification=expired_request)
    ReviewItem.objects.filter(pk=new.pk).update(due_at=timezone.now() + timedelta(days=5))

    def ids(**params):
        return [r["id"] for r in api(grapari).get(ITEMS, params).json()["results"]]

    assert ids() == [expired.pk, old.pk, new.pk]
    assert ids(kind="expired_clarification") == [expired.pk]
    assert ids(outlet=other_outlet.roid) == [new.pk]
    assert ids(dealer=outlet.dealer.code) == [expired.pk, old.pk, new.pk]
    assert ids(province="31") == [expired.pk, old.pk, new.pk]
    assert ids(overdue="true") == [expired.pk]
    assert ids(discrepancy_kind="name_mismatch") == [expired.pk, old.pk, new.pk]
    assert ids(discrepancy_kind="birth_date_mismatch") == []
    assert api(grapari).get(ITEMS, {"kind": "nonsense"}).status_code == 400


def test_keyset_pages_walk_the_whole_queue(api, grapari, client, outlet):
    for _ in range(7):
        flagged_request(make_registration(outlet))
    Clarification.objects.update(due_at=timezone.now() - timedelta(hours=1))
    clarifications_expire_overdue()
    ReviewItem.objects.update(due_at=timezone.now())  # ties on due_at: the id settles them

    seen, cursor = [], None
    while True:
        params = {"page_size": 3, **({"cursor": cursor} if cursor else {})}
        body = api(grapari).get(ITEMS, params).json()
        seen += [r["id"] for r in body["results"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ReviewItem.objects.values_list("pk", flat=True))
    assert body["count"] == 7
    assert api(grapari).get(ITEMS, {"cursor": "not-a-cursor"}).status_code == 400
    client.force_login(grapari)
    assert client.get("/compliance/review/", {"after": "junk"}).status_code == 200


# --- claims -------------------------------------------------------------------------------------


def test_claim_release_and_another_reviewers_claim(api, grapari, reviewer2, clerk, registration):
    item = answered_item(registration, clerk)

    assert api(grapari).post(f"{ITEMS}{item.pk}/claim/").status_code == 200
    taken = api(reviewer2).post(f"{ITEMS}{item.pk}/claim/")
    assert taken.status_code == 409
    assert taken.json()["code"] == "claimed_by_other" and "grapari" in taken.json()["detail"]

    # Deciding an item another reviewer holds: 409, nothing written.
    refused = _decide(api, reviewer2, item, decision="dismiss", reason="fine")
    assert refused.status_code == 409
    item.refresh_from_db()
    assert item.status == "open" and item.claimed_by == grapari
    assert item.clarification.status == "answered"
    assert not Discrepancy.objects.filter(status="resolved").exists()

    assert api(reviewer2).post(f"{ITEMS}{item.pk}/release/").status_code == 409
    assert api(grapari).post(f"{ITEMS}{item.pk}/release/").status_code == 200
    assert api(reviewer2).post(f"{ITEMS}{item.pk}/claim/").status_code == 200
    actions = list(
        AuditEvent.objects.filter(target_id=str(item.pk), action__startswith="review_item.c")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["review_item.claim", "review_item.claim"]


def test_an_idle_claim_expires(grapari, reviewer2, clerk, registration, settings):
    item = answered_item(registration, clerk)
    review_item_claim(actor=grapari, item=item, now=timezone.now() - timedelta(hours=1))

    review_item_claim(actor=reviewer2, item=item)

    item.refresh_from_db()
    assert item.claimed_by == reviewer2


def test_a_decided_item_cannot_be_decided_again(api, grapari, reviewer2, clerk, registration):
    item = answered_item(registration, clerk)
    assert _decide(api, grapari, item, decision="dismiss", reason="KTP checked").status_code == 200

    again = _decide(api, reviewer2, item, decision="confirm_violation", reason="no")

    assert again.status_code == 409 and again.json()["code"] == "already_decided"
    assert not Violation.objects.exists()


# --- decisions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["dismiss", "ask_again", "confirm_violation", "block"])
def test_a_decision_without_its_reason_is_refused_at_reason(
    api, grapari, clerk, registration, decision
):
    item = answered_item(registration, clerk)

    response = _decide(api, grapari, item, decision=decision, reason="  ")

    assert response.status_code == 400
    assert "reason" in response.json()
    item.refresh_from_db()
    assert item.status == "open"
    assert not Violation.objects.exists() and not NumberBlock.objects.exists()


def test_accept_without_a_proposed_correction_is_refused(api, grapari, clerk, registration):
    item = answered_item(registration, clerk)

    response = _decide(api, grapari, item, decision="accept")

    assert response.status_code == 400 and "decision" in response.json()


def test_dismiss_resolves_and_verifies_and_is_remembered(api, grapari, clerk, registration):
    item = answered_item(registration, clerk)
    discrepancy = Discrepancy.objects.get()

    assert _decide(api, grapari, item, decision="dismiss", reason="KTP matches").status_code == 200

    discrepancy.refresh_from_db()
    registration.refresh_from_db()
    assert discrepancy.status == "resolved" and discrepancy.resolved_by_run is None
    assert DiscrepancyOutcome.objects.get().outcome == "dismissed"
    assert item.clarification.__class__.objects.get().status == "accepted"
    assert registration.status == "verified"
    assert AuditEvent.objects.filter(action="registration.verify").exists()

    # A later run opening exactly the same finding: settled, nobody asked again.
    again = open_discrepancy(registration, kind="name_mismatch")
    hand_over(again)
    again.refresh_from_db()
    assert again.status == "resolved"
    assert Clarification.objects.count() == 1


def test_accept_applies_the_correction_as_a_new_version(api, grapari, clerk, registration):
    new_nik = make_nik(birth_date=BIRTH, sex="F", serial=777)
    old_digest = registration.id_number_digest
    item = answered_item(
        registration,
        clerk,
        correction={"full_name": "Siti Nurhayati", "id_number": new_nik},
        photo=photo_upload(),
    )

    response = _decide(api, grapari, item, decision="accept")

    assert response.status_code == 200, response.content
    registration.refresh_from_db()
    assert registration.full_name == "Siti Nurhayati"
    assert registration.id_number_masked == new_nik[:4] + "********" + new_nik[-4:]
    assert registration.status == "verified"
    version = RegistrationVersion.objects.get()
    assert version.version == 1 and version.values["full_name"] == "Siti Nur'aini"
    assert version.id_number_digest == old_digest
    assert DiscrepancyOutcome.objects.get().outcome == "corrected"
    audit = AuditEvent.objects.get(action="registration.correct")
    assert new_nik not in str(audit.after) and "Nurhayati" not in str(audit.after)


def test_ask_again_reopens_with_a_new_deadline(api, grapari, clerk, registration):
    item = answered_item(registration, clerk)
    request = item.clarification

    response = _decide(api, grapari, item, decision="ask_again", reason="Send the KK photo.")

    assert response.status_code == 200
    request.refresh_from_db()
    assert (request.status, request.round, request.question) == (
        "reopened",
        2,
        "Send the KK photo.",
    )
    assert request.due_at > timezone.now() + timedelta(days=6)
    assert request.answers.get().outcome == "rejected"
    # The clerk can answer again.
    again = api(clerk).post(
        f"/api/v1/clarifications/{request.pk}/answer/", {"explanation": "Here"}, format="json"
    )
    assert again.status_code == 201


def test_block_blocks_the_number_everywhere_and_tells_the_operator(
    api, grapari, clerk, registration, django_capture_on_commit_callbacks
):
    OperatorSubscriber.objects.create(msisdn=registration.msisdn, status="active")
    item = answered_item(registration, clerk)

    with django_capture_on_commit_callbacks(execute=True):
        response = _decide(api, grapari, item, decision="block", reason="Fake KTP")

    assert response.status_code == 200
    registration.refresh_from_db()
    assert registration.status == "blocked"
    assert StarterPack.objects.get(msisdn=registration.msisdn).status == "blocked"
    block = NumberBlock.objects.get()
    assert block.operator_told_at is not None
    assert OperatorSubscriber.objects.get(msisdn=registration.msisdn).status == "inactive"
    assert Clarification.objects.get().status == "rejected"


def test_confirm_violation_records_it_against_the_outlet(api, grapari, clerk, registration):
    item = answered_item(registration, clerk)

    response = _decide(api, grapari, item, decision="confirm_violation", reason="Own KTP used")

    assert response.status_code == 200
    violation = Violation.objects.get()
    assert (violation.outlet, violation.registration, violation.kinds) == (
        registration.outlet,
        registration,
        "name_mismatch",
    )
    assert Clarification.objects.get().status == "rejected"


def test_a_failure_halfway_writes_nothing(api, grapari, clerk, registration, monkeypatch):
    item = answered_item(registration, clerk)

    def explode(**kwargs):
        raise RuntimeError("ladder broke")

    monkeypatch.setattr(sanctions, "sanctions_apply_ladder", explode)
    with pytest.raises(RuntimeError):
        review_item_decide(actor=grapari, item=item, decision="confirm_violation", reason="x")

    item.refresh_from_db()
    assert item.status == "open" and not Violation.objects.exists()
    assert Clarification.objects.get().status == "answered"


# --- bulk ----------------------------------------------------------------------------------------


def test_bulk_decision_in_one_transaction_each_audited(api, grapari, clerk, outlet):
    items = [answered_item(make_registration(outlet), clerk) for _ in range(3)]

    response = api(grapari).post(
        f"{ITEMS}bulk-decide/",
        {"items": [i.pk for i in items], "decision": "dismiss", "reason": "Operator data stale"},
        format="json",
    )

    assert response.status_code == 200
    assert sorted(response.json()["decided"]) == sorted(i.pk for i in items)
    assert ReviewItem.objects.filter(status="decided").count() == 3
    assert AuditEvent.objects.filter(action="review_item.decide").count() == 3


def test_bulk_is_all_or_nothing(api, grapari, reviewer2, clerk, outlet):
    items = [answered_item(make_registration(outlet), clerk) for _ in range(3)]
    review_item_claim(actor=reviewer2, item=items[2])

    response = api(grapari).post(
        f"{ITEMS}bulk-decide/",
        {"items": [i.pk for i in items], "decision": "dismiss", "reason": "stale"},
        format="json",
    )

    assert response.status_code == 409
    assert not ReviewItem.objects.filter(status="decided").exists()
    assert not Discrepancy.objects.filter(status="resolved").exists()


def test_bulk_needs_one_kind_and_known_items(api, grapari, clerk, outlet):
    answered = answered_item(make_registration(outlet), clerk)
    request = flagged_request(make_registration(outlet))
    Clarification.objects.filter(pk=request.pk).update(due_at=timezone.now())
    clarifications_expire_overdue()
    expired = ReviewItem.objects.get(kind="expired_clarification")

    mixed = api(grapari).post(
        f"{ITEMS}bulk-decide/",
        {"items": [answered.pk, expired.pk], "decision": "dismiss", "reason": "x"},
        format="json",
    )
    unknown = api(grapari).post(
        f"{ITEMS}bulk-decide/",
        {"items": [answered.pk, 999999], "decision": "dismiss", "reason": "x"},
        format="json",
    )

    assert mixed.status_code == 400 and "items" in mixed.json()
    assert unknown.status_code == 400 and "999999" in unknown.json()["items"][0]
    assert not ReviewItem.objects.filter(status="decided").exists()


def test_bulk_on_the_web(client, grapari, clerk, outlet):
    items = [answered_item(make_registration(outlet), clerk) for _ in range(2)]
    client.force_login(grapari)

    response = client.post(
        "/compliance/review/bulk/",
        {"items": [i.pk for i in items], "decision": "dismiss", "reason": "stale", "next": ""},
    )

    assert response.status_code == 302
    assert ReviewItem.objects.filter(status="decided").count() == 2


# --- what enters the queue ------------------------------------------------------------------------


def test_flagged_registrations_nobody_is_asked_about_are_queued_once(outlet):
    doubtful = make_registration(
        outlet, review_reasons=[{"code": "doubtful_document", "message": "student card"}]
    )
    unknown = make_registration(outlet)
    open_discrepancy(unknown, kind="missing_in_operator")
    asked = make_registration(outlet, review_reasons=[{"code": "over_cap", "message": "4 numbers"}])
    flagged_request(asked)

    counts = review_queue_sync()
    again = review_queue_sync()

    assert counts["reasons"] == 1 and counts["unknown_to_operator"] == 1
    assert again == {"reasons": 0, "unknown_to_operator": 0, "handed_over": 0}
    assert set(ReviewItem.objects.values_list("registration_id", flat=True)) == {
        doubtful.pk,
        unknown.pk,
    }


def test_history_page_shows_the_audit_rows(client, grapari, clerk, regulator, registration, api):
    item = answered_item(registration, clerk)
    _decide(api, grapari, item, decision="dismiss", reason="KTP matches")
    client.force_login(grapari)

    page = client.get(f"/compliance/registrations/{registration.pk}/history/")

    html = page.content.decode()
    # A story in words: the actions' labels and the decision, never the codes.
    for sentence in ("Clarification requested", "Clarification answered", "Review decided"):
        assert sentence in html
    assert "Dismiss: the data was right" in html
    for code in ("clarification.open", "clarification.answered", "review_item.decide"):
        assert code not in html
    assert "?raw=1" not in html  # the raw rows are the operator admin's
    client.force_login(regulator)
    assert client.get(f"/compliance/registrations/{registration.pk}/history/").status_code == 200
    client.force_login(UserFactory(username="nobody"))
    assert client.get(f"/compliance/registrations/{registration.pk}/history/").status_code == 404


def test_decide_on_the_web_shows_the_reason_error(client, grapari, clerk, registration):
    item = answered_item(registration, clerk)
    client.force_login(grapari)

    response = client.post(f"/compliance/review/{item.pk}/decide/", {"decision": "dismiss"})

    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    with pytest.raises(WorkflowConflict):
        review_item_claim(actor=grapari, item=item)
        review_item_release(actor=UserFactory(username="g3", role="grapari"), item=item)


def test_the_e_mails_write_the_number_as_people_do_and_link_to_the_portal(
    api, grapari, clerk, registration, settings, django_capture_on_commit_callbacks
):
    settings.PUBLIC_BASE_URL = "https://satupintu.example.id"
    clerk.email, clerk.preferred_language = "clerk@example.test", "id"
    clerk.save()
    shown = display_msisdn(registration.msisdn)  # 0811-…, stored as 62811…
    with django_capture_on_commit_callbacks(execute=True):
        item = answered_item(registration, clerk)
    asked = mail.outbox[-1]
    assert "https://satupintu.example.id/compliance/inbox/" in asked.body.split()

    with django_capture_on_commit_callbacks(execute=True):
        _decide(api, grapari, item, decision="block", reason="Fake KTP")

    told = mail.outbox[-1]
    assert f"GraPARI memblokir nomor {shown}." in told.subject
    assert registration.msisdn not in told.subject + told.body
