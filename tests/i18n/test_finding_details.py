"""A finding's details (the portal's and the operator's values, the cap and the place in it) are
labelled in Indonesian on every page that shows them, whatever the kind."""

import pytest
from django.utils import translation

from compliance.models import Clarification, DiscrepancyKind
from compliance.reconciliation.views import DETAIL_LABELS
from tests.workflow.conftest import hand_over, make_registration, open_discrepancy

pytestmark = pytest.mark.django_db

NOW = "2026-06-01T09:30:00+07:00"
# Every kind with the details reconciliation writes for it (compliance.reconciliation.rules).
DETAILS = {
    "missing_in_operator": {"portal": {"registration_number": "SPX", "registered_at": NOW}},
    "id_number_mismatch": {
        "portal": {"id_type": "ktp", "id_number": "3171********0101"},
        "operator": {"id_type": "ktp", "id_number": "3171********0999"},
    },
    "name_mismatch": {"portal": {"full_name": "Siti"}, "operator": {"full_name": "Sita"}},
    "birth_date_mismatch": {
        "portal": {"birth_date": "1990-08-17"},
        "operator": {"birth_date": "1990-09-17"},
    },
    "unregistered_activation": {
        "operator": {
            "status": "active",
            "activated_at": NOW,
            "outlet_roid": "RO31000001",
            "iccid": "8962000000000000001",
        }
    },
    "activated_before_registration": {
        "portal": {"registered_at": NOW},
        "operator": {"activated_at": NOW},
    },
    "id_over_limit": {
        "operator": {"id_type": "ktp", "id_number": "3171********0101", "activated_at": NOW},
        "held": 4,
        "cap": 3,
        "position": 4,
    },
}


def _english_labels() -> dict[str, str]:
    with translation.override("en"):
        return {key: str(label) for key, label in DETAIL_LABELS.items()}


def test_every_kind_is_covered():
    assert set(DETAILS) == set(DiscrepancyKind.values)


@pytest.mark.parametrize("kind", sorted(DETAILS))
def test_a_findings_details_are_labelled_in_indonesian(client, operator, outlet, kind):
    discrepancy = open_discrepancy(
        kind=kind, msisdn="6285700000478", outlet=outlet, details=DETAILS[kind]
    )
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    client.force_login(operator)

    html = client.get(f"/compliance/discrepancies/{discrepancy.pk}/").content.decode()

    shown = _details_keys(DETAILS[kind])
    english = _english_labels()
    # ICCID is the same word in both languages.
    assert not [english[key] for key in shown if english[key] in html and key != "iccid"]
    with translation.override("id"):
        assert all(str(DETAIL_LABELS[key]) in html for key in shown)


@pytest.mark.parametrize("kind", ["unregistered_activation", "id_over_limit"])
def test_the_clerk_reads_the_requests_details_in_indonesian(client, clerk, outlet, kind):
    registration = make_registration(outlet, clerk=clerk) if kind == "id_over_limit" else None
    msisdn = registration.msisdn if registration else "6285700000478"
    hand_over(open_discrepancy(registration, kind=kind, msisdn=msisdn, outlet=outlet,
                               details=DETAILS[kind]))  # fmt: skip
    clarification = Clarification.objects.get(msisdn=msisdn)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    client.force_login(clerk)

    html = client.get(f"/compliance/clarifications/{clarification.pk}/").content.decode()

    english = _english_labels()
    keys = [k for k in _details_keys(DETAILS[kind]) if k not in ("iccid", "id_number")]
    assert not [english[k] for k in keys if english[k] in html]
    assert "Status at the operator" not in html and "Numbers allowed per ID" not in html


def _details_keys(details: dict) -> list[str]:
    keys = []
    for key, value in details.items():
        keys += list(value) if isinstance(value, dict) else [key]
    return keys
