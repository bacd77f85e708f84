"""A number's whole life: the operator's side of a sale, the activation grace period, a card
activated before its registration, and a number deactivated, rested and issued again."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from compliance.models import Clarification, Discrepancy, ReviewItem
from core.operator import get_adapter
from identity.idgen import make_nik
from identity.idrules import normalize_name_for_comparison
from operatordb.models import OperatorSubscriber
from outlets.models import StarterPack
from subscribers import services
from subscribers.models import Registration, RegistrationPolicy
from tests.conftest import buyer_data, photo_upload
from tests.factories import StarterPackFactory

from .conftest import run_inline


@pytest.fixture(params=["auto", "python"])
def engine(request, settings):
    settings.RECONCILIATION_ENGINE = request.param
    settings.RECONCILIATION_WATERMARK_MARGIN = 0
    settings.RECONCILIATION_ACTIVATION_GRACE_MINUTES = 60
    return request.param


def photos() -> dict:
    return {"id_photo": photo_upload("ktp.jpg"), "face_photo": photo_upload("face.jpg")}


def sell(clerk, pack, capture, **overrides) -> Registration:
    with capture(execute=True):
        return services.registration_create(
            clerk=clerk, data=buyer_data(pack, **overrides), **photos()
        )


def kinds_of(msisdn: str) -> set[str]:
    return set(
        Discrepancy.objects.filter(msisdn=msisdn, status="open").values_list("kind", flat=True)
    )


def test_a_sale_the_mock_operator_activates_raises_nothing_at_the_next_run(
    engine, settings, clerk, pack, django_capture_on_commit_callbacks
):
    settings.OPERATOR_MOCK_ACTIVATION_SECONDS = 0
    settings.RECONCILIATION_ACTIVATION_GRACE_MINUTES = 0  # no grace: only activation saves it
    registration = sell(clerk, pack, django_capture_on_commit_callbacks)

    record = OperatorSubscriber.objects.get(msisdn=registration.msisdn)
    assert record.status == "active" and record.outlet_roid == registration.outlet.roid
    assert record.id_number_digest == registration.id_number_digest
    run = run_inline("full")
    assert run.status == "succeeded" and kinds_of(registration.msisdn) == set()


def test_without_activation_the_sale_waits_out_its_grace_period_then_is_unknown(
    engine, settings, clerk, pack, django_capture_on_commit_callbacks
):
    """The first run after the grace period ends looks at the sale again although nothing
    about it changed since the runs that saw it young: no incremental run lets it slip."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        registration = sell(clerk, pack, django_capture_on_commit_callbacks)
    assert not OperatorSubscriber.objects.filter(msisdn=registration.msisdn).exists()
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        assert run_inline("full").status == "succeeded"
    assert kinds_of(registration.msisdn) == set()
    with time_machine.travel(start + timedelta(minutes=50), tick=False):
        assert run_inline("incremental").since is not None
    assert kinds_of(registration.msisdn) == set()
    with time_machine.travel(start + timedelta(minutes=75), tick=False):
        late = run_inline("incremental")
    assert late.mode == "incremental" and late.since > registration.updated_at
    assert kinds_of(registration.msisdn) == {"missing_in_operator"}
    # The reviewer sees it as soon as the run ends (no periodic sync has run).
    assert ReviewItem.objects.filter(registration=registration).exists()


def test_awaiting_or_refused_by_the_registry_is_never_unknown_to_the_operator(
    engine, clerk, pack, other_outlet
):
    awaiting = sell(clerk, pack, lambda **kw: _Nothing())
    refused = sell(clerk, StarterPackFactory(outlet=pack.outlet), lambda **kw: _Nothing(),
                   id_number=make_nik(birth_date=awaiting.birth_date, sex="F", serial=43))  # fmt: skip
    long_ago = timezone.now() - timedelta(days=30)
    Registration.objects.filter(pk=awaiting.pk).update(
        status="awaiting", registry_checked_at=None, registered_at=long_ago
    )
    Registration.objects.filter(pk=refused.pk).update(status="refused", registered_at=long_ago)
    assert run_inline("full").status == "succeeded"
    assert kinds_of(awaiting.msisdn) == kinds_of(refused.msisdn) == set()


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_pack_activated_days_before_its_registration_is_reported_to_the_outlet(
    engine, settings, clerk, pack, django_capture_on_commit_callbacks
):
    registration = sell(clerk, pack, django_capture_on_commit_callbacks)
    assert registration.policy.packs_sold_inactive
    early = registration.registered_at - timedelta(days=3)
    slightly = registration.registered_at - timedelta(minutes=2)
    OperatorSubscriber.objects.create(
        msisdn=registration.msisdn,
        iccid=registration.iccid,
        status="active",
        activated_at=slightly,
        outlet_roid=registration.outlet.roid,
        id_type="ktp",
        id_number_digest=registration.id_number_digest,
        full_name=registration.full_name,
        name_key=normalize_name_for_comparison(registration.full_name),
        birth_date=registration.birth_date,
    )
    run_inline("full")
    assert kinds_of(registration.msisdn) == set()  # within the clock-skew tolerance
    OperatorSubscriber.objects.filter(msisdn=registration.msisdn).update(
        activated_at=early, updated_at=timezone.now()
    )
    run_inline("incremental")
    assert kinds_of(registration.msisdn) == {"activated_before_registration"}
    asked = Clarification.objects.get(msisdn=registration.msisdn)
    assert asked.outlet_id == registration.outlet_id
    # A rule set selling packs active would not care.
    RegistrationPolicy.objects.filter(pk=registration.policy_id).update(packs_sold_inactive=False)
    OperatorSubscriber.objects.filter(msisdn=registration.msisdn).update(updated_at=timezone.now())
    run_inline("incremental")
    assert kinds_of(registration.msisdn) == set()


