"""Fixtures of the compliance-workflow tests: registrations written directly (fast, no photos),
discrepancies as reconciliation opens them, and the hand-over to the workflow."""

from datetime import date, timedelta
from itertools import count

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import Clarification, Discrepancy, ReviewItem
from compliance.workflow.clarifications import clarification_answer
from compliance.workflow.intake import discrepancies_opened
from core import pii
from core.masking import mask_id_number
from identity.idgen import make_kk, make_nik
from outlets.models import StarterPack
from subscribers.models import Registration
from subscribers.selectors import policy_in_force
from tests.conftest import register_person
from tests.factories import StarterPackFactory

BIRTH = date(1990, 8, 17)
_serial = count(100)


def make_registration(outlet, *, clerk=None, **overrides) -> Registration:
    """A registration of ``outlet`` written directly (the registration service has its own
    tests): a valid KTP buyer under the policy in force, status ``flagged`` as reconciliation
    leaves it."""
    serial = next(_serial)
    pack = StarterPackFactory(outlet=outlet, status=StarterPack.Status.REGISTERED)
    nik = overrides.pop("nik", make_nik(birth_date=BIRTH, sex="F", serial=serial))
    kk = make_kk(recorded=date(2015, 3, 2), serial=serial)
    now = timezone.now()
    values = {
        "registration_number": f"SPTEST{serial:08d}",
        "outlet": outlet,
        "clerk": clerk,
        "starter_pack": pack,
        "msisdn": pack.msisdn,
        "iccid": pack.iccid,
        "policy": policy_in_force(),
        "id_type": "ktp",
        "id_number_encrypted": pii.encrypt(nik),
        "id_number_digest": pii.digest(nik),
        "id_number_masked": mask_id_number(nik),
        "kk_number_encrypted": pii.encrypt(kk),
        "kk_number_digest": pii.digest(kk),
        "kk_number_masked": mask_id_number(kk),
        "full_name": "Siti Nur'aini",
        "birth_place": "Bandung",
        "birth_date": BIRTH,
        "sex": "F",
        "address": "Jl. Kenanga No. 5",
        "nationality": "ID",
        "consent_at": now,
        "status": Registration.Status.FLAGGED,
        "registered_at": now - timedelta(days=2),
    }
    values.update(overrides)
    return Registration.objects.create(**values)


def open_discrepancy(registration=None, *, kind="name_mismatch", msisdn=None, outlet=None, **kw):
    """An open discrepancy as reconciliation writes it (details side by side, ID masked)."""
    now = timezone.now()
    details = kw.pop("details", None)
    if details is None:
        details = {
            "name_mismatch": {
                "portal": {"full_name": "Siti Nur'aini"},
                "operator": {"full_name": "Siti Nurhayati"},
            },
            "birth_date_mismatch": {
                "portal": {"birth_date": "1990-08-17"},
                "operator": {"birth_date": "1990-09-17"},
            },
            "id_number_mismatch": {
                "portal": {"id_type": "ktp", "id_number": "3171********0101"},
                "operator": {"id_type": "ktp", "id_number": "3171********0999"},
            },
            "missing_in_operator": {"portal": {"registration_number": "SPX"}},
            "unregistered_activation": {
                "operator": {
                    "status": "active",
                    "activated_at": now.isoformat(),
                    "outlet_roid": outlet.roid if outlet else "",
                }
            },
        }.get(kind, {})
    return Discrepancy.objects.create(
        msisdn=msisdn or registration.msisdn,
        kind=kind,
        registration=registration,
        outlet=outlet or (registration.outlet if registration else None),
        details=details,
        detected_at=now,
        last_seen_at=now,
        **kw,
    )


def hand_over(*discrepancies) -> None:
    discrepancies_opened(discrepancy_ids=[d.pk for d in discrepancies])


def flagged_request(registration, *kinds) -> Clarification:
    """A registration with discrepancies of ``kinds``, handed over: its open request."""
    hand_over(*(open_discrepancy(registration, kind=kind) for kind in kinds or ("name_mismatch",)))
    return Clarification.objects.get(msisdn=registration.msisdn, status__in=Clarification.ACTIVE)


def in_registry(registration, **values) -> None:
    """Put the person a registration describes — with ``values`` (a correction's fields) in
    place of its own — in the mock population registry, as Dukcapil records them."""
    registration.refresh_from_db()
    person = {
        "id_number": pii.decrypt(registration.id_number_encrypted),
        "kk_number": pii.decrypt(registration.kk_number_encrypted),
        "full_name": registration.full_name,
        "birth_date": registration.birth_date.isoformat(),
        "sex": registration.sex,
        "nationality": registration.nationality,
        **values,
    }
    birth = person["birth_date"]
    register_person(
        person,
        birth_date=birth if isinstance(birth, date) else date.fromisoformat(birth),
        sex=person["sex"],
        kk_number=person["kk_number"],
    )


def answered_item(
    registration, clerk, *, correction=None, photo=None, registry_confirms=True
) -> ReviewItem:
    """A request answered by ``clerk``: its open review item. With ``registry_confirms`` the
    population registry records the corrected person (a correction the registry would refuse
    is refused: tests/workflow/test_correction_registry.py)."""
    if correction and registry_confirms:
        in_registry(registration, **correction)
    clarification = flagged_request(registration)
    clarification_answer(
        actor=clerk,
        clarification=clarification,
        explanation="The buyer showed the KTP again.",
        correction=correction,
        evidence_photo=photo,
    )
    return ReviewItem.objects.get(clarification=clarification, status="open")


@pytest.fixture
def api():
    def make(user) -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def registration(outlet, clerk):
    return make_registration(outlet, clerk=clerk)


@pytest.fixture
def other_registration(other_outlet, clerk2):
    return make_registration(other_outlet, clerk=clerk2)


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client
