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

from core.idnumbers import normalize_id_number
from identity import idrules
from identity.countries import COUNTRY_CODES
from identity.messages import MESSAGES, id_rule_message

from . import rulebook

TEXT_LIMITS = {
    "full_name": 100,
    "birth_place": 100,
    "address": 300,
    "company_name": 150,
    "declared_purpose": 300,
}
CATEGORIES = ("personal", "corporate", "m2m")
CITIZEN = "ID"
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
    category: str = "personal"
    company_name: str = ""
    guardian_id_number: str = ""
    declared_purpose: str = ""
    statement_signed: bool | None = None
    # What the clerk is told but nobody needs to review: {"code", "message"}.
    warnings: list[dict] = field(default_factory=list)
    # Where the NIK's digits disagree with the birth date or sex entered, when the population
    # registry is the arbiter (``judge_against_registry``): field -> the NIK's value.
    nik_disagreements: dict = field(default_factory=dict)

    @property
    def is_citizen(self) -> bool:
        return self.nationality == CITIZEN

    @property
    def has_nik(self) -> bool:
        """The ID number is a NIK (a KTP, or a new-format SIM whose number is the NIK)."""
        return self.id_type in ("ktp", "sim") and len(self.id_number) == 16


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
    data: Mapping,
    *,
    policy,
    today: date,
    errors: FieldErrors | None = None,
    face_given: bool | None = False,
    registry_arbiter: bool = False,
) -> CleanRegistration | None:
    """Check every field of ``data`` against the identity rules and ``policy``.

    Adds each fault to ``errors`` (at its field) and returns None if there was any; otherwise
    returns the normalised values. Consent and photos are the caller's (they differ by channel);
    ``face_given`` says whether a face photo came with it (None: the channel carries no photos,
    an import, so "KK or face" does not ask for the KK).

    ``registry_arbiter``: the caller asks the population registry next (under a rule set with
    ``registry_check``), which is the arbiter of a citizen's birth date and sex: where the NIK's
    digits disagree with what was entered, the disagreement is kept in ``nik_disagreements``
    for ``judge_against_registry`` rather than refused here (Dukcapil corrects a birth date
    without issuing a new NIK). Without it such a disagreement is refused, as before.
    """
    errors = errors if errors is not None else FieldErrors()
    start = errors.total if errors.errors else 0
    # The rule set's predicates, built once per rule set (``rulebook.compiled``).
    decide = rulebook.compiled(policy)

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
    elif age_on(birth_date, today) > idrules.MAX_AGE_YEARS:
        # The NIK's own rule (``idrules``): older than 120 years on the day, not by the year.
        errors.add("birth_date", _("The date of birth is more than 120 years ago."))

    sex = _text(data, "sex").upper()
    if sex not in ("M", "F"):
        errors.add("sex", _("Choose M (male) or F (female)."))

    nationality = (_text(data, "nationality") or "ID").upper()
    if nationality not in COUNTRY_CODES:
        # ISO 3166-1 alpha-2, an assigned code: "XX" or "ZZ" is no country.
        errors.add("nationality", _("Use the two-letter country code, e.g. ID."))

    # --- the identity document -------------------------------------------------------------------
    id_type = _text(data, "id_type").lower()
    id_number = ""
    review_reasons: list[dict] = []
    nik_disagreements: dict = {}
    nik_era = bool(getattr(policy, "nik_required", False))
    citizen = nationality == CITIZEN
    if id_type not in idrules.ID_TYPES:
        errors.add(
            "id_type",
            _("Unknown ID type. Choose one of: %(types)s.")
            % {"types": ", ".join(idrules.ID_TYPES)},
        )
    elif decide.id_type_refused.holds({"id_type": id_type, "citizen": citizen}):
        if citizen and nik_era and id_type == "passport":
            errors.add(
                "id_type",
                _(
                    "Under the rules in force an Indonesian citizen registers with their NIK "
                    "(e-KTP): a passport is for foreign citizens. Enter the buyer's NIK."
                ),
            )
        elif not citizen and policy.accepts(id_type, CITIZEN):
            errors.add(
                "id_type",
                _(
                    "This ID type is for Indonesian citizens. A foreign citizen registers with "
                    "a passport, KITAS or KITAP."
                ),
            )
        else:
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
            nik_shaped = id_type == "ktp" or (
                id_type == "sim" and len(normalize_id_number("sim", raw_number)) == 16
            )
            defer = registry_arbiter and citizen and nik_shaped
            try:
                check = idrules.validate_id_number(
                    id_type,
                    raw_number,
                    birth_date=None if defer else birth_date,
                    sex=None if defer or sex not in ("M", "F") else sex,
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
                if citizen and nik_era and not nik_shaped:
                    errors.add(
                        "id_number",
                        _(
                            "An old 12-digit SIM number has no NIK: under the rules in force "
                            "enter the buyer's 16-digit NIK (on the e-KTP or family card)."
                        ),
                    )
                elif defer:
                    nik_disagreements = _checked_nik_disagreements(
                        id_number, birth_date, sex, today
                    )
                if check.doubtful:
                    review_reasons.append(
                        {"code": "doubtful_document", "message": "; ".join(check.notes)}
                    )

    kk_number = ""
    raw_kk = _text(data, "kk_number")
    proof = getattr(policy, "citizen_proof", "document")
    kk_needed = decide.kk_missing.holds(
        {
            "citizen": citizen,
            "id_type": id_type,
            "has_kk": False,
            "face_shown": bool(face_given),
            "imported": face_given is None,
        }
    )
    if raw_kk:
        if len(raw_kk) > 40:
            errors.add("kk_number", _("The KK number is too long."))
        else:
            try:
                kk_number = idrules.validate_kk(raw_kk, today=today)
            except idrules.IdRuleError as exc:
                errors.add("kk_number", id_rule_message(exc))
    elif kk_needed and proof == "nik_kk_or_face":
        errors.add(
            "kk_number",
            _(
                "Enter the family card (KK) number, or take a photo of the buyer's face: "
                "under the rules in force a citizen is identified by NIK + KK or NIK + face."
            ),
        )
    elif kk_needed:
        errors.add(
            "kk_number",
            _("The family card (KK) number is required under the rules in force."),
        )

    # --- whose number, and what the rules in force ask besides --------------------------------
    category = (_text(data, "category") or "personal").lower()
    company_name = " ".join(_text(data, "company_name").split())
    if category not in CATEGORIES:
        errors.add("category", _("Choose personal, corporate or m2m."))
    elif category != "personal" and not company_name:
        errors.add(
            "company_name",
            _(
                "Enter the company's name: a corporate or M2M number is registered under the "
                "NIK of the company's person in charge."
            ),
        )
    raw_purpose = _text(data, "declared_purpose")
    for name, value in (("company_name", company_name), ("declared_purpose", raw_purpose)):
        if not value:
            continue  # nothing to measure or search
        if len(value) > TEXT_LIMITS[name]:
            errors.add(name, _("At most %(limit)d characters.") % {"limit": TEXT_LIMITS[name]})
        elif _ADDRESS_REFUSED.search(value):
            errors.add(name, _("The text contains characters that are not allowed."))
    declared_purpose = " ".join(raw_purpose.split())

    guardian = ""
    raw_guardian = _text(data, "guardian_id_number")
    if raw_guardian:
        try:
            guardian = idrules.validate_nik(raw_guardian, birth_date=None, sex=None, today=today)
        except idrules.IdRuleError as exc:
            errors.add("guardian_id_number", id_rule_message(exc))
        else:
            limit = getattr(policy, "minor_age_limit", None)
            if birth_date is not None and (not limit or age_on(birth_date, today) >= limit):
                # A head of family's NIK is taken for a minor only: for anyone else it would be
                # a third person's number stored without a purpose.
                guardian = ""
                errors.add(
                    "guardian_id_number",
                    _("Leave this empty: a head of family's NIK is entered for a minor only.")
                    if not limit
                    else _(
                        "Leave this empty: the head of family's NIK is entered only for a buyer "
                        "under %(age)d."
                    )
                    % {"age": limit},
                )

    statement_signed = parse_bool(data["statement_signed"]) if "statement_signed" in data else None
    if decide.statement_missing.holds(
        {"imported": face_given is None, "statement_signed": bool(statement_signed)}
    ):
        errors.add(
            "statement_signed",
            _(
                "Under the rules in force the buyer signs a statement (surat pernyataan): "
                "have it signed, then tick this box."
            ),
        )

    if errors.errors and errors.total > start:
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
        category=category,
        company_name=company_name if category != "personal" else "",
        guardian_id_number=guardian,
        declared_purpose=declared_purpose,
        statement_signed=statement_signed,
        nik_disagreements=nik_disagreements,
    )


