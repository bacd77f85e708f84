"""Key rotation queued from the operator admin's page and run by a real Celery worker on Redis
and PostgreSQL, in small chunks, while the new key list is deployed to both processes."""

import pytest
from cryptography.fernet import Fernet

from core import pii
from privacy import services
from privacy.models import PrivacyJob
from subscribers.models import Registration
from tests.celery_support import WorkerProcess, use_broker, wait_for, worker_env

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_rotates_the_keys(
    require_postgres, settings, register, operator, redis_broker
):
    broker = redis_broker
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    registrations = [register(serial) for serial in (41, 42, 43)]
    plain = [pii.decrypt(r.id_number_encrypted) for r in registrations]

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]  # step 1: every process gets [new, old]
    worker = WorkerProcess(
        worker_env(broker, FIELD_ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}", PRIVACY_CHUNK_SIZE="1")
    )
    with use_broker(broker):
        worker.start()
        try:
            job = services.key_rotation_start(
                trigger=PrivacyJob.Trigger.PAGE, requested_by=operator
            )
            wait_for(
                lambda: PrivacyJob.objects.get(pk=job.pk).status == PrivacyJob.Status.SUCCEEDED
            )
        finally:
            worker.stop()

    job.refresh_from_db()
    assert job.counts["rotated"] == 6 and job.counts["unreadable"] == 0
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]  # step 3: the old key is gone
    rows = Registration.objects.filter(pk__in=[r.pk for r in registrations]).order_by("pk")
    assert [pii.decrypt(r.id_number_encrypted) for r in rows] == plain
