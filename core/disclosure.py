"""What each role is shown of a buyer's personal data: the one disclosure policy.

Every serializer, page and export that shows a buyer's name, birth date, birth place, address,
ID number or photo asks this module what the viewer may see; none decides on its own. The policy
is a table (docs/security.md, "Masking by role"): per role and kind of data, **full**,
**masked** (a form that confirms without disclosing: initials, the birth year) or **withheld**
(nothing of it). ID and KK numbers are never shown in full here: revealing one needs the
``subscribers.reveal_id_number`` permission and is audited by the registration service.

The masked forms are ``core.masking``'s. Values inside mappings (a clarification's correction, a
discrepancy's two sides, the operator's record) are masked by their key (``FIELD_KINDS``), so a
correction of ``address`` is masked like the registration's ``address``.

The serializer fields at the end (``PersonalField``, ``PersonalMappingField``) apply the policy
for the request's user; ``tests/ops/test_disclosure.py`` walks every serializer of the API and
every page and fails when a personal field reaches a role unmasked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import roles
from .masking import mask_id_number, mask_msisdn, mask_name


class Kind(StrEnum):
    NAME = "name"
    BIRTH_DATE = "birth_date"
    BIRTH_PLACE = "birth_place"
    ADDRESS = "address"
    ID_NUMBER = "id_number"
    MSISDN = "msisdn"
    PHOTO = "photo"
    # Why one NIK holds more numbers than the declared-purpose threshold: reported to the
    # regulator by rule, so every signed-in role reads it; never on a public receipt link.
    PURPOSE = "declared_purpose"
    # What someone wrote about a buyer's case in their own words (an outlet's explanation in a
    # clarification answer): it can carry any of the above, unmasked, so it is shown whole or
    # not at all.
    FREE_TEXT = "free_text"


class Shown(StrEnum):
    FULL = "full"
    MASKED = "masked"
    WITHHELD = "withheld"


# Who sees what. Roles not listed (and anyone not signed in, e.g. a receipt link) get PUBLIC.
_STAFF = {
    Kind.NAME: Shown.FULL,
    Kind.BIRTH_DATE: Shown.FULL,
    Kind.BIRTH_PLACE: Shown.FULL,
    Kind.ADDRESS: Shown.FULL,
    Kind.ID_NUMBER: Shown.MASKED,
    Kind.MSISDN: Shown.FULL,
    Kind.PHOTO: Shown.FULL,
    Kind.PURPOSE: Shown.FULL,
    Kind.FREE_TEXT: Shown.FULL,
}
# The regulator supervises: it sees that a registration exists, who registered it, when and
# under which rules, never who the buyer is.
_REGULATOR = {
    Kind.NAME: Shown.MASKED,
    Kind.BIRTH_DATE: Shown.MASKED,
    Kind.BIRTH_PLACE: Shown.MASKED,
    Kind.ADDRESS: Shown.WITHHELD,
    Kind.ID_NUMBER: Shown.MASKED,
    Kind.MSISDN: Shown.FULL,
    Kind.PHOTO: Shown.WITHHELD,
    Kind.PURPOSE: Shown.FULL,
    # That an outlet answered, when, in which round, with which outcome and which (masked)
    # correction is supervision; what it wrote about the buyer is not.
    Kind.FREE_TEXT: Shown.WITHHELD,
}
# A shared receipt link (no account): enough for the buyer to recognise their receipt.
_PUBLIC = {
    Kind.NAME: Shown.MASKED,
    Kind.BIRTH_DATE: Shown.WITHHELD,
    Kind.BIRTH_PLACE: Shown.WITHHELD,
    Kind.ADDRESS: Shown.WITHHELD,
    Kind.ID_NUMBER: Shown.MASKED,
    Kind.MSISDN: Shown.MASKED,
    Kind.PHOTO: Shown.WITHHELD,
    Kind.PURPOSE: Shown.WITHHELD,
    Kind.FREE_TEXT: Shown.WITHHELD,
}
POLICY: dict[str, dict[Kind, Shown]] = {
    roles.OPERATOR: _STAFF,
    roles.GRAPARI: _STAFF,
    roles.DEALER_ADMIN: _STAFF,
    roles.OUTLET_STAFF: _STAFF,
    roles.REGULATOR: _REGULATOR,
    "public": _PUBLIC,
}
PUBLIC = "public"

# The keys under which a buyer's data travels, in models, serializers and stored mappings.
FIELD_KINDS: dict[str, Kind] = {
    "full_name": Kind.NAME,
    "birth_date": Kind.BIRTH_DATE,
    "birth_place": Kind.BIRTH_PLACE,
    "address": Kind.ADDRESS,
    "id_number": Kind.ID_NUMBER,
    "kk_number": Kind.ID_NUMBER,
    "guardian_id_number": Kind.ID_NUMBER,
    "id_number_masked": Kind.ID_NUMBER,
    "kk_number_masked": Kind.ID_NUMBER,
    "guardian_id_number_masked": Kind.ID_NUMBER,
    "declared_purpose": Kind.PURPOSE,
    "explanation": Kind.FREE_TEXT,
}
# What a withheld value reads as (it exists; nothing of it is shown).
WITHHELD_TEXT = "***"


def role_of(user) -> str:
    """The policy's row for ``user``: the operator admin whatever its role field says, the
    regulator, the other roles by name; anyone not signed in is ``public``. A signed-in
    account without a role works through its membership (an outlet's staff, a dealer's admin)
    and is read as outlet staff: what it may see at all is its scope's business
    (``outlets.selectors.scope``), not this table's."""
    if not roles.is_signed_in(user):
        return PUBLIC
    if roles.is_operator(user):
        return roles.OPERATOR
    role = getattr(user, "role", "")
    return role if role in POLICY and role != PUBLIC else roles.OUTLET_STAFF


