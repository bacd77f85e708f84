"""The reconciliation rules on their own (plain functions, no database): each finding the
regulator's report and the outlet's clarification request show — its kind, its side-by-side
values — and each boundary of the rules (the grace period, the clock skew, a number's lives,
the cap), one case either side. The ground-truth test holds both engines to the same rules on
generated data; this file pins what each rule decides."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from compliance.reconciliation import rules
from compliance.reconciliation.rules import (
    ACTIVATED_BEFORE_REGISTRATION,
    BIRTH_DATE_MISMATCH,
    ID_NUMBER_MISMATCH,
    ID_OVER_LIMIT,
    MISSING_IN_OPERATOR,
    NAME_MISMATCH,
    UNREGISTERED_ACTIVATION,
    Finding,
    PortalRow,
    Tolerances,
)
from core.operator import OperatorRecord
from identity.idrules import normalize_name_for_comparison

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CLOCK = Tolerances(now=NOW, grace=timedelta(hours=24), skew=timedelta(minutes=10))
REGISTERED = NOW - timedelta(days=3)
ROIDS = {"ROID-A": 7}


def portal(**changes) -> PortalRow:
    row = PortalRow(
        registration_id=11,
        registration_number="SP261204ABCDEFGH",
        msisdn="6281234500001",
        outlet_id=7,
        id_type="ktp",
        id_number_digest="digest-1",
        id_number_masked="3171********0042",
        full_name="Siti Nur'aini",
        birth_date=date(1990, 8, 17),
        registered_at=REGISTERED,
    )
    return replace(row, **changes)


def operator(**changes) -> OperatorRecord:
    record = OperatorRecord(
        msisdn="6281234500001",
        iccid="8962100000000000001",
        status="active",
        activated_at=REGISTERED + timedelta(minutes=5),
        outlet_roid="ROID-A",
        id_type="ktp",
        id_number_digest="digest-1",
        id_number_masked="3171********0042",
        full_name="SITI NURAINI",
        name_key=normalize_name_for_comparison("Siti Nur'aini"),
        birth_date=date(1990, 8, 17),
        issued_at=None,
        deactivated_at=None,
        updated_at=REGISTERED,
    )
    return replace(record, **changes)


def kinds(found: list[Finding]) -> list[str]:
    return [finding.kind for finding in found]


# --- a number's lives ------------------------------------------------------------------------


def test_life_of_a_registration_by_the_operators_record():
    assert rules.life_of(portal(), None) == rules.NO_LIFE
    assert rules.life_of(portal(), operator()) == rules.SAME_LIFE
    # Issued again after the registration: the record is of a later life.
    later = operator(issued_at=REGISTERED + timedelta(seconds=1))
    assert rules.life_of(portal(), later) == rules.EARLIER_LIFE
    # Issued at the very moment of the registration, or before it: the registration's life.
    assert rules.life_of(portal(), operator(issued_at=REGISTERED)) == rules.SAME_LIFE
    assert rules.life_of(portal(), operator(issued_at=REGISTERED - timedelta(days=1))) == (
        rules.SAME_LIFE
    )
    # Deactivated after the registration: its life ended; at or before it: not its life.
    ended = operator(deactivated_at=REGISTERED + timedelta(seconds=1))
    assert rules.life_of(portal(), ended) == rules.ENDED_LIFE
    assert rules.life_of(portal(), operator(deactivated_at=REGISTERED)) == rules.NO_LIFE
    before = operator(
        issued_at=REGISTERED - timedelta(days=9), deactivated_at=REGISTERED - timedelta(days=1)
    )
    assert rules.life_of(portal(), before) == rules.NO_LIFE


def test_when_a_registrations_life_ended():
    issued = REGISTERED + timedelta(days=1)
    deactivated = REGISTERED + timedelta(days=2)
    assert rules.life_ended_at(portal(), operator()) is None
    assert rules.life_ended_at(portal(), None) is None
    # A later life: it ended when that record's life ended, or else when it began.
    assert rules.life_ended_at(portal(), operator(issued_at=issued)) == issued
    assert (
        rules.life_ended_at(portal(), operator(issued_at=issued, deactivated_at=deactivated))
        == deactivated
    )
    assert rules.life_ended_at(portal(), operator(deactivated_at=deactivated)) == deactivated


def test_a_number_compared_only_with_the_record_of_its_own_life():
    old = portal(registration_id=1, registered_at=REGISTERED - timedelta(days=400))
    current = portal(registration_id=2)
    record = operator(issued_at=REGISTERED - timedelta(days=1), full_name="BUDI", name_key="budi")

    found, ended = rules.compare_number([old, current], record, our_roids=ROIDS, clock=CLOCK)

    assert ended == {1: REGISTERED - timedelta(days=1)}
    assert [(f.kind, f.registration_id) for f in found] == [(NAME_MISMATCH, 2)]


def test_a_number_whose_only_registration_is_of_an_ended_life_is_an_unregistered_activation():
    old = portal(registered_at=REGISTERED - timedelta(days=400))
    record = operator(issued_at=REGISTERED)

    found, ended = rules.compare_number([old], record, our_roids=ROIDS, clock=CLOCK)

    assert ended == {old.registration_id: REGISTERED}
    assert [(f.kind, f.registration_id, f.outlet_id) for f in found] == [
        (UNREGISTERED_ACTIVATION, None, 7)
    ]


def test_a_registration_of_no_life_the_operator_knows_is_unknown_to_the_operator():
    late = portal(registered_at=REGISTERED)
    record = operator(deactivated_at=REGISTERED - timedelta(days=1), status="inactive")

    found, ended = rules.compare_number([late], record, our_roids=ROIDS, clock=CLOCK)

    assert ended == {}
    assert kinds(found) == [MISSING_IN_OPERATOR]


def test_no_registration_and_no_record_is_nothing():
    assert rules.compare_number([], None, our_roids=ROIDS, clock=CLOCK) == ([], {})
    assert rules.compare(None, None, clock=CLOCK) == []


# --- unknown to the operator -----------------------------------------------------------------


def test_unknown_to_the_operator_once_the_grace_period_is_over():
    (finding,) = rules.compare(portal(), None, clock=CLOCK)

    assert (finding.msisdn, finding.kind) == ("6281234500001", MISSING_IN_OPERATOR)
    assert (finding.registration_id, finding.outlet_id) == (11, 7)
    assert finding.details == {
        "portal": {
            "registration_number": "SP261204ABCDEFGH",
            "registered_at": REGISTERED.isoformat(),
        }
    }
    assert finding.key == ("6281234500001", MISSING_IN_OPERATOR)
    assert (finding.id_digest, finding.id_group) == ("", [])


def test_the_grace_period_counts_from_the_registrys_verification_else_the_sale():
    edge = NOW - CLOCK.grace
    assert kinds(rules.compare(portal(registered_at=edge), None, clock=CLOCK)) == [
        MISSING_IN_OPERATOR
    ]
    just_in = edge + timedelta(seconds=1)
    assert rules.compare(portal(registered_at=just_in), None, clock=CLOCK) == []
    # Sold long ago, verified by the registry only now: still within its grace period.
    assert rules.compare(portal(grace_start=just_in), None, clock=CLOCK) == []
    assert kinds(rules.compare(portal(grace_start=edge), None, clock=CLOCK)) == [
        MISSING_IN_OPERATOR
    ]
    # No date at all: nothing to wait for.
    assert kinds(rules.compare(portal(registered_at=None), None, clock=CLOCK)) == [
        MISSING_IN_OPERATOR
    ]


def test_awaiting_the_registry_is_never_unknown_to_the_operator():
    assert rules.compare(portal(status="awaiting"), None, clock=CLOCK) == []


# --- unregistered activation -----------------------------------------------------------------


def test_an_active_number_sold_through_our_outlet_without_registration():
    record = operator(activated_at=REGISTERED)

    (finding,) = rules.compare(None, record, our_roids=ROIDS, clock=CLOCK)

    assert (finding.msisdn, finding.kind, finding.registration_id, finding.outlet_id) == (
        "6281234500001",
        UNREGISTERED_ACTIVATION,
        None,
        7,
    )
    assert finding.details == {
        "operator": {
            "status": "active",
            "activated_at": REGISTERED.isoformat(),
            "outlet_roid": "ROID-A",
            "iccid": "8962100000000000001",
        }
    }


def test_no_unregistered_activation_when_inactive_or_sold_elsewhere():
    assert rules.compare(None, operator(status="inactive"), our_roids=ROIDS, clock=CLOCK) == []
    assert rules.compare(None, operator(outlet_roid="ROID-X"), our_roids=ROIDS, clock=CLOCK) == []
    assert rules.compare(None, operator(outlet_roid=""), our_roids={"": 7}, clock=CLOCK) == []
    assert rules.compare(None, operator(), clock=CLOCK) == []  # no ROIDs of ours given


# --- the registration against its record -----------------------------------------------------


def test_a_registration_that_agrees_with_its_record_is_no_finding():
    assert rules.compare(portal(), operator(), clock=CLOCK) == []


def test_each_mismatch_shows_both_sides():
    record = operator(
        id_type="passport",
        id_number_digest="digest-2",
        id_number_masked="A1****67",
        full_name="BUDI",
        name_key="budi",
        birth_date=date(1991, 1, 2),
    )

    found = rules.compare(portal(), record, clock=CLOCK)

    assert [(f.kind, f.registration_id, f.outlet_id, f.msisdn) for f in found] == [
        (ID_NUMBER_MISMATCH, 11, 7, "6281234500001"),
        (NAME_MISMATCH, 11, 7, "6281234500001"),
        (BIRTH_DATE_MISMATCH, 11, 7, "6281234500001"),
    ]
    assert [f.details for f in found] == [
        {
            "portal": {"id_type": "ktp", "id_number": "3171********0042"},
            "operator": {"id_type": "passport", "id_number": "A1****67"},
        },
        {"portal": {"full_name": "Siti Nur'aini"}, "operator": {"full_name": "BUDI"}},
        {"portal": {"birth_date": "1990-08-17"}, "operator": {"birth_date": "1991-01-02"}},
    ]


def test_a_missing_birth_date_or_name_differs():
    (finding,) = rules.compare(portal(), operator(birth_date=None), clock=CLOCK)
    assert finding.details == {
        "portal": {"birth_date": "1990-08-17"},
        "operator": {"birth_date": None},
    }
    assert kinds(rules.compare(portal(full_name=""), operator(), clock=CLOCK)) == [NAME_MISMATCH]


def test_names_match_ignoring_case_spacing_and_punctuation_only():
    key = normalize_name_for_comparison("Siti Nur'aini")
    assert rules.names_match("  SITI  nur-aini ", key)
    assert not rules.names_match("Siti Nuraini S", key)
    assert rules.names_match(None, None) and rules.names_match("", "")
    assert not rules.names_match(None, key)
    assert not rules.names_match("Siti", None)


def test_a_pack_activated_before_its_registration_beyond_the_clock_skew():
    sold_inactive = portal(packs_sold_inactive=True)
    edge = REGISTERED - CLOCK.skew
    assert rules.compare(sold_inactive, operator(activated_at=edge), clock=CLOCK) == []

    early = edge - timedelta(seconds=1)
    (finding,) = rules.compare(sold_inactive, operator(activated_at=early), clock=CLOCK)

    assert (finding.kind, finding.registration_id, finding.outlet_id) == (
        ACTIVATED_BEFORE_REGISTRATION,
        11,
        7,
    )
    assert finding.details == {
        "portal": {"registered_at": REGISTERED.isoformat()},
        "operator": {"activated_at": early.isoformat()},
    }
    # Only under a rule set with packs sold inactive, and only with both dates known.
    assert rules.compare(portal(), operator(activated_at=early), clock=CLOCK) == []
    assert rules.compare(sold_inactive, operator(activated_at=None), clock=CLOCK) == []
    undated = portal(packs_sold_inactive=True, registered_at=None)
    assert rules.compare(undated, operator(activated_at=early), clock=CLOCK) == []


# --- the cap per ID --------------------------------------------------------------------------


def member(msisdn: str, activated_at: datetime | None, roid: str = "ROID-A") -> OperatorRecord:
    return operator(msisdn=msisdn, activated_at=activated_at, outlet_roid=roid)


def test_the_numbers_beyond_the_cap_in_activation_order():
    day = NOW - timedelta(days=30)
    group = [
        member("6281200000005", None),  # never activated: last
        member("6281200000004", day + timedelta(days=2), roid="ROID-X"),
        member("6281200000003", day + timedelta(days=1)),
        member("6281200000002", day + timedelta(days=1)),  # same time: by MSISDN
        member("6281200000001", day),
    ]
    registered = {"6281200000005": (55, 9)}

    found = rules.over_limit(group, cap=2, registrations=registered, our_roids=ROIDS)

    order = [
        "6281200000001",
        "6281200000002",
        "6281200000003",
        "6281200000004",
        "6281200000005",
    ]
    assert [(f.msisdn, f.details["position"]) for f in found] == [
        ("6281200000003", 3),
        ("6281200000004", 4),
        ("6281200000005", 5),
    ]
    # The registration here, else the outlet of the ROID it was sold through (ours or none).
    assert [(f.registration_id, f.outlet_id) for f in found] == [(None, 7), (None, None), (55, 9)]
    assert all(f.kind == ID_OVER_LIMIT and f.id_group == order for f in found)
    assert all(f.id_digest == "digest-1" for f in found)
    assert found[0].details == {
        "operator": {
            "id_type": "ktp",
            "id_number": "3171********0042",
            "activated_at": (day + timedelta(days=1)).isoformat(),
        },
        "held": 5,
        "cap": 2,
        "position": 3,
    }
    assert found[2].details["operator"]["activated_at"] is None


def test_the_activation_order_puts_a_timestamp_before_an_earlier_msisdn():
    """Ordered by the moment, not by the MSISDN: a later number activated first comes first."""
    group = [member("6281200000001", NOW), member("6281200000009", NOW - timedelta(seconds=1))]
    (beyond,) = rules.over_limit(group, cap=1, registrations={}, our_roids=ROIDS)
    assert beyond.msisdn == "6281200000001"
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    group = [member("6281200000001", None), member("6281200000009", epoch)]
    (beyond,) = rules.over_limit(group, cap=1, registrations={}, our_roids=ROIDS)
    assert beyond.msisdn == "6281200000001"


@pytest.mark.parametrize("cap", [None, 3, 4])
def test_at_or_within_the_cap_or_without_one_nothing_is_over_the_limit(cap):
    group = [member(f"628120000000{n}", NOW - timedelta(days=n)) for n in (1, 2, 3)]
    assert rules.over_limit(group, cap=cap, registrations={}, our_roids=ROIDS) == []


def test_a_number_sold_without_roid_beyond_the_cap_has_no_outlet():
    group = [member("6281200000001", NOW - timedelta(days=1)), member("6281200000002", NOW, "")]
    (beyond,) = rules.over_limit(group, cap=1, registrations={}, our_roids={"": 7})
    assert (beyond.msisdn, beyond.outlet_id) == ("6281200000002", None)