def test_a_recycled_number_is_a_new_life_and_the_old_outlet_never_sees_it(
    engine,
    settings,
    client,
    clerk,
    clerk2,
    pack,
    other_outlet,
    django_capture_on_commit_callbacks,
):
    settings.OPERATOR_MOCK_ACTIVATION_SECONDS = 0
    first = sell(clerk, pack, django_capture_on_commit_callbacks)
    long_ago = timezone.now() - timedelta(days=200)
    Registration.objects.filter(pk=first.pk).update(registered_at=long_ago)
    # The operator holds the first buyer under a misspelt name: the first outlet is asked.
    OperatorSubscriber.objects.filter(msisdn=first.msisdn).update(
        full_name="Siti Nuraina", name_key="sitinuraina", updated_at=timezone.now()
    )
    run_inline("full")
    assert kinds_of(first.msisdn) == {"name_mismatch"}
    asked_first = Clarification.objects.get(msisdn=first.msisdn, outlet=first.outlet)
    held_before = services.active_id_count(id_digest=first.id_number_digest)

    # The subscriber leaves: the number is deactivated, its life ends.
    assert get_adapter().deactivate(msisdn=first.msisdn, at=long_ago + timedelta(days=10))
    run_inline("incremental")
    first.refresh_from_db()
    assert first.life_ended_at == long_ago + timedelta(days=10)
    assert StarterPack.objects.get(pk=first.starter_pack_id).life_ended_at is not None
    assert kinds_of(first.msisdn) == set()  # its open finding is settled
    assert services.active_id_count(id_digest=first.id_number_digest) == held_before - 1

    # After the quarantine the number is stocked again and sold to someone else elsewhere.
    again = StarterPackFactory(outlet=other_outlet, msisdn=first.msisdn)
    other_nik = make_nik(birth_date=first.birth_date, sex="M", serial=77)
    second = sell(clerk2, again, django_capture_on_commit_callbacks, id_number=other_nik,
                  full_name="Bambang Setiawan", sex="M")  # fmt: skip
    record = OperatorSubscriber.objects.get(msisdn=first.msisdn)
    assert record.status == "active" and record.id_number_digest == second.id_number_digest
    assert record.issued_at is not None and record.issued_at > first.registered_at
    run_inline("full")
    assert kinds_of(first.msisdn) == set()  # no mismatch for the old registration
    assert not Discrepancy.objects.filter(registration=first, status="open").exists()

    # The operator misspells the new owner: the new outlet is asked, never the old one.
    OperatorSubscriber.objects.filter(msisdn=first.msisdn).update(
        full_name="Bambang Setiawam", name_key="bambangsetiawam", updated_at=timezone.now()
    )
    run_inline("incremental")
    new_finding = Discrepancy.objects.get(msisdn=first.msisdn, status="open")
    assert new_finding.registration_id == second.pk and new_finding.outlet_id == other_outlet.pk
    client.force_login(clerk)
    page = client.get(reverse("compliance:clarification", args=[asked_first.pk]))
    assert page.status_code == 200
    assert "Bambang" not in page.content.decode()
    client.force_login(clerk2)
    asked_second = Clarification.objects.get(msisdn=first.msisdn, outlet=other_outlet)
    assert (
        "Setiawam"
        in client.get(reverse("compliance:clarification", args=[asked_second.pk])).content.decode()
    )


def test_a_number_in_quarantine_is_not_issued_again(
    settings, clerk2, pack, other_outlet, django_capture_on_commit_callbacks, clerk
):
    settings.OPERATOR_MOCK_ACTIVATION_SECONDS = 0
    first = sell(clerk, pack, django_capture_on_commit_callbacks)
    Registration.objects.filter(pk=first.pk).update(
        registered_at=timezone.now() - timedelta(days=30)
    )
    get_adapter().deactivate(msisdn=first.msisdn, at=timezone.now() - timedelta(days=10))
    run_inline("full")
    assert Registration.objects.ended_lives().filter(pk=first.pk).exists()
    again = StarterPackFactory(outlet=other_outlet, msisdn=first.msisdn)
    other_nik = make_nik(birth_date=first.birth_date, sex="M", serial=78)
    sell(clerk2, again, django_capture_on_commit_callbacks, id_number=other_nik,
         full_name="Bambang Setiawan", sex="M")  # fmt: skip
    record = OperatorSubscriber.objects.get(msisdn=first.msisdn)
    assert record.status == "inactive" and record.deactivated_at is not None
