"""The door's forms: shape only; the rules are the services'."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

NUMERIC = {"inputmode": "numeric", "autocomplete": "off"}


class ServiceErrorsMixin:
    def add_service_errors(self, error: ValidationError) -> None:
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class StartForm(ServiceErrorsMixin, forms.Form):
    id_number = forms.CharField(
        label=_("NIK (on your e-KTP)"), max_length=40, widget=forms.TextInput(attrs=NUMERIC)
    )
    kk_number = forms.CharField(
        label=_("Family card number (KK)"), max_length=40, widget=forms.TextInput(attrs=NUMERIC)
    )
    msisdn = forms.CharField(
        label=_("One of your mobile numbers"),
        max_length=30,
        help_text=_("A number registered on your NIK that you hold now: the code goes there."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


class CodeForm(ServiceErrorsMixin, forms.Form):
    code = forms.CharField(
        label=_("The 6-digit code from the SMS"),
        max_length=12,
        widget=forms.TextInput(attrs={**NUMERIC, "autocomplete": "one-time-code"}),
    )


class FaceForm(ServiceErrorsMixin, forms.Form):
    id_number = forms.CharField(
        label=_("NIK (on your e-KTP)"), max_length=40, widget=forms.TextInput(attrs=NUMERIC)
    )
    face_photo = forms.ImageField(
        label=_("A photo of your face"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "user"}),
    )


class DisputeForm(ServiceErrorsMixin, forms.Form):
    number = forms.CharField(max_length=40, widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("What do you know about this number? (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReverseForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(
        label=_("The evidence seen (e.g. the number's user came with their e-KTP)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class StatementCheckForm(ServiceErrorsMixin, forms.Form):
    code = forms.CharField(label=_("Verification code"), max_length=20)
    file = forms.FileField(label=_("The statement (PDF file)"))
