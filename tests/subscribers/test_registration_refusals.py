"""What the clerk reads when a registration is refused before anything is written: the
sentence at its field (the form and the API show it as it is), every fault of one body at
once, and no registration, pack claim or audit row left behind."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import AuditEvent
from outlets.models import Outlet, StarterPack
from subscribers import services
from subscribers.models import Registration
from tests.conftest import buyer_data, photo_upload
from tests.factories import StarterPackFactory

pytestmark = pytest.mark.django_db

NON_FIELD = "non_field_errors"
FACE_REQUIRED = (
    "A photo of the buyer's face is required under the rules in force: the population "
    "registry verifies it."
)
PHOTO_REQUIRED = "This photo is required under the rules in force."
NOT_A_PHOTO = "The file is not a photo. Upload a JPEG, PNG or WebP image."


def refused(clerk, data, **kwargs) -> dict:
    with pytest.raises(ValidationError) as exc:
        services.registration_create(clerk=clerk, data=data, **kwargs)
    assert not Registration.objects.exists()
    assert not AuditEvent.objects.exists()
    return exc.value.message_dict


def test_someone_not_on_an_outlets_staff_cannot_register(dealer_user, pack, photos):
    errors = refused(dealer_user, buyer_data(pack), **photos)
    assert errors == {NON_FIELD: ["Only staff of an outlet can register buyers."]}


@pytest.mark.parametrize(
    ("reason", "sentence"),
    [
        (
            "Clarification overdue.",
            "Your outlet ROJKT000001 is suspended and cannot register buyers. "
            "Clarification overdue.",
        ),
        ("", "Your outlet ROJKT000001 is suspended and cannot register buyers."),
    ],
)
def test_a_suspended_outlet_is_named_with_its_reason(clerk, outlet, pack, photos, reason, sentence):
    outlet.status = Outlet.Status.SUSPENDED
    outlet.status_reason = reason
    outlet.save()
    errors = refused(clerk, buyer_data(pack), **photos)
    assert errors == {NON_FIELD: [sentence]}
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.IN_STOCK


def test_a_day_before_the_first_rule_set_is_refused_with_its_date(clerk, pack, photos):
    before_any = datetime(2014, 4, 30, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta
    errors = refused(clerk, buyer_data(pack), now=before_any, **photos)
    assert errors == {NON_FIELD: ["No registration policy is in force on 2014-04-30."]}


def test_without_consent_or_the_clerks_attestation_both_are_asked_for(clerk, pack, photos):
    data = buyer_data(pack, consent=False)
    del data["document_checked"]  # missing is refused like false
    errors = refused(clerk, data, **photos)
    assert errors == {
        "consent": ["The buyer must agree to the registration of their data."],
        "document_checked": ["Confirm that you checked the buyer's original document in person."],
    }


def test_both_missing_photos_are_asked_for_at_once(clerk, pack):
    errors = refused(clerk, buyer_data(pack))
    assert errors == {"id_photo": [PHOTO_REQUIRED], "face_photo": [FACE_REQUIRED]}


def test_a_body_with_faults_is_told_of_the_missing_face_as_well(clerk, pack):
    # The fields do not hold (no valid NIK era body to judge): the face is still asked of a
    # citizen's KTP under NIK + face, with the other faults in the same answer.
    errors = refused(clerk, buyer_data(pack, birth_date="17-08-1990"), id_photo=photo_upload())
    assert errors["face_photo"] == [FACE_REQUIRED]
    assert "birth_date" in errors and "id_photo" not in errors


def test_a_file_that_is_not_a_photo_is_refused_at_its_field(clerk, pack):
    errors = refused(
        clerk,
        buyer_data(pack),
        id_photo=photo_upload(),
        face_photo=SimpleUploadedFile("face.jpg", b"not an image", content_type="image/jpeg"),
    )
    assert errors == {"face_photo": [NOT_A_PHOTO]}


def test_a_photo_above_the_limit_names_the_limit(clerk, pack, settings):
    settings.PHOTO_MAX_BYTES = 2 * 1024 * 1024
    big = SimpleUploadedFile("ktp.jpg", b"\xff\xd8" + b"0" * (3 * 1024 * 1024), "image/jpeg")
    errors = refused(clerk, buyer_data(pack), id_photo=big, face_photo=photo_upload("face.jpg"))
    assert errors == {"id_photo": ["The photo is too large. Send a photo of at most 2 MB."]}


def test_another_outlets_pack_and_an_unknown_number_get_the_same_answer(
    clerk, pack, other_pack, photos
):
    stock = ["This starter pack is not in your outlet's stock."]
    assert refused(clerk, buyer_data(other_pack), **photos) == {"msisdn": stock}
    unknown = buyer_data(pack, msisdn="081299990000")
    assert refused(clerk, unknown, **photos) == {"msisdn": stock}


def test_a_pack_already_registered_is_refused_at_its_number(clerk, pack, photos):
    StarterPack.objects.filter(pk=pack.pk).update(status=StarterPack.Status.REGISTERED)
    errors = refused(clerk, buyer_data(pack), **photos)
    assert errors == {"msisdn": ["This starter pack is already registered."]}


def test_the_iccid_of_another_pack_is_refused_naming_the_number(clerk, outlet, pack, photos):
    another = StarterPackFactory(outlet=outlet)
    errors = refused(clerk, buyer_data(pack, iccid=another.iccid), **photos)
    assert errors == {
        "iccid": [f"This ICCID does not belong to the starter pack {pack.msisdn}."],
    }
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.IN_STOCK


def test_the_registry_is_not_asked_while_another_fault_stands(clerk, pack, photos):
    # A buyer the population registry does not know, without consent: only the consent is
    # reported — the registry is asked last, once everything else holds.
    data = buyer_data(pack, in_registry=False, consent=False)
    errors = refused(clerk, data, **photos)
    assert errors == {"consent": ["The buyer must agree to the registration of their data."]}
    # With the consent, it is the registry that refuses.
    assert "consent" not in refused(clerk, {**data, "consent": True}, **photos)
