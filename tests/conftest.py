"""Shared fixtures: the demo personas (README), starter packs, a valid buyer, real images."""

import importlib
import io
import os
import shutil
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from accounts.models import User
from identity.idgen import make_kk, make_nik

from .factories import (
    DealerAdminFactory,
    DealerFactory,
    OutletFactory,
    StaffFactory,
    StarterPackFactory,
    UserFactory,
)

# Playwright's sync API runs an event loop in the test thread; Django's ORM would refuse it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "pass-Word-123"


def needs(condition: bool, reason: str):
    """Skip when a service is missing, except in CI (REQUIRE_SERVICES=1), where it fails."""
    if condition:
        return
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def require_postgres(db):
    needs(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and before it is dropped: wait for the sessions of
    processes the tests started (Celery workers killed on purpose, live-server threads) to
    end — PostgreSQL notices a dead client a moment later — and end the ones left, so teardown
    never fails with "being accessed by other users" and leaves a stale test database behind.
    Only when some test used the database (a run of pure tests sets none up)."""
    yield
    if connection.vendor != "postgresql":
        return
    import time

    others = (
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    terminate = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        deadline = time.monotonic() + 5
        while True:
            cursor.execute(others)
            if not cursor.fetchall() or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        cursor.execute(terminate)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    needs(os.path.exists(CHROMIUM), f"needs Chromium at {CHROMIUM}")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Each test writes photos into its own folder (core.storage follows)."""
    location = str(tmp_path / "private")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": location}},
        "private": {**settings.STORAGES["private"], "OPTIONS": {"location": location}},
    }


RULE_SETS_MIGRATION = "subscribers.migrations.0008_rule_sets_true_to_sources"


@pytest.fixture
def policies(db):
    """The seeded rule sets. A migration seeds them, but a transactional test's flush removes
    them; re-seed idempotently so every test sees the same rules."""
    from django.apps import apps

    seed = importlib.import_module(RULE_SETS_MIGRATION).seed
    seed(apps, None)


# --- personas ---------------------------------------------------------------------------------
@pytest.fixture
def dealer_org(policies):
    return DealerFactory(code="AD0001", name="PT Maju Seluler")


@pytest.fixture
def outlet(dealer_org):
    return OutletFactory(dealer=dealer_org, roid="ROJKT000001", name="Konter Sinar")


@pytest.fixture
def other_outlet(dealer_org):
    return OutletFactory(dealer=dealer_org, roid="ROJKT000002", name="Konter Bulan")


@pytest.fixture
def clerk(outlet):
    return StaffFactory(
        user=UserFactory(username="clerk", role=User.Role.OUTLET_STAFF), outlet=outlet
    ).user


@pytest.fixture
def clerk2(other_outlet):
    return StaffFactory(
        user=UserFactory(username="clerk2", role=User.Role.OUTLET_STAFF), outlet=other_outlet
    ).user


@pytest.fixture
def dealer_user(dealer_org):
    return DealerAdminFactory(
        user=UserFactory(username="dealer", role=User.Role.DEALER_ADMIN), dealer=dealer_org
    ).user


@pytest.fixture
def other_dealer_user(db):
    return DealerAdminFactory(
        user=UserFactory(username="dealer_other", role=User.Role.DEALER_ADMIN),
        dealer=DealerFactory(code="AD0999", name="PT Lain"),
    ).user


@pytest.fixture
def grapari(db):
    user = UserFactory(username="grapari", role=User.Role.GRAPARI)
    user.user_permissions.add(Permission.objects.get(codename="reveal_id_number"))
    return user


@pytest.fixture
def regulator(db):
    return UserFactory(username="regulator", role=User.Role.REGULATOR)


@pytest.fixture
def operator(db):
    return UserFactory(username="admin", role=User.Role.OPERATOR, is_staff=True, is_superuser=True)


@pytest.fixture
def pack(outlet):
    return StarterPackFactory(outlet=outlet)


@pytest.fixture
def other_pack(other_outlet):
    return StarterPackFactory(outlet=other_outlet)


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Messages built outside a request (services, commands, tasks) in English, the language
    the tests are written in, whatever an earlier test's request left active; a request picks
    its own language (LocaleMiddleware: the switch, the browser, else Indonesian)."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


# --- buyers and photos ------------------------------------------------------------------------
BUYER_BIRTH = date(1990, 8, 17)


