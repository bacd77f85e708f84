"""A head of family's data-subject request reaches the minors' registrations made through them.

Since the 2026 rules a minor registers with their own NIK through the head of family, whose NIK
the registration keeps as the guardian's and whose face the population registry verifies. A
request under the head of family's NIK finds those registrations: the copy holds the guardian's
own NIK and face in full and of the minor only what names the registration; erasure takes the
guardian's part out of a registration whose number is out of service and never the minor's
data; restriction leaves the minor's registration alone."""

import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from core import pii
from core.models import AuditEvent
from identity.idgen import make_kk, make_nik
from privacy import services, tasks
from privacy.models import ErasureLedger, RegistrationPrivacy
from subscribers import services as subscriber_services
from subscribers.models import Registration
from tests.conftest import buyer_data, photo_upload, register_person
from tests.factories import StarterPackFactory
from tests.workflow.conftest import open_discrepancy

from .conftest import deactivate

pytestmark = pytest.mark.django_db

# A family no other test uses: the father (head of family), his daughter (a minor) and a
# neighbour whose NIK nobody gave as a guardian.
FAMILY_KK = make_kk(recorded=date(2013, 4, 22), region="337402", serial=618)
FATHER = ("Bambang Setiadi", make_nik(birth_date=date(1979, 11, 3), sex="M", regency="74",
                                      district="02", serial=3611))  # fmt: skip
DAUGHTER = ("Putri Lestari Setiadi", make_nik(birth_date=date(2013, 6, 14), sex="F",
                                              regency="74", district="02", serial=3612))  # fmt: skip
DAUGHTER_ADDRESS = "Gg. Melati III No. 17, Semarang"
NEIGHBOUR = make_nik(birth_date=date(1985, 1, 30), sex="F", regency="74", district="02",
                     serial=3613)  # fmt: skip


@pytest.fixture
def minor(clerk, outlet, django_capture_on_commit_callbacks):
    """The daughter's registration, made through her father as head of family (photos
    processed: the face photo is the father's face, which the registry verified)."""
    register_person(
        {"id_number": FATHER[1], "birth_date": "1979-11-03", "full_name": FATHER[0]},
        kk_number=FAMILY_KK,
        head_of_family=True,
    )
    pack = StarterPackFactory(outlet=outlet)
    data = buyer_data(
        pack,
        id_number=DAUGHTER[1],
        full_name=DAUGHTER[0],
        birth_date="2013-06-14",
        sex="F",
        kk_number=FAMILY_KK,
        address=DAUGHTER_ADDRESS,
        guardian_id_number=FATHER[1],
    )
    with django_capture_on_commit_callbacks(execute=True):
        registration = subscriber_services.registration_create(
            clerk=clerk,
            data=data,
            id_photo=photo_upload("ktp.jpg"),
            face_photo=photo_upload("face.jpg"),
        )
    registration.refresh_from_db()
    assert pii.decrypt(registration.guardian_id_number_encrypted) == FATHER[1]
    assert registration.face_photo
    return registration


def open_request(operator, number):
    return services.data_subject_request_open(actor=operator, id_number=number, channel="grapari")


def export(operator, number) -> dict:
    request = open_request(operator, number)
    return json.loads(services.data_subject_request_export(actor=operator, request=request).content)


def test_the_head_of_family_gets_their_part_of_the_minors_registration(operator, minor):
    data = export(operator, FATHER[1])

    assert data["registrations"] == []  # he registered no number of his own
    [entry] = data["as_head_of_family"]
    assert entry["registration_number"] == minor.registration_number
    assert entry["your_id_number"] == FATHER[1]
    assert entry["your_face_photo_held"] is True
    # Of the minor: only what names the registration (he gave it at the counter).
    assert entry["minor"] == {"full_name": DAUGHTER[0], "id_number": minor.id_number_masked}
    text = json.dumps(data)
    assert DAUGHTER[1] not in text and DAUGHTER_ADDRESS not in text
    assert pii.decrypt(minor.kk_number_encrypted) not in text
    # His processing log: the registration made with his NIK and face, not the minor's trail.
    actions = {row["action"] for row in data["processing_log"]}
    assert "registration.create" in actions
    assert actions <= {
        "registration.create", "registration.registry_verified", "registration.photo_view",
        "registration.photos_processed", "registration.face_photos_deleted",
    }  # fmt: skip


