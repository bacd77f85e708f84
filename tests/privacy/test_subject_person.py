"""Data-subject requests act on the person, not on the row: a registration corrected from one
person's identity to another's is the first person's only in its earlier version, the second's
from the correction on. Export, erase and restrict each reach exactly that person's values; a
number that matches records of people who may differ waits for an operator admin's decision."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance.models import Discrepancy, RegistrationVersion
from compliance.workflow.review import review_item_decide
from core import pii
from core.models import AuditEvent
from privacy import services
from privacy.models import ErasureLedger, RegistrationPrivacy
from subscribers.models import IdempotencyRecord
from tests.conftest import photo_upload
from tests.factories import StaffFactory, UserFactory
from tests.workflow.conftest import answered_item, open_discrepancy

from .conftest import deactivate, nik, without_face_evidence

pytestmark = pytest.mark.django_db

RUDI, MULYONO = ("Rudi Hartono", nik(81)), ("Mulyono", nik(82))


def correct(registration, clerk, grapari, person) -> None:
    """The outlet's correction to ``person``'s identity, accepted by GraPARI — on a registration
    without face evidence (the NIK + KK years: a face-verified holder's NIK is never corrected,
    docs/rules.md)."""
    without_face_evidence(registration)
    name, number = person
    item = answered_item(
        registration,
        clerk,
        correction={"id_number": number, "full_name": name},
        photo=photo_upload("ktp.jpg"),
    )
    review_item_decide(actor=grapari, item=item, decision="accept")
    registration.refresh_from_db()


def side_by_side(registration, portal_name, operator_name) -> Discrepancy:
    """A settled name mismatch: the portal's value beside the operator's."""
    discrepancy = open_discrepancy(
        registration,
        kind="name_mismatch",
        details={"portal": {"full_name": portal_name}, "operator": {"full_name": operator_name}},
    )
    Discrepancy.objects.filter(pk=discrepancy.pk).update(
        status=Discrepancy.Status.RESOLVED, resolved_at=discrepancy.detected_at
    )
    return discrepancy


def export(operator, number) -> dict:
    request = services.data_subject_request_open(
        actor=operator, id_number=number, channel="grapari"
    )
    result = services.data_subject_request_export(actor=operator, request=request)
    return json.loads(result.content)


@pytest.fixture
def corrected(register, clerk, grapari):
    """Made under ``first``'s NIK and name, corrected to ``second``'s."""

    def make(first, second):
        registration = register(int(first[1][-4:]), full_name=first[0])
        discrepancy = side_by_side(registration, first[0], second[0])
        correct(registration, clerk, grapari, second)
        return registration, discrepancy

    return make


@pytest.mark.parametrize(("first", "second"), [(RUDI, MULYONO), (MULYONO, RUDI)])
def test_the_earlier_holder_gets_only_their_earlier_values(operator, corrected, first, second):
    registration, _discrepancy = corrected(first, second)

    data = export(operator, first[1])

    [entry] = data["registrations"]
    assert entry["registration_number"] == registration.registration_number
    assert entry["held_by_you_now"] is False
    assert "full_name" not in entry and "id_number" not in entry
    [earlier] = entry["earlier_values"]
    assert earlier["id_number"] == first[1] and earlier["full_name"] == first[0]
    text = json.dumps(data)
    assert second[1] not in text and second[0] not in text
    # The discrepancy shows the earlier holder's side only.
    assert [d["details"] for d in data["discrepancies"]] == [{"portal": {"full_name": first[0]}}]


@pytest.mark.parametrize(("first", "second"), [(RUDI, MULYONO), (MULYONO, RUDI)])
def test_the_current_holder_gets_no_trace_of_the_earlier_one(operator, corrected, first, second):
    corrected(first, second)

    data = export(operator, second[1])

    [entry] = data["registrations"]
    assert entry["held_by_you_now"] is True
    assert entry["id_number"] == second[1] and entry["full_name"] == second[0]
    assert entry["earlier_values"] == []
    text = json.dumps(data)
    assert first[1] not in text and first[0] not in text
    assert [d["details"] for d in data["discrepancies"]] == [{"operator": {"full_name": second[0]}}]


@pytest.mark.parametrize(("first", "second"), [(RUDI, MULYONO), (MULYONO, RUDI)])
def test_erasure_by_the_earlier_holder_leaves_the_current_holder_whole(
    operator, corrected, first, second
):
    registration, discrepancy = corrected(first, second)
    request = services.data_subject_request_open(
        actor=operator, id_number=first[1], channel="grapari"
    )

    outcome = services.data_subject_request_erase(actor=operator, request=request)

    assert outcome.anonymised == [] and outcome.deferred == {}
    assert list(outcome.earlier_values_erased) == [registration.pk]
    registration.refresh_from_db()
    assert registration.full_name == second[0]
    assert pii.decrypt(registration.id_number_encrypted) == second[1]
    assert registration.id_number_digest == pii.digest(second[1])
    assert not RegistrationPrivacy.objects.filter(
        registration=registration, restricted_at__isnull=False
    ).exists()
    version = RegistrationVersion.objects.get(registration=registration)
    assert version.values["full_name"] == "" and version.id_number_digest == ""
    discrepancy.refresh_from_db()
    assert discrepancy.details == {
        "portal": {"erased": True},
        "operator": {"full_name": second[0]},
    }
    # The current holder's own request still finds everything of theirs.
    assert export(operator, second[1])["registrations"][0]["full_name"] == second[0]
    assert export(operator, first[1])["registrations"] == []


def test_corrected_to_someone_else_and_back(operator, register, clerk, grapari):
    """A → B → A: B held it in between, and only that version is B's."""
    registration = register(81, full_name=RUDI[0])
    correct(registration, clerk, grapari, MULYONO)
    correct(registration, clerk, grapari, RUDI)
    assert RegistrationVersion.objects.filter(registration=registration).count() == 2

    rudi = export(operator, RUDI[1])["registrations"][0]
    assert rudi["held_by_you_now"] and rudi["full_name"] == RUDI[0]
    assert [v["full_name"] for v in rudi["earlier_values"]] == [RUDI[0]]
    assert MULYONO[1] not in json.dumps(rudi)
    mulyono = export(operator, MULYONO[1])["registrations"][0]
    assert not mulyono["held_by_you_now"]
    assert [v["id_number"] for v in mulyono["earlier_values"]] == [MULYONO[1]]
    assert RUDI[1] not in json.dumps(mulyono)

    # Rudi's erasure (the number out of service): the registration is anonymised, and
    # Mulyono's earlier values on it are left for Mulyono to ask about.
    deactivate(registration, days_ago=1)
    request = services.data_subject_request_open(
        actor=operator, id_number=RUDI[1], channel="grapari"
    )
    outcome = services.data_subject_request_erase(actor=operator, request=request)
    assert outcome.anonymised == [registration.pk]
    first, second = RegistrationVersion.objects.filter(registration=registration).order_by(
        "version"
    )
    assert first.values["full_name"] == "" and first.id_number_digest == ""
    assert second.values["full_name"] == MULYONO[0]
    assert second.id_number_digest == pii.digest(MULYONO[1])


