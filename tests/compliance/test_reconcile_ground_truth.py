"""The acceptance test of the engine: generated data with every kind planted, edge cases
included — a run finds exactly the planted set, no miss and no false alarm; a rerun doubles
nothing; what is fixed is resolved by the run that stops finding it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import Discrepancy, ReconciliationRun
from compliance.reconciliation import handover
from compliance.reconciliation.rules import KINDS, OUTLET_ACCOUNTABLE_KINDS
from core.models import AuditEvent
from operatordb.models import InjectedDiscrepancy, OperatorSubscriber
from subscribers.models import Registration, RegistrationPolicy

from .conftest import open_set, run_inline, truth_set

ENGINES = ["auto", "python"]


@pytest.fixture(params=ENGINES)
def engine(request, settings):
    """Both engines: set-based SQL (on PostgreSQL) and the generic adapter path."""
    settings.RECONCILIATION_ENGINE = request.param
    return request.param


@pytest.fixture
def handed_over(monkeypatch):
    calls: list[list[int]] = []
    monkeypatch.setattr(
        handover, "receivers", [lambda *, discrepancy_ids: calls.append(discrepancy_ids)]
    )
    return calls


def test_full_run_finds_exactly_the_planted_discrepancies(generated, engine, handed_over):
    run = run_inline("full")

    assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
    assert run.chunks_done == run.chunks_total > 5
    found, planted = open_set(), truth_set()
    assert found - planted == set(), "false alarms"
    assert planted - found == set(), "missed"
    assert {kind for _, kind in planted} == set(KINDS)
    # The edge cases a correct engine leaves alone were planted, and left alone.
    edge = truth_set(expected=False)
    assert {
        case
        for case in InjectedDiscrepancy.objects.filter(expected=False).values_list(
            "case", flat=True
        )
    } >= {"name_case_spacing", "at_cap", "registered_late", "inactive_unregistered"}
    assert edge & found == set()
    assert run.counts == generated.expected_kinds() == run.opened


def test_each_discrepancy_flags_its_registration_and_is_handed_over(generated, handed_over):
    run = run_inline("full")

    with_registration = Discrepancy.objects.filter(registration__isnull=False)
    flagged = set(Registration.objects.filter(status="flagged").values_list("pk", flat=True))
    assert flagged == set(with_registration.values_list("registration_id", flat=True))
    assert AuditEvent.objects.filter(action="registration.flag").count() == len(flagged)
    accountable = set(
        Discrepancy.objects.filter(
            kind__in=OUTLET_ACCOUNTABLE_KINDS, outlet__isnull=False
        ).values_list("pk", flat=True)
    )
    assert {pk for batch in handed_over for pk in batch} == accountable
    assert not Discrepancy.objects.filter(kind="missing_in_operator", pk__in=accountable)
    # Unregistered activations belong to the outlet whose ROID sold them.
    assert not Discrepancy.objects.filter(kind="unregistered_activation", outlet__isnull=True)
    assert AuditEvent.objects.filter(action="reconciliation.finish", target_id=str(run.pk))


def test_a_rerun_doubles_nothing(generated, engine, handed_over):
    first = run_inline("full")
    rows = Discrepancy.objects.count()

    second = run_inline("full")

    assert second.status == "succeeded"
    assert Discrepancy.objects.count() == rows
    assert sum(second.opened.values()) == 0 and sum(second.resolved.values()) == 0
    assert second.counts == first.counts
    assert set(Discrepancy.objects.values_list("last_seen_run", flat=True)) == {second.pk}
    assert set(Discrepancy.objects.values_list("first_detected_run", flat=True)) == {first.pk}
    assert len(handed_over) >= 1 and all(handed_over)


def test_a_fixed_discrepancy_is_resolved_by_the_run_that_stops_finding_it(generated, engine):
    run_inline("full")
    name_case = InjectedDiscrepancy.objects.filter(case="name_one_letter").first()
    registration = Registration.objects.get(msisdn=name_case.msisdn)
    OperatorSubscriber.objects.filter(msisdn=name_case.msisdn).update(
        full_name=registration.full_name.upper(),
        name_key="".join(ch for ch in registration.full_name.casefold() if ch.isalnum()),
        updated_at=timezone.now(),
    )

    rerun = run_inline("full")

    fixed = Discrepancy.objects.get(msisdn=name_case.msisdn, kind="name_mismatch")
    assert fixed.status == "resolved" and fixed.resolved_by_run_id == rerun.pk
    assert fixed.resolved_at is not None
    assert rerun.resolved["name_mismatch"] == 1
    assert open_set() == truth_set() - {(name_case.msisdn, "name_mismatch")}


def test_verified_and_blocked_registrations_keep_their_status(generated):
    planted = InjectedDiscrepancy.objects.filter(case__in=["id_other", "birth_other"])
    msisdns = list(planted.values_list("msisdn", flat=True)[:2])
    Registration.objects.filter(msisdn=msisdns[0]).update(status="verified")
    Registration.objects.filter(msisdn=msisdns[1]).update(status="blocked")

    run_inline("full")

    assert Registration.objects.get(msisdn=msisdns[0]).status == "verified"
    assert Registration.objects.get(msisdn=msisdns[1]).status == "blocked"
    assert Discrepancy.objects.filter(msisdn__in=msisdns, status="open").count() == 2


def test_without_a_cap_in_force_no_id_is_over_it(generated):
    run_inline("full")
    assert Discrepancy.objects.filter(kind="id_over_limit", status="open").exists()
    RegistrationPolicy.objects.create(
        code="NOCAP",
        name="No cap",
        effective_from=timezone.localdate() - timedelta(days=1),
        accepted_id_types=["ktp"],
        max_numbers_per_id=None,
    )

    run = run_inline("full")

    assert run.id_cap is None
    assert not Discrepancy.objects.filter(kind="id_over_limit", status="open").exists()
    assert run.resolved["id_over_limit"] == len(
        [1 for _, kind in truth_set() if kind == "id_over_limit"]
    )