def test_the_csv_copy_and_the_page_show_the_minors_registration(client, operator, minor):
    request = open_request(operator, FATHER[1])
    csv_text = services.data_subject_request_export(
        actor=operator, request=request, fmt="csv"
    ).content.decode("utf-8-sig")
    assert f"as_head_of_family,1,your_id_number,{FATHER[1]}" in csv_text

    client.force_login(operator)
    page = client.get(reverse("privacy:request", args=[request.pk]), HTTP_ACCEPT_LANGUAGE="id")
    html = page.content.decode()
    assert f'id="guarded-{minor.pk}"' in html
    assert minor.guardian_id_number_masked in html and DAUGHTER[0] in html
    assert "Anak di bawah umur yang didaftarkan melalui orang ini" in html


def test_a_stranger_to_the_family_finds_nothing(operator, minor):
    data = export(operator, NEIGHBOUR)
    assert data["registrations"] == [] and data["as_head_of_family"] == []


def test_the_minors_own_request_is_unchanged_by_the_guardian_lookup(operator, minor):
    data = export(operator, DAUGHTER[1])
    [entry] = data["registrations"]
    assert entry["full_name"] == DAUGHTER[0] and entry["id_number"] == DAUGHTER[1]
    assert data["as_head_of_family"] == []


def test_erasure_while_the_number_is_in_service_keeps_his_nik_and_says_why(operator, minor):
    request = open_request(operator, FATHER[1])

    outcome = services.data_subject_request_erase(actor=operator, request=request)

    assert outcome.guardian_erased == [] and outcome.guardian_kept == {minor.pk: "in_service"}
    minor.refresh_from_db()
    assert pii.decrypt(minor.guardian_id_number_encrypted) == FATHER[1]
    # The minor's registration is neither restricted nor waiting for erasure.
    assert not RegistrationPrivacy.objects.filter(
        registration=minor, restricted_at__isnull=False
    ).exists()
    assert not RegistrationPrivacy.objects.filter(
        registration=minor, erasure_requested_at__isnull=False
    ).exists()
    request.refresh_from_db()
    assert request.actions[-1]["result"]["head_of_family_data_kept"] == {
        str(minor.pk): "in_service"
    }
    assert AuditEvent.objects.filter(
        action="registration.guardian_erasure_deferred", target_id=str(minor.pk)
    ).exists()


def test_erasure_once_out_of_service_takes_his_nik_and_face_and_leaves_the_minor(operator, minor):
    face_file = Path(minor.face_photo.path)
    assert face_file.exists()
    deactivate(minor, days_ago=3)
    request = open_request(operator, FATHER[1])

    outcome = services.data_subject_request_erase(actor=operator, request=request)

    assert outcome.guardian_erased == [minor.pk] and outcome.anonymised == []
    minor.refresh_from_db()
    assert minor.guardian_id_number_encrypted == minor.guardian_id_number_digest == ""
    assert minor.guardian_id_number_masked == ""
    assert minor.face_photo.name == "" and minor.face_sha256 == ""
    assert not face_file.exists()
    # The minor's data is hers and stays.
    assert minor.full_name == DAUGHTER[0] and minor.address == DAUGHTER_ADDRESS
    assert pii.decrypt(minor.id_number_encrypted) == DAUGHTER[1]
    assert minor.id_photo.name
    assert not RegistrationPrivacy.objects.filter(
        registration=minor, anonymised_at__isnull=False
    ).exists()
    assert export(operator, DAUGHTER[1])["registrations"][0]["full_name"] == DAUGHTER[0]
    # His NIK is found nowhere any more.
    assert export(operator, FATHER[1])["as_head_of_family"] == []
    entry = ErasureLedger.objects.get(request=request)
    assert entry.records["guardian"] == [minor.pk]
    assert entry.id_number_encrypted and pii.decrypt(entry.id_number_encrypted) == FATHER[1]


def test_an_open_case_holds_his_nik(operator, minor):
    deactivate(minor, days_ago=3)
    open_discrepancy(minor, kind="name_mismatch", details={})
    request = open_request(operator, FATHER[1])

    outcome = services.data_subject_request_erase(actor=operator, request=request)

    assert outcome.guardian_kept == {minor.pk: "legal_hold"}
    minor.refresh_from_db()
    assert pii.decrypt(minor.guardian_id_number_encrypted) == FATHER[1]


