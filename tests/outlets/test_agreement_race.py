"""Two overlapping agreements brought into force at the same moment: the second waits for the
first and is refused, so a pack has one accountable party (PostgreSQL)."""

import threading

import pytest

from outlets import services
from outlets.models import TransferAgreement
from outlets.services import agreements as agreement_services
from outlets.stockfiles import parse_range

from .test_agreements import END, START, pdf
from .test_revocation_race import _in_thread, _someone_waits_for_a_lock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLASH = (
    f"Another agreement in force (with CV Satu, {START:%Y-%m-%d} to {END:%Y-%m-%d}) already "
    "covers some of these starter packs in this period."
)


def _draft(dealer_user, dealer_org, party, packs, **terms):
    return services.agreement_create(
        actor=dealer_user,
        dealer=dealer_org,
        party=party,
        starts_on=terms.get("starts_on", START),
        ends_on=terms.get("ends_on", END),
        ranges=[parse_range(packs[0].msisdn, packs[-1].msisdn)],
        document=terms.get("document"),
    )


@pytest.mark.parametrize("second_path", ["attach", "create"])
def test_overlapping_agreements_signed_at_once_one_comes_into_force(
    require_postgres, dealer_user, dealer_org, dealer_stock, monkeypatch, second_path
):
    parties = [
        services.responsible_party_create(actor=dealer_user, dealer=dealer_org, name=name)
        for name in ("CV Satu", "CV Dua")
    ]
    first = _draft(dealer_user, dealer_org, parties[0], dealer_stock[:3])
    second = _draft(dealer_user, dealer_org, parties[1], dealer_stock[2:])
    in_force, release = threading.Event(), threading.Event()
    audit = agreement_services.audit_record

    def audit_then_hold(**kwargs):  # the first activation, inside its transaction
        audit(**kwargs)
        if kwargs["target"].pk == first.pk:
            in_force.set()
            release.wait(timeout=15)

    monkeypatch.setattr(agreement_services, "audit_record", audit_then_hold)

    def sign(agreement):
        return lambda: services.agreement_attach_document(
            actor=dealer_user, agreement=agreement, document=pdf()
        )

    def sign_anew():
        return _draft(dealer_user, dealer_org, parties[1], dealer_stock[2:], document=pdf())

    outcomes: dict = {}
    signing_first = _in_thread(outcomes, "first", sign(first))
    assert in_force.wait(timeout=10)
    signing_second = _in_thread(
        outcomes, "second", sign(second) if second_path == "attach" else sign_anew
    )
    blocked = _someone_waits_for_a_lock()
    release.set()
    for thread in (signing_first, signing_second):
        thread.join(timeout=30)

    assert blocked, outcomes
    assert outcomes["first"].status == TransferAgreement.Status.ACTIVE
    assert outcomes["second"] == {"non_field_errors": [CLASH]}
    assert list(
        TransferAgreement.objects.filter(status=TransferAgreement.Status.ACTIVE).values_list(
            "pk", flat=True
        )
    ) == [first.pk]
