"""The periodic work: overdue requests expire and are escalated; requests whose findings are gone
are withdrawn; idle claims are released; the operator is told of blocks until it acknowledges;
the tasks are safe to run twice. And the schema documents every workflow endpoint."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import (
    Clarification,
    ClarificationAnswer,
    Discrepancy,
    Notification,
    NumberBlock,
    RegistrationVersion,
    ReviewItem,
)
from compliance.workflow import tasks
from compliance.workflow.erasure import workflow_personal_data_erase
from compliance.workflow.number_blocks import number_block_tell_operator
from compliance.workflow.review import review_item_claim, review_item_decide
from core.models import AuditEvent

from .conftest import answered_item, flagged_request, make_registration

pytestmark = pytest.mark.django_db


def test_overdue_requests_expire_into_the_queue_most_overdue_first(outlet, clerk):
    late = flagged_request(make_registration(outlet))
    later = flagged_request(make_registration(outlet))
    on_time = flagged_request(make_registration(outlet))
    now = timezone.now()
    Clarification.objects.filter(pk=late.pk).update(due_at=now - timedelta(days=3))
    Clarification.objects.filter(pk=later.pk).update(due_at=now - timedelta(days=1))

    assert tasks.expire_overdue_clarifications() == 2
    assert tasks.expire_overdue_clarifications() == 0  # safe to run twice

    assert set(Clarification.objects.filter(status="expired").values_list("pk", flat=True)) == {
        late.pk,
        later.pk,
    }
    on_time.refresh_from_db()
    assert on_time.status == "open"
    queue = list(
        ReviewItem.objects.order_by("due_at", "pk").values_list("clarification", flat=True)
    )
    assert queue == [late.pk, later.pk]
    assert AuditEvent.objects.filter(action="clarification.expired").count() == 2
    # Told in Bahasa Indonesia, the portal's language (no request to take one from).
    assert Notification.objects.filter(user=clerk, text__contains="melewati tenggat").exists()


def test_requests_whose_findings_are_gone_are_withdrawn(outlet, clerk, registration):
    item = answered_item(registration, clerk)
    # The next run finds the data agreeing: the engine resolves the discrepancy.
    Discrepancy.objects.update(status="resolved", resolved_at=timezone.now())

    assert tasks.settle_agreeing_clarifications() == 1
    assert tasks.settle_agreeing_clarifications() == 0

    item.refresh_from_db()
    registration.refresh_from_db()
    assert item.clarification.status == "withdrawn"
    assert item.status == "closed"
    assert registration.status == "registered"  # flagged for nothing any more


def test_idle_claims_are_released(grapari, clerk, registration):
    item = answered_item(registration, clerk)
    review_item_claim(actor=grapari, item=item, now=timezone.now() - timedelta(hours=2))

    assert tasks.release_idle_review_claims() == 1

    item.refresh_from_db()
    assert item.claimed_by is None
    assert AuditEvent.objects.filter(action="review_item.claim_expired").exists()


def test_the_operator_is_told_of_a_block_until_it_acknowledges(
    grapari, clerk, registration, monkeypatch
):
    from operatordb import adapter

    item = answered_item(registration, clerk)
    calls = []

    def down(self, *, msisdn, reason):
        calls.append(msisdn)
        raise ConnectionError("operator feed down")

    monkeypatch.setattr(adapter.MockOperatorDatabase, "block_msisdn", down)

    review_item_decide(actor=grapari, item=item, decision="block", reason="Fake document")
    block = NumberBlock.objects.get()
    assert not number_block_tell_operator(block_id=block.pk)
    block.refresh_from_db()
    assert block.operator_told_at is None and block.attempts == 1 and "down" in block.last_error

    monkeypatch.undo()
    NumberBlock.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert tasks.retry_number_blocks() == 1
    assert tasks.retry_number_blocks() == 0
    block.refresh_from_db()
    assert block.operator_told_at is not None


def test_sync_task_looks_back_or_at_everything(outlet, settings):
    registration = make_registration(
        outlet, review_reasons=[{"code": "doubtful_document", "message": "x"}]
    )
    from subscribers.models import Registration

    Registration.objects.filter(pk=registration.pk).update(
        updated_at=timezone.now() - timedelta(days=2)
    )

    assert tasks.sync_review_queue()["reasons"] == 0
    assert tasks.sync_review_queue(full=True)["reasons"] == 1


def test_the_nightly_sync_asks_about_discrepancies_never_handed_over(outlet):
    from .conftest import open_discrepancy

    registration = make_registration(outlet)
    open_discrepancy(registration, kind="birth_date_mismatch")  # never handed over

    assert tasks.sync_review_queue(full=True)["handed_over"] == 1
    assert Clarification.objects.get().registration == registration


WORKFLOW_ENDPOINTS = {
    "/api/v1/clarifications/": {"get"},
    "/api/v1/clarifications/{id}/": {"get"},
    "/api/v1/clarifications/{id}/answer/": {"post"},
    "/api/v1/clarifications/{id}/answers/{answer_id}/evidence/": {"get"},
    "/api/v1/review-items/": {"get"},
    "/api/v1/review-items/{id}/": {"get"},
    "/api/v1/review-items/{id}/claim/": {"post"},
    "/api/v1/review-items/{id}/release/": {"post"},
    "/api/v1/review-items/{id}/decide/": {"post"},
    "/api/v1/review-items/bulk-decide/": {"post"},
    "/api/v1/sanctions/": {"get"},
    "/api/v1/sanctions/{id}/": {"get"},
    "/api/v1/sanctions/{id}/lift/": {"post"},
    "/api/v1/notifications/": {"get"},
    "/api/v1/notifications/mark-read/": {"post"},
}


def test_the_schema_documents_the_workflow_and_its_errors(client):
    # (tests/api/test_schema.py validates the whole schema.)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path, methods in WORKFLOW_ENDPOINTS.items():
        assert methods <= set(schema["paths"][path]), path
    decide = schema["paths"]["/api/v1/review-items/{id}/decide/"]["post"]["responses"]
    assert {"200", "400", "403", "404", "409"} <= set(decide)
    answer = schema["paths"]["/api/v1/clarifications/{id}/answer/"]["post"]
    assert "multipart/form-data" in answer["requestBody"]["content"]
    assert {"201", "400", "403", "404"} <= set(answer["responses"])


def test_the_workflows_personal_data_can_be_erased(grapari, clerk, registration):
    from tests.conftest import photo_upload

    item = answered_item(
        registration, clerk, correction={"full_name": "Siti Nurhayati"}, photo=photo_upload()
    )
    review_item_decide(actor=grapari, item=item, decision="accept")
    answer = ClarificationAnswer.objects.get()
    photo_path = answer.evidence_photo.path

    assert workflow_personal_data_erase(registration_ids=[registration.pk]) == 2

    version = RegistrationVersion.objects.get()
    assert version.values["full_name"] == "" and version.values["birth_date"] == "1990"
    assert version.id_number_encrypted == "" and version.id_number_digest == ""
    answer.refresh_from_db()
    assert answer.correction == {"full_name": ""} and answer.explanation == ""
    assert not answer.evidence_photo
    import os

    assert not os.path.exists(photo_path)
