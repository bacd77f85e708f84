"""The retention purge also erases the compliance workflow's copies of a buyer's data: the values
an accepted correction replaced (earlier versions), the correction the outlet proposed, its free
text, and the evidence photo on disk — end to end, through the same services people use."""

from pathlib import Path

import pytest

from compliance.models import ClarificationAnswer, Discrepancy, RegistrationVersion
from compliance.workflow.review import review_item_decide
from core import pii
from privacy import selectors as privacy_selectors
from tests.conftest import photo_upload
from tests.workflow.conftest import answered_item

from .conftest import deactivate, nik, photo_paths, without_face_evidence
from .test_retention import RETENTION, purge

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.RETENTION_DAYS_AFTER_DEACTIVATION = RETENTION


def test_purge_erases_corrections_versions_and_evidence_photos(register, clerk, grapari):
    registration = register(77)
    item = answered_item(
        registration,
        clerk,
        correction={"full_name": "Siti Nurhayati Rahman", "address": "Jl. Mawar 3, Bandung"},
        photo=photo_upload("ktp-again.jpg"),
    )
    review_item_decide(actor=grapari, item=item, decision="accept")
    answer = ClarificationAnswer.objects.get(clarification=item.clarification)
    evidence = Path(answer.evidence_photo.path)
    version = RegistrationVersion.objects.get(registration=registration)
    registration.refresh_from_db()
    files = photo_paths(registration)
    # Before: the buyer's data is in the registration and in the workflow's copies.
    assert registration.full_name == "Siti Nurhayati Rahman"
    assert evidence.exists() and all(path.exists() for path in files)
    assert version.values["full_name"] and version.id_number_encrypted
    assert answer.correction["full_name"] == "Siti Nurhayati Rahman" and answer.explanation
    assert not Discrepancy.objects.filter(registration=registration, status="open").exists()
    deactivate(registration, days_ago=RETENTION + 1)

    purge()

    registration.refresh_from_db()
    assert registration.full_name == registration.address == ""
    assert not evidence.exists()
    assert not any(path.exists() for path in files)
    answer.refresh_from_db()
    assert answer.evidence_photo.name == ""
    assert set(answer.correction.values()) == {""}
    assert answer.explanation == ""
    assert answer.correction_id_number_encrypted == answer.correction_kk_number_encrypted == ""
    version.refresh_from_db()
    assert version.values["full_name"] == version.values["address"] == ""
    assert version.values["birth_date"] == "1990"
    assert version.id_number_encrypted == version.id_number_digest == ""
    assert version.kk_number_encrypted == version.kk_number_digest == ""
    # A data-subject search by the buyer's ID number no longer finds anything held on them.
    assert privacy_selectors.data_subject_records(digests=[pii.digest(nik(77))]).registrations == []


def test_a_corrected_id_number_still_finds_the_registration_until_it_is_purged(
    register, clerk, grapari
):
    """The clerk typed the wrong NIK; the correction replaced it. The person behind the first
    number still has data held (the earlier version): a data-subject search finds it. (A
    registration without face evidence: a face-verified holder's NIK is never corrected.)"""
    registration = register(81)
    without_face_evidence(registration)
    item = answered_item(
        registration, clerk, correction={"id_number": nik(82)}, photo=photo_upload("ktp.jpg")
    )
    review_item_decide(actor=grapari, item=item, decision="accept")
    registration.refresh_from_db()
    assert registration.id_number_digest == pii.digest(nik(82))

    for number in (nik(81), nik(82)):
        found = privacy_selectors.data_subject_records(digests=[pii.digest(number)])
        assert found.registration_ids == [registration.pk], number

    deactivate(registration, days_ago=RETENTION + 1)
    purge()
    for number in (nik(81), nik(82)):
        assert not privacy_selectors.data_subject_records(
            digests=[pii.digest(number)]
        ).registrations