def _checked_nik_disagreements(nik: str, birth_date: date | None, sex: str, today: date) -> dict:
    """``nik_disagreements_of`` for a NIK the rules have just validated (``validate_id_number``
    passed): where its DDMMYY are the date entered — the common case — only the sex is left to
    compare, without decoding the NIK a second time."""
    if birth_date is not None:
        # The birth date entered is the hint that gives the NIK its century: the dates agree.
        nik_sex, day, month, year = idrules.nik_date_code(nik)
        if (day, month, year) == (birth_date.day, birth_date.month, birth_date.year % 100):
            return {"sex": nik_sex} if sex in ("M", "F") and nik_sex != sex else {}
    return nik_disagreements_of(nik, birth_date, sex, today)


def nik_disagreements_of(nik: str, birth_date: date | None, sex: str, today: date) -> dict:
    """Where a NIK's digits disagree with the birth date and sex entered: field -> NIK value."""
    info = idrules.parse_nik(nik, today=today, birth_date_hint=birth_date)
    found = {}
    if birth_date is not None and info.birth_date != birth_date:
        found["birth_date"] = info.birth_date.isoformat()
    if sex in ("M", "F") and info.sex != sex:
        found["sex"] = info.sex
    return found


# --- the population registry's verdict --------------------------------------------------------


