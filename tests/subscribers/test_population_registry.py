"""The population registry at the counter (docs/rules.md): found, not found, wrong KK, a
corrected birth date, name/sex/face disagreements, and the registry down then up — the
registration kept awaiting verification, verified or refused later, nothing lost, nothing
activated unverified."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from compliance.models import Notification, ReviewItem
from core.models import AuditEvent
from identity.idgen import make_kk, make_nik
from operatordb.models import OperatorSubscriber
from outlets.models import StarterPack
from subscribers import receipts, services, tasks
from subscribers.models import Registration
from tests.conftest import BUYER_BIRTH, buyer_data, image_bytes, photo_upload, register_person
from tests.factories import StarterPackFactory

pytestmark = pytest.mark.django_db

# Dukcapil corrected her birth date to 21 March; her NIK still says 12 March.
CORRECTED_NIK = make_nik(birth_date=date(1988, 3, 12), sex="F", province="35", serial=1203)


def receipt_text(registration) -> str:
    facts = receipts.receipt_facts(registration, viewer=None)
    return " ".join(indonesian for indonesian, _ in receipts.receipt_statements(facts))


def photos() -> dict:
    return {"id_photo": photo_upload("ktp.jpg"), "face_photo": photo_upload("face.jpg")}


def refused(clerk, data, **files):
    with pytest.raises(ValidationError) as exc:
        services.registration_prepare(clerk=clerk, data=data, **(files or photos()))
    return exc.value.message_dict


def test_a_buyer_the_registry_confirms_is_registered(clerk, pack):
    registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos())
    assert registration.status == Registration.Status.REGISTERED
    assert registration.registry_checked_at and registration.face_verdict == "match"
    assert registration.warnings == []


def test_a_nik_the_registry_does_not_know_is_refused_in_indonesian(clerk, pack):
    data = buyer_data(pack, in_registry=False, id_number=make_nik(
        birth_date=date(1990, 8, 17), sex="F", serial=4242))  # fmt: skip
    with translation.override("id"):
        errors = refused(clerk, data)
    assert list(errors) == ["id_number"]
    assert "tidak terdaftar di Dukcapil" in errors["id_number"][0]
    assert not Registration.objects.exists()


def test_the_kk_must_be_the_niks_family_card_where_the_rule_asks_for_it(clerk, pack):
    data = buyer_data(pack)
    other_kk = make_kk(recorded=date(2019, 1, 2), serial=999)
    # 2017-2026: NIK + KK — a wrong KK is refused at its field.
    with pytest.raises(ValidationError) as exc:
        services.registration_prepare(
            clerk=clerk,
            data={**data, "kk_number": other_kk},
            now=timezone.make_aware(timezone.datetime(2018, 1, 8, 10)),
        )
    assert list(exc.value.message_dict) == ["kk_number"]
    # 2026-07: NIK + face — a KK given but not paired only earns a warning.
    prepared = services.registration_prepare(
        clerk=clerk, data={**data, "kk_number": other_kk}, **photos()
    )
    assert [w["code"] for w in prepared.warnings] == ["kk_not_paired"]


def test_a_corrected_birth_date_is_accepted_with_a_warning(clerk, pack):
    data = buyer_data(pack, in_registry=False, id_number=CORRECTED_NIK,
                      birth_date="1988-03-21", full_name="Dewi Lestari")  # fmt: skip
    register_person(data, birth_date=date(1988, 3, 21))
    registration = services.registration_create(clerk=clerk, data=data, **photos())
    assert registration.status == Registration.Status.REGISTERED
    assert [w["code"] for w in registration.warnings] == ["nik_birth_date_corrected"]
    # What the NIK's digits say, when the registry says otherwise, is refused at the field.
    pack2 = StarterPackFactory(outlet=pack.outlet)
    errors = refused(clerk, {**buyer_data(pack2, in_registry=False), "id_number": CORRECTED_NIK,
                             "birth_date": "1988-03-12", "full_name": "Dewi Lestari"})  # fmt: skip
    assert list(errors) == ["birth_date"]


def test_without_the_registry_the_nik_digits_still_decide(clerk, pack):
    """Before 2017 no registry was asked: the NIK's birth date must agree, as before."""
    data = buyer_data(pack, id_number=CORRECTED_NIK, birth_date="1988-03-21", kk_number="")
    with pytest.raises(ValidationError) as exc:
        services.registration_prepare(
            clerk=clerk, data=data, now=timezone.make_aware(timezone.datetime(2016, 2, 1, 10))
        )
    assert "birth_date" in exc.value.message_dict


