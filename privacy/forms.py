"""Forms of the operator admin's privacy pages: shape only; the services check the rules."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.idnumbers import MAX_SEARCH_LENGTH
from core.textclean import VisibleTextFormMixin

from .models import DataSubjectRequest, PrivacyJob


class SubjectLookupForm(VisibleTextFormMixin, forms.Form):
    id_number = forms.CharField(
        label=_("ID number (NIK, passport, KITAS/KITAP, SIM or student card)"),
        max_length=MAX_SEARCH_LENGTH + 10,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    channel = forms.ChoiceField(
        label=_("Request received through"), choices=DataSubjectRequest.Channel.choices
    )
    reference = forms.CharField(
        label=_("Reference (letter or ticket number)"), max_length=100, required=False
    )
    notes = forms.CharField(
        label=_("How the person's identity was checked, and on whose behalf they ask"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )
    # Optional: where one ID number's records disagree (one NIK, two people), the person's name
    # and birth date as on their document tell their records from another's.
    full_name = forms.CharField(
        label=_("Name, as on the document (optional)"), max_length=200, required=False
    )
    birth_date = forms.DateField(
        label=_("Date of birth (optional)"),
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _("Enter the date as YYYY-MM-DD, e.g. 1990-08-17.")},
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )


class ConfirmForm(VisibleTextFormMixin, forms.Form):
    confirm = forms.BooleanField(
        label=_("I checked the person's identity and confirm this action."), required=True
    )


class ExportForm(VisibleTextFormMixin, forms.Form):
    format = forms.ChoiceField(choices=[("json", "JSON"), ("csv", "CSV")])


class JobStartForm(VisibleTextFormMixin, forms.Form):
    kind = forms.ChoiceField(choices=PrivacyJob.Kind.choices)


class DecideForm(forms.Form):
    """One choice per record the number matched ambiguously: this person's, or not; a record
    left undecided stays ambiguous."""

    CHOICES = [
        ("", _("Not decided")),
        ("include", _("This person's")),
        ("exclude", _("Another person's")),
    ]

    def __init__(self, *args, keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        for key in keys:
            self.fields[key] = forms.ChoiceField(choices=self.CHOICES, required=False)

    def decisions(self) -> dict:
        return {key: value for key, value in self.cleaned_data.items() if value}
