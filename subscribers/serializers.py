"""API serializers of the subscribers app.

Input serializers check SHAPE only: types, lengths, formats and choices, so that a 10 000-character
field or a date written ``17/08/1990`` gets a clear 400 before any rule runs. The rules (NIK,
policy in force, the pack, consent...) belong to ``services.registration_prepare``; output
serializers never carry an unmasked ID number.
"""

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.disclosure import PersonalField
from core.textclean import VisibleTextSerializerMixin

from .models import Category, IdType, Registration, Sex
from .rules import TEXT_LIMITS

# Generous enough for what people type ("+62 812-3456-7890", an ICCID in groups of four, a NIK
# with separators), tight enough that junk is refused before the rules see it.
MSISDN_MAX = 24
ICCID_MAX = 30
ID_NUMBER_MAX = 40


def _interpolate(message, **params) -> str:
    return str(message) % params


lazy_interpolate = lazy(_interpolate, str)


class RegistrationInputSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    """The body of ``POST /registrations/`` and ``/registrations/validate/`` sent as JSON."""

    msisdn = serializers.CharField(
        max_length=MSISDN_MAX,
        help_text=_("The starter pack's number, 62… or 08… (stored as 62…)."),
    )
    iccid = serializers.CharField(
        max_length=ICCID_MAX,
        required=False,
        allow_blank=True,
        help_text=_("Optional; when given it must be the pack's ICCID."),
    )
    id_type = serializers.ChoiceField(
        choices=IdType.choices,
        error_messages={
            # Lazy: rendered per request, in the caller's language.
            "invalid_choice": lazy_interpolate(
                _("Unknown ID type. Choose one of: %(types)s."), types=", ".join(IdType.values)
            )
        },
    )
    id_number = serializers.CharField(max_length=ID_NUMBER_MAX)
    kk_number = serializers.CharField(
        max_length=ID_NUMBER_MAX,
        required=False,
        allow_blank=True,
        help_text=_("Family card number, where the policy in force requires it."),
    )
    full_name = serializers.CharField(max_length=TEXT_LIMITS["full_name"])
    birth_place = serializers.CharField(max_length=TEXT_LIMITS["birth_place"])
    birth_date = serializers.DateField(
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _("Enter a real date as YYYY-MM-DD, e.g. 1990-08-17.")},
    )
    sex = serializers.ChoiceField(
        choices=Sex.choices,
        error_messages={"invalid_choice": _("Choose M (male) or F (female).")},
    )
    address = serializers.CharField(max_length=TEXT_LIMITS["address"])
    nationality = serializers.CharField(
        min_length=2,
        max_length=2,
        required=False,
        default="ID",
        help_text=_("ISO 3166 alpha-2 country code."),
    )
    consent = serializers.BooleanField(help_text=_("The buyer's consent: must be true."))
    document_checked = serializers.BooleanField(
        help_text=_(
            "The clerk attests having checked the original document in person: must be given, "
            "and true."
        ),
        error_messages={
            "required": _("Say whether you checked the buyer's original document in person (true).")
        },
    )
    category = serializers.ChoiceField(
        choices=Category.choices,
        required=False,
        default=Category.PERSONAL,
        help_text=_(
            "personal (counts against the holder's cap), or corporate / m2m: a company's "
            "number under the NIK of its person in charge (outside the personal cap)."
        ),
    )
    company_name = serializers.CharField(
        max_length=TEXT_LIMITS["company_name"],
        required=False,
        allow_blank=True,
        help_text=_("The company, for a corporate or M2M number."),
    )
    guardian_id_number = serializers.CharField(
        max_length=ID_NUMBER_MAX,
        required=False,
        allow_blank=True,
        help_text=_(
            "For a buyer under the rule set's minor age (17 in 2026): the NIK of the head of "
            "family on the buyer's KK, whose face the registry verifies."
        ),
    )
    declared_purpose = serializers.CharField(
        max_length=TEXT_LIMITS["declared_purpose"],
        required=False,
        allow_blank=True,
        help_text=_("Why one NIK holds this many numbers (required above the rule set's limit)."),
    )
    statement_signed = serializers.BooleanField(
        required=False,
        help_text=_("The buyer signed the statement, where the rule set in force requires one."),
    )


class RegistrationWithPhotosInputSerializer(RegistrationInputSerializer):
    """The same body sent as ``multipart/form-data``, with the photos the policy may require.

    Files are only checked for being files here; ``services`` inspects the image itself (type,
    size, completeness) and answers with a message at the photo's field.
    """

    id_photo = serializers.FileField(required=False, help_text=_("JPEG, PNG or WebP."))
    face_photo = serializers.FileField(required=False, help_text=_("JPEG, PNG or WebP."))

    def split(self) -> tuple[dict, dict]:
        """The validated fields for the service, and the photos as keyword arguments."""
        data = dict(self.validated_data)
        photos = {name: data.pop(name, None) for name in ("id_photo", "face_photo")}
        return data, photos


class RegistrationFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    """Query parameters of ``GET /registrations/``."""

    q = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text=_("MSISDN (partial, 08… or 62…) or registration number (exact)."),
    )
    status = serializers.ChoiceField(
        choices=Registration.Status.choices, required=False, allow_blank=True
    )
    outlet = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text=_("Outlet ROID.")
    )


class RegistrationSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    """A registration as the API shows it, to each role as ``core.disclosure`` says: ID and KK
    numbers masked, never in full; the buyer's name masked for the regulator."""

    outlet_roid = serializers.CharField(source="outlet.roid", read_only=True)
    full_name = PersonalField()
    id_number_masked = PersonalField()
    kk_number_masked = PersonalField()

    class Meta:
        model = Registration
        fields = [
            "id",
            "registration_number",
            "status",
            "msisdn",
            "iccid",
            "outlet_roid",
            "id_type",
            "id_number_masked",
            "kk_number_masked",
            "full_name",
            "category",
            "company_name",
            "photo_status",
            "source",
            "warnings",
            "refusal_reason",
            "registered_at",
            "created_at",
        ]
        read_only_fields = fields


class NoteSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ValidationResultSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    valid = serializers.BooleanField(help_text=_("Always true: a failing body gets a 400."))
    outcome = serializers.ChoiceField(
        choices=["registered", "awaiting_verification"],
        help_text=_(
            "What a create would do now: register, or — the population registry being "
            "unreachable — keep the registration awaiting verification (pack not activated)."
        ),
    )
    warnings = NoteSerializer(many=True)


class RevealedIdNumberSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    id_number = serializers.CharField(help_text=_("The full ID number. The disclosure is audited."))
