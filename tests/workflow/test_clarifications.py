"""Opening clarification requests from reconciliation's hand-over: one per number, routed to the
accountable party, deadline from the policy, nothing new from a later run, set-based."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.models import (
    Clarification,
    ClarificationItem,
    Discrepancy,
    Notification,
    ReviewItem,
)
from compliance.reconciliation.generator import build_registrations, generate_operator_data
from core.models import AuditEvent
from outlets.models import AgreementRange, ResponsibleParty, StarterPack, TransferAgreement
from subscribers.models import RegistrationPolicy
from tests.factories import StarterPackFactory

from .conftest import hand_over, make_registration, open_discrepancy

pytestmark = pytest.mark.django_db


def test_one_request_per_registration_gathers_its_discrepancies(registration, clerk):
    name = open_discrepancy(registration, kind="name_mismatch")
    birth = open_discrepancy(registration, kind="birth_date_mismatch")

    hand_over(name, birth)

    request = Clarification.objects.get()
    assert request.status == "open"
    assert request.accountable == "outlet" and request.outlet == registration.outlet
    assert request.registration == registration
    assert set(request.items.values_list("kind", flat=True)) == {
        "name_mismatch",
        "birth_date_mismatch",
    }
    assert AuditEvent.objects.filter(
        action="clarification.open", target_id=str(request.pk)
    ).exists()
    # The clerk is told once, in the portal.
    assert Notification.objects.filter(user=clerk, link="/compliance/inbox/").count() == 1


def test_a_new_request_also_asks_about_its_numbers_findings_no_hand_over_reached(registration):
    # Found by an earlier run whose hand-over never took it (a run before the workflow).
    earlier = open_discrepancy(registration, kind="name_mismatch")
    handed = open_discrepancy(registration, kind="birth_date_mismatch")

    hand_over(handed)

    request = Clarification.objects.get()
    items = list(request.items.values_list("discrepancy_id", flat=True))
    assert sorted(items) == sorted([earlier.pk, handed.pk])  # each once
    audit = AuditEvent.objects.get(action="clarification.open", target_id=str(request.pk))
    assert audit.after["kinds"] == ["birth_date_mismatch", "name_mismatch"]


def test_deadline_comes_from_the_policy_in_force(registration):
    RegistrationPolicy.objects.update(clarification_deadline_days=3)
    before = timezone.now()

    hand_over(open_discrepancy(registration))

    request = Clarification.objects.get()
    assert before + timedelta(days=3) <= request.due_at <= timezone.now() + timedelta(days=3)


def test_a_later_run_finding_the_same_adds_nothing_and_a_new_kind_extends(registration):
    name = open_discrepancy(registration, kind="name_mismatch")
    hand_over(name)
    hand_over(name)  # handed over again (a rerun): nothing new
    assert Clarification.objects.count() == 1
    assert ClarificationItem.objects.count() == 1

    hand_over(open_discrepancy(registration, kind="birth_date_mismatch"))

    assert Clarification.objects.count() == 1
    assert ClarificationItem.objects.count() == 2
    assert AuditEvent.objects.filter(action="clarification.extend").count() == 1


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_an_extended_request_under_review_lists_every_kind_it_now_covers(
    registration, settings, engine
):
    # Both ways the hand-over works: set-based statements, and the ORM (SQLite, make run).
    settings.RECONCILIATION_ENGINE = engine
    hand_over(open_discrepancy(registration, kind="name_mismatch"))
    request = Clarification.objects.get()
    under_review = ReviewItem.objects.create(
        kind=ReviewItem.Kind.ANSWERED_CLARIFICATION,
        msisdn=request.msisdn,
        registration=registration,
        clarification=request,
        discrepancy_kinds=",name_mismatch,",
        queued_at=timezone.now(),
        due_at=timezone.now() + timedelta(days=2),
    )

    hand_over(
        open_discrepancy(registration, kind="birth_date_mismatch"),
        open_discrepancy(registration, kind="id_number_mismatch"),
    )

    under_review.refresh_from_db()
    assert under_review.discrepancy_kinds == (
        ",birth_date_mismatch,id_number_mismatch,name_mismatch,"
    )


def test_unregistered_pack_goes_to_the_dealer_and_agreement_party(outlet, dealer_org, dealer_user):
    plain = StarterPackFactory(outlet=outlet)
    covered = StarterPackFactory(outlet=outlet)
    party = ResponsibleParty.objects.create(dealer=dealer_org, name="Toko Sub-reseller")
    agreement = TransferAgreement.objects.create(
        dealer=dealer_org,
        party=party,
        starts_on=date(2020, 1, 1),
        ends_on=date(2099, 1, 1),
        status="active",
        document="agreements/x.pdf",
    )
    AgreementRange.objects.create(
        agreement=agreement,
        msisdn_from=covered.msisdn,
        msisdn_to=covered.msisdn,
        msisdn_length=len(covered.msisdn),
    )

    hand_over(
        open_discrepancy(kind="unregistered_activation", msisdn=plain.msisdn, outlet=outlet),
        open_discrepancy(kind="unregistered_activation", msisdn=covered.msisdn, outlet=outlet),
    )

    to_dealer = Clarification.objects.get(msisdn=plain.msisdn)
    assert (to_dealer.accountable, to_dealer.outlet, to_dealer.dealer) == (
        "dealer",
        None,
        dealer_org,
    )
    to_party = Clarification.objects.get(msisdn=covered.msisdn)
    assert (to_party.accountable, to_party.party, to_party.agreement) == ("party", party, agreement)
    # The dealer's admins answer for both, in their inbox.
    assert Notification.objects.filter(user=dealer_user).count() == 1


def test_an_unregistered_pack_is_answered_for_by_whoever_held_it_on_its_activation_day(
    outlet, dealer_org
):
    # The agreement ended last year: a pack activated while it was in force is its party's,
    # one activated after it ended the dealer's — whenever the run finds them.
    during, after = StarterPackFactory(outlet=outlet), StarterPackFactory(outlet=outlet)
    party = ResponsibleParty.objects.create(dealer=dealer_org, name="Toko Sub-reseller")
    today = timezone.localdate()
    agreement = TransferAgreement.objects.create(
        dealer=dealer_org,
        party=party,
        starts_on=today - timedelta(days=700),
        ends_on=today - timedelta(days=365),
        status="active",
        document="agreements/x.pdf",
    )
    for pack in (during, after):
        AgreementRange.objects.create(
            agreement=agreement,
            msisdn_from=pack.msisdn,
            msisdn_to=pack.msisdn,
            msisdn_length=len(pack.msisdn),
        )

    def activated(pack, days_ago):
        at = timezone.now() - timedelta(days=days_ago)
        details = {"operator": {"status": "active", "activated_at": at.isoformat()}}
        return open_discrepancy(
            kind="unregistered_activation", msisdn=pack.msisdn, outlet=outlet, details=details
        )

    hand_over(activated(during, 500), activated(after, 30))

    to_party = Clarification.objects.get(msisdn=during.msisdn)
    assert (to_party.accountable, to_party.party, to_party.agreement) == ("party", party, agreement)
    to_dealer = Clarification.objects.get(msisdn=after.msisdn)
    assert (to_dealer.accountable, to_dealer.party, to_dealer.dealer) == (
        "dealer",
        None,
        dealer_org,
    )


def test_a_number_unknown_to_the_portal_goes_to_the_outlet_the_operator_names(outlet):
    hand_over(
        open_discrepancy(kind="unregistered_activation", msisdn="6285900000001", outlet=outlet)
    )

    request = Clarification.objects.get()
    assert (request.accountable, request.outlet) == ("outlet", outlet)


def test_blocked_registrations_are_not_asked_about(outlet):
    blocked = make_registration(outlet, status="blocked")

    hand_over(open_discrepancy(blocked))

    assert not Clarification.objects.exists()


def test_the_hand_over_is_set_based(outlet, other_outlet):
    def batch(n):
        found = []
        for i in range(n):
            registration = make_registration(outlet if i % 2 else other_outlet)
            found.append(open_discrepancy(registration))
            found.append(open_discrepancy(registration, kind="birth_date_mismatch"))
        return found

    small, large = batch(3), batch(40)
    with CaptureQueriesContext(connection) as few:
        hand_over(*small)
    with CaptureQueriesContext(connection) as many:
        hand_over(*large)

    assert Clarification.objects.count() == 43
    # Same two outlets in both batches: the query count does not grow with the batch.
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_engine_hands_over_what_it_opens(outlet, small_chunks):
    """A real reconciliation run against generated operator data opens the requests."""
    from tests.compliance.conftest import run_inline

    build_registrations(60, outlets=2, seed=5)
    generate_operator_data(
        counts={"name_one_letter": 3, "birth_other": 2, "missing": 2, "never_registered": 2},
        seed=9,
    )

    run_inline()

    accountable = Discrepancy.objects.filter(status="open").exclude(kind="missing_in_operator")
    asked = set(Clarification.objects.filter(status="open").values_list("msisdn", flat=True))
    assert asked == set(accountable.values_list("msisdn", flat=True))
    # A second full run finds the same and opens nothing new.
    run_inline()
    assert Clarification.objects.count() == len(asked)
    assert StarterPack.objects.exists()


@pytest.fixture
def small_chunks(settings):
    settings.RECONCILIATION_CHUNK_ROWS = 40
    settings.RECONCILIATION_PYTHON_CHUNK_ROWS = 40
    settings.RECONCILIATION_WATERMARK_MARGIN = 0


def test_a_hand_over_in_several_batches_tells_each_person_once_with_the_total(
    outlet, clerk, monkeypatch
):
    from compliance.workflow import intake

    monkeypatch.setattr(intake, "INTAKE_BATCH", 2)  # 5 findings: three batches
    found = [open_discrepancy(make_registration(outlet, clerk=clerk)) for _ in range(5)]

    hand_over(*found)

    assert Clarification.objects.filter(outlet=outlet).count() == 5
    told = Notification.objects.filter(user=clerk)
    assert told.count() == 1
    assert told.get().text.startswith("5 ")
    audit = AuditEvent.objects.filter(action="clarification.open")
    assert audit.count() == 5
    assert all(event.after["kinds"] == ["name_mismatch"] for event in audit)