def test_a_number_used_by_two_people_waits_for_a_decision(operator, register):
    mine = register(55, full_name="Dewi Lestari")
    theirs = register(55, full_name="Bambang Susilo")  # someone used her NIK
    request = services.data_subject_request_open(
        actor=operator, id_number=nik(55), channel="grapari"
    )
    assert sorted(request.found["ambiguous"]) == sorted(
        [f"registration:{mine.pk}", f"registration:{theirs.pk}"]
    )
    for act in (
        services.data_subject_request_export,
        services.data_subject_request_erase,
        services.data_subject_request_restrict,
    ):
        with pytest.raises(services.AmbiguousMatch):
            act(actor=operator, request=request)
    assert not RegistrationPrivacy.objects.exists()
    with pytest.raises(CommandError, match="may be another person"):
        call_command("data_subject_request", nik(55), "--erase")

    services.data_subject_request_decide(
        actor=operator,
        request=request,
        decisions={f"registration:{mine.pk}": "include", f"registration:{theirs.pk}": "exclude"},
    )
    data = json.loads(services.data_subject_request_export(actor=operator, request=request).content)
    assert [r["full_name"] for r in data["registrations"]] == ["Dewi Lestari"]
    assert AuditEvent.objects.filter(action="privacy.dsr_decide").count() == 1

    # Naming the person settles it without a decision.
    named = services.data_subject_request_open(
        actor=operator,
        id_number=nik(55),
        channel="grapari",
        full_name="DEWI  lestari",
        birth_date=mine.birth_date,
    )
    assert named.found["ambiguous"] == [f"registration:{theirs.pk}"]


def test_erasure_reaches_the_account_the_replies_and_the_ledger(operator, register, outlet):
    """A former clerk who was also a buyer: the account's name and e-mail go too."""
    registration = register(42)
    deactivate(registration, days_ago=1)
    user = UserFactory(username="siti.clerk", first_name="Siti", email="siti@example.com")
    StaffFactory(
        user=user,
        outlet=outlet,
        is_active=False,
        id_number_encrypted=pii.encrypt(nik(42)),
        id_number_digest=pii.digest(nik(42)),
    )
    IdempotencyRecord.objects.create(
        user=user,
        key="k1",
        request_fingerprint="x",
        response_status=201,
        response_body={
            "registration_number": registration.registration_number,
            "full_name": "Siti",
        },
    )
    AuditEvent.objects.create(
        actor_label="siti.clerk", action="registration.create", target_type="x", target_id="1"
    )
    request = services.data_subject_request_open(
        actor=operator, id_number=nik(42), channel="grapari"
    )

    outcome = services.data_subject_request_erase(actor=operator, request=request)

    assert outcome.users_erased == [user.pk] and outcome.replies_deleted == 1
    user.refresh_from_db()
    assert (user.username, user.first_name, user.email) == (f"erased-{user.pk}", "", "")
    assert not user.has_usable_password() and not user.is_active
    assert not AuditEvent.objects.filter(actor_label="siti.clerk").exists()
    assert not IdempotencyRecord.objects.exists()
    [entry] = ErasureLedger.objects.all()
    assert entry.records["anonymised"] == [registration.pk]
    assert set(entry.digests) == set(request.id_number_digests)
    assert nik(42) not in json.dumps(entry.records)


def test_an_export_that_cannot_decrypt_refuses(operator, register, settings):
    register(42)
    request = services.data_subject_request_open(
        actor=operator, id_number=nik(42), channel="grapari"
    )
    settings.FIELD_ENCRYPTION_KEYS = ["x" * 43 + "="]  # the key the numbers are under is gone
    with pytest.raises(services.AmbiguousMatch.__mro__[1], match="cannot be decrypted"):
        services.data_subject_request_export(actor=operator, request=request)
    request.refresh_from_db()
    assert request.actions == []
