"""Settings shared by every environment, read from environment variables and parsed strictly.

A malformed value (``DEBUG=maybe``, a bad ``DATABASE_URL``) raises at start-up rather than
running with a silent default.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

from core.publicurl import check_public_base_url
from registration_portal.cache import redis_cache

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file is a convenience for laptops; the real environment always wins.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def env_bool(name: str, *, default: bool) -> bool:
    """A boolean that must be spelled as one: ``DEBUG=maybe`` is an error, not False."""
    raw = env.str(name, default="1" if default else "0").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off.")
    return raw in _TRUE


DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "core",
    "accounts",
    "outlets",
    "subscribers",
    "compliance",
    "operatordb",
    "holders",
    "privacy",
    "reports",
    "risk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.requestid.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before anything reads the body or the query (core/middleware.py): 413 for a body over the
    # limit, 400 for control characters (NUL…) in a query parameter.
    "core.middleware.RequestSizeLimitMiddleware",
    "core.middleware.QueryStringMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "registration_portal.middleware.SecurityHeadersMiddleware",
    # A lost database connection: 503 + Retry-After, a friendly page (not the 500 page).
    "registration_portal.middleware.DatabaseUnavailableMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # django-axes must come last: it inspects the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "registration_portal.urls"
WSGI_APPLICATION = "registration_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Read replica (optional; docs/scaling.md, registration_portal/routers.py) -----------------
# REPLICA_DATABASE_URL: a streaming replica of DATABASE_URL. When set, the reports app's reads
# (dashboard figures, the rows of exports) go to it; writes and everything else stay on
# "default". Unset: no second alias, no router, nothing changes. In tests the alias mirrors
# the test database (TEST MIRROR).
REPLICA_DATABASE_URL = env.str("REPLICA_DATABASE_URL", default="")
DATABASE_ROUTERS: list[str] = []
if REPLICA_DATABASE_URL:
    DATABASES["replica"] = environ.Env.db_url_config(REPLICA_DATABASE_URL)
    if DATABASES["replica"]["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured(
            "REPLICA_DATABASE_URL must be a replica of DATABASE_URL (same database engine)."
        )
    DATABASES["replica"].update(
        ATOMIC_REQUESTS=False,
        CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"],
        CONN_HEALTH_CHECKS=True,
        TEST={"MIRROR": "default"},
    )
    DATABASE_ROUTERS = ["core.routers.ReplicaRouter"]
# --- end of read replica ----------------------------------------------------------------------

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Proxies in front of gunicorn that append the client's address to X-Forwarded-For (a load
# balancer: 1; a CDN in front of it: 2). 0: the portal is reached directly and the header is
# ignored. The client address of throttles, django-axes and logs is core.clientip.client_ip.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if not 0 <= TRUSTED_PROXY_COUNT <= 5:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be between 0 and 5.")

# Login throttling (django-axes): lock a username+IP pair after repeated failures. The address is
# the client's (core.clientip), so behind a proxy one client cannot lock out another: the lock
# holds for this username from that address only.
AXES_CLIENT_IP_CALLABLE = "core.clientip.client_ip"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# API tokens (accounts.ApiToken, docs/security.md "API tokens"): hashed at rest, valid this
# long after they are issued, at most this many per account (the oldest go first).
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", default=30 * 24)
API_TOKEN_MAX_PER_USER = env.int("API_TOKEN_MAX_PER_USER", default=10)
if API_TOKEN_TTL_HOURS < 1 or API_TOKEN_MAX_PER_USER < 1:
    raise ImproperlyConfigured("API_TOKEN_TTL_HOURS and API_TOKEN_MAX_PER_USER must be at least 1.")

# --- Internationalisation: Bahasa Indonesia first, English second --------------------------
LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Jakarta"
USE_I18N = True
USE_TZ = True

# --- Static and media ------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Personal photos and signed documents never live under a public URL: this folder has no URL
# route at all, files are streamed by views that check who is asking.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "private_media")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# An uploaded file above this goes to a temporary file instead of memory; the form fields
# around the files (not the files) may hold this much; a body is refused (413, before it is read,
# core.middleware.RequestSizeLimitMiddleware) above REQUEST_MAX_BYTES — two photos at their
# limit, the largest upload (a 16 MB stock CSV) and the form around them — or, with no session
# and no Authorization header (an anonymous caller can only sign in), above
# ANONYMOUS_REQUEST_MAX_BYTES.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=8 * 1024 * 1024)
REQUEST_MAX_BYTES = env.int(
    "REQUEST_MAX_BYTES", default=max(2 * PHOTO_MAX_BYTES, 16 * 1024 * 1024) + 1024 * 1024
)
ANONYMOUS_REQUEST_MAX_BYTES = env.int("ANONYMOUS_REQUEST_MAX_BYTES", default=64 * 1024)
if not 0 < ANONYMOUS_REQUEST_MAX_BYTES <= REQUEST_MAX_BYTES:
    raise ImproperlyConfigured(
        "ANONYMOUS_REQUEST_MAX_BYTES must be between 1 and REQUEST_MAX_BYTES."
    )

# --- Personal data at rest -------------------------------------------------------------------
# ID and KK numbers are encrypted with Fernet (the first key encrypts, every key decrypts, so a
# new key can be put first and old rows re-encrypted in the background) and looked up through
# an HMAC-SHA256 digest keyed separately.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
ID_DIGEST_KEY = env.str("ID_DIGEST_KEY")
# Only during a digest-key rotation: the key the digests not yet re-digested were made with
# (look-ups read both). A fingerprint stored with the data must match (docs/privacy.md).
ID_DIGEST_KEY_PREVIOUS = env.str("ID_DIGEST_KEY_PREVIOUS", default="")

# --- Cache, Celery ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Redis down is a cache miss, never a failed request (registration_portal/cache.py).
    CACHES = {"default": redis_cache(REDIS_URL)}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_DIR = Path(env.str("CELERY_DIR", default=str(BASE_DIR / ".celery")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND", default=REDIS_URL or f"file://{CELERY_DIR / 'results'}"
)
# Publishing must fail fast when the broker is down: the request has already committed its row
# with a pending status and a periodic sweep re-queues it (never 20 s of retries per request).
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker for `make run`: a folder, no server. kombu won't create it itself.
    for sub in ("queue", "control", "processed"):
        (CELERY_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "data_folder_in": str(CELERY_DIR / "queue"),
        "data_folder_out": str(CELERY_DIR / "queue"),
        "control_folder": str(CELERY_DIR / "control"),
        "processed_folder": str(CELERY_DIR / "processed"),
        "store_processed": False,
    }
if CELERY_RESULT_BACKEND.startswith("file://"):
    Path(CELERY_RESULT_BACKEND[len("file://") :]).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Progress and outcomes live in the database where people can see them; results are opt-in.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"timeout": 2.0}}
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is redelivered; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# One queue per kind of work, so a long job never sits in front of a short one: photo clean-up
# (the heaviest task per registration, it backs up at a registration peak — make loadtest saw
# an export queued past two minutes behind it), reconciliation chunks, regulator exports, and
# everything else (notifications, sweeps, beat's ticks). A worker started without -Q consumes
# every queue, taking from them in turn; production can give each its own pool with -Q
# (docs/scaling.md).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("photos"), Queue("reconcile"), Queue("exports"))
CELERY_TASK_ROUTES = {
    "subscribers.tasks.process_registration_photos": {"queue": "photos"},
    "compliance.reconciliation.tasks.plan_run": {"queue": "reconcile"},
    "compliance.reconciliation.tasks.work_chunk": {"queue": "reconcile"},
    "compliance.reconciliation.tasks.finish_run": {"queue": "reconcile"},
    "reports.tasks.run_export_job": {"queue": "exports"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic work of the registrations; each later section adds its app's entries with
# CELERY_BEAT_SCHEDULE.update().
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-photos": {"task": "subscribers.tasks.sweep_pending_photos", "schedule": 120.0},
    "purge-idempotency-records": {
        "task": "subscribers.tasks.purge_idempotency_records",
        "schedule": 3600.0,
    },
    "purge-orphaned-photo-files": {
        "task": "subscribers.tasks.purge_orphaned_photo_files",
        "schedule": 86400.0,
    },
    "purge-held-photos": {"task": "subscribers.tasks.purge_held_photos", "schedule": 600.0},
}
# Photos of a failed submit are kept this long for the clerk's retry (subscribers.heldphotos).
HELD_PHOTO_SECONDS = env.int("HELD_PHOTO_SECONDS", default=3600)
# A photo file no registration points at is deleted once it is this old (longer than any
# request or photo task can take), looking at the photo folders of today and this many days
# before (subscribers.services.photo_files_orphaned_purge).
PHOTO_ORPHAN_GRACE_SECONDS = env.int("PHOTO_ORPHAN_GRACE_SECONDS", default=3600)
PHOTO_ORPHAN_SWEEP_DAYS = env.int("PHOTO_ORPHAN_SWEEP_DAYS", default=3)

# --- The population registry (Dukcapil), core.registry; docs/rules.md -------------------------
# The implementation behind core.registry.PopulationRegistry (default: the mock, operatordb's
# own table, loaded with manage.py load_population_registry), and the seconds it has to answer
# one call: slower counts as down, and the registration is kept awaiting verification.
POPULATION_REGISTRY = env.str(
    "POPULATION_REGISTRY", default="operatordb.registry.MockPopulationRegistry"
)
POPULATION_REGISTRY_TIMEOUT = env.float("POPULATION_REGISTRY_TIMEOUT", default=3.0)
if not 0 < POPULATION_REGISTRY_TIMEOUT <= 60:
    raise ImproperlyConfigured("POPULATION_REGISTRY_TIMEOUT must be between 0 and 60 seconds.")
# The mock's faults, for demonstrations: "" (none), "down", or "slow" (answers after
# POPULATION_REGISTRY_MOCK_DELAY seconds).
POPULATION_REGISTRY_MOCK_FAULT = env.str("POPULATION_REGISTRY_MOCK_FAULT", default="")
POPULATION_REGISTRY_MOCK_DELAY = env.float("POPULATION_REGISTRY_MOCK_DELAY", default=10.0)
# A face photo is kept at most this long after the registration, then deleted (its verdict,
# score and hash stay; face_photos_purge; UU PDP: biometric data, docs/rules.md "Face photos").
FACE_PHOTO_MAX_HOURS = env.int("FACE_PHOTO_MAX_HOURS", default=72)
if not 1 <= FACE_PHOTO_MAX_HOURS <= 24 * 30:
    raise ImproperlyConfigured("FACE_PHOTO_MAX_HOURS must be between 1 and 720.")
# The preview of a draft rule set (docs/rules.md, "Drafts, preview, publication"). "auto": one
# set-based statement per chunk on PostgreSQL, else the same figures computed in Python, a page
# of registrations at a time (SQLite under make run); "python" forces the latter (tests compare
# the two).
RULE_PREVIEW_ENGINE = env.str("RULE_PREVIEW_ENGINE", default="auto")
if RULE_PREVIEW_ENGINE not in ("auto", "python"):
    raise ImproperlyConfigured('RULE_PREVIEW_ENGINE must be "auto" or "python".')
CELERY_BEAT_SCHEDULE.update(
    {
        # Registrations awaiting the registry: asked again until it answers.
        "verify-awaiting-registrations": {
            "task": "subscribers.tasks.sweep_awaiting_verifications",
            "schedule": 300.0,
        },
        "purge-face-photos": {"task": "subscribers.tasks.purge_face_photos", "schedule": 3600.0},
    }
)
CELERY_TIMEZONE = TIME_ZONE

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an integrator without credentials gets 401 + WWW-Authenticate: Token.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CappedPageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        # DRF's with nesting limited (a deeply nested body is a 400, not a RecursionError).
        "core.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="30/minute"),
        "user": env.str("API_THROTTLE_USER", default="600/minute"),
        "token": env.str("API_THROTTLE_TOKEN", default="10/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Satu Pintu API",
    "DESCRIPTION": "Prepaid SIM registration at outlets, and the compliance loop behind it.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: the docs render without the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # An outlet's status appears in several components (outlet, dashboard row, status change):
    # one named enum instead of a hash-named one (drf_spectacular.W001 fails check --deploy).
    "ENUM_NAME_OVERRIDES": {"OutletStatusEnum": "outlets.models.Outlet.Status"},
    # Schema warnings are a test's business (tests/api/test_schema.py fails on any), not a
    # reason for `check --deploy` to fail a deployment.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.add_error_responses",
    ],
}

# --- Security defaults (production tightens the transport ones) ------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)  # one shift
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Satu Pintu <noreply@satupintu.local>")

# How long an Idempotency-Key answer is kept for replay.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        # No log line carries a secret path segment (invitation, receipt token) nor a query value.
        "redact": {"()": "core.logredact.RedactingFilter"},
        "client_errors": {"()": "core.logredact.ClientErrorsWithoutTraceback"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact", "client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # runserver's request lines ("GET /path?query"), through the same redaction.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Django's own console handler (with DEBUG on) would print every "django" record a
        # second time next to the root's: one handler, the root's.
        "django": {"handlers": [], "propagate": True},
    },
}

# --- Reconciliation with the operator's database (compliance) ----------------------------------
from celery.schedules import crontab  # noqa: E402

# MSISDNs per chunk a worker does in one transaction. Set-based engine: database work, large so
# that tables not stored in MSISDN order are read in few passes. Python engine: held in the
# worker's memory, so smaller.
RECONCILIATION_CHUNK_ROWS = env.int("RECONCILIATION_CHUNK_ROWS", default=250_000)
RECONCILIATION_PYTHON_CHUNK_ROWS = env.int("RECONCILIATION_PYTHON_CHUNK_ROWS", default=20_000)
# Threads an inline run (``reconcile --sync``) works its chunks on at once, each on a connection
# of its own, as that many Celery workers would (PostgreSQL, outside a caller's transaction).
RECONCILIATION_INLINE_THREADS = env.int("RECONCILIATION_INLINE_THREADS", default=2)
# work_mem of a chunk's transaction (SET LOCAL), so its hash joins stay in memory.
RECONCILIATION_WORK_MEM = env.str("RECONCILIATION_WORK_MEM", default="64MB")
# A chunk claimed longer ago than this is taken over (its worker died or hangs), in seconds.
RECONCILIATION_CLAIM_TIMEOUT = env.int("RECONCILIATION_CLAIM_TIMEOUT", default=600)
# The Python engine (operator data through the adapter) re-examines changes from this many
# seconds before the last successful run started: a transaction still open then may commit an
# older updated_at afterwards. The set-based engine selects by change sequence (change_xid and
# the previous run's snapshot) and needs no margin.
RECONCILIATION_WATERMARK_MARGIN = env.int("RECONCILIATION_WATERMARK_MARGIN", default=300)
# Claims of one chunk before its run is given up as failed.
RECONCILIATION_MAX_ATTEMPTS = env.int("RECONCILIATION_MAX_ATTEMPTS", default=5)
RECONCILIATION_INCREMENTAL_MINUTES = env.int("RECONCILIATION_INCREMENTAL_MINUTES", default=15)
# work_mem of a snapshot load's transaction: its joins over the whole snapshot stay in memory.
OPERATORDB_LOAD_WORK_MEM = env.str("OPERATORDB_LOAD_WORK_MEM", default="256MB")
# A full operator snapshot that would set more than this share of the active numbers inactive
# (or any, from a file listing no number) is refused unless --allow-mass-deactivation: a
# truncated export must not end the operator's whole picture.
# A full snapshot setting more than this share of the active numbers inactive is refused (a
# truncated export); 1.0 (the default) refuses only a file listing no number at all. Production
# sets it (0.5): there the operator's file is the whole picture every day.
OPERATORDB_MAX_DEACTIVATED_SHARE = env.float("OPERATORDB_MAX_DEACTIVATED_SHARE", default=1.0)
# The operator database behind the adapter interface (core.operator.OperatorAdapter).
OPERATORDB_ADAPTER = env.str(
    "OPERATORDB_ADAPTER", default="operatordb.adapter.MockOperatorDatabase"
)
# The number's lives (docs/number-lives.md). A registration younger than the activation grace
# period (minutes, from its verification by the registry, else from the sale) is not yet
# "unknown to the operator": the network activates a pack sold inactive shortly after.
RECONCILIATION_ACTIVATION_GRACE_MINUTES = env.int(
    "RECONCILIATION_ACTIVATION_GRACE_MINUTES", default=60
)
# Under rule sets with packs sold inactive, an activation more than this many seconds before
# the registration is "activated before registration" (the clocks of two systems differ).
RECONCILIATION_CLOCK_SKEW_SECONDS = env.int("RECONCILIATION_CLOCK_SKEW_SECONDS", default=300)
# The mock operator activates a registered sale this many seconds after it commits (once the
# registry verified it where the rules require): the way the real network activates a pack
# sold inactive. Negative: off (the mock then learns of no sale).
OPERATOR_MOCK_ACTIVATION_SECONDS = env.int("OPERATOR_MOCK_ACTIVATION_SECONDS", default=90)
# "auto": set-based SQL when the operator data shares the PostgreSQL database, else Python
# through the adapter; "python" forces the generic engine (tests compare the two).
RECONCILIATION_ENGINE = env.str("RECONCILIATION_ENGINE", default="auto")
CELERY_BEAT_SCHEDULE.update(
    {
        # Incremental run (and recovery of interrupted runs) every few minutes...
        "reconciliation-incremental": {
            "task": "compliance.reconciliation.tasks.reconciliation_tick",
            "schedule": RECONCILIATION_INCREMENTAL_MINUTES * 60.0,
            "kwargs": {"mode": "incremental"},
        },
        # ...and a full run each night: it also catches what no timestamp shows (a new ROID).
        "reconciliation-nightly-full": {
            "task": "compliance.reconciliation.tasks.reconciliation_tick",
            "schedule": crontab(hour=2, minute=0),
            "kwargs": {"mode": "full"},
        },
    }
)

# --- Personal-data duties (privacy app, docs/privacy.md) -------------------------------------
# Days a registration's personal data is kept after its number was deactivated; then the
# retention purge anonymises it (photos first). See docs/privacy.md for why two years.
RETENTION_DAYS_AFTER_DEACTIVATION = env.int("RETENTION_DAYS_AFTER_DEACTIVATION", default=730)
if RETENTION_DAYS_AFTER_DEACTIVATION < 1:
    raise ImproperlyConfigured("RETENTION_DAYS_AFTER_DEACTIVATION must be at least 1 day.")
# How long a backup is kept (scripts/backup.sh): the erasure ledger keeps an entry this long,
# since until then a restore could bring the erased person back (docs/privacy.md).
BACKUP_RETENTION_DAYS = env.int("BACKUP_RETENTION_DAYS", default=35)
# A data-subject export written to a file by the command is deleted after this many days
# (docs/privacy.md, "Export files").
PRIVACY_EXPORT_RETENTION_DAYS = env.int("PRIVACY_EXPORT_RETENTION_DAYS", default=7)
# Rows per transaction of the purge and of key rotation.
PRIVACY_CHUNK_SIZE = env.int("PRIVACY_CHUNK_SIZE", default=1000)
if not 1 <= PRIVACY_CHUNK_SIZE <= 10_000:
    raise ImproperlyConfigured("PRIVACY_CHUNK_SIZE must be between 1 and 10000.")
# A running job without a heartbeat for this long is taken over by the next worker or tick.
PRIVACY_JOB_STALE_SECONDS = env.int("PRIVACY_JOB_STALE_SECONDS", default=900)
CELERY_BEAT_SCHEDULE.update(
    {
        # Learn which registered numbers went out of service, then purge what is past retention.
        "privacy-sync-number-deactivations": {
            "task": "privacy.tasks.sync_number_deactivations",
            "schedule": crontab(hour=0, minute=30),
        },
        "privacy-purge-expired-data": {
            "task": "privacy.tasks.purge_expired_data",
            "schedule": crontab(hour=3, minute=30),
        },
        # A head of family's part of a minor's registration, kept while the number was in
        # service or a case open: erased once the deactivation sync has seen it leave service.
        "privacy-erase-due-guardian-parts": {
            "task": "privacy.tasks.erase_due_guardian_parts",
            "schedule": crontab(hour=0, minute=50),
        },
    }
)

# --- Regulator reporting (reports app) ----------------------------------------------------------
# The summary tables behind the dashboard are refreshed incrementally this often, and rebuilt
# each night; the dashboard says "figures as of" the last refresh.
REPORTS_REFRESH_SECONDS = env.int("REPORTS_REFRESH_SECONDS", default=300)
# A refresh re-examines changes stamped up to this long before the previous one started (a
# transaction still open then commits older timestamps afterwards).
REPORTS_WATERMARK_MARGIN_SECONDS = env.int("REPORTS_WATERMARK_MARGIN_SECONDS", default=300)
# "Outlets registering one ID unusually often": at least this many registrations of the same
# ID number at one outlet within the period (the 2017 cap is 3 per operator).
REPORTS_REPEATED_ID_MIN = env.int("REPORTS_REPEATED_ID_MIN", default=4)
# Top outlets by violation rate: outlets with fewer registrations in the period are not ranked
# (one registration with one discrepancy is not a 100% rate worth a regulator's look).
REPORTS_TOP_OUTLETS_MIN_REGISTRATIONS = env.int("REPORTS_TOP_OUTLETS_MIN_REGISTRATIONS", default=20)
# Export files (personal data) are deleted after this many days; the job and its hash stay.
REPORTS_EXPORT_RETENTION_DAYS = env.int("REPORTS_EXPORT_RETENTION_DAYS", default=30)
# A running export without progress for this long is taken over by the sweep.
REPORTS_EXPORT_STALE_SECONDS = env.int("REPORTS_EXPORT_STALE_SECONDS", default=600)
# On PostgreSQL a masked CSV is written by COPY (the same query, masking in SQL); off: the
# rows go through Python's csv module as on SQLite (and as unmasked exports always do).
REPORTS_CSV_COPY = env_bool("REPORTS_CSV_COPY", default=True)
# import_registrations: write each judged chunk on a thread of its own while the next is judged
# (PostgreSQL, outside a caller's transaction). On: ~10 % more rows a second on an idle two-core
# machine and more on a busy one, for the same CPU a row; one run on another machine measured
# it slower (bench/README.md). Off: each chunk judged, then written, in turn.
IMPORT_WRITER_THREAD = env_bool("IMPORT_WRITER_THREAD", default=True)
# Rows printed in a PDF of a row export (the whole set is for CSV and XLSX).
REPORTS_PDF_MAX_ROWS = env.int("REPORTS_PDF_MAX_ROWS", default=1000)
for _name in (
    "REPORTS_REFRESH_SECONDS",
    "REPORTS_REPEATED_ID_MIN",
    "REPORTS_TOP_OUTLETS_MIN_REGISTRATIONS",
    "REPORTS_EXPORT_RETENTION_DAYS",
    "REPORTS_EXPORT_STALE_SECONDS",
    "REPORTS_PDF_MAX_ROWS",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
del _name
if REPORTS_WATERMARK_MARGIN_SECONDS < 0:
    raise ImproperlyConfigured("REPORTS_WATERMARK_MARGIN_SECONDS must not be negative.")
CELERY_BEAT_SCHEDULE.update(
    {
        "reports-refresh-summaries": {
            "task": "reports.tasks.refresh_summaries",
            "schedule": float(REPORTS_REFRESH_SECONDS),
        },
        # The nightly rebuild catches what no timestamp shows (an outlet moved, a status
        # changed by a bulk UPDATE that did not touch updated_at).
        "reports-rebuild-summaries": {
            "task": "reports.tasks.refresh_summaries",
            "schedule": crontab(hour=4, minute=15),
            "kwargs": {"full": True},
        },
        # Re-queue exports whose worker died or whose task was lost; delete expired files.
        "reports-sweep-exports": {"task": "reports.tasks.sweep_exports", "schedule": 600.0},
    }
)

# --- Outlet risk signals (risk app; docs/risk.md) -------------------------------------------------
# One NIK on many numbers / one NIK or KK at many outlets: within this many hours either side.
RISK_WINDOW_HOURS = env.int("RISK_WINDOW_HOURS", default=72)
# "One NIK on many numbers": at least this many registrations of the NIK within the window.
RISK_NIK_REUSE_MIN = env.int("RISK_NIK_REUSE_MIN", default=3)
# "One NIK or KK at many outlets": at least this many outlets within the window.
RISK_SPREAD_OUTLETS_MIN = env.int("RISK_SPREAD_OUTLETS_MIN", default=3)
# "KK with too many NIKs": more different NIKs than this on one family card.
RISK_KK_MAX_NIKS = env.int("RISK_KK_MAX_NIKS", default=10)
# "Odd hours": from this local hour (included) to this one (excluded); may wrap midnight.
RISK_ODD_HOUR_FROM = env.int("RISK_ODD_HOUR_FROM", default=0)
RISK_ODD_HOUR_TO = env.int("RISK_ODD_HOUR_TO", default=5)
# "Faster than a person can type": less than this many seconds after the clerk's previous one.
RISK_MIN_SECONDS_BETWEEN = env.int("RISK_MIN_SECONDS_BETWEEN", default=60)
# Above the baseline: at least this many registrations and this many standard deviations.
RISK_MIN_COUNT = env.int("RISK_MIN_COUNT", default=3)
RISK_MIN_DISTANCE = env.float("RISK_MIN_DISTANCE", default=3.0)
# The baseline is the same dealer's outlets in the province when at least this many exist.
RISK_MIN_PEERS = env.int("RISK_MIN_PEERS", default=2)
# The dealer's dashboard and GraPARI's filter look at the last this many days.
RISK_RECENT_DAYS = env.int("RISK_RECENT_DAYS", default=30)
for _name in (
    "RISK_WINDOW_HOURS",
    "RISK_NIK_REUSE_MIN",
    "RISK_SPREAD_OUTLETS_MIN",
    "RISK_KK_MAX_NIKS",
    "RISK_MIN_SECONDS_BETWEEN",
    "RISK_MIN_COUNT",
    "RISK_MIN_PEERS",
    "RISK_RECENT_DAYS",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
del _name
if not (0 <= RISK_ODD_HOUR_FROM <= 23 and 0 <= RISK_ODD_HOUR_TO <= 24):
    raise ImproperlyConfigured("RISK_ODD_HOUR_FROM is 0–23 and RISK_ODD_HOUR_TO 0–24.")
if RISK_MIN_DISTANCE <= 0:
    raise ImproperlyConfigured("RISK_MIN_DISTANCE must be above 0.")
CELERY_BEAT_SCHEDULE.update(
    {
        # After the report summary tables (the same task refreshes them first).
        "risk-refresh-signals": {
            "task": "risk.tasks.refresh_risk_signals",
            "schedule": float(REPORTS_REFRESH_SECONDS),
        },
        "risk-rebuild-signals": {
            "task": "risk.tasks.refresh_risk_signals",
            "schedule": crontab(hour=4, minute=40),
            "kwargs": {"full": True},
        },
    }
)

# --- Compliance workflow: clarifications, review queue, sanctions -------------------------------
# The answer deadline, the sanction ladder and its window are policy (RegistrationPolicy), not
# settings. These are how the review queue works:
# a claim left idle this long is free for another reviewer (viewing the item renews it);
REVIEW_CLAIM_IDLE_SECONDS = env.int("REVIEW_CLAIM_IDLE_SECONDS", default=900)
# an item is due this long after it entered the queue (an expired request: at its deadline);
REVIEW_TARGET_HOURS = env.int("REVIEW_TARGET_HOURS", default=72)
# the most items one bulk decision takes;
REVIEW_BULK_MAX_ITEMS = env.int("REVIEW_BULK_MAX_ITEMS", default=200)
# the frequent queue sync looks at what changed this long ago (the nightly one at everything).
REVIEW_QUEUE_SYNC_LOOKBACK_MINUTES = env.int("REVIEW_QUEUE_SYNC_LOOKBACK_MINUTES", default=60)
for _name in (
    "REVIEW_CLAIM_IDLE_SECONDS",
    "REVIEW_TARGET_HOURS",
    "REVIEW_BULK_MAX_ITEMS",
    "REVIEW_QUEUE_SYNC_LOOKBACK_MINUTES",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
del _name
CELERY_BEAT_SCHEDULE.update(
    {
        "compliance-expire-overdue-clarifications": {
            "task": "compliance.workflow.tasks.expire_overdue_clarifications",
            "schedule": 600.0,
        },
        "compliance-settle-agreeing-clarifications": {
            "task": "compliance.workflow.tasks.settle_agreeing_clarifications",
            "schedule": 900.0,
        },
        "compliance-sync-review-queue": {
            "task": "compliance.workflow.tasks.sync_review_queue",
            "schedule": 300.0,
        },
        "compliance-sync-review-queue-nightly": {
            "task": "compliance.workflow.tasks.sync_review_queue",
            "schedule": crontab(hour=3, minute=0),
            "kwargs": {"full": True},
        },
        "compliance-release-idle-review-claims": {
            "task": "compliance.workflow.tasks.release_idle_review_claims",
            "schedule": 300.0,
        },
        "compliance-retry-number-blocks": {
            "task": "compliance.workflow.tasks.retry_number_blocks",
            "schedule": 600.0,
        },
    }
)
# The workflow's choice sets share field names ("kind", "status") with others in the schema:
# named enums, so none gets a hash-suffixed name (drf_spectacular.W001).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "DiscrepancyKindEnum": "compliance.models.DiscrepancyKind",
        "ReviewItemKindEnum": "compliance.models.ReviewItem.Kind",
        "ReviewItemStatusEnum": "compliance.models.ReviewItem.Status",
        # (the export kinds of the reports app share the field name "kind" with the above)
        "ExportKindEnum": "reports.models.ExportJob.Kind",
    }
)

# --- The holder's door (holders app, docs/holders.md) -------------------------------------------
# The portal's public address (core/publicurl.py): links that leave the portal (the SMS answer
# link, the receipt PDF) are built from it, never from the request's Host header. Production
# requires it (https).
PUBLIC_BASE_URL = check_public_base_url(env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000"))
# How SMS leave the portal (holders/sms.py): the default stores them in the database, where
# `manage.py sms_outbox --to 62…` prints them; a real gateway is a class with send(to, body).
SMS_BACKEND = env.str("SMS_BACKEND", default="holders.sms.DatabaseBackend")
# The one-time code: valid this long, this many tries; the verified session lasts this long.
HOLDER_CODE_TTL_SECONDS = env.int("HOLDER_CODE_TTL_SECONDS", default=600)
HOLDER_CODE_MAX_ATTEMPTS = env.int("HOLDER_CODE_MAX_ATTEMPTS", default=5)
HOLDER_SESSION_TTL_SECONDS = env.int("HOLDER_SESSION_TTL_SECONDS", default=900)
# Attempts to open the door within the window, per NIK, per number, per client address.
HOLDER_THROTTLE_WINDOW_SECONDS = env.int("HOLDER_THROTTLE_WINDOW_SECONDS", default=3600)
HOLDER_MAX_PER_NIK = env.int("HOLDER_MAX_PER_NIK", default=5)
HOLDER_MAX_PER_NUMBER = env.int("HOLDER_MAX_PER_NUMBER", default=5)
HOLDER_MAX_PER_CLIENT = env.int("HOLDER_MAX_PER_CLIENT", default=20)
# "Not mine": the number's user has this long to answer before the number is blocked; one
# session reports at most this many numbers.
HOLDER_DISPUTE_NOTICE_HOURS = env.int("HOLDER_DISPUTE_NOTICE_HOURS", default=24)
HOLDER_DISPUTES_PER_SESSION = env.int("HOLDER_DISPUTES_PER_SESSION", default=3)
# A number typed in full (not picked from the list) that cannot be reported is a miss: this many
# in a session, or per NIK over the throttle window, end the session (a guesser of masked
# numbers learns next to nothing).
HOLDER_DISPUTE_MISSES_PER_SESSION = env.int("HOLDER_DISPUTE_MISSES_PER_SESSION", default=3)
HOLDER_DISPUTE_MISSES_PER_NIK = env.int("HOLDER_DISPUTE_MISSES_PER_NIK", default=5)
# Sessions (hashed codes and tokens) and SMS records are deleted after this many days.
HOLDER_RECORDS_RETENTION_DAYS = env.int("HOLDER_RECORDS_RETENTION_DAYS", default=30)
for _name in (
    "HOLDER_CODE_TTL_SECONDS",
    "HOLDER_CODE_MAX_ATTEMPTS",
    "HOLDER_SESSION_TTL_SECONDS",
    "HOLDER_THROTTLE_WINDOW_SECONDS",
    "HOLDER_MAX_PER_NIK",
    "HOLDER_MAX_PER_NUMBER",
    "HOLDER_MAX_PER_CLIENT",
    "HOLDER_DISPUTE_NOTICE_HOURS",
    "HOLDER_DISPUTES_PER_SESSION",
    "HOLDER_DISPUTE_MISSES_PER_SESSION",
    "HOLDER_DISPUTE_MISSES_PER_NIK",
    "HOLDER_RECORDS_RETENTION_DAYS",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
del _name
CELERY_BEAT_SCHEDULE.update(
    {
        "holders-sweep-pending-sms": {"task": "holders.tasks.sweep_pending_sms", "schedule": 60.0},
        "holders-block-unanswered-disputes": {
            "task": "holders.tasks.block_unanswered_disputes",
            "schedule": 300.0,
        },
        "holders-retry-operator-notices": {
            "task": "holders.tasks.retry_operator_notices",
            "schedule": 600.0,
        },
        "holders-purge-records": {"task": "holders.tasks.purge_holder_records", "schedule": 3600.0},
    }
)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {"HolderDisputeStatusEnum": "holders.models.HolderDispute.Status"}
)
