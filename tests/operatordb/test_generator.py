"""The generator (operator data with planted discrepancies and its truth) and the adapter."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from compliance.reconciliation.generator import (
    DEMO_COUNTS,
    Rates,
    build_registrations,
    generate_for_demo,
    generate_operator_data,
)
from core import pii
from core.operator import OperatorAdapter, get_adapter
from operatordb.adapter import MockOperatorDatabase
from operatordb.models import InjectedDiscrepancy, OperatorSubscriber, PopulationRecord
from operatordb.snapshot import load_snapshot
from subscribers.models import Registration
from tests.factories import StarterPackFactory


def _operator_state():
    return sorted(
        OperatorSubscriber.objects.values_list(
            "msisdn", "status", "id_number_digest", "name_key", "birth_date", "outlet_roid"
        )
    )


def test_demo_data_has_a_few_of_each_kind_and_is_repeatable(db):
    outlets = build_registrations(30, outlets=2, seed=5)
    stock = [StarterPackFactory(outlet=outlets[0]).msisdn for _ in range(3)]

    report = generate_for_demo()

    assert report.planted == DEMO_COUNTS
    assert set(report.expected_kinds()) == {
        "missing_in_operator", "id_number_mismatch", "name_mismatch", "birth_date_mismatch",
        "unregistered_activation", "id_over_limit",
    }  # fmt: skip
    # The outlets' unsold packs are the ones the operator saw activated unregistered.
    never = InjectedDiscrepancy.objects.filter(case="never_registered")
    assert set(never.values_list("msisdn", flat=True)) <= set(stock)
    first = (_operator_state(), sorted(InjectedDiscrepancy.objects.values_list("msisdn", "case")))
    assert PopulationRecord.objects.count() == Registration.objects.count()

    generate_for_demo()

    again = (_operator_state(), sorted(InjectedDiscrepancy.objects.values_list("msisdn", "case")))
    assert again == first


def test_rates_plant_about_their_share_and_csv_output_loads_the_same(db, tmp_path):
    build_registrations(500, outlets=3, seed=9)
    report = generate_operator_data(rates=Rates(edge=0.01), seed=4)
    assert report.planted["missing"] == 5 and report.planted["over_cap"] == 2
    assert report.planted["name_case_spacing"] == 5
    direct = _operator_state()

    path = tmp_path / "snap.csv"
    generate_operator_data(rates=Rates(edge=0.01), seed=4, csv_path=path)
    assert not OperatorSubscriber.objects.exists()  # written to the file only
    load_snapshot(path)
    assert _operator_state() == direct


def test_the_mock_adapter(db):
    build_registrations(40, outlets=2, seed=2)
    generate_operator_data(counts={"over_cap": 1}, seed=1)
    adapter = get_adapter()
    assert isinstance(adapter, MockOperatorDatabase) and isinstance(adapter, OperatorAdapter)
    assert adapter.same_database_relation(using="default") == connection.ops.quote_name(
        "operatordb_operatorsubscriber"
    )

    msisdns = list(adapter.msisdns())
    assert msisdns == sorted(msisdns) and len(msisdns) == adapter.count() == 43
    some = msisdns[5:8]
    assert set(adapter.lookup([*some, "6280000000000"])) == set(some)
    in_range = [r.msisdn for r in adapter.iter_range(msisdns[10], msisdns[20])]
    assert in_range == msisdns[10:20]

    later = timezone.now() + timedelta(seconds=1)
    assert list(adapter.msisdns(since=later)) == []
    OperatorSubscriber.objects.filter(msisdn=some[0]).update(updated_at=later)
    assert [r.msisdn for r in adapter.iter_range(None, None, since=later)] == [some[0]]

    over = InjectedDiscrepancy.objects.get(case="over_cap").msisdn
    digest = OperatorSubscriber.objects.get(msisdn=over).id_number_digest
    groups = adapter.active_by_id_digest([digest])
    assert len(groups[digest]) == 4 and all(r.is_active for r in groups[digest])
    by_digest = [r.id_number_digest for r in adapter.iter_active_by_digest(None, None)]
    assert by_digest == sorted(by_digest)

    registration = Registration.objects.first()
    nik = pii.decrypt(registration.id_number_encrypted)
    person = adapter.lookup_population([pii.digest(nik)])[pii.digest(nik)]
    assert (person.full_name, person.birth_date) == (
        registration.full_name,
        registration.birth_date,
    )
