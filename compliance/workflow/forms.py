"""Forms of the compliance workflow's pages. They check shape only; the rules and their
messages are the services' (a service's ``ValidationError`` is put back on the fields)."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.textclean import VisibleTextFormMixin
from subscribers.models import IdType, Sex

from ..models import DiscrepancyKind, ReviewItem
from .review import ALLOWED
from .selectors import outlet_set_choices
from .support import NON_FIELD

DATE_FORMAT = "%Y-%m-%d"


class ServiceErrorsMixin:
    def add_service_errors(self, error: ValidationError) -> None:
        """Each message of a service's ``ValidationError`` on its field (or on top)."""
        messages = (
            error.message_dict if hasattr(error, "error_dict") else {NON_FIELD: error.messages}
        )
        for name, field_messages in messages.items():
            target = name if name in self.fields else None
            for message in field_messages:
                self.add_error(target, message)


class AnswerForm(ServiceErrorsMixin, VisibleTextFormMixin, forms.Form):
    """The outlet's answer: what happened, and, when the registration was wrong, the corrected
    fields (left empty: unchanged) with a photo of the buyer's document."""

    explanation = forms.CharField(
        label=_("What happened?"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required. Say what you checked and what you found."),
    )
    id_type = forms.ChoiceField(
        label=_("ID document"), required=False, choices=[("", "—"), *IdType.choices]
    )
    id_number = forms.CharField(
        label=_("ID number"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    kk_number = forms.CharField(
        label=_("Family card (KK) number"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    full_name = forms.CharField(label=_("Full name"), required=False, max_length=100)
    birth_place = forms.CharField(label=_("Place of birth"), required=False, max_length=100)
    birth_date = forms.CharField(
        label=_("Date of birth"),
        required=False,
        max_length=10,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sex = forms.ChoiceField(label=_("Sex"), required=False, choices=[("", "—"), *Sex.choices])
    address = forms.CharField(
        label=_("Address"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    nationality = forms.CharField(label=_("Nationality"), required=False, max_length=2)
    evidence_photo = forms.FileField(
        label=_("Photo of the buyer's document"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
        help_text=_("Required with a correction."),
    )

    CORRECTION_FIELDS = (
        "id_type",
        "id_number",
        "kk_number",
        "full_name",
        "birth_place",
        "birth_date",
        "sex",
        "address",
        "nationality",
    )

    def correction(self) -> dict:
        return {
            name: self.cleaned_data.get(name)
            for name in self.CORRECTION_FIELDS
            if self.cleaned_data.get(name)
        }


class DecisionForm(ServiceErrorsMixin, VisibleTextFormMixin, forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=ReviewItem.Decision.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required for every decision but accepting a correction; it is recorded."),
    )
    block_number = forms.BooleanField(
        label=_("Also block the number (with a confirmed violation)"), required=False
    )

    def __init__(self, *args, item: ReviewItem | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if item is not None:
            allowed = ALLOWED[item.kind]
            self.fields["decision"].choices = [
                (value, label) for value, label in ReviewItem.Decision.choices if value in allowed
            ]


class BulkDecisionForm(DecisionForm):
    items = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=True)

    def __init__(self, *args, item_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].choices = [(pk, pk) for pk in item_ids]


class QueueFilterForm(VisibleTextFormMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *ReviewItem.Kind.choices]
    )
    discrepancy_kind = forms.ChoiceField(
        label=_("Finding"),
        required=False,
        choices=[("", _("Any finding")), *DiscrepancyKind.choices],
    )
    province = forms.CharField(label=_("Province code"), required=False, max_length=2)
    region = forms.CharField(label=_("Regency / city"), required=False, max_length=100)
    dealer = forms.CharField(label=_("Dealer code"), required=False, max_length=20)
    outlet = forms.CharField(label=_("Outlet ROID"), required=False, max_length=20)
    older_than_days = forms.IntegerField(
        label=_("Queued more than … days ago"), required=False, min_value=1, max_value=3650
    )
    overdue = forms.ChoiceField(
        label=_("Deadline"),
        required=False,
        choices=[("", _("Any")), ("yes", _("Overdue")), ("no", _("Not yet due"))],
    )
    claimed = forms.ChoiceField(
        label=_("Claim"),
        required=False,
        choices=[
            ("", _("Anyone's")),
            ("free", _("Free")),
            ("mine", _("Mine")),
            ("others", _("Others'")),
        ],
    )
    outlet_set = forms.ChoiceField(label=_("Outlets"), required=False, choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The sets higher layers offer (``selectors.register_outlet_set``), known at run time.
        self.fields["outlet_set"].choices = [("", _("Every outlet")), *outlet_set_choices()]


class LiftForm(ServiceErrorsMixin, VisibleTextFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason for reinstating"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
