"""Photo files no registration points at — left by a web process killed between writing a buyer's
photos and its commit, or by a photo worker killed mid-way — are deleted by a daily sweep once
they are older than the grace period; every file a registration uses, every recent file and
everything outside the sweep's window of day folders stays."""

import logging
import os
from datetime import UTC, datetime, time, timedelta

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
    assert event.actor_label == "photo-orphan-sweep"
    assert (event.target_type, event.target_id) == ("subscribers.registration", "")
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


def test_the_window_is_counted_in_utc_days_from_the_moment_given(db):
    """Folders are named by the UTC day a file was written. At 20:00 UTC it is already the next
    day in Jakarta, yet the window is still the UTC day and the three before it: the oldest
    folder is swept, the next UTC day's folder (written by a clock running ahead) is not."""
    day = timezone.now().astimezone(UTC).date()
    now = datetime.combine(day, time(20), tzinfo=UTC)
    oldest = write(f"photos/{day - timedelta(days=3):%Y/%m/%d}/0000aaaa1111bbbb.jpg",
                   age=timedelta(days=4))  # fmt: skip
    ahead = write(f"photos/{day + timedelta(days=1):%Y/%m/%d}/2222cccc3333dddd.jpg",
                  age=timedelta(days=1))  # fmt: skip

    assert services.photo_files_orphaned_purge(now=now, days=3) == 1

    assert not storage().exists(oldest)
    assert storage().exists(ahead)


def test_the_days_asked_for_override_the_setting(db, settings):
    settings.PHOTO_ORPHAN_SWEEP_DAYS = 3
    yesterday = write(f"{folder(1)}/4444eeee5555ffff.jpg", age=timedelta(days=1))
    assert services.photo_files_orphaned_purge(days=0) == 0
    assert storage().exists(yesterday)
    assert services.photo_files_orphaned_purge(days=1) == 1
    assert not storage().exists(yesterday)


def test_a_file_exactly_as_old_as_the_grace_period_stays(db):
    """Only files *older* than the grace period are candidates."""
    grace = timedelta(hours=1)
    now = datetime.fromtimestamp(int(timezone.now().timestamp()), tz=UTC)
    name = storage().save(f"{folder()}/6666aaaa7777bbbb.jpg", ContentFile(image_bytes()))
    at = (now - grace).timestamp()
    os.utime(storage().path(name), (at, at))

    assert services.photo_files_orphaned_purge(now=now, grace=grace) == 0
    assert storage().exists(name)
    assert services.photo_files_orphaned_purge(now=now + timedelta(seconds=1), grace=grace) == 1


def test_a_file_gone_while_the_folder_is_read_does_not_stop_the_sweep(db):
    """Files listed but gone before their age is read (processed or purged meanwhile; here links
    to nothing) are passed over; every other orphan of the folder is still deleted. (Ten of
    each: in whatever order the file system lists them, some orphans come after a gone one.)"""
    orphans = [write(f"{folder()}/{n:016x}.jpg", age=timedelta(hours=2)) for n in range(10)]
    gone = [storage().path(f"{folder()}/{n:016x}.jpg") for n in range(10, 20)]
    for path in gone:
        os.symlink(storage().path(f"{folder()}/nowhere.jpg"), path)

    assert services.photo_files_orphaned_purge() == len(orphans)
    assert not any(storage().exists(name) for name in orphans)


def test_a_folder_with_only_recent_files_does_not_end_the_sweep(db):
    """Two days ago holds only a file still within its grace (its clock was touched): the sweep
    goes on to yesterday's folder and deletes the orphan there."""
    recent = write(f"{folder(2)}/8888cccc9999dddd.jpg", age=timedelta(minutes=5))
    orphan = write(f"{folder(1)}/aaaa0000bbbb1111.jpg", age=timedelta(days=1))

    assert services.photo_files_orphaned_purge() == 1

    assert storage().exists(recent) and not storage().exists(orphan)


def test_the_operators_log_says_how_many_files_were_deleted(db, caplog):
    write(f"{folder()}/cccc2222dddd3333.jpg", age=timedelta(hours=2))
    write(f"{folder()}/eeee4444ffff5555.jpg", age=timedelta(hours=2))
    with caplog.at_level(logging.WARNING, logger="subscribers.services"):
        assert services.photo_files_orphaned_purge() == 2
    assert "deleted 2 photo file(s) no registration points at" in caplog.messages
