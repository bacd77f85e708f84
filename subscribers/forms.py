"""The registration form of the outlet clerk.

It checks the *shape* of the input only (present, not too long, a real date, a known choice).
The rules — NIK and KK structure, the pack, the policy in force, the photos — are the service's
(``services.registration_create``), and its errors are put back on the fields here, so the
clerk sees every fault next to the field it belongs to, with what they typed kept.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.textclean import VisibleTextFormMixin

from .models import Category, CitizenProof, IdType, RegistrationPolicy, Sex
from .rules import TEXT_LIMITS
from .services import NON_FIELD

DATE_FORMAT = "%Y-%m-%d"
PHOTO_FIELDS = ("id_photo", "face_photo")
# app.js scales camera pictures down to this before the upload (the worker keeps 1600 px too).
PHOTO_MAX_SIDE = 1600


class RegistrationForm(VisibleTextFormMixin, forms.Form):
    msisdn = forms.CharField(
        label=_("Phone number (MSISDN)"),
        max_length=20,
        help_text=_("Pick a starter pack of your outlet or type the number, 08… or 62…"),
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "off", "list": "packs-in-stock"}
        ),
    )
    iccid = forms.CharField(
        label=_("ICCID (SIM card number)"),
        max_length=22,
        required=False,
        help_text=_("Optional: the 18–20 digits printed on the SIM card, starting with 89."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    id_type = forms.ChoiceField(
        label=_("ID document"),
        choices=IdType.choices,
        error_messages={
            "invalid_choice": _("Choose one of the ID documents accepted under the rules in force.")
        },
    )
    id_number = forms.CharField(
        label=_("ID number"),
        max_length=40,
        help_text=_("For a KTP: the 16-digit NIK."),
        widget=forms.TextInput(attrs={"inputmode": "text", "autocomplete": "off"}),
    )
    kk_number = forms.CharField(
        label=_("Family card (KK) number"),
        max_length=40,
        required=False,
        help_text=_("16 digits, on the buyer's Kartu Keluarga."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    full_name = forms.CharField(
        label=_("Full name, as on the document"),
        max_length=TEXT_LIMITS["full_name"],
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "words"}),
    )
    birth_place = forms.CharField(
        label=_("Place of birth"),
        max_length=TEXT_LIMITS["birth_place"],
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "words"}),
    )
    birth_date = forms.DateField(
        label=_("Date of birth"),
        input_formats=[DATE_FORMAT],
        error_messages={"invalid": _("Enter the date as YYYY-MM-DD, e.g. 1990-08-17.")},
        widget=forms.DateInput(format=DATE_FORMAT, attrs={"type": "date"}),
    )
    sex = forms.ChoiceField(
        label=_("Sex"),
        choices=Sex.choices,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose M (male) or F (female).")},
    )
    address = forms.CharField(
        label=_("Address"),
        max_length=TEXT_LIMITS["address"],
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}),
    )
    nationality = forms.CharField(
        label=_("Nationality"),
        max_length=2,
        min_length=2,
        initial="ID",
        help_text=_("Two-letter country code: ID for Indonesian citizens."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )
    guardian_id_number = forms.CharField(
        label=_("NIK of the head of family (buyers under 17)"),
        max_length=40,
        required=False,
        help_text=_(
            "Only for a buyer under the age the rules set: the head of family on the buyer's "
            "KK, whose face is photographed and verified instead."
        ),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    category = forms.ChoiceField(
        label=_("Whose number"),
        choices=Category.choices,
        initial=Category.PERSONAL,
        required=False,
        help_text=_(
            "Corporate and M2M numbers are a company's, registered under the NIK of its person "
            "in charge; they do not count against that person's cap."
        ),
    )
    company_name = forms.CharField(
        label=_("Company (corporate or M2M)"),
        max_length=TEXT_LIMITS["company_name"],
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    declared_purpose = forms.CharField(
        label=_("Purpose of the numbers"),
        max_length=TEXT_LIMITS["declared_purpose"],
        required=False,
        help_text=_("Required when one NIK would hold more numbers than the rules' limit."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    id_photo = forms.FileField(
        label=_("Photo of the ID document"),
        required=False,
        widget=forms.FileInput(
            attrs={"accept": "image/*", "capture": "environment", "data-max-side": PHOTO_MAX_SIDE}
        ),
    )
    face_photo = forms.FileField(
        label=_("Photo of the buyer's face"),
        required=False,
        widget=forms.FileInput(
            attrs={"accept": "image/*", "capture": "user", "data-max-side": PHOTO_MAX_SIDE}
        ),
    )
    consent = forms.BooleanField(
        label=_(
            "The buyer agrees that their data is registered with the operator for this number."
        ),
        error_messages={"required": _("The buyer must agree to the registration of their data.")},
    )
    document_checked = forms.BooleanField(
        label=_("I checked the buyer's original ID document in person, and it is theirs."),
        error_messages={
            "required": _("Confirm that you checked the buyer's original document in person.")
        },
    )
    statement_signed = forms.BooleanField(
        label=_("The buyer signed the statement (surat pernyataan)."),
        required=False,
    )

    def __init__(self, *args, policy: RegistrationPolicy | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        if policy is not None:
            # The policy in force decides what is asked for; the service checks it again.
            self.fields["id_type"].choices = [
                (value, label) for value, label in IdType.choices if policy.accepts(value)
            ]
            self.fields["id_photo"].required = policy.id_photo_required
            self.fields["face_photo"].required = policy.face_photo_required
            if policy.kk_required:
                self.fields["kk_number"].help_text = _(
                    "Required for Indonesian citizens (KTP or SIM): 16 digits, on the buyer's "
                    "Kartu Keluarga."
                )
            elif policy.citizen_proof == CitizenProof.NIK_KK_OR_FACE:
                self.fields["kk_number"].help_text = _(
                    "Indonesian citizens: the KK number, or else a photo of the buyer's face "
                    "that the population registry verifies."
                )
            if policy.citizen_proof == CitizenProof.NIK_FACE:
                self.fields["face_photo"].help_text = _(
                    "Required for Indonesian citizens: the population registry verifies it. It "
                    "is deleted after 72 hours."
                )
            if not policy.signed_statement_required:
                del self.fields["statement_signed"]
            if not policy.minor_age_limit:
                del self.fields["guardian_id_number"]

    def clean_nationality(self) -> str:
        return self.cleaned_data["nationality"].upper()

    def service_data(self) -> dict:
        """The fields as the registration service takes them (the same names as the API)."""
        return {
            name: value for name, value in self.cleaned_data.items() if name not in PHOTO_FIELDS
        }

    def raw_service_data(self) -> dict:
        """The submitted values, unvalidated, for checking the rules when the shape is wrong."""
        return {name: self.data.get(name, "") for name in self.fields if name not in PHOTO_FIELDS}

    def add_service_errors(self, error: ValidationError, *, skip_fields_with_errors=False) -> None:
        """Put each message of the service's ``ValidationError`` on its field; anything not
        about one field of this form goes to the top of the form."""
        messages = (
            error.message_dict if hasattr(error, "error_dict") else {NON_FIELD: error.messages}
        )
        for name, field_messages in messages.items():
            target = name if name in self.fields else None
            if skip_fields_with_errors and target is not None and target in self.errors:
                continue
            for message in field_messages:
                if target is None and message in self.non_field_errors():
                    continue
                self.add_error(target, message)
