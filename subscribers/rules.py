"""The field rules of a registration, shared by the form, the API and the bulk import.

No database access here: the callers fetch what the rules need (the policy in force, the pack,
counts) in whatever way suits them — one row at a time for the form, in bulk for an import —
and this module decides. Every fault is collected, so the clerk sees all of them at once.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from identity import idrules
from identity.messages import id_rule_message

TEXT_LIMITS = {"full_name": 100, "birth_place": 100, "address": 300}
ISO_COUNTRY_LEN = 2
# Characters an address may not hold: markup brackets and control characters (below U+0020).
_ADDRESS_REFUSED = re.compile(r"[<>\x00-\x1f]")


@dataclass
class CleanRegistration:
    msisdn: str
    iccid: str
    id_type: str
    id_number: str
    kk_number: str
    full_name: str
    birth_place: str
    birth_date: date
    sex: str
    address: str
    nationality: str
    review_reasons: list[dict] = field(default_factory=list)


class FieldErrors:
    """Collects errors per field, then raises one ValidationError holding them all."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(str(message))

    @property
    def total(self) -> int:
        return sum(len(messages) for messages in self.errors.values())

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _text(data: Mapping, name: str) -> str:
    value = data.get(name)
    if type(value) is str:  # the usual case, without a call to str()
        return value.strip()
    return "" if value is None else str(value).strip()


def parse_iso_date(value) -> date | None:
    """Strict ``YYYY-MM-DD``; a date object passes through; anything else is None."""
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"true", "1", "yes", "on", "ya"}


def clean_registration_fields(
    data: Mapping, *, policy, today: date, errors: FieldErrors | None = None
) -> CleanRegistration | None:
    """Check every field of ``data`` against the identity rules and ``policy``.

    Adds each fault to ``errors`` (at its field) and returns None if there was any; otherwise
    returns the normalised values. Consent and photos are the caller's (they differ by channel).
    """
    errors = errors if errors is not None else FieldErrors()
    start = errors.total

    # --- the starter pack ---------------------------------------------------------------------
    msisdn = ""
    try:
        msisdn = idrules.normalize_msisdn(_text(data, "msisdn"))
    except idrules.IdRuleError as exc:
        errors.add("msisdn", id_rule_message(exc))
    iccid = _text(data, "iccid")
    if iccid:
        try:
            iccid = idrules.validate_iccid(iccid)
        except idrules.IdRuleError as exc:
            errors.add("iccid", id_rule_message(exc))

    # --- the person -----------------------------------------------------------------------------
    names: dict[str, str] = {}
    for name_field in ("full_name", "birth_place"):
        raw = _text(data, name_field)
        if not raw:
            errors.add(name_field, _("This field is required."))
            continue
        try:
            names[name_field] = idrules.clean_person_name(raw)
        except idrules.IdRuleError as exc:
            if name_field == "birth_place" and exc.code == "name_chars":
                errors.add(name_field, _("Use letters, spaces, dots and hyphens only."))
            else:
                errors.add(name_field, id_rule_message(exc))

    address = " ".join(_text(data, "address").split())
    if not address:
        errors.add("address", _("This field is required."))
    elif len(address) > TEXT_LIMITS["address"]:
        errors.add(
            "address",
            _("At most %(limit)d characters.") % {"limit": TEXT_LIMITS["address"]},
        )
    elif _ADDRESS_REFUSED.search(address):
        errors.add("address", _("The address contains characters that are not allowed."))

    raw_birth_date = data.get("birth_date")
    birth_date = parse_iso_date(raw_birth_date)
    if raw_birth_date in (None, ""):
        errors.add("birth_date", _("This field is required."))
    elif birth_date is None:
        errors.add("birth_date", _("Enter the date as YYYY-MM-DD, e.g. 1990-08-17."))
    elif birth_date > today:
        errors.add("birth_date", _("The date of birth cannot be in the future."))
    elif birth_date.year < today.year - 120:
        errors.add("birth_date", _("The date of birth is more than 120 years ago."))

    sex = _text(data, "sex").upper()
    if sex not in ("M", "F"):
        errors.add("sex", _("Choose M (male) or F (female)."))

    nationality = (_text(data, "nationality") or "ID").upper()
    if (
        len(nationality) != ISO_COUNTRY_LEN
        or not nationality.isascii()
        or not nationality.isalpha()
    ):
        errors.add("nationality", _("Use the two-letter country code, e.g. ID."))

    # --- the identity document -------------------------------------------------------------------
    id_type = _text(data, "id_type").lower()
    id_number = ""
    review_reasons: list[dict] = []
    if id_type not in idrules.ID_TYPES:
        errors.add(
            "id_type",
            _("Unknown ID type. Choose one of: %(types)s.")
            % {"types": ", ".join(idrules.ID_TYPES)},
        )
    elif not policy.accepts(id_type):
        errors.add(
            "id_type",
            _("This ID type is not accepted under the rules in force (%(policy)s).")
            % {"policy": policy.code},
        )
    else:
        raw_number = _text(data, "id_number")
        if not raw_number:
            errors.add("id_number", _("This field is required."))
        elif len(raw_number) > 40:
            errors.add("id_number", _("The ID number is too long."))
        else:
            try:
                check = idrules.validate_id_number(
                    id_type,
                    raw_number,
                    birth_date=birth_date,
                    sex=sex if sex in ("M", "F") else None,
                    nationality=nationality,
                    today=today,
                )
            except idrules.IdRuleError as exc:
                target = "birth_date" if exc.code == "nik_birth_date_mismatch" else "id_number"
                target = "sex" if exc.code == "nik_sex_mismatch" else target
                if exc.code == "foreigner_document":
                    target = "nationality"
                errors.add(target, id_rule_message(exc))
            else:
                id_number = check.normalized
                if check.doubtful:
                    review_reasons.append(
                        {"code": "doubtful_document", "message": "; ".join(check.notes)}
                    )

    kk_number = ""
    raw_kk = _text(data, "kk_number")
    kk_needed = policy.kk_required and nationality == "ID" and id_type in ("ktp", "sim")
    if raw_kk:
        if len(raw_kk) > 40:
            errors.add("kk_number", _("The KK number is too long."))
        else:
            try:
                kk_number = idrules.validate_kk(raw_kk, today=today)
            except idrules.IdRuleError as exc:
                errors.add("kk_number", id_rule_message(exc))
    elif kk_needed:
        errors.add(
            "kk_number",
            _("The family card (KK) number is required under the rules in force."),
        )

    if errors.total > start:
        return None
    return CleanRegistration(
        msisdn=msisdn,
        iccid=iccid,
        id_type=id_type,
        id_number=id_number,
        kk_number=kk_number,
        full_name=names["full_name"],
        birth_place=names["birth_place"],
        birth_date=birth_date,
        sex=sex,
        address=address,
        nationality=nationality,
        review_reasons=review_reasons,
    )
