"""Registrations anonymised by the privacy duties are left out of reconciliation: a blank name
or ID is not the outlet's mistake."""

from django.utils import timezone

from operatordb.models import OperatorSubscriber
from privacy.models import RegistrationPrivacy
from subscribers.models import Registration

from .conftest import open_set, run_inline, truth_set


def test_anonymised_registrations_are_not_reported(generated):
    clean = Registration.objects.exclude(msisdn__in=[m for m, _ in truth_set()]).order_by("pk")[:3]
    anonymised = list(clean)
    # Retention anonymises only numbers the operator has deactivated.
    OperatorSubscriber.objects.filter(msisdn__in=[r.msisdn for r in anonymised]).update(
        status="inactive"
    )
    Registration.objects.filter(pk__in=[r.pk for r in anonymised]).update(
        full_name="", id_number_digest="", id_number_encrypted="", id_number_masked=""
    )
    RegistrationPrivacy.objects.bulk_create(
        RegistrationPrivacy(registration=r, anonymised_at=timezone.now()) for r in anonymised
    )

    run_inline("full")

    reported = {m for m, _ in open_set()}
    assert not reported & {r.msisdn for r in anonymised}
    assert open_set() == truth_set()