def shown(user, kind: Kind) -> Shown:
    return POLICY[role_of(user)][kind]


def sees_in_full(user, kind: Kind) -> bool:
    return shown(user, kind) == Shown.FULL


def sees_every_detail(user) -> bool:
    """Whether ``user`` sees a buyer's name, birth date and place, address and photos in full
    (ID numbers aside): pages that list a record's values side by side show them only then."""
    return all(
        sees_in_full(user, kind)
        for kind in (Kind.NAME, Kind.BIRTH_DATE, Kind.BIRTH_PLACE, Kind.ADDRESS, Kind.PHOTO)
    )


def _masked(kind: Kind, value):
    if kind == Kind.BIRTH_DATE:
        text = value.isoformat() if isinstance(value, date) else str(value)
        return f"{text[:4]}-**-**"
    if kind == Kind.ID_NUMBER:
        return mask_id_number(str(value))
    if kind == Kind.MSISDN:
        return mask_msisdn(str(value))
    if kind == Kind.ADDRESS:
        return WITHHELD_TEXT
    return mask_name(str(value))


def disclose(user, kind: Kind, value):
    """``value`` as ``user`` may see it. Empty values stay as they are (nothing to hide)."""
    if value is None or value == "":
        return value
    level = shown(user, kind)
    if level == Shown.FULL:
        return value
    if level == Shown.WITHHELD:
        return None if kind in (Kind.BIRTH_DATE, Kind.PHOTO) else WITHHELD_TEXT
    return _masked(kind, value)


def disclose_mapping(user, values: Mapping | None) -> dict:
    """A mapping of field name → value (a correction, one side of a discrepancy, the
    operator's record) with each personal value as ``user`` may see it; nested mappings too."""
    if not isinstance(values, Mapping):
        return values
    result = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            result[key] = disclose_mapping(user, value)
        elif key in FIELD_KINDS:
            result[key] = disclose(user, FIELD_KINDS[key], value)
        else:
            result[key] = value
    return result


def disclose_fields(user, obj, *names: str) -> dict[str, object]:
    """``{name: value}`` of ``obj``'s attributes as ``user`` may see them (for pages)."""
    return {name: disclose(user, FIELD_KINDS[name], getattr(obj, name)) for name in names}


# --- serializer fields ------------------------------------------------------------------------


def _request_user(field: serializers.Field):
    request = field.context.get("request") if hasattr(field, "context") else None
    return getattr(request, "user", None)


@extend_schema_field({"type": "string", "nullable": True})
class PersonalField(serializers.Field):
    """A read-only value of a buyer's data, shown to the request's user as the policy says.

    ``kind`` defaults to the field's name in ``FIELD_KINDS``. In the schema it is a string (a
    masked date is not a date), nullable where the policy may withhold it."""

    def __init__(self, kind: Kind | None = None, **kwargs):
        self.kind = kind
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def bind(self, field_name, parent):
        super().bind(field_name, parent)
        if self.kind is None:
            self.kind = FIELD_KINDS[self.source.rsplit(".", 1)[-1]]

    def to_representation(self, value):
        if isinstance(value, date):
            value = value.isoformat()
        return disclose(_request_user(self), self.kind, value)


@extend_schema_field({"type": "object", "additionalProperties": True})
class PersonalMappingField(serializers.Field):
    """A read-only mapping (a correction, a discrepancy's sides) with each personal value shown
    to the request's user as the policy says."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return disclose_mapping(_request_user(self), value)
