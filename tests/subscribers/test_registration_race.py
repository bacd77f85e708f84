"""Two clerks registering the same pack at the same moment: exactly one wins (PostgreSQL)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import translation

from accounts.models import User
from core.models import AuditEvent
from outlets.models import StarterPack
from subscribers import services
from subscribers.models import Registration
from tests.conftest import buyer_data, photo_upload
from tests.factories import StaffFactory, UserFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_clerks_racing_for_one_pack(require_postgres, clerk, outlet, pack):
    colleague = StaffFactory(
        user=UserFactory(username="colleague", role=User.Role.OUTLET_STAFF), outlet=outlet
    ).user
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}
    data = buyer_data(pack)  # once: it also puts the buyer in the (mock) population registry

    def register(user):
        try:
            barrier.wait(timeout=10)
            with translation.override("en"):
                reg = services.registration_create(
                    clerk=user,
                    data=data,
                    id_photo=photo_upload("ktp.jpg"),
                    face_photo=photo_upload("face.jpg"),
                )
            outcomes[user.username] = reg.pk
        except ValidationError as exc:
            outcomes[user.username] = exc.message_dict
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(u,)) for u in (clerk, colleague)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    winners = [v for v in outcomes.values() if isinstance(v, int)]
    losers = [v for v in outcomes.values() if isinstance(v, dict)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assert losers[0]["msisdn"] == ["This starter pack is already registered."]
    assert Registration.objects.count() == 1
    assert AuditEvent.objects.filter(action="registration.create").count() == 1
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.REGISTERED


def _same_buyer_on_packs(outlet, n: int) -> tuple[dict, list]:
    from tests.factories import StarterPackFactory

    packs = [StarterPackFactory(outlet=outlet) for _ in range(n)]
    data = buyer_data(packs[0])  # once: it also puts the buyer in the (mock) population registry
    return data, packs


def _prepare(clerk, data, pack):
    return services.registration_prepare(
        clerk=clerk,
        data={**data, "msisdn": "0" + pack.msisdn[2:], "iccid": pack.iccid},
        id_photo=photo_upload("ktp.jpg"),
        face_photo=photo_upload("face.jpg"),
    )


def _register(clerk, data, pack):
    return services.registration_create(
        clerk=clerk,
        data={**data, "msisdn": "0" + pack.msisdn[2:], "iccid": pack.iccid},
        id_photo=photo_upload("ktp.jpg"),
        face_photo=photo_upload("face.jpg"),
    )


@pytest.mark.django_db
def test_registrations_of_one_nik_judged_together_are_capped_as_they_are_written(
    clerk, outlet, monkeypatch
):
    """Two numbers of one NIK judged before either is written (held 2: both within the cap of
    3): the one written second is refused, as if it had come after, and writes nothing."""
    data, packs = _same_buyer_on_packs(outlet, 4)
    for pack in packs[:2]:
        _register(clerk, data, pack)
    prepared = [_prepare(clerk, data, pack) for pack in packs[2:]]
    with transaction.atomic():
        third = services._registration_write(prepared[0], clerk=clerk, data=data, source="web")
    with pytest.raises(ValidationError) as exc, transaction.atomic():
        services._registration_write(prepared[1], clerk=clerk, data=data, source="web")

    assert third.status == Registration.Status.REGISTERED
    assert "already holds 3 numbers" in exc.value.message_dict["id_number"][0]
    packs[3].refresh_from_db()
    assert packs[3].status == StarterPack.Status.IN_STOCK
    assert Registration.objects.count() == 3
    assert AuditEvent.objects.filter(action="registration.create").count() == 3


@pytest.mark.django_db
def test_at_an_authorised_outlet_the_one_written_beyond_the_cap_is_flagged(clerk, outlet):
    from datetime import date

    outlet.operator_authorised_from = date(2018, 5, 7)
    outlet.save()
    data, packs = _same_buyer_on_packs(outlet, 4)
    for pack in packs[:2]:
        _register(clerk, data, pack)
    prepared = [_prepare(clerk, data, pack) for pack in packs[2:]]
    written = []
    for one in prepared:
        with transaction.atomic():
            written.append(services._registration_write(one, clerk=clerk, data=data, source="web"))

    assert [r.status for r in written] == [
        Registration.Status.REGISTERED,
        Registration.Status.FLAGGED,
    ]
    assert [r["code"] for r in written[1].review_reasons] == ["over_cap_permitted"]
    assert written[1].review_reasons[0]["held"] == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_six_registrations_of_one_nik_sent_at_once_hold_three_numbers(
    require_postgres, clerk, outlet, monkeypatch
):
    """A point-of-sale app sends six registrations of one buyer in parallel, every one judged
    (held 0) before any is written: three are registered, three refused — the cap of the rule
    set in force at a retail outlet."""
    data, packs = _same_buyer_on_packs(outlet, 6)
    barrier = threading.Barrier(len(packs))
    prepare = services.registration_prepare

    def judged_together(**kwargs):
        prepared = prepare(**kwargs)
        barrier.wait(timeout=30)  # every one judged before any is written
        return prepared

    monkeypatch.setattr(services, "registration_prepare", judged_together)
    outcomes: dict[str, object] = {}

    def register(pack):
        try:
            with translation.override("en"):
                outcomes[pack.msisdn] = _register(clerk, data, pack).status
        except ValidationError as exc:
            outcomes[pack.msisdn] = exc.message_dict
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(pack,)) for pack in packs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    registered = [v for v in outcomes.values() if v == Registration.Status.REGISTERED]
    refused = [v for v in outcomes.values() if isinstance(v, dict)]
    assert len(registered) == 3 and len(refused) == 3, outcomes
    assert all("already holds 3 numbers" in r["id_number"][0] for r in refused)
    assert services.cap_count(id_digest=Registration.objects.first().id_number_digest) == 3
    assert StarterPack.objects.filter(status=StarterPack.Status.IN_STOCK).count() == 3
