"""Fault test: Redis (broker and cache) is stopped while clerks register. Every registration,
through the API (token, multipart photos) and the form, still succeeds; ``/readyz`` says the
broker is unavailable; once Redis is back the sweep (as beat runs it) hands the waiting photo
work to a real worker, and every registration's photos are processed exactly once."""

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.models import AuditEvent
from identity.idgen import make_nik
from registration_portal.cache import redis_cache
from reports.tasks import request_refresh
from subscribers import tasks as photo_tasks
from subscribers.models import Registration
from tests.celery_support import WorkerProcess, use_broker, wait_for, worker_env
from tests.conftest import PASSWORD, buyer_data, photo_upload
from tests.factories import StarterPackFactory

REGISTRATIONS = "/api/v1/registrations/"
FORM = "/registrations/new/"
_serials = iter(range(100, 10_000))


def _buyer(pack) -> dict:
    birth = date(1991, 4, 12)
    return buyer_data(
        pack,
        id_number=make_nik(birth_date=birth, sex="M", serial=next(_serials)),
        birth_date=birth.isoformat(),
        sex="M",
        full_name="Budi Santoso",
    )


def _photos() -> dict:
    return {"id_photo": photo_upload("ktp.jpg"), "face_photo": photo_upload("face.jpg")}


def _api_register(api: APIClient, pack) -> int:
    response = api.post(REGISTRATIONS, {**_buyer(pack), **_photos()}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _form_register(web: Client, pack) -> int:
    data = {k: ("on" if v is True else v) for k, v in _buyer(pack).items()}
    response = web.post(FORM, {**data, **_photos()}, follow=True)
    assert response.status_code == 200 and response.redirect_chain, response.content[:500]
    registration = Registration.objects.get(starter_pack=pack)
    assert registration.registration_number.encode() in response.content  # the receipt
    return registration.pk


def _token(username: str) -> str:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_clerks_register_while_redis_is_down_and_the_photo_work_runs_once_when_it_is_back(
    require_postgres, clerk, clerk2, outlet, other_outlet, settings, private_redis
):
    private_redis.start()
    broker = private_redis.url
    # The cache production uses (settings.base with REDIS_URL), on the same Redis.
    settings.CACHES = {"default": redis_cache(broker.rsplit("/", 1)[0] + "/1")}
    root = Path(settings.STORAGES["private"]["OPTIONS"]["location"])
    packs = [StarterPackFactory(outlet=outlet) for _ in range(5)]
    form_packs = [StarterPackFactory(outlet=other_outlet) for _ in range(4)]
    registered: list[int] = []
    attempts = 0

    with use_broker(broker):
        # Redis up: the probe is green, both channels work.
        assert Client().get("/readyz").status_code == 200
        api = APIClient(HTTP_AUTHORIZATION=f"Token {_token('clerk')}")
        web = Client(HTTP_ACCEPT_LANGUAGE="en")
        assert (
            web.post("/accounts/login/", {"username": "clerk2", "password": PASSWORD}).status_code
            == 302
        )
        registered.append(_api_register(api, packs[0]))
        registered.append(_form_register(web, form_packs[0]))
        attempts += 2

        private_redis.stop()  # Redis gone, with the tasks it held (no persistence)

        ready = Client().get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["broker"] == "unavailable" and ready.json()["database"] == "ok"
        # Signing in still works: the token endpoint (throttled through the cache) and the
        # login form (django-axes and sessions live in the database).
        api2 = APIClient(HTTP_AUTHORIZATION=f"Token {_token('clerk')}")
        web2 = Client(HTTP_ACCEPT_LANGUAGE="en")
        assert (
            web2.post("/accounts/login/", {"username": "clerk2", "password": PASSWORD}).status_code
            == 302
        )
        for pack in packs[1:]:
            registered.append(_api_register(api if pack is packs[1] else api2, pack))
            attempts += 1
        for pack in form_packs[1:]:
            registered.append(_form_register(web2 if pack is form_packs[1] else web, pack))
            attempts += 1
        assert request_refresh() is True  # "queue a summary refresh" does not fail either

        # Nothing lost: every attempt is a registration, each with its photo work waiting.
        assert Registration.objects.count() == attempts == len(set(registered))
        assert set(Registration.objects.values_list("photo_status", flat=True)) == {"pending"}

        private_redis.start()  # back, empty, on the same port
        assert Client().get("/readyz").status_code == 200
        worker = WorkerProcess(worker_env(broker, PRIVATE_MEDIA_ROOT=str(root)), name="photos")
        try:
            worker.start()
            # Beat's sweep, twice before the worker catches up: every registration is queued
            # at least once, some twice.
            assert photo_tasks.sweep_pending_photos.delay(
                0
            ) and photo_tasks.sweep_pending_photos.delay(0)
            wait_for(
                lambda: not Registration.objects.filter(photo_status="pending").exists(),
                timeout=60,
            )
        finally:
            worker.stop()

    assert set(Registration.objects.values_list("photo_status", flat=True)) == {"ready"}
    processed = Counter(
        AuditEvent.objects.filter(action="registration.photos_processed").values_list(
            "target_id", flat=True
        )
    )
    assert processed == {str(pk): 1 for pk in registered}  # each once, none twice
    # Exactly a photo and a thumbnail of each kind per registration: no raw upload left, no
    # thumbnail made twice.
    files = sorted(str(p.relative_to(root)) for p in (root / "photos").rglob("*") if p.is_file())
    expected = sorted(
        name
        for reg in Registration.objects.all()
        for name in (
            reg.id_photo.name,
            reg.id_photo_thumb.name,
            reg.face_photo.name,
            reg.face_photo_thumb.name,
        )
    )
    assert files == expected and len(files) == 4 * attempts
