"""Forms of the dealer's pages. They check the shape of the input (present, not too long, a
known choice, one way of listing packs); the rules are the services', whose errors are put
back on the fields."""

from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.textclean import VisibleTextFormMixin

from . import stockfiles
from .models import Dealer, Outlet, OutletApplication, ResponsibleParty, TrainingSession
from .regions import PROVINCE_CHOICES
from .services import line_messages, range_message
from .services._common import NON_FIELD

CSV_MAX_BYTES = 16 * 1024 * 1024
DATE_INPUT = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


class ServiceErrorsMixin:
    """Put a service's ``ValidationError`` on the form's fields (``relabel`` maps the
    service's field names to this form's); the rest goes to the top of the form."""

    def add_service_errors(self, error: ValidationError, relabel: dict | None = None) -> None:
        messages = (
            error.message_dict if hasattr(error, "error_dict") else {NON_FIELD: error.messages}
        )
        for name, field_messages in messages.items():
            name = (relabel or {}).get(name, name)
            target = name if name in self.fields else None
            for message in field_messages:
                self.add_error(target, message)


class Form(VisibleTextFormMixin, ServiceErrorsMixin, forms.Form):
    """The dealer's forms: no zero-width, direction-changing or control characters in any
    text field (``core.textclean``)."""


# --- applications and outlets ------------------------------------------------------------------


