"""The test suite: fast hashing, plain static storage, eager Celery unless a test starts one."""

import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWZlcm5ldC1rZXktMDAwMDAwMDAwMDA=")
os.environ.setdefault("ID_DIGEST_KEY", "test-only-digest-key")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

from .base import *  # noqa: F403
from .base import BASE_DIR, REST_FRAMEWORK, STORAGES, env, env_bool

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PRIVATE_MEDIA_ROOT = Path(
    env.str("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / ".test_private_media"))
)
STORAGES["default"] = {**STORAGES["default"], "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT)}}
STORAGES["private"] = {**STORAGES["private"], "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT)}}
CELERY_TASK_EAGER_PROPAGATES = True
# The raw world: the mock operator learns of no sale unless a test switches it on.
OPERATOR_MOCK_ACTIVATION_SECONDS = env.int("OPERATOR_MOCK_ACTIVATION_SECONDS", default=-1)
# Tests hammer the API; throttling has its own test that sets the rates back.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "anon": "10000/minute",
        "user": "10000/minute",
        "token": "10000/minute",
    },
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)
