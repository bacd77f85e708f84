"""Fixtures of the personal-data tests: registrations made through the service (photos processed
into the test's private folder) and a way to say "this number was deactivated N days ago"."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from identity.idgen import make_nik
from privacy import services
from subscribers import services as subscriber_services
from subscribers.models import Registration
from tests.conftest import BUYER_BIRTH, buyer_data, photo_upload
from tests.factories import StarterPackFactory

PHOTO_FIELDS = ("id_photo", "id_photo_thumb", "face_photo", "face_photo_thumb")


def nik(serial: int) -> str:
    return make_nik(birth_date=BUYER_BIRTH, sex="F", serial=serial)


@pytest.fixture
def register(clerk, outlet, django_capture_on_commit_callbacks):
    """``register(serial)``: a registration at ``clerk``'s outlet with its photos processed."""

    def make(serial: int = 42, **overrides) -> Registration:
        pack = StarterPackFactory(outlet=outlet)
        data = buyer_data(pack, id_number=nik(serial), **overrides)
        with django_capture_on_commit_callbacks(execute=True):
            registration = subscriber_services.registration_create(
                clerk=clerk,
                data=data,
                id_photo=photo_upload("ktp.jpg"),
                face_photo=photo_upload("face.jpg"),
            )
        registration.refresh_from_db()
        assert registration.photo_status == Registration.PhotoStatus.READY
        return registration

    return make


def deactivate(registration: Registration, *, days_ago: float) -> None:
    """The operator's database said the number went inactive ``days_ago`` days ago."""
    services.registrations_deactivation_record(
        deactivated={registration.msisdn: timezone.now() - timedelta(days=days_ago)},
        reactivated=[],
    )


def photo_paths(registration: Registration) -> list[Path]:
    """The files of a registration's photos on disk."""
    return [
        Path(getattr(registration, name).path)
        for name in PHOTO_FIELDS
        if getattr(registration, name)
    ]


def a_session_waits_for_a_lock(*, tries: int) -> bool:
    """Whether another session of this database comes to wait for a lock within ``tries``
    looks, 50 ms apart (a concurrent step blocked where the test expects it)."""
    for _ in range(tries):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def without_face_evidence(registration: Registration) -> None:
    """As a registration of the years before face verification: no verdict, no fingerprint (so
    a correction may change its NIK, docs/rules.md)."""
    Registration.objects.filter(pk=registration.pk).update(
        face_verdict="", face_score=None, face_sha256=""
    )
    registration.refresh_from_db()
