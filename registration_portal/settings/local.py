"""The laptop: `make run`. Debug on, demo keys, SQLite and the filesystem broker by default."""

import os

from .keys import LOCAL_DEMO_KEYS

# Demo-only secrets so `make run` needs no setup; production.py refuses to start without real ones.
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", LOCAL_DEMO_KEYS["SECRET_KEY"])
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", LOCAL_DEMO_KEYS["FIELD_ENCRYPTION_KEYS"])
os.environ.setdefault("ID_DIGEST_KEY", LOCAL_DEMO_KEYS["ID_DIGEST_KEY"])
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

from .base import *  # noqa: F403
from .base import STORAGES

# Plain static storage: no collectstatic needed for runserver.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
