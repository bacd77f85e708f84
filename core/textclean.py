"""Text from people: which characters it may not carry (one place, for forms, serializers and
query parameters).

- **Control characters** (C0 and C1 except tab, line feed, carriage return; DEL): NUL breaks
  PostgreSQL, escapes break terminals and CSV viewers. Refused everywhere
  (``has_control_characters``).
- **Invisible and direction-changing characters** in free text and names: zero-width spaces and
  joiners, the word joiner, soft hyphen, BOM, and the bidirectional embeddings, overrides and
  isolates (U+202A–U+202E, U+2066–U+2069: "Trojan Source", a right-to-left override that shows
  ``txt.exe`` as ``exe.txt``). ``validate_visible_text`` refuses them (Django validator, usable
  by forms, model fields and DRF serializers).
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)


def has_control_characters(value: str) -> bool:
    return bool(_CONTROL.search(value))


def invisible_characters(value: str) -> list[str]:
    """The control, invisible and direction-changing characters of ``value``, as ``U+XXXX``."""
    found = [m.group() for m in _CONTROL.finditer(value)] + [
        m.group() for m in _INVISIBLE.finditer(value)
    ]
    # Format characters (Cf) not listed above: tags, interlinear annotations…
    found += [c for c in value if unicodedata.category(c) == "Cf" and c not in found]
    return sorted({f"U+{ord(c):04X}" for c in found})


def validate_visible_text(value) -> None:
    """Refuse control, invisible (zero-width) and bidirectional-override characters."""
    if not isinstance(value, str) or not value:
        return
    found = invisible_characters(value)
    if found:
        raise ValidationError(
            _("Remove the invisible or control characters (%(chars)s)."),
            code="invisible_characters",
            params={"chars": ", ".join(found[:5])},
        )


def _is_password(widget_or_style) -> bool:
    return getattr(widget_or_style, "input_type", None) == "password"


class VisibleTextFormMixin:
    """Every text field of the form refuses invisible and control characters (passwords
    excepted: they are never shown, and any character is theirs to use)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django import forms

        for field in self.fields.values():
            if (
                isinstance(field, forms.CharField)
                and not _is_password(field.widget)
                and validate_visible_text not in field.validators
            ):
                field.validators.append(validate_visible_text)


class VisibleTextSerializerMixin:
    """The same for a DRF serializer's writable text fields."""

    def get_fields(self):
        from rest_framework import serializers

        fields = super().get_fields()
        for field in fields.values():
            if (
                isinstance(field, serializers.CharField)
                and not field.read_only
                and field.style.get("input_type") != "password"
                and validate_visible_text not in field.validators
            ):
                field.validators.append(validate_visible_text)
        return fields
