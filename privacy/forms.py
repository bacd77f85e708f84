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


class ConfirmForm(VisibleTextFormMixin, forms.Form):
    confirm = forms.BooleanField(
        label=_("I checked the person's identity and confirm this action."), required=True
    )


class ExportForm(VisibleTextFormMixin, forms.Form):
    format = forms.ChoiceField(choices=[("json", "JSON"), ("csv", "CSV")])


class JobStartForm(VisibleTextFormMixin, forms.Form):
    kind = forms.ChoiceField(choices=PrivacyJob.Kind.choices)
