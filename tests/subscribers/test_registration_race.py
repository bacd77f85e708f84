"""Two clerks registering the same pack at the same moment: exactly one wins (PostgreSQL)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
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