@pytest.mark.parametrize(
    ("override", "field"),
    [({"full_name": "Siti Aminah"}, "full_name"), ({"sex": "M"}, "sex")],
)
def test_name_and_sex_must_agree_with_the_registry(clerk, pack, override, field):
    data = buyer_data(pack)
    errors = refused(clerk, {**data, **override})
    assert field in errors


def test_the_name_comparison_ignores_case_spacing_and_punctuation(clerk, pack):
    data = buyer_data(pack)
    services.registration_prepare(clerk=clerk, data={**data, "full_name": "SITI  NURAINI"},
                                  **photos())  # fmt: skip


@pytest.mark.parametrize("apostrophe", ["\u02bc", "\u02bb", "\u2019", "\u02be"])
def test_an_apostrophe_unicode_files_as_a_letter_is_punctuation_too(clerk, pack, apostrophe):
    """ʼ (U+02BC), what some phone keyboards type for ', is a letter to Unicode: in a name it
    is an apostrophe, as ' and ’ are — against the registry and in reconciliation alike."""
    from compliance.reconciliation.rules import names_match
    from identity.idrules import normalize_name_for_comparison

    data = buyer_data(pack)  # the registry holds "Siti Nur'aini"
    typed = f"Siti Nur{apostrophe}aini"
    services.registration_prepare(clerk=clerk, data={**data, "full_name": typed}, **photos())
    assert names_match(typed, normalize_name_for_comparison("Siti Nur'aini"))
    assert not names_match("Siti Nurʼaina", normalize_name_for_comparison("Siti Nur'aini"))


def test_a_face_the_registry_does_not_confirm_is_refused(clerk, pack):
    data = buyer_data(pack)
    register_person(data, face_hash="ffffffffffffffff")
    with translation.override("en"):
        errors = refused(clerk, data)
    assert list(errors) == ["face_photo"] and "does not match" in errors["face_photo"][0]


def test_a_person_without_a_face_reference_is_registered_with_the_verdict_no_reference(clerk, pack):
    """Nothing to compare with: the photo passes, the verdict "no reference" is the evidence
    kept, and the clerk is told why the face was not compared; the photo is still required."""
    data = buyer_data(pack)
    register_person(data, face_hash="")
    with translation.override("en"):
        registration = services.registration_create(clerk=clerk, data=data, **photos())
        without_photo = refused(clerk, data, id_photo=photo_upload("ktp.jpg"), face_photo=None)

    assert registration.status == Registration.Status.REGISTERED
    assert registration.face_verdict == "no_reference"
    assert [w["code"] for w in registration.warnings] == ["face_no_reference"]
    assert "no face record" in registration.warnings[0]["message"]
    assert "face_photo" in without_photo


# --- the registry down or slow -----------------------------------------------------------------


@pytest.fixture
def registry_down(settings):
    settings.POPULATION_REGISTRY_MOCK_FAULT = "down"
    return settings