def test_a_restore_brings_his_nik_back_and_the_ledger_erases_it_again(operator, minor):
    deactivate(minor, days_ago=3)
    kept = Registration.objects.filter(pk=minor.pk).values(
        "guardian_id_number_encrypted", "guardian_id_number_digest", "guardian_id_number_masked"
    )[0]
    services.data_subject_request_erase(actor=operator, request=open_request(operator, FATHER[1]))
    Registration.objects.filter(pk=minor.pk).update(**kept)  # what an older backup holds

    call_command("reapply_erasures", verbosity=0)

    minor.refresh_from_db()
    assert minor.guardian_id_number_digest == "" and minor.guardian_id_number_encrypted == ""
    assert minor.full_name == DAUGHTER[0]


def test_restriction_by_the_head_of_family_leaves_the_minors_registration_visible(operator, minor):
    request = open_request(operator, FATHER[1])

    restricted = services.data_subject_request_restrict(actor=operator, request=request)

    assert restricted == []
    assert not RegistrationPrivacy.objects.filter(
        registration=minor, restricted_at__isnull=False
    ).exists()
    request.refresh_from_db()
    assert request.actions[-1]["result"]["head_of_family_not_restricted"] == [minor.pk]


def test_his_erasure_kept_for_the_number_in_service_happens_once_it_leaves_service(
    client, operator, minor, settings
):
    """Kept while the number is in service, his part is not forgotten: once the operator's
    database says the number went inactive, the scheduled pass erases it under his request —
    and never the minor's data — and a second pass changes nothing."""
    face_file = Path(minor.face_photo.path)
    request = open_request(operator, FATHER[1])
    services.data_subject_request_erase(actor=operator, request=request)

    # Still in service: the pass leaves it waiting, without a new audit row.
    deferred_rows = AuditEvent.objects.filter(
        action="registration.guardian_erasure_deferred", target_id=str(minor.pk)
    ).count()
    assert services.guardian_erasures_due()["erased"] == 0
    minor.refresh_from_db()
    assert pii.decrypt(minor.guardian_id_number_encrypted) == FATHER[1]
    assert (
        AuditEvent.objects.filter(
            action="registration.guardian_erasure_deferred", target_id=str(minor.pk)
        ).count()
        == deferred_rows
    )

    deactivate(minor, days_ago=1)
    assert tasks.erase_due_guardian_parts.run() == {
        "erased": 1, "photo_files_deleted": 2, "already_gone": 0,
    }  # fmt: skip

    minor.refresh_from_db()
    assert minor.guardian_id_number_encrypted == minor.guardian_id_number_digest == ""
    assert minor.face_photo.name == "" and not face_file.exists()
    assert minor.full_name == DAUGHTER[0] and pii.decrypt(minor.id_number_encrypted) == DAUGHTER[1]
    assert export(operator, FATHER[1])["as_head_of_family"] == []
    erased = AuditEvent.objects.get(action="registration.guardian_erased", target_id=str(minor.pk))
    assert erased.after["request"] == request.pk
    request.refresh_from_db()
    assert request.actions[-1]["action"] == "erase_head_of_family_data"
    assert request.actions[-1]["result"] == {"head_of_family_data_erased": [minor.pk]}
    client.force_login(operator)
    page = client.get(reverse("privacy:request", args=[request.pk]), HTTP_ACCEPT_LANGUAGE="id")
    assert "Data kepala keluarga dihapus setelah nomornya tidak aktif lagi" in page.content.decode()
    assert not RegistrationPrivacy.objects.filter(
        guardian_erasure_requested_at__isnull=False
    ).exists()
    assert services.guardian_erasures_due() == {
        "erased": 0, "photo_files_deleted": 0, "already_gone": 0,
    }  # fmt: skip
    assert (
        settings.CELERY_BEAT_SCHEDULE["privacy-erase-due-guardian-parts"]["task"]
        == tasks.erase_due_guardian_parts.name
    )


def test_an_open_case_still_holds_his_waiting_erasure(operator, minor):
    services.data_subject_request_erase(actor=operator, request=open_request(operator, FATHER[1]))
    deactivate(minor, days_ago=1)
    discrepancy = open_discrepancy(minor, kind="name_mismatch", details={})
    deferred = AuditEvent.objects.filter(action="registration.guardian_erasure_deferred")
    before = deferred.count()

    assert services.guardian_erasures_due()["erased"] == 0
    assert deferred.count() == before  # still waiting: nothing new to say
    minor.refresh_from_db()
    assert pii.decrypt(minor.guardian_id_number_encrypted) == FATHER[1]

    discrepancy.status = "resolved"
    discrepancy.resolved_at = discrepancy.detected_at
    discrepancy.save(update_fields=["status", "resolved_at"])
    assert services.guardian_erasures_due()["erased"] == 1
    minor.refresh_from_db()
    assert minor.guardian_id_number_digest == ""