def registry_message(code: str, **params) -> str:
    """The clerk's message for a registry verdict: what is wrong and what to do."""
    messages = {
        "not_found": _(
            "This NIK is not in the population registry (Dukcapil). Check it against the "
            "buyer's e-KTP or family card; if it is right, the buyer must have their data "
            "recorded at the Dukcapil office (Disdukcapil) first."
        ),
        "kk_not_paired": _(
            "This family card (KK) is not the NIK's family card in the population registry. "
            "Enter the number of the KK the buyer is listed on; if the KK was reissued, the "
            "buyer must update their data at Dukcapil."
        ),
        "name": _(
            "The name does not agree with the population registry. Enter it as on the e-KTP; "
            "if the registry's name is wrong, the buyer must update their data at Dukcapil."
        ),
        "birth_date": _(
            "The date of birth does not agree with the population registry. Enter it as on "
            "the e-KTP; if the registry's date is wrong, the buyer must update their data at "
            "Dukcapil."
        ),
        "sex": _(
            "The sex does not agree with the population registry. Enter it as on the e-KTP; if "
            "the registry is wrong, the buyer must update their data at Dukcapil."
        ),
        "guardian_required": _(
            "The buyer is under %(age)d: enter the NIK of the head of family on the buyer's "
            "family card (KK); the registry verifies the head of family's face."
        ),
        "guardian_not_head": _(
            "This NIK is not the head of family on the buyer's family card in the population "
            "registry. Enter the NIK of the head of family (kepala keluarga) on the buyer's KK."
        ),
        "guardian_not_found": _(
            "This NIK is not in the population registry (Dukcapil). Enter the NIK of the head "
            "of family as on their e-KTP."
        ),
    }
    return str(messages[code]) % params if params else str(messages[code])


def registry_warning(code: str, **params) -> dict:
    """A note for the clerk (and the record) that needs nobody's review."""
    messages = {
        "nik_birth_date_corrected": _(
            "The NIK's digits give %(nik)s as the date of birth; the population registry "
            "confirms the date entered (a corrected birth date keeps its NIK)."
        ),
        "nik_sex_corrected": _(
            "The NIK's digits give another sex; the population registry confirms the sex entered."
        ),
        "kk_not_paired": _(
            "The population registry does not pair this family card (KK) with the NIK (it may "
            "have been reissued since)."
        ),
        "face_no_reference": _(
            "The population registry holds no face record for this NIK, so the face photo "
            'could not be compared: the registration stands with the verdict "no reference". '
            "Ask the buyer to have their e-KTP biometrics recorded at Dukcapil."
        ),
    }
    return {"code": code, "message": str(messages[code]) % params}


def judge_against_registry(
    clean: CleanRegistration,
    person,
    *,
    kk_digest: str,
    kk_asked: bool,
    errors: FieldErrors,
) -> None:
    """Judge ``clean`` against the registry's record of its NIK (``person``, a
    ``core.registry.RegistryPerson`` or None when the registry does not know the NIK).

    - the NIK must be known (``id_number``);
    - the KK must be the NIK's family card where the rule asks for a KK (``kk_asked``): a
      fault at ``kk_number``; a KK given where none is asked only earns a warning;
    - name (the portal's name comparison), birth date and sex must agree with the record;
    - where the NIK's own digits disagree with the birth date or sex entered and the registry
      confirms what was entered, that is a warning, not a fault.
    """
    if person is None:
        errors.add("id_number", registry_message("not_found"))
        return
    if clean.kk_number and person.kk_digest != kk_digest:
        if kk_asked:
            errors.add("kk_number", registry_message("kk_not_paired"))
        else:
            clean.warnings.append(registry_warning("kk_not_paired"))
    if idrules.normalize_name_for_comparison(clean.full_name) != person.name_key:
        errors.add("full_name", registry_message("name"))
    # Where the NIK's digits and the registry agree against what was entered, the NIK's own
    # message says best what is wrong ("day + 40 for women").
    if clean.birth_date != person.birth_date:
        if clean.nik_disagreements.get("birth_date") == person.birth_date.isoformat():
            errors.add("birth_date", str(MESSAGES["nik_birth_date_mismatch"]))
        else:
            errors.add("birth_date", registry_message("birth_date"))
    elif "birth_date" in clean.nik_disagreements:
        clean.warnings.append(
            registry_warning("nik_birth_date_corrected", nik=clean.nik_disagreements["birth_date"])
        )
    if clean.sex != person.sex:
        if clean.nik_disagreements.get("sex") == person.sex:
            errors.add("sex", str(MESSAGES["nik_sex_mismatch"]))
        else:
            errors.add("sex", registry_message("sex"))
    elif "sex" in clean.nik_disagreements:
        clean.warnings.append(registry_warning("nik_sex_corrected"))


def age_on(birth_date: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


def judge_guardian(clean: CleanRegistration, child, guardian, *, errors: FieldErrors) -> None:
    """A minor's head of family (2026 rules): known to the registry, and the head of family on
    the child's family card."""
    if guardian is None:
        errors.add("guardian_id_number", registry_message("guardian_not_found"))
    elif not guardian.head_of_family or guardian.kk_digest != child.kk_digest:
        errors.add("guardian_id_number", registry_message("guardian_not_head"))