def buyer_data(pack, *, in_registry: bool = True, **overrides) -> dict:
    """A valid buyer under the policy in force today (2026-07: NIK + face verified by the
    population registry; ID photo). With ``in_registry`` the buyer is put in the mock registry
    as their NIK describes them (birth date and sex from its digits, the name and KK given),
    with the test photos' face (``photo_upload``) as their reference."""
    data = {
        "msisdn": "0" + pack.msisdn[2:],
        "iccid": pack.iccid,
        "id_type": "ktp",
        "id_number": make_nik(birth_date=BUYER_BIRTH, sex="F", serial=42),
        "kk_number": make_kk(recorded=date(2015, 3, 2), serial=7),
        "full_name": "Siti Nur'aini",
        "birth_place": "Bandung",
        "birth_date": BUYER_BIRTH.isoformat(),
        "sex": "F",
        "address": "Jl. Kenanga No. 5, RT 01/RW 02, Bandung",
        "nationality": "ID",
        "consent": True,
        "document_checked": True,
    }
    data.update(overrides)
    if in_registry:
        register_person(data)
    return data


def register_person(data: dict, **record) -> None:
    """Put the person of a registration body in the mock population registry (when its ID is
    a citizen's NIK): the NIK's own birth date and sex, the body's name and KK, and the test
    photos' face; ``record`` overrides any of the record's values."""
    from core import pii
    from identity import idrules
    from operatordb.population import upsert_people
    from operatordb.registry import face_hash

    nik = str(data.get("id_number", "")).replace(" ", "")
    if data.get("nationality", "ID") != "ID" or len(nik) != 16 or not nik.isdigit():
        return
    try:
        entered = date.fromisoformat(str(data.get("birth_date", "")))
    except ValueError:
        entered = None
    try:
        info = idrules.parse_nik(nik, birth_date_hint=entered)
    except idrules.IdRuleError:
        return
    try:
        name = idrules.clean_person_name(str(data.get("full_name") or "Siti Nur'aini"))
    except idrules.IdRuleError:
        return  # a body the rules refuse anyway
    kk = str(data.get("kk_number") or make_kk(recorded=date(2015, 3, 2), serial=7))
    values = {
        "nik_digest": pii.digest(nik),
        "nik_masked": nik[:4] + "*" * 8 + nik[-4:],
        "full_name": name,
        "name_key": idrules.normalize_name_for_comparison(name),
        "birth_date": info.birth_date,
        "sex": info.sex,
        "kk_digest": pii.digest(kk),
        "kk_masked": "",
        "birth_place": "",
        "head_of_family": False,
        "face_hash": face_hash(image_bytes()),
    }
    values.update(record)
    if "kk_number" in record:
        values["kk_digest"] = pii.digest(values.pop("kk_number"))
    upsert_people([values])


def image_bytes(fmt: str = "JPEG", size=(640, 480), color=(200, 120, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def photo_upload(name: str = "ktp.jpg", fmt: str = "JPEG", **kwargs) -> SimpleUploadedFile:
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[fmt]
    return SimpleUploadedFile(name, image_bytes(fmt, **kwargs), content_type=content_type)


@pytest.fixture
def photos():
    return {"id_photo": photo_upload("ktp.jpg"), "face_photo": photo_upload("face.jpg")}


@pytest.fixture
def processed_registration(clerk, pack, photos, django_capture_on_commit_callbacks):
    """A registration of ``clerk``'s outlet made through the service, its photos processed
    (the eager task runs on commit)."""
    from subscribers import services

    with django_capture_on_commit_callbacks(execute=True):
        registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    registration.refresh_from_db()
    return registration


@pytest.fixture
def redis_broker():
    """A Redis database of this test's own for a real Celery worker (``celery_support``): the
    test never shares it and never flushes one it did not claim."""
    from tests.celery_support import own_redis_db

    with own_redis_db() as url:
        needs(url is not None, "needs Redis with a free test database (set REDIS_URL)")
        yield url


@pytest.fixture(autouse=True)
def _tasks_may_be_waited_for():
    """A Celery worker started in this process by an earlier test (tests/celery_support.py)
    marks the process as a worker, where ``result.get()`` refuses to wait ("Never call
    result.get() within a task"): each test starts as the test process it is."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
