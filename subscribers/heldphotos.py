"""Photos kept for the clerk's next try after a failed submit.

A browser forgets the files of a form it re-displays, so after any error the clerk would have to
take both photos again. Instead, the photos of a submit that failed are kept server-side, in the
private storage, for the next submit of the same form:

- tied to the session: the file names are only in the clerk's session (random names in a
  folder per hour, ``held/YYYYMMDDHH/``); another session never sees them;
- used once: the next submit uses a kept photo unless a new one is attached; success, or a
  fresh form (GET), deletes them;
- of one buyer: each is kept with the keyed digest of the ID number (and its type) the form
  held when it was sent, and only a submit for that same ID number uses it — a clerk who turns
  to another buyer in the same form (or clears the ID number) never attaches the first buyer's
  photo to the second's registration; the photo is deleted instead;
- short-lived: ``HELD_PHOTO_SECONDS`` (one hour) at most — older ones are never used, and
  ``held_photos_purge`` (Celery beat, every 10 minutes) deletes them. The retention rules of
  docs/privacy.md list them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core import pii
from core.storage import get_private_storage

SESSION_KEY = "held_photos"
FOLDER = "held"
# A photo is never bigger than this many bytes when kept (the form's own limit is lower).
MAX_BYTES = 20 * 1024 * 1024


def _lifetime() -> timedelta:
    return timedelta(seconds=settings.HELD_PHOTO_SECONDS)


def _entries(request) -> dict:
    return request.session.get(SESSION_KEY) or {}


def buyer_key(id_type, id_number) -> str:
    """Whose photos these are: the keyed digest of the ID number as typed (normalised, with
    its document type); empty when no ID number was entered."""
    if not isinstance(id_number, str) or not id_number.strip():
        return ""
    return pii.id_digest(id_type if isinstance(id_type, str) else "", id_number)


def held_photos(request, *, buyer: str, now: datetime | None = None) -> dict[str, dict]:
    """The photos kept for this session that are still usable for ``buyer`` (``buyer_key``):
    ``{field: entry}``. Those kept for another buyer, or for none, are deleted."""
    now = now or timezone.now()
    usable, foreign = {}, []
    for field, entry in _entries(request).items():
        if not buyer or entry.get("buyer") != buyer:
            foreign.append(field)
            continue
        at = datetime.fromisoformat(entry["at"])
        if now - at < _lifetime() and get_private_storage().exists(entry["name"]):
            usable[field] = entry
    if foreign:
        release(request, foreign)
    return usable


def hold(request, field: str, upload, *, buyer: str) -> None:
    """Keep ``upload`` for ``field`` (replacing what was kept for it), as ``buyer``'s photo
    (``buyer_key``); a photo of no buyer (no ID number entered) is not kept."""
    if not buyer:
        release(request, [field])
        return
    upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    upload.seek(0)
    if not data or len(data) > MAX_BYTES:
        return
    now = timezone.now()
    name = f"{FOLDER}/{now.astimezone(UTC):%Y%m%d%H}/{uuid.uuid4().hex}"
    storage = get_private_storage()
    entries = dict(_entries(request))
    previous = entries.get(field)
    if previous and previous["name"] != name:
        storage.delete(previous["name"])
    entries[field] = {
        "name": storage.save(name, ContentFile(data)),
        "filename": (getattr(upload, "name", "") or "photo.jpg")[-100:],
        "content_type": getattr(upload, "content_type", "") or "image/jpeg",
        "size": len(data),
        "at": now.isoformat(),
        "buyer": buyer,
    }
    request.session[SESSION_KEY] = entries


def take(entry: dict) -> SimpleUploadedFile:
    """A kept photo as the upload the form and the service expect."""
    with get_private_storage().open(entry["name"], "rb") as handle:
        data = handle.read()
    return SimpleUploadedFile(entry["filename"], data, content_type=entry["content_type"])


def release(request, fields=None) -> None:
    """Delete the kept photos (of ``fields``, or all) and forget them."""
    entries = dict(_entries(request))
    if not entries:
        return
    storage = get_private_storage()
    for field in list(entries):
        if fields is None or field in fields:
            storage.delete(entries.pop(field)["name"])
    if entries:
        request.session[SESSION_KEY] = entries
    else:
        request.session.pop(SESSION_KEY, None)


def held_photos_purge(*, now: datetime | None = None) -> int:
    """Delete every kept photo older than ``HELD_PHOTO_SECONDS`` (whatever its session).
    Only the folders of past hours are listed. Returns the number deleted."""
    now = now or timezone.now()
    cutoff = now - _lifetime()
    storage = get_private_storage()
    try:
        folders, _files = storage.listdir(FOLDER)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    deleted = 0
    for folder in folders:
        try:
            hour = datetime.strptime(folder, "%Y%m%d%H").replace(tzinfo=UTC)
        except ValueError:
            continue
        if hour > cutoff:  # written less than a lifetime ago, every file of it
            continue
        whole_folder_old = hour + timedelta(hours=1) <= cutoff
        _dirs, files = storage.listdir(f"{FOLDER}/{folder}")
        for file_name in files:
            name = f"{FOLDER}/{folder}/{file_name}"
            try:
                if whole_folder_old or storage.get_modified_time(name) < cutoff:
                    storage.delete(name)
                    deleted += 1
            except FileNotFoundError:
                continue
    return deleted
