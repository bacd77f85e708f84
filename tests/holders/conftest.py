"""The holder's door: people with numbers on their NIK, and a client that walks through it."""

from dataclasses import dataclass, field
from datetime import date
from itertools import count

import pytest
from rest_framework.test import APIClient

from core import pii
from core.masking import mask_id_number
from holders.models import StoredSms
from identity.idgen import make_kk, make_nik
from outlets.models import StarterPack
from subscribers.models import Registration
from tests.workflow.conftest import make_registration

_serial = count(500)
_number = count(10_000_000)


@dataclass
class Person:
    nik: str
    kk: str
    registrations: list[Registration] = field(default_factory=list)

    @property
    def msisdns(self) -> list[str]:
        return [r.msisdn for r in self.registrations]


def new_msisdn() -> str:
    return f"62811{next(_number):08d}"


def make_person(outlet, numbers: int = 2, **overrides) -> Person:
    """A person with ``numbers`` current registrations at ``outlet`` (registered, NIK + KK)."""
    serial = next(_serial)
    nik = make_nik(birth_date=date(1988, 5, 4), sex="M", serial=serial)
    kk = make_kk(recorded=date(2012, 1, 9), serial=serial)
    person = Person(nik=nik, kk=kk)
    for _ in range(numbers):
        add_number(person, outlet, **overrides)
    return person


def add_number(person: Person, outlet, **overrides) -> Registration:
    values = {
        "nik": person.nik,
        "msisdn": new_msisdn(),
        "kk_number_encrypted": pii.encrypt(person.kk),
        "kk_number_digest": pii.digest(person.kk),
        "kk_number_masked": mask_id_number(person.kk),
        "status": Registration.Status.REGISTERED,
    }
    values.update(overrides)
    registration = make_registration(outlet, **values)
    if not StarterPack.objects.filter(msisdn=values["msisdn"]).exists():  # a recycled number
        StarterPack.objects.filter(pk=registration.starter_pack_id).update(msisdn=values["msisdn"])
    person.registrations.append(registration)
    return registration


def last_code(msisdn: str) -> str:
    """The code in the latest SMS the database backend stored for ``msisdn``."""
    body = StoredSms.objects.filter(to=msisdn).order_by("-id").values_list("body", flat=True)[0]
    return body.split("kode Anda ")[1].split()[0]


class CommittingAPIClient(APIClient):
    """Each request's on-commit work runs as it would after a real commit (the SMS task)."""

    capture = None

    def request(self, **kwargs):
        with self.capture(execute=True):
            return super().request(**kwargs)


@pytest.fixture
def holder_api(django_capture_on_commit_callbacks):
    client = CommittingAPIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.capture = django_capture_on_commit_callbacks
    return client


@pytest.fixture
def person(outlet):
    return make_person(outlet)


def start(client, person: Person, msisdn: str | None = None, **overrides):
    body = {
        "id_number": person.nik,
        "kk_number": person.kk,
        "msisdn": "0" + (msisdn or person.msisdns[0])[2:],
    }
    body.update(overrides)
    return client.post("/api/v1/holder/sessions/", body, format="json")


def log_in(client, person: Person, msisdn: str | None = None) -> str:
    """Walk through the door with the person's first number; the bearer token."""
    msisdn = msisdn or person.msisdns[0]
    answer = start(client, person, msisdn)
    assert answer.status_code == 202, answer.content
    session = answer.json()["session"]
    verified = client.post(
        f"/api/v1/holder/sessions/{session}/verify/", {"code": last_code(msisdn)}, format="json"
    )
    assert verified.status_code == 200, verified.content
    token = verified.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return token