def test_registry_down_the_registration_awaits_and_is_verified_when_it_answers(
    clerk, pack, registry_down, django_capture_on_commit_callbacks
):
    data = buyer_data(pack)
    with django_capture_on_commit_callbacks(execute=True):
        registration = services.registration_create(clerk=clerk, data=data, **photos())
    registration.refresh_from_db()
    pack.refresh_from_db()
    # Kept, not activated: the pack is claimed, the face kept for the late check.
    assert registration.status == Registration.Status.AWAITING
    assert pack.status == StarterPack.Status.REGISTERED
    assert registration.face_photo and registration.registry_checked_at is None
    assert registration.warnings[-1]["code"] == "awaiting_verification"
    assert "BELUM AKTIF" in receipt_text(registration)
    # Still down: the sweep leaves it.
    assert services.registration_verify(registration_id=registration.pk) == "awaiting"

    registry_down.POPULATION_REGISTRY_MOCK_FAULT = ""
    registry_down.OPERATOR_MOCK_ACTIVATION_SECONDS = 0  # the operator activates a sale at once
    Registration.objects.filter(pk=registration.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    assert not OperatorSubscriber.objects.filter(msisdn=registration.msisdn).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_awaiting_verifications() == 1
    registration.refresh_from_db()
    assert registration.status == Registration.Status.REGISTERED
    assert registration.face_verdict == "match" and registration.registry_checked_at
    assert (registration.face_score, len(registration.face_sha256)) == (1.0, 64)
    assert registration.warnings == []
    assert not ReviewItem.objects.exists()
    # Verified, and only now: the sale is activated at the operator.
    assert OperatorSubscriber.objects.get(msisdn=registration.msisdn).status == "active"
    event = AuditEvent.objects.get(action="registration.registry_verified")
    assert (event.actor_label, event.target_id) == ("population-registry", str(registration.pk))
    assert event.before == {"status": "awaiting"}
    assert event.after == {"status": "registered", "fields": [], "face_verdict": "match"}
    assert not AuditEvent.objects.filter(action="registration.registry_refused").exists()


def test_a_slow_registry_counts_as_down(clerk, pack, settings):
    settings.POPULATION_REGISTRY_MOCK_FAULT = "slow"
    settings.POPULATION_REGISTRY_MOCK_DELAY = 5.0
    settings.POPULATION_REGISTRY_TIMEOUT = 0.05
    prepared = services.registration_prepare(clerk=clerk, data=buyer_data(pack), **photos())
    assert prepared.awaiting and "face_photo" in prepared.photos


def test_a_failed_late_verification_reaches_the_clerk_and_the_review_queue(
    clerk, pack, registry_down, django_capture_on_commit_callbacks
):
    data = buyer_data(pack)
    registration = services.registration_create(clerk=clerk, data=data, **photos())
    assert registration.status == Registration.Status.AWAITING
    # Meanwhile the registry turns out to hold another birth date for this NIK.
    register_person(data, birth_date=date(1991, 1, 1))
    registry_down.POPULATION_REGISTRY_MOCK_FAULT = ""
    with django_capture_on_commit_callbacks(execute=True):
        status = services.registration_verify(registration_id=registration.pk)
    assert status == Registration.Status.REFUSED
    registration.refresh_from_db()
    assert "Dukcapil" in registration.refusal_reason  # in Bahasa Indonesia
    assert registration.review_reasons[-1] == {
        "code": "registry_refused",
        "message": registration.refusal_reason,
    }
    event = AuditEvent.objects.get(action="registration.registry_refused")
    assert (event.actor_label, event.before) == ("population-registry", {"status": "awaiting"})
    assert event.after == {
        "status": "refused",
        "fields": ["birth_date"],
        "face_verdict": "",
        "pack_back_in_stock": pack.msisdn,
    }
    # The pack, never activated, is back in the outlet's stock; the cap is not held.
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.IN_STOCK
    assert registration.starter_pack is None and registration.msisdn == pack.msisdn
    assert services.active_id_count(id_digest=registration.id_number_digest) == 0
    # GraPARI's queue and the outlet's staff (the workflow's hook).
    item = ReviewItem.objects.get(registration=registration)
    assert item.kind == ReviewItem.Kind.FLAGGED_REGISTRATION
    assert Notification.objects.filter(user=clerk, text__contains=registration.registration_number)
    assert "DITOLAK" in receipt_text(registration)
    # Run again: nothing changes, nothing is queued twice.
    assert services.registration_verify(registration_id=registration.pk) == "refused"
    assert ReviewItem.objects.filter(registration=registration).count() == 1
    # The clerk registers the buyer again on the same pack, with the birth date corrected.
    again = services.registration_create(
        clerk=clerk, data={**data, "birth_date": "1991-01-01"}, **photos()
    )
    assert again.status == Registration.Status.REGISTERED and again.starter_pack == pack
    registration.refresh_from_db()
    assert registration.status == Registration.Status.REFUSED


def test_validate_while_the_registry_is_down_is_a_200_awaiting(clerk, pack, registry_down):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(clerk)
    body = {**buyer_data(pack), **photos()}
    response = client.post("/api/v1/registrations/validate/", body, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "awaiting_verification"
    assert response.json()["warnings"][0]["code"] == "awaiting_verification"
    registry_down.POPULATION_REGISTRY_MOCK_FAULT = ""
    body = {**buyer_data(pack), **photos()}
    response = client.post("/api/v1/registrations/validate/", body, format="multipart")
    assert response.json()["outcome"] == "registered"


# --- face photos are not kept --------------------------------------------------------------------


def test_face_photos_are_purged_after_the_limit_whatever_the_verdict(
    clerk, outlet, settings, django_capture_on_commit_callbacks
):
    settings.POPULATION_REGISTRY_MOCK_FAULT = "down"
    with django_capture_on_commit_callbacks(execute=True):  # the photos processed: thumbnails
        awaiting = services.registration_create(
            clerk=clerk, data=buyer_data(StarterPackFactory(outlet=outlet)), **photos()
        )
    settings.POPULATION_REGISTRY_MOCK_FAULT = ""
    with django_capture_on_commit_callbacks(execute=True):
        verified = services.registration_create(
            clerk=clerk, data=buyer_data(StarterPackFactory(outlet=outlet)), **photos()
        )
    files = []
    for registration in (awaiting, verified):
        registration.refresh_from_db()
        assert registration.face_photo and registration.face_photo_thumb
        files += [registration.face_photo, registration.face_photo_thumb]
    storage = awaiting.face_photo.storage
    assert all(storage.exists(stored.name) for stored in files)
    assert services.face_photos_purge() == 0  # not yet
    later = timezone.now() + timedelta(hours=settings.FACE_PHOTO_MAX_HOURS, minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.face_photos_purge(now=later) == 2
    for registration in (awaiting, verified):
        registration.refresh_from_db()
        assert not registration.face_photo and not registration.face_photo_thumb
        assert registration.updated_at == later
    assert not any(storage.exists(stored.name) for stored in files)  # the files, not just links
    assert verified.face_verdict == "match" and len(verified.face_sha256) == 64  # the evidence
    assert verified.id_photo  # only faces go
    event = AuditEvent.objects.get(action="registration.face_photos_deleted")
    assert event.actor_label == "face-photo-purge"
    assert (event.target_type, event.target_id) == ("subscribers.registration", "")
    assert event.after == {"count": 2, "registrations": sorted([awaiting.pk, verified.pk])}
    # The one still awaiting is refused by its late check: the photo it needed is gone — the
    # clerk reads why, in Bahasa Indonesia, at the face photo.
    assert services.registration_verify(registration_id=awaiting.pk) == "refused"
    awaiting.refresh_from_db()
    assert awaiting.refusal_reason == (
        "Foto wajah sudah dihapus sebelum Dukcapil sempat memverifikasinya: daftarkan pembeli "
        "sekali lagi."
    )
    refused_event = AuditEvent.objects.get(action="registration.registry_refused")
    assert refused_event.after["fields"] == ["face_photo"]


def test_the_late_check_holds_what_the_clerk_entered_to_the_registry(clerk, pack, registry_down):
    """What the clerk entered is what is checked later: another birth date in the registry
    refuses the registration at that field; another family card (under a rule set where the
    face is the proof) leaves it registered with the pairing as a warning."""
    first = buyer_data(pack)
    refused = services.registration_create(clerk=clerk, data=first, **photos())
    register_person(first, birth_date=date(1991, 1, 1))
    second = buyer_data(StarterPackFactory(outlet=pack.outlet),
                        id_number=make_nik(birth_date=BUYER_BIRTH, sex="F", serial=43))  # fmt: skip
    warned = services.registration_create(clerk=clerk, data=second, **photos())
    register_person(second, kk_number=make_kk(recorded=date(2020, 6, 1), serial=99))
    registry_down.POPULATION_REGISTRY_MOCK_FAULT = ""

    assert services.registration_verify(registration_id=refused.pk) == "refused"
    event = AuditEvent.objects.get(action="registration.registry_refused")
    assert event.after["fields"] == ["birth_date"]
    assert services.registration_verify(registration_id=warned.pk) == "registered"
    warned.refresh_from_db()
    assert [w["code"] for w in warned.warnings] == ["kk_not_paired"]


def test_a_registration_with_review_reasons_verified_late_goes_to_review(
    clerk, pack, registry_down
):
    """Verified by the registry, a registration that had reasons for a review (a number beyond
    the cap at an outlet allowed to exceed it) is flagged, its reasons kept."""
    registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos())
    reasons = [{"code": "over_cap_permitted", "message": "4th number of this NIK"}]
    Registration.objects.filter(pk=registration.pk).update(review_reasons=reasons)
    registry_down.POPULATION_REGISTRY_MOCK_FAULT = ""

    assert services.registration_verify(registration_id=registration.pk) == "flagged"
    registration.refresh_from_db()
    assert registration.review_reasons == reasons


def test_the_receipt_text_is_true_to_the_rules(clerk, pack):
    registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos())
    text = receipt_text(registration)
    assert "gerai operator atau outlet yang diberi kewenangan tertulis" in text
    assert "staf (sekarang atau dulu)" in text


def test_the_registry_reference_photo_matches_the_test_photo():
    from operatordb.registry import face_hash

    assert face_hash(image_bytes()) == face_hash(image_bytes(color=(10, 200, 30)))


def test_the_form_while_the_registry_is_down_keeps_it_awaiting_and_says_so(
    client, clerk, pack, registry_down
):
    from tests.web.conftest import form_data

    client.force_login(clerk)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post("/registrations/new/", {**form_data(pack), **photos()}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="receipt-awaiting"' in html and "not active yet" in html
    registration = Registration.objects.get()
    assert registration.status == Registration.Status.AWAITING
    detail = client.get(f"/registrations/{registration.pk}/").content.decode()
    assert 'id="registry-awaiting"' in detail


def test_a_corrected_birth_date_verified_late_is_accepted_with_its_warning(
    clerk, pack, registry_down
):
    """The registry away at the counter, a birth date the NIK's digits disagree with (Dukcapil
    corrected it): the late check accepts it as the counter would, with the same warning."""
    data = buyer_data(pack, in_registry=False, id_number=CORRECTED_NIK,
                      birth_date="1988-03-21", full_name="Dewi Lestari")  # fmt: skip
    register_person(data, birth_date=date(1988, 3, 21))
    registration = services.registration_create(clerk=clerk, data=data, **photos())
    assert registration.status == Registration.Status.AWAITING
    registry_down.POPULATION_REGISTRY_MOCK_FAULT = ""

    assert services.registration_verify(registration_id=registration.pk) == "registered"
    registration.refresh_from_db()
    assert [w["code"] for w in registration.warnings] == ["nik_birth_date_corrected"]


def test_without_the_face_as_proof_a_purged_face_photo_does_not_refuse_the_late_check(
    clerk, pack, registry_down, settings
):
    """Under the NIK + KK rule set the face photo is no proof: one sent anyway is not even
    stored (nothing for the purge), and a registration still awaiting the registry is verified
    on its numbers alone."""
    sold = timezone.make_aware(timezone.datetime(2018, 1, 8, 10))
    registration = services.registration_create(
        clerk=clerk, data=buyer_data(pack), now=sold, **photos()
    )
    assert (registration.policy.code, registration.status) == ("2017", "awaiting")
    assert registration.id_photo and not registration.face_photo
    later = timezone.now() + timedelta(hours=settings.FACE_PHOTO_MAX_HOURS, minutes=1)
    assert services.face_photos_purge(now=later) == 0
    registry_down.POPULATION_REGISTRY_MOCK_FAULT = ""

    assert services.registration_verify(registration_id=registration.pk) == "registered"
