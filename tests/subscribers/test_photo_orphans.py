"""Photo files no registration points at — left by a web process killed between writing a buyer's
photos and its commit, or by a photo worker killed mid-way — are deleted by an hourly sweep once
they are older than the grace period; every file a registration uses, and every recent file,
stays."""

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from compliance.models import AuditEvent
from subscribers import services, tasks
from subscribers.models import Registration
from tests.conftest import buyer_data, image_bytes

pytestmark = pytest.mark.django_db


def storage():
    return Registration._meta.get_field("id_photo").storage


def write(name: str, *, age: timedelta) -> str:
    stored = storage().save(name, ContentFile(image_bytes()))
    then = (timezone.now() - age).timestamp()
    os.utime(storage().path(stored), (then, then))
    return stored


@pytest.fixture
def registered(clerk, pack, photos, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    registration.refresh_from_db()
    return registration


def test_old_orphans_go_registered_photos_and_recent_files_stay(registered):
    month = f"photos/{timezone.now():%Y/%m}"
    used = [getattr(registered, name).name for name in services.PHOTO_FILE_FIELDS]
    assert all(used) and all(name.startswith(month) for name in used)
    for name in used:  # old, but a registration points at them
        os.utime(storage().path(name), (0, 0))
    orphan = write(f"{month}/0123456789abcdef.jpg", age=timedelta(hours=2))
    fresh = write(f"{month}/fedcba9876543210.jpg", age=timedelta(minutes=5))

    assert services.photo_files_orphaned_purge() == 1

    assert not storage().exists(orphan)
    assert storage().exists(fresh)
    assert all(storage().exists(name) for name in used)
    event = AuditEvent.objects.get(action="registration.photo_orphans_deleted")
    assert event.after == {"count": 1, "files": [orphan]}
    # Run again: nothing more to do, no new audit row.
    assert services.photo_files_orphaned_purge() == 0
    assert AuditEvent.objects.filter(action="registration.photo_orphans_deleted").count() == 1


def test_last_months_orphans_are_found_too(db):
    now = timezone.now()
    last_month = now.replace(day=1) - timedelta(days=1)
    orphan = write(f"photos/{last_month:%Y/%m}/aaaabbbbccccdddd.jpg", age=timedelta(days=2))
    assert tasks.purge_orphaned_photo_files() == 1
    assert not storage().exists(orphan)


def test_nothing_to_walk_is_fine(db):
    assert services.photo_files_orphaned_purge() == 0


def test_the_sweep_is_scheduled_hourly():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-orphaned-photo-files"]
    assert entry["task"] == "subscribers.tasks.purge_orphaned_photo_files"
    assert entry["schedule"] == 3600.0
    assert settings.PHOTO_ORPHAN_GRACE_SECONDS >= 3600
