"""Where the retention clock starts: the operator's database says a registered number went
inactive; the sync records it (first sighting wins), and clears it when the number is active
again. Then the purge does the rest."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from operatordb.models import OperatorSubscriber
from privacy import services
from privacy.models import PrivacyJob, RegistrationPrivacy

pytestmark = pytest.mark.django_db


def sync() -> PrivacyJob:
    call_command("sync_number_deactivations", stdout=StringIO())
    return PrivacyJob.objects.filter(kind=PrivacyJob.Kind.DEACTIVATION_SYNC).latest("pk")


def operator_record(msisdn: str, *, status: str, changed_days_ago: float) -> OperatorSubscriber:
    return OperatorSubscriber.objects.create(
        msisdn=msisdn,
        status=status,
        updated_at=timezone.now() - timedelta(days=changed_days_ago),
    )


def state(registration):
    return RegistrationPrivacy.objects.filter(registration=registration).first()


def test_inactive_numbers_are_marked_with_the_operators_date(register, settings):
    gone = register(41)
    active = register(42)
    record = operator_record(gone.msisdn, status="inactive", changed_days_ago=800)
    operator_record(active.msisdn, status="active", changed_days_ago=3)
    operator_record("6281299999999", status="inactive", changed_days_ago=5)  # not ours

    job = sync()

    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts == {"records": 3, "marked": 1, "unmarked": 0}
    assert state(gone).deactivated_at == record.updated_at
    assert state(active) is None

    # The whole chain: past 730 days, the purge anonymises it.
    settings.RETENTION_DAYS_AFTER_DEACTIVATION = 730
    call_command("purge_expired_data", stdout=StringIO())
    gone.refresh_from_db()
    active.refresh_from_db()
    assert gone.full_name == "" and active.full_name != ""


def test_first_sighting_wins_and_reactivation_clears(register):
    registration = register(41)
    record = operator_record(registration.msisdn, status="inactive", changed_days_ago=10)
    sync()
    first = state(registration).deactivated_at

    # A later change of the operator's record does not restart the clock.
    OperatorSubscriber.objects.filter(pk=record.pk).update(full_name="X", updated_at=timezone.now())
    job = sync()
    assert job.parameters["since"] is not None  # incremental after a successful run
    assert state(registration).deactivated_at == first

    # A top-up in the grace period: active again.
    OperatorSubscriber.objects.filter(pk=record.pk).update(
        status="active", updated_at=timezone.now()
    )
    job = sync()
    assert job.counts["unmarked"] == 1
    assert state(registration).deactivated_at is None


def test_sync_in_small_batches_covers_every_record(register, settings):
    settings.PRIVACY_CHUNK_SIZE = 2
    registrations = [register(serial) for serial in (41, 42, 43, 44, 45)]
    for registration in registrations:
        operator_record(registration.msisdn, status="inactive", changed_days_ago=1)

    job = sync()

    assert job.counts["records"] == 5 and job.counts["marked"] == 5
    assert RegistrationPrivacy.objects.filter(deactivated_at__isnull=False).count() == 5


def test_a_deactivation_dated_in_the_future_counts_from_today(register):
    """Killed mutant: a deactivation date in the future (the operator's clock ahead, a
    scheduled termination) was not capped, so the retention clock started later than the day
    the number was seen inactive and personal data was kept past the retention period. Both
    paths: a first sighting, and a number marked again after a reactivation."""
    first, again = register(41), register(42)
    services.registrations_deactivation_record(
        deactivated={again.msisdn: timezone.now() - timedelta(days=3)}, reactivated=[]
    )
    services.registrations_deactivation_record(deactivated={}, reactivated=[again.msisdn])
    assert state(again).deactivated_at is None
    now = timezone.now()
    future = now + timedelta(days=400)

    marked, _ = services.registrations_deactivation_record(
        deactivated={first.msisdn: future, again.msisdn: future}, reactivated=[], now=now
    )

    assert marked == 2
    assert state(first).deactivated_at == now
    assert state(again).deactivated_at == now


def test_a_later_sync_reads_only_the_records_changed_since_the_last_one(register):
    """Incremental: after a successful pass, the next reads only the operator's records that
    changed since it started (the feed holds millions of numbers), and counts only them."""
    changed, unchanged = register(41), register(42)
    record = operator_record(changed.msisdn, status="inactive", changed_days_ago=30)
    operator_record(unchanged.msisdn, status="active", changed_days_ago=30)
    assert sync().counts == {"records": 2, "marked": 1, "unmarked": 0}

    OperatorSubscriber.objects.filter(pk=record.pk).update(updated_at=timezone.now())
    job = sync()

    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts == {"records": 1, "marked": 0, "unmarked": 0}


def test_a_number_active_again_unmarks_only_marked_registrations_not_anonymised_ones(
    register, settings
):
    """Recycled numbers: an anonymised registration keeps the date its number left service
    (it is done with), and a number seen active again twice is unmarked once."""
    gone, back = register(41), register(42)
    gone_record = operator_record(gone.msisdn, status="inactive", changed_days_ago=800)
    back_record = operator_record(back.msisdn, status="inactive", changed_days_ago=10)
    sync()
    settings.RETENTION_DAYS_AFTER_DEACTIVATION = 730
    call_command("purge_expired_data", stdout=StringIO())
    anonymised_since = state(gone).deactivated_at
    assert state(gone).anonymised_at is not None

    for record in (gone_record, back_record):
        OperatorSubscriber.objects.filter(pk=record.pk).update(
            status="active", updated_at=timezone.now()
        )
    assert sync().counts["unmarked"] == 1
    OperatorSubscriber.objects.filter(pk=back_record.pk).update(updated_at=timezone.now())
    again = sync()

    assert again.counts["unmarked"] == 0
    assert state(back).deactivated_at is None
    assert state(gone).deactivated_at == anonymised_since
