"""Accepting a correction settles only what the corrected registration no longer has.

The outlet is asked about a name the operator holds differently and answers with a correction
of another field (the birth place). GraPARI accepts it: the correction is applied, but the
name still differs — by the reconciliation rules, as the next run will see — so the finding
stays open on the request, asked again in a new round, and the next run finds the same
discrepancy, not a new one: the figures count the number once (CONTRACT, "Discrepancy
kinds").
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import (
    Clarification,
    ClarificationAnswer,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyOutcome,
    ReviewItem,
)
from compliance.reconciliation.engine import reconciliation_run_inline, reconciliation_start
from compliance.reconciliation.generator import generate_operator_data
from compliance.workflow.clarifications import clarification_answer
from compliance.workflow.review import not_settled_after_accept, review_item_decide
from operatordb.models import OperatorSubscriber
from reports.figures import report_figures
from reports.periods import Period
from reports.rows import discrepancy_rows
from reports.scope import ReportFilter, ReportScope
from reports.summary import summaries_refresh
from subscribers.models import Registration
from tests.conftest import photo_upload

from .conftest import in_registry, make_registration

pytestmark = pytest.mark.django_db


def _reconcile() -> None:
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    reconciliation_run_inline(run_id=run.pk)


def _name_differs_at_the_operator(registration) -> str:
    generate_operator_data(
        counts={"name_one_letter": 1},
        registrations=Registration.objects.filter(pk=registration.pk),
        seed=4,
    )
    return OperatorSubscriber.objects.get(msisdn=registration.msisdn).full_name


def _answer(clerk, registration, correction) -> ReviewItem:
    request = Clarification.objects.get(msisdn=registration.msisdn, status="open")
    clarification_answer(
        actor=clerk,
        clarification=request,
        explanation="The buyer showed the KTP again.",
        correction=correction,
        evidence_photo=photo_upload(),
    )
    return ReviewItem.objects.get(clarification=request, status="open")


def _name_mismatches() -> tuple[int, int, int]:
    """(detected, still open) in the figures, and the rows behind them."""
    summaries_refresh(full=True)
    today = timezone.localdate()
    flt = ReportFilter(period=Period(today - timedelta(days=7), today))
    everything = ReportScope.everything()
    kind = next(
        k
        for k in report_figures(flt, everything).discrepancies_by_kind
        if k.kind == "name_mismatch"
    )
    rows = discrepancy_rows(flt, everything, kind="name_mismatch").count()
    return kind.detected, kind.still_open, rows


def test_accepting_a_correction_of_another_field_leaves_the_name_open_and_asks_again(
    policies, clerk, grapari, outlet
):
    registration = make_registration(outlet, clerk=clerk, status="registered")
    _name_differs_at_the_operator(registration)
    in_registry(registration, birth_place="Bogor")
    _reconcile()
    finding = Discrepancy.objects.get(msisdn=registration.msisdn, kind="name_mismatch")
    request = Clarification.objects.get(msisdn=registration.msisdn)
    assert (request.status, request.round) == ("open", 1)

    item = _answer(clerk, registration, {"birth_place": "Bogor"})
    item = review_item_decide(actor=grapari, item=item, decision="accept")

    registration.refresh_from_db()
    assert registration.birth_place == "Bogor"  # the correction is applied
    finding.refresh_from_db()
    assert finding.status == "open"  # ...but it does not settle the name
    assert not DiscrepancyOutcome.objects.filter(discrepancy=finding).exists()
    request.refresh_from_db()
    assert (request.status, request.round) == ("reopened", 2)
    assert "nama" in request.question.lower()  # the outlet is told what is left, in Indonesian
    assert request.due_at > timezone.now()
    assert request.answers.get().outcome == ClarificationAnswer.Outcome.ACCEPTED
    assert not_settled_after_accept(item) == ["name_mismatch"]
    assert registration.status == "flagged"

    _reconcile()  # the next run finds the same discrepancy, on the same request

    assert list(Discrepancy.objects.filter(msisdn=registration.msisdn)) == [finding]
    finding.refresh_from_db()
    assert finding.status == "open"
    assert list(Clarification.objects.filter(msisdn=registration.msisdn)) == [request]
    request.refresh_from_db()
    assert (request.status, request.round) == ("reopened", 2)
    assert _name_mismatches() == (1, 1, 1)


def test_the_reviewer_is_told_on_the_web_what_the_correction_did_not_settle(
    client, policies, clerk, grapari, outlet
):
    registration = make_registration(outlet, clerk=clerk, status="registered")
    _name_differs_at_the_operator(registration)
    in_registry(registration, birth_place="Bogor")
    _reconcile()
    item = _answer(clerk, registration, {"birth_place": "Bogor"})

    client.force_login(grapari)
    response = client.post(
        f"/compliance/review/{item.pk}/decide/", {"decision": "accept"}, follow=True
    )

    text = response.content.decode()
    label = str(DiscrepancyKind.NAME_MISMATCH.label).lower()
    assert f"does not settle: {label}" in text and "asked again about it" in text


def test_a_bulk_accept_names_each_item_whose_correction_did_not_settle(
    client, policies, clerk, grapari, outlet
):
    registration = make_registration(outlet, clerk=clerk, status="registered")
    _name_differs_at_the_operator(registration)
    in_registry(registration, birth_place="Bogor")
    _reconcile()
    item = _answer(clerk, registration, {"birth_place": "Bogor"})

    client.force_login(grapari)
    response = client.post(
        "/compliance/review/bulk/",
        {"items": [item.pk], "decision": "accept", "reason": "", "next": ""},
        follow=True,
    )

    text = response.content.decode()
    label = str(DiscrepancyKind.NAME_MISMATCH.label).lower()
    assert f"#{item.pk}: the correction is applied, but it does not settle: {label}" in text


def test_a_correction_of_the_name_settles_it_and_a_finding_found_again_counts_once(
    policies, clerk, grapari, outlet
):
    registration = make_registration(outlet, clerk=clerk, status="registered")
    operator_name = _name_differs_at_the_operator(registration)
    in_registry(registration, full_name=operator_name)
    _reconcile()
    finding = Discrepancy.objects.get(msisdn=registration.msisdn, kind="name_mismatch")
    item = _answer(clerk, registration, {"full_name": operator_name})

    review_item_decide(actor=grapari, item=item, decision="accept")

    finding.refresh_from_db()
    assert finding.status == "resolved"
    assert Clarification.objects.get(msisdn=registration.msisdn).status == "accepted"
    assert _name_mismatches() == (1, 0, 1)

    # The operator's record changes again: the next run finds the name differing once more.
    record = OperatorSubscriber.objects.get(msisdn=registration.msisdn)
    record.full_name, record.name_key = "Rina Kusuma", "rinakusuma"
    record.updated_at = timezone.now()
    record.save()
    _reconcile()

    assert Discrepancy.objects.filter(msisdn=registration.msisdn, status="open").exists()
    assert _name_mismatches() == (1, 1, 1)  # the same discrepancy, found again: not a new one