class OutletApplicationForm(Form):
    name = forms.CharField(label=_("Outlet name"), max_length=150)
    owner_name = forms.CharField(label=_("Owner"), max_length=150)
    owner_phone = forms.CharField(
        label=_("Owner's phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "type": "tel"}),
    )
    owner_id_number = forms.CharField(
        label=_("Owner's NIK"),
        max_length=40,
        help_text=_("Kept encrypted: the outlet may never register a buyer with it."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    owner_kk_number = forms.CharField(
        label=_("Owner's family card (KK) number"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    address = forms.CharField(
        label=_("Address"), max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )
    region = forms.CharField(label=_("Regency / city"), max_length=100)
    province = forms.ChoiceField(label=_("Province"), choices=[("", "—"), *PROVINCE_CHOICES])
    staff_note = forms.CharField(
        label=_("Staff"),
        max_length=1000,
        required=False,
        help_text=OutletApplication._meta.get_field("staff_note").help_text,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DecisionForm(Form):
    reason = forms.CharField(
        label=_("Reason for rejecting"),
        max_length=300,
        required=False,
        help_text=_("The dealer sees it."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class OutletStatusForm(Form):
    ACTIONS = {
        "suspend": _("Suspend"),
        "reinstate": _("Reinstate"),
        "revoke": _("Revoke for good"),
    }
    action = forms.ChoiceField(label=_("Action"), widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        help_text=_("The dealer and the outlet's staff see it."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, outlet: Outlet, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = {
            Outlet.Status.ACTIVE: ("suspend", "revoke"),
            Outlet.Status.SUSPENDED: ("reinstate", "revoke"),
        }.get(outlet.status, ())
        self.fields["action"].choices = [(a, self.ACTIONS[a]) for a in allowed]


# --- staff -------------------------------------------------------------------------------------


class StaffInviteForm(Form):
    full_name = forms.CharField(
        label=_("Full name, as on the KTP"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "words"}),
    )
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("What the clerk types to log in: letters, digits and @ . + - _ only."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    id_number = forms.CharField(
        label=_("The clerk's NIK"),
        max_length=40,
        help_text=_(
            "16 digits. Kept encrypted: a clerk may not register buyers with their own ID."
        ),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    kk_number = forms.CharField(
        label=_("The clerk's family card (KK) number"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        required=False,
        help_text=_("Optional: the invitation link is also sent there."),
    )


class StaffRemoveForm(Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


# --- stock -------------------------------------------------------------------------------------


@dataclass
class PackSelection:
    lines: list | None
    span: stockfiles.MsisdnRange | None
    source: str
    field: str  # the form field the packs came from (where their faults belong)


class PackSelectionForm(Form):
    """One way of listing packs: a CSV file, numbers typed one per line, or a range."""

    allow_list = True
    with_iccid = False

    file = forms.FileField(
        label=_("CSV file"),
        required=False,
        help_text=_("UTF-8, with a header row: msisdn (and iccid)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    msisdns = forms.CharField(
        label=_("Numbers"),
        required=False,
        help_text=_("One per line, 08… or 62…"),
        widget=forms.Textarea(attrs={"rows": 4, "inputmode": "tel"}),
    )
    msisdn_from = forms.CharField(
        label=_("From number"),
        max_length=24,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    msisdn_to = forms.CharField(
        label=_("To number (included)"),
        max_length=24,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.allow_list:
            del self.fields["msisdns"]

    def clean(self):
        data = super().clean()
        given = [
            name
            for name in ("file", "msisdns", "msisdn_from")
            if name in self.fields and data.get(name)
        ]
        if data.get("msisdn_to") and "msisdn_from" not in given:
            self.add_error("msisdn_from", _("Give the first number of the range."))
        elif len(given) != 1:
            raise ValidationError(
                _("Give the packs one way: a CSV file, a list of numbers, or a range.")
                if self.allow_list
                else _("Give the packs one way: a CSV file or a range.")
            )
        elif given == ["msisdn_from"] and not data.get("msisdn_to"):
            self.add_error("msisdn_to", _("Give the last number of the range."))
        return data

    def selection(self) -> PackSelection | None:
        """The packs asked for, or None with the faults on the form (each at its line)."""
        data = self.cleaned_data
        if data.get("file"):
            upload = data["file"]
            if upload.size > CSV_MAX_BYTES:
                self.add_error("file", _("The file is too large (at most 16 MB)."))
                return None
            parsed = stockfiles.parse_pack_csv(upload.read(), with_iccid=self.with_iccid)
            selection = PackSelection(parsed.lines, None, f"file {upload.name}"[:200], "file")
        elif data.get("msisdns"):
            parsed = stockfiles.parse_msisdn_list(data["msisdns"])
            selection = PackSelection(parsed.lines, None, "list", "msisdns")
        else:
            try:
                span = stockfiles.parse_range(data["msisdn_from"], data["msisdn_to"])
            except stockfiles.RangeError as exc:
                self.add_error(exc.field, range_message(exc.code, **exc.params))
                return None
            return PackSelection(None, span, f"range {span.first}–{span.last}", "msisdn_to")
        if parsed.errors:
            for message in line_messages(parsed.errors):
                self.add_error(selection.field, message)
            return None
        return selection


class AllocateToDealerForm(PackSelectionForm):
    allow_list = False
    with_iccid = True

    dealer = forms.ModelChoiceField(
        label=_("Dealer"),
        queryset=Dealer.objects.filter(is_active=True).order_by("code"),
        to_field_name="code",
    )
    field_order = ["dealer", "file", "msisdn_from", "msisdn_to", "note"]


class AllocateToOutletForm(PackSelectionForm):
    outlet = forms.ModelChoiceField(label=_("Outlet"), queryset=Outlet.objects.none())
    field_order = ["outlet", "msisdns", "file", "msisdn_from", "msisdn_to", "note"]

    def __init__(self, *args, outlets, by_roid: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["outlet"]
        field.queryset = outlets.exclude(status=Outlet.Status.REVOKED)
        field.label_from_instance = lambda o: f"{o.roid} — {o.name}"
        if by_roid:
            # The operator's scope is every outlet: a list of tens of thousands is no picker.
            field.to_field_name = "roid"
            field.label = _("Outlet ROID")
            field.widget = forms.TextInput(attrs={"autocapitalize": "characters"})


class ReturnStockForm(Form):
    """Which packs to take back: the numbers listed, or every pack the outlet holds — chosen
    explicitly (an empty form takes nothing back) and, for every pack, confirmed on a page that
    states the count (``confirm_count`` carries the count the dealer saw)."""

    LIST, ALL = "list", "all"

    which = forms.ChoiceField(
        label=_("Which packs"),
        choices=[(LIST, _("The numbers I list")), (ALL, _("Every pack the outlet holds"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose which packs to take back.")},
    )
    msisdns = forms.CharField(
        label=_("Numbers to take back"),
        required=False,
        help_text=_("One per line."),
        widget=forms.Textarea(attrs={"rows": 3, "inputmode": "tel"}),
    )
    confirm_count = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("which") == self.LIST and not (data.get("msisdns") or "").strip():
            self.add_error(
                "msisdns",
                _("Enter the numbers to take back, one per line (or choose every pack)."),
            )
        return data


# --- agreements --------------------------------------------------------------------------------


class AgreementForm(Form):
    party = forms.ModelChoiceField(
        label=_("Party"),
        queryset=ResponsibleParty.objects.none(),
        required=False,
        empty_label=_("A new party (fill in below)"),
    )
    party_name = forms.CharField(label=_("New party: name"), max_length=150, required=False)
    party_registration_number = forms.CharField(
        label=_("NPWP / business registration number"), max_length=40, required=False
    )
    party_contact_name = forms.CharField(label=_("Contact person"), max_length=150, required=False)
    party_phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    reference = forms.CharField(label=_("Agreement number"), max_length=60, required=False)
    starts_on = forms.DateField(label=_("From"), input_formats=["%Y-%m-%d"], widget=DATE_INPUT)
    ends_on = forms.DateField(
        label=_("Until (included)"), input_formats=["%Y-%m-%d"], widget=DATE_INPUT
    )
    ranges = forms.CharField(
        label=_("Starter packs covered (MSISDN ranges)"),
        help_text=_(
            "One range per line: the first and the last number, separated by a comma. "
            "A single number is a range of one."
        ),
        widget=forms.Textarea(attrs={"rows": 3, "inputmode": "tel"}),
    )
    document = forms.FileField(
        label=_("Signed agreement"),
        help_text=_("A PDF or a photo (JPEG, PNG, WebP)."),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/*"}),
    )

    def __init__(self, *args, parties, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["party"].queryset = parties

    def clean(self):
        data = super().clean()
        if not data.get("party") and not (data.get("party_name") or "").strip():
            self.add_error("party_name", _("Choose a party or give the new party's name."))
        text = data.get("ranges") or ""
        spans, faults = stockfiles.parse_range_lines(text)
        for line, code, params in faults:
            message = range_message(code, **params)
            self.add_error(
                "ranges",
                _("Line %(line)d: %(message)s") % {"line": line, "message": message}
                if line
                else message,
            )
        data["spans"] = spans
        return data


class DocumentForm(Form):
    document = forms.FileField(
        label=_("Signed agreement"),
        help_text=_("A PDF or a photo (JPEG, PNG, WebP)."),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/*"}),
    )


# --- training ----------------------------------------------------------------------------------


class TrainingSessionForm(Form):
    held_on = forms.DateField(label=_("Date"), input_formats=["%Y-%m-%d"], widget=DATE_INPUT)
    topic = forms.CharField(label=_("Topic"), max_length=200)
    trainer = forms.CharField(label=_("Trainer"), max_length=150)
    audience = forms.ChoiceField(label=_("Audience"), choices=TrainingSession.Audience.choices)
    location = forms.CharField(label=_("Place"), max_length=200, required=False)

    def __init__(self, *args, audiences=None, **kwargs):
        super().__init__(*args, **kwargs)
        if audiences is not None:
            self.fields["audience"].choices = [
                (value, label)
                for value, label in TrainingSession.Audience.choices
                if value in audiences
            ]


class AttendanceForm(Form):
    users = forms.MultipleChoiceField(
        label=_("Who attended"), widget=forms.CheckboxSelectMultiple, choices=()
    )

    def __init__(self, *args, trainees, **kwargs):
        super().__init__(*args, **kwargs)
        self.trainees = {str(user.pk): user for user in trainees}
        self.fields["users"].choices = [(pk, _label(user)) for pk, user in self.trainees.items()]

    def chosen_users(self):
        return [self.trainees[pk] for pk in self.cleaned_data["users"]]


def _label(user) -> str:
    membership = getattr(user, "outlet_staff", None)
    where = membership.outlet.roid if membership is not None else _("dealer admin")
    return f"{user.get_full_name() or user.get_username()} ({where})"
