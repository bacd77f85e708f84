"""The laptop: `make run`. Debug on, demo keys, SQLite and the filesystem broker by default."""

import os

# Demo-only secrets so `make run` needs no setup; production.py refuses to start without real ones.
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "local-dev-only-not-secret-3c9f1b7e")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "bG9jYWwtZGV2LW9ubHktZmVybmV0LWtleS0wMDAwMDA=")
os.environ.setdefault("ID_DIGEST_KEY", "local-dev-only-digest-key")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

from .base import *  # noqa: F403
from .base import STORAGES

# Plain static storage: no collectstatic needed for runserver.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
