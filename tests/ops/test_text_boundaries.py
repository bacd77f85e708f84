"""One validator at every boundary where people type text (``core.textclean``): generated over
every form and serializer class of the project, so a new form or serializer with a text field
that lets a zero-width space, a right-to-left override or a NUL through fails here, named.

Serializers are instantiated and each writable text field must carry
``validate_visible_text``; forms must mix in ``VisibleTextFormMixin`` (which adds it to each
text field but passwords) when they declare a text field. A behaviour check then sends the
characters through a real form and a real serializer of each app that takes buyers' data.
"""

import pytest
from django import forms
from django.utils import translation
from rest_framework import serializers

from core.textclean import VisibleTextFormMixin, validate_visible_text
from tests.ops.test_access_matrix import collected

PROJECT_APPS = ("accounts", "compliance", "outlets", "privacy", "reports", "subscribers")
HOSTILE = ["Siti\u200bNur", "Jl. Kenanga \u202egpj.exe", "Budi\x00", "Ani\u2066x\u2069"]


def _classes(base):
    collected()  # importing the URL conf imports every view, form and API module
    seen, todo = set(), [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return sorted(
        (c for c in seen if c.__module__.split(".")[0] in PROJECT_APPS),
        key=lambda c: f"{c.__module__}.{c.__qualname__}",
    )


def _is_free_text(field) -> bool:
    return isinstance(field, serializers.CharField) and not isinstance(
        field, serializers.ChoiceField
    )


def test_every_writable_text_field_of_every_serializer_refuses_invisible_characters():
    missing, seen = [], 0
    for cls in _classes(serializers.BaseSerializer):
        for name, field in cls().fields.items():
            if field.read_only or not _is_free_text(field):
                continue
            if field.style.get("input_type") == "password":
                continue
            seen += 1
            if validate_visible_text not in field.validators:
                missing.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert seen >= 30, "the walk no longer sees the serializers"
    assert not missing, (
        "text fields without core.textclean.validate_visible_text (add "
        "VisibleTextSerializerMixin to the serializer):\n  " + "\n  ".join(missing)
    )


def test_every_form_with_a_text_field_refuses_invisible_characters():
    missing = []
    for cls in _classes(forms.BaseForm):
        text = [
            name
            for name, field in cls.base_fields.items()
            if isinstance(field, forms.CharField)
            and getattr(field.widget, "input_type", None) != "password"
        ]
        if text and not issubclass(cls, VisibleTextFormMixin):
            missing.append(f"{cls.__module__}.{cls.__qualname__} ({', '.join(text)})")
    assert not missing, "forms with text fields without VisibleTextFormMixin:\n  " + "\n  ".join(
        missing
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_a_buyers_answer_and_registration_refuse_them(value):
    """Through the API's bodies: a clarification's answer and a registration."""
    from compliance.workflow.api.clarifications import AnswerInputSerializer
    from subscribers.serializers import RegistrationInputSerializer

    answer = AnswerInputSerializer(data={"explanation": value, "address": value})
    with translation.override("en"):
        assert not answer.is_valid()
    assert set(answer.errors) == {"explanation", "address"}
    body = RegistrationInputSerializer(data={"full_name": value, "address": value})
    with translation.override("en"):
        assert not body.is_valid()
    assert "full_name" in body.errors and "address" in body.errors
    assert any("invisible or control" in str(m) for m in body.errors["address"])


@pytest.mark.parametrize("value", HOSTILE)
def test_the_registration_and_answer_forms_refuse_them(value):
    from compliance.workflow.forms import AnswerForm
    from subscribers.forms import RegistrationForm

    with translation.override("en"):
        answer = AnswerForm(data={"explanation": value, "address": value})
        assert not answer.is_valid()
        assert "explanation" in answer.errors and "address" in answer.errors
        registration = RegistrationForm(data={"address": value, "full_name": value})
        assert not registration.is_valid()
        assert any("invisible or control" in m for m in registration.errors["address"])
