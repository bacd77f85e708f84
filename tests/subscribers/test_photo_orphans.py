"""Photo files no registration points at — left by a web process killed between writing a buyer's
photos and its commit, or by a photo worker killed mid-way — are deleted by a daily sweep once
they are older than the grace period; every file a registration uses, every recent file and
everything outside the sweep's window of day folders stays."""

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from core.models import AuditEvent
from subscribers import services, tasks
from subscribers.models import Registration
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db


def storage():
    return Registration._meta.get_field("id_photo").storage


def folder(days_ago: int = 0) -> str:
    return f"photos/{timezone.now() - timedelta(days=days_ago):%Y/%m/%d}"


def write(name: str, *, age: timedelta) -> str:
    stored = storage().save(name, ContentFile(image_bytes()))
    then = (timezone.now() - age).timestamp()
    os.utime(storage().path(stored), (then, then))
    return stored


def test_old_orphans_go_registered_photos_and_recent_files_stay(processed_registration):
    used = [getattr(processed_registration, name).name for name in services.PHOTO_FILE_FIELDS]
    assert all(used) and all(name.startswith(folder() + "/") for name in used)
    for name in used:  # old, but a registration points at them
        os.utime(storage().path(name), (0, 0))
    orphan = write(f"{folder()}/0123456789abcdef.jpg", age=timedelta(hours=2))
    fresh = write(f"{folder()}/fedcba9876543210.jpg", age=timedelta(minutes=5))

    assert services.photo_files_orphaned_purge() == 1

    assert not storage().exists(orphan)
    assert storage().exists(fresh)
    assert all(storage().exists(name) for name in used)
    event = AuditEvent.objects.get(action="registration.photo_orphans_deleted")
    assert event.after == {"count": 1, "files": [orphan]}
    # Run again: nothing more to do, no new audit row.
    assert services.photo_files_orphaned_purge() == 0
    assert AuditEvent.objects.filter(action="registration.photo_orphans_deleted").count() == 1


def test_the_window_covers_the_last_days_folders_only(db, settings):
    settings.PHOTO_ORPHAN_SWEEP_DAYS = 3
    within = write(f"{folder(3)}/aaaabbbbccccdddd.jpg", age=timedelta(days=3))
    beyond = write(f"{folder(4)}/eeeeffff00001111.jpg", age=timedelta(days=4))
    assert tasks.purge_orphaned_photo_files() == 1
    assert not storage().exists(within)
    assert storage().exists(beyond)  # an earlier day's run saw it


def test_nothing_to_walk_is_fine(db):
    assert services.photo_files_orphaned_purge() == 0


def test_the_sweep_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-orphaned-photo-files"]
    assert entry["task"] == "subscribers.tasks.purge_orphaned_photo_files"
    assert entry["schedule"] == 86400.0
    assert settings.PHOTO_ORPHAN_GRACE_SECONDS >= 3600
    assert settings.PHOTO_ORPHAN_SWEEP_DAYS >= 2
