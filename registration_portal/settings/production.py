"""Production: no default secrets, HTTPS only, passes `manage.py check --deploy` cleanly.

Required: SECRET_KEY, FIELD_ENCRYPTION_KEYS, ID_DIGEST_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL,
PUBLIC_BASE_URL (https).
"""

from django.core.exceptions import ImproperlyConfigured

from core.publicurl import check_public_base_url

from .base import *  # noqa: F403
from .base import (
    DATABASES,
    DEBUG,
    FIELD_ENCRYPTION_KEYS,
    ID_DIGEST_KEY,
    REDIS_URL,
    SECRET_KEY,
    env,
    env_bool,
)
from .keys import check_production_keys

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production settings.")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith(("local-dev", "test-only", "django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY must be a long random value in production.")
# Short, hand-made, shared or committed keys (docs/security.md, "Keys").
check_production_keys(
    secret_key=SECRET_KEY,
    encryption_keys=FIELD_ENCRYPTION_KEYS,
    digest_key=ID_DIGEST_KEY,
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("Production runs on PostgreSQL: set DATABASE_URL.")
# Links that leave the portal (SMS, PDFs) are built from it, never from the Host header: no
# default in production, where a wrong address would send people elsewhere.
if not env.str("PUBLIC_BASE_URL", default=""):
    raise ImproperlyConfigured(
        "Production needs PUBLIC_BASE_URL, the portal's public https:// address."
    )
PUBLIC_BASE_URL = check_public_base_url(env.str("PUBLIC_BASE_URL"), require_https=True)
if not REDIS_URL:
    raise ImproperlyConfigured("Production needs REDIS_URL (broker, cache, throttling).")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# The operator's file is the whole picture every day: one ending more than half of the active
# numbers is a truncated export, refused unless --allow-mass-deactivation (README).
OPERATORDB_MAX_DEACTIVATED_SHARE = env.float("OPERATORDB_MAX_DEACTIVATED_SHARE", default=0.5)
