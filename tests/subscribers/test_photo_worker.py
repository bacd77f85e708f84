"""The photo task through a real Celery worker on Redis and PostgreSQL, and the broker-down path."""

import io

import pytest
from PIL import Image

from subscribers import services, tasks
from subscribers.models import Registration
from tests.celery_support import (
    WorkerProcess,
    use_broker,
    wait_for,
    worker_env,
)
from tests.conftest import buyer_data


def _gps_jpeg() -> io.BytesIO:
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 0.0)}  # GPS IFD
    exif[0x0112] = 6  # rotated
    buf = io.BytesIO()
    Image.new("RGB", (2400, 1800), (10, 120, 200)).save(buf, "JPEG", exif=exif.tobytes())
    buf.seek(0)
    buf.name = "ktp.jpg"
    return buf


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_strips_and_scales_the_photos(
    require_postgres, clerk, pack, settings, tmp_path, redis_broker
):
    broker = redis_broker
    location = settings.STORAGES["private"]["OPTIONS"]["location"]
    worker = WorkerProcess(worker_env(broker, PRIVATE_MEDIA_ROOT=location))
    with use_broker(broker):
        worker.start()
        try:
            reg = services.registration_create(
                clerk=clerk, data=buyer_data(pack), id_photo=_gps_jpeg(), face_photo=_gps_jpeg()
            )
            assert reg.photo_status == Registration.PhotoStatus.PENDING
            wait_for(
                lambda: (
                    Registration.objects.get(pk=reg.pk).photo_status
                    == Registration.PhotoStatus.READY
                )
            )
        finally:
            worker.stop()
    reg.refresh_from_db()
    with reg.id_photo.open("rb") as fh:
        photo = Image.open(fh)
        photo.load()
    assert not photo.getexif()  # no EXIF at all, GPS included
    assert photo.size == (1200, 1600)  # upright (EXIF orientation 6) and scaled to 1600
    assert reg.id_photo_thumb and reg.face_photo_thumb


@pytest.mark.django_db(transaction=True)
def test_registration_succeeds_while_the_broker_is_down_and_the_sweep_catches_up(
    clerk, pack, photos, settings
):
    with use_broker("redis://127.0.0.1:1/0"):  # nothing listens there
        reg = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    reg.refresh_from_db()
    assert reg.photo_status == Registration.PhotoStatus.PENDING  # saved; the work waits
    assert services.registration_photos_pending(older_than_seconds=0) == [reg.pk]
    # Broker back (eager in tests): the periodic sweep queues it again and it completes.
    assert tasks.sweep_pending_photos.delay(0).get() == 1
    reg.refresh_from_db()
    assert reg.photo_status == Registration.PhotoStatus.READY


@pytest.mark.django_db
def test_a_photo_the_worker_cannot_decode_flags_the_registration_for_review(clerk, pack, photos):
    reg = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    # Damage the request's quick structural check cannot see: the stored bytes do not decode.
    name = reg.id_photo.name
    reg.id_photo.storage.delete(name)
    reg.id_photo.storage.save(name, io.BytesIO(b"\xff\xd8\xff\xe0 damaged " * 50))

    assert services.registration_photos_process(registration_id=reg.pk) == "failed"

    reg.refresh_from_db()
    assert reg.photo_status == Registration.PhotoStatus.FAILED
    assert reg.status == Registration.Status.FLAGGED
    assert reg.review_reasons == [
        {"code": "photo_unreadable", "message": "a photo could not be decoded"}
    ]
    assert reg.face_photo_thumb  # the good photo was still processed


@pytest.mark.django_db
def test_the_photo_task_processes_once_and_says_what_it_found(clerk, pack, photos):
    """Run again (a redelivered task), the photos are left as they are; a registration gone
    meanwhile is "missing". The audit row says what became of the photos."""
    from core.models import AuditEvent

    reg = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    assert services.registration_photos_process(registration_id=reg.pk) == "ready"
    reg.refresh_from_db()
    kept = (reg.id_photo.name, reg.id_photo_thumb.name, reg.face_photo.name)

    assert services.registration_photos_process(registration_id=reg.pk) == "ready"
    reg.refresh_from_db()
    assert (reg.id_photo.name, reg.id_photo_thumb.name, reg.face_photo.name) == kept
    event = AuditEvent.objects.get(action="registration.photos_processed")
    assert (event.target_type, event.target_id) == ("subscribers.registration", str(reg.pk))
    assert event.after == {"photo_status": "ready"}
    assert services.registration_photos_process(registration_id=987654321) == "missing"
