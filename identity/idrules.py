"""Identity rules for outlet registration: NIK, KK, ID documents, MSISDN, ICCID and names.

Pure Python on purpose (no Django): the form, the API serializer, the services, the CSV import
and the reconciliation workers all call these functions, so the rules live in one place and are
tested here with many cases.

Every refusal is an ``IdRuleError`` carrying a stable ``code`` (callers map it to a form field and
translate it; Bahasa Indonesia is the portal's first language), a plain English ``message`` fit
for an end user, and ``params`` for building a translated message.

Dates: pass ``today`` from the caller (e.g. ``django.utils.timezone.localdate()``) so "the
future" means the same thing as the rest of the request; the default is ``date.today()``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from core.idnumbers import normalize_id_number

__all__ = [
    "ID_TYPES",
    "PROVINCE_CODES",
    "IdCheck",
    "IdRuleError",
    "NikInfo",
    "clean_person_name",
    "luhn_check_digit",
    "normalize_msisdn",
    "normalize_name_for_comparison",
    "parse_nik",
    "validate_iccid",
    "validate_id_number",
    "validate_kk",
    "validate_nik",
]


class IdRuleError(ValueError):
    """An identity value broke a rule: ``code`` is stable, ``message`` is for the end user."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params

    def __reduce__(self):
        # ValueError pickles as cls(*args); our signature differs, and Celery may ship errors.
        return (_rebuild_error, (type(self), self.code, self.message, self.params))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


def _rebuild_error(cls, code, message, params):
    return cls(code, message, **params)


ID_TYPES = ("ktp", "sim", "passport", "student_card", "kitas", "kitap")

# Kemendagri province codes. 91-96 include the Papua provinces created in 2022; NIKs issued
# earlier there keep 91/92, which stay valid.
PROVINCE_CODES: frozenset[str] = frozenset(
    f"{code:02d}"
    for code in (
        *range(11, 20),
        21,
        *range(31, 37),
        *range(51, 54),
        *range(61, 66),
        *range(71, 77),
        81,
        82,
        *range(91, 97),
    )
)

MAX_AGE_YEARS = 120
FEMALE_DAY_OFFSET = 40

_SIXTEEN_DIGITS = re.compile(r"[0-9]{16}")  # not \d: that also matches Arabic-Indic digits etc.


@dataclass(frozen=True)
class NikInfo:
    """What a NIK encodes. Region codes are full hierarchical Kemendagri codes.

    ``province`` "31", ``regency`` "3171", ``district`` "317101" (where the NIK was first
    issued, not where the holder lives now); ``sex`` "M"/"F"; ``serial`` "0001".."9999".
    """

    province: str
    regency: str
    district: str
    birth_date: date
    sex: str
    serial: str


@dataclass(frozen=True)
class IdCheck:
    """Result of ``validate_id_number``.

    ``doubtful`` means: accept the registration but flag it for a human reviewer; ``notes`` say
    why (English, for the reviewer).
    """

    normalized: str
    doubtful: bool
    notes: tuple[str, ...]


# --- small helpers -----------------------------------------------------------------------------


def _as_date(value: date | None) -> date | None:
    # datetime is a date subclass but does not compare with date: reduce it to its date.
    if isinstance(value, datetime):
        return value.date()
    return value


def _resolve_today(today: date | None) -> date:
    return _as_date(today) if today is not None else date.today()


def _real_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _sixteen_digits(value: object, *, code: str, message: str) -> str:
    digits = normalize_id_number("ktp", value)
    if not _SIXTEEN_DIGITS.fullmatch(digits):
        raise IdRuleError(code, message, length=len(digits))
    return digits


def _age_in_years(birth_date: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


def _normalize_sex(sex: str) -> str:
    value = sex.strip().upper() if isinstance(sex, str) else ""
    if value not in ("M", "F"):
        raise IdRuleError("sex_invalid", "Sex must be M (male) or F (female).")
    return value


# --- NIK ---------------------------------------------------------------------------------------


def parse_nik(
    nik: str, *, today: date | None = None, birth_date_hint: date | None = None
) -> NikInfo:
    """Decode a NIK, ``PP RR SS DDMMYY NNNN``, refusing one that cannot exist.

    Rules, in order (each with its error code):
    - spaces, dots and dashes a user typed are dropped; then exactly 16 digits (``nik_format``);
    - PP is a Kemendagri province code (``nik_province``);
    - RR (regency/city) and SS (district) are not "00" (``nik_region``);
    - DD MM YY is a real date, DD being day + 40 for women, so 01-31 is male and 41-71 female
      (``nik_birth_date``);
    - NNNN is 0001-9999 (``nik_serial``).

    The NIK holds only a two-digit year. If ``birth_date_hint`` (the birth date the buyer gave)
    has the same two-digit year, month and day, its century is used: that is what makes a
    110-year-old or a 2005 birth come out right. Otherwise the latest century that does not put
    the birth date after ``today`` is used. Age plausibility is checked by ``validate_nik``.
    """
    return _parse_nik(nik, today=_resolve_today(today), birth_date_hint=birth_date_hint)[1]


def _parse_nik(nik: str, *, today: date, birth_date_hint: date | None) -> tuple[str, NikInfo]:
    digits = _sixteen_digits(nik, code="nik_format", message="The NIK must be exactly 16 digits.")
    province, regency, district = digits[0:2], digits[2:4], digits[4:6]
    if province not in PROVINCE_CODES:
        raise IdRuleError(
            "nik_province",
            "The NIK does not start with a valid Indonesian province code.",
            province=province,
        )
    if regency == "00" or district == "00":
        raise IdRuleError(
            "nik_region",
            "The NIK's regency and district codes (digits 3 to 6) cannot be 00.",
            region=digits[0:6],
        )

    sex, day, month, two_digit_year = nik_date_code(digits)
    birth_date = _nik_birth_date(day, month, two_digit_year, today, _as_date(birth_date_hint))
    if birth_date is None:
        raise IdRuleError(
            "nik_birth_date",
            "Digits 7 to 12 of the NIK are not a real birth date (DDMMYY, with 40 added to the "
            "day for women).",
            date_digits=digits[6:12],
        )

    serial = digits[12:16]
    if serial == "0000":
        raise IdRuleError("nik_serial", "The last 4 digits of the NIK cannot be 0000.")

    info = NikInfo(
        province=province,
        regency=digits[0:4],
        district=digits[0:6],
        birth_date=birth_date,
        sex=sex,
        serial=serial,
    )
    return digits, info


def nik_date_code(nik: str) -> tuple[str, int, int, int]:
    """A 16-digit NIK's digits 7 to 12: (sex, day, month, two-digit year) — the day coded +40
    for a woman. Nothing is checked: the caller has the NIK's digits."""
    day_code = int(nik[6:8])
    sex = "F" if day_code > FEMALE_DAY_OFFSET else "M"
    day = day_code - FEMALE_DAY_OFFSET if sex == "F" else day_code
    return sex, day, int(nik[8:10]), int(nik[10:12])


def _nik_birth_date(
    day: int, month: int, two_digit_year: int, today: date, hint: date | None
) -> date | None:
    if hint is not None and (hint.year % 100, hint.month, hint.day) == (two_digit_year, month, day):
        return hint
    century = today.year // 100 * 100
    # Two candidates are enough: the previous century is always in the past. Both are tried
    # because 29 Feb of year "00" exists in 2000 but not in 1900 or 2100.
    for year in (century + two_digit_year, century - 100 + two_digit_year):
        candidate = _real_date(year, month, day)
        if candidate is not None and candidate <= today:
            return candidate
    return None


def validate_nik(
    nik: str, *, birth_date: date | None, sex: str | None, today: date | None = None
) -> str:
    """Check a NIK against the buyer's entered birth date and sex; return its 16 digits.

    On top of ``parse_nik``'s rules:
    - the NIK's date must equal ``birth_date`` (``nik_birth_date_mismatch``);
    - its sex encoding (day + 40 for women) must agree with ``sex`` "M"/"F"
      (``nik_sex_mismatch``; an unknown sex value is ``sex_invalid``);
    - the holder's age must be plausible (``nik_age``, ``params["reason"]`` "future" or
      "too_old"): born not after today, and not more than 120 years ago.
    ``birth_date``/``sex`` given as None skip their agreement check (e.g. a lookup by NIK only).
    """
    today = _resolve_today(today)
    birth_date = _as_date(birth_date)
    digits, info = _parse_nik(nik, today=today, birth_date_hint=birth_date)

    if birth_date is not None and info.birth_date != birth_date:
        raise IdRuleError(
            "nik_birth_date_mismatch",
            "The birth date in the NIK does not match the birth date entered.",
            nik_birth_date=info.birth_date,
            birth_date=birth_date,
        )
    if sex is not None:
        entered_sex = _normalize_sex(sex)
        if info.sex != entered_sex:
            if entered_sex == "F":
                message = (
                    "The NIK does not match the sex entered: in a woman's NIK, 40 is added to "
                    "the day of birth."
                )
            else:
                message = (
                    "The NIK does not match the sex entered: this NIK has 40 added to the day "
                    "of birth, which marks a woman."
                )
            raise IdRuleError("nik_sex_mismatch", message, nik_sex=info.sex, sex=entered_sex)

    if info.birth_date > today:
        raise IdRuleError("nik_age", "The birth date cannot be in the future.", reason="future")
    if _age_in_years(info.birth_date, today) > MAX_AGE_YEARS:
        raise IdRuleError(
            "nik_age",
            f"The birth date is more than {MAX_AGE_YEARS} years ago.",
            reason="too_old",
            max_age=MAX_AGE_YEARS,
        )
    return digits


# --- KK (family card) --------------------------------------------------------------------------


# No family card of this numbering (the population administration's SIAK, 2000s) was recorded
# before this year: a recording year that comes out earlier ("30" as 1930) is a typo.
KK_FIRST_YEAR = 1970


def validate_kk(kk: str, *, today: date | None = None) -> str:
    """Check a family card (Kartu Keluarga) number ``RRRRRR DDMMYY NNNN``; return its 16 digits.

    - separators dropped, then exactly 16 digits (``kk_format``);
    - the first 2 digits are a province code (``kk_province``), the next 4 a regency and a
      district, neither 00 (``kk_region``), as in a NIK;
    - digits 7-12 are the recording date DDMMYY, a real date with no +40, not after today and
      not before ``KK_FIRST_YEAR`` (``kk_date``);
    - the serial (last 4 digits) is not 0000 (``kk_serial``).

    The century comes from the two-digit year alone (20YY unless that year is still to come,
    then 19YY), so a date later this year is refused as "in the future" instead of silently
    becoming a 1900s recording date: a KK recorded next month is a typo, one from 1926 does not
    exist in this numbering.
    """
    today = _resolve_today(today)
    digits = _sixteen_digits(
        kk, code="kk_format", message="The family card (KK) number must be exactly 16 digits."
    )
    if digits[0:2] not in PROVINCE_CODES:
        raise IdRuleError(
            "kk_province",
            "The family card (KK) number does not start with a valid Indonesian province code.",
            province=digits[0:2],
        )

    if digits[2:4] == "00" or digits[4:6] == "00":
        raise IdRuleError(
            "kk_region",
            "The family card (KK) number's regency and district codes (digits 3 to 6) cannot "
            "be 00.",
            region=digits[0:6],
        )

    day, month, two_digit_year = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    century = today.year // 100 * 100
    year = century + two_digit_year
    if year > today.year:
        year -= 100
    recorded = _real_date(year, month, day)
    if recorded is None or recorded > today or recorded.year < KK_FIRST_YEAR:
        raise IdRuleError(
            "kk_date",
            "Digits 7 to 12 of the family card (KK) number must be its recording date (DDMMYY), "
            "a real date that is not in the future.",
            date_digits=digits[6:12],
        )
    if digits[12:16] == "0000":
        raise IdRuleError(
            "kk_serial", "The last 4 digits of the family card (KK) number cannot be 0000."
        )
    return digits


# --- ID documents ------------------------------------------------------------------------------

_OLD_SIM_DIGITS = re.compile(r"[0-9]{12}")
_INDONESIAN_PASSPORT = re.compile(r"[A-Z][0-9]{7}")
_FOREIGN_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")
_RESIDENCE_PERMIT = re.compile(r"[A-Z0-9]{6,20}")
_STUDENT_CARD = re.compile(r"[A-Z0-9./\-]{3,30}")

_STUDENT_CARD_NOTE = (
    "Student card: there is no national number format to check, and the holder may be a "
    "minor. Check the card itself."
)
_OLD_SIM_NOTE = "Old-format (12-digit) SIM: the number cannot be checked against the birth date."


def validate_id_number(
    id_type: str,
    number: str,
    *,
    birth_date: date | None = None,
    sex: str | None = None,
    nationality: str = "ID",
    today: date | None = None,
) -> IdCheck:
    """Check an ID document number for its type; return it normalised, with a review flag.

    Strict where the format is certain, lenient and ``doubtful`` where it is not, so a real
    buyer is flagged for review rather than turned away:
    - ``ktp``: a NIK, checked by ``validate_nik`` (birth date and sex agreement included).
    - ``sim``: 16 digits is a new-format licence (since July 2024), whose number is the NIK and
      is checked as one (``nik_*`` codes); 12 digits is the old format, accepted as is;
      anything else ``sim_format``.
    - ``passport``: Indonesian (``nationality`` "ID") strictly 1 letter + 7 digits
      (``passport_format``); foreign 5-20 letters/digits, doubtful when shorter than 6, longer
      than 9 or without any digit.
    - ``kitas``/``kitap``: residence permits of foreigners, so ``nationality`` "ID" is
      ``foreigner_document``; 6-20 letters/digits (``kitas_format``/``kitap_format``).
    - ``student_card``: 3-30 letters, digits, ".", "/", "-" (``student_card_format``); always
      doubtful: there is no national format, and minors are the sensitive case.
    - any other type: ``id_type_unknown``.
    Spaces (and dashes; dots too for digit-only numbers) are dropped; letters are uppercased.
    """
    kind = id_type.strip().lower() if isinstance(id_type, str) else ""
    text = number if isinstance(number, str) else ""
    country = (nationality or "ID").strip().upper()

    if kind == "ktp":
        return IdCheck(validate_nik(text, birth_date=birth_date, sex=sex, today=today), False, ())
    if kind == "sim":
        return _validate_sim(text, birth_date=birth_date, sex=sex, today=today)
    if kind == "passport":
        return _not_a_nik(kind, _validate_passport(text, country), today)
    if kind in ("kitas", "kitap"):
        return _not_a_nik(kind, _validate_residence_permit(kind, text, country), today)
    if kind == "student_card":
        return _validate_student_card(text)
    raise IdRuleError(
        "id_type_unknown",
        "Unknown identity document type.",
        id_type=id_type,
        allowed=ID_TYPES,
    )


def _not_a_nik(kind: str, check: IdCheck, today: date | None) -> IdCheck:
    """A passport or a residence permit never carries a NIK's number: its digest would be the
    NIK's, so the number would count against that NIK's cap, show at its holder's door and
    answer its personal-data requests (``nik_as_document``). (A student card may print its
    holder's own NIK: a child's number counted as the child's NIK is right.)"""
    if _SIXTEEN_DIGITS.fullmatch(check.normalized):
        try:
            validate_nik(check.normalized, birth_date=None, sex=None, today=today)
        except IdRuleError:
            return check
        raise IdRuleError(
            "nik_as_document",
            f"This {kind} number has the form of a NIK: a NIK is registered with the KTP "
            "(or the new SIM), whoever holds it.",
            id_type=kind,
        )
    return check


def _validate_sim(text: str, *, birth_date, sex, today) -> IdCheck:
    digits = normalize_id_number("sim", text)
    if _SIXTEEN_DIGITS.fullmatch(digits):
        try:
            return IdCheck(
                validate_nik(digits, birth_date=birth_date, sex=sex, today=today), False, ()
            )
        except IdRuleError as error:
            # Keep the NIK code (same rule), but say why a licence is judged as a NIK.
            raise IdRuleError(
                error.code,
                f"A 16-digit SIM number is the holder's NIK. {error.message}",
                **error.params,
            ) from error
    if _OLD_SIM_DIGITS.fullmatch(digits):
        return IdCheck(digits, False, (_OLD_SIM_NOTE,))
    raise IdRuleError(
        "sim_format",
        "A driving licence (SIM) number has 12 digits (old format) or 16 digits (new format, "
        "the holder's NIK).",
        length=len(digits),
    )


def _validate_passport(text: str, country: str) -> IdCheck:
    value = normalize_id_number("passport", text)
    if country == "ID":
        if not _INDONESIAN_PASSPORT.fullmatch(value):
            raise IdRuleError(
                "passport_format",
                "An Indonesian passport number is one letter followed by 7 digits, "
                "for example A1234567.",
            )
        return IdCheck(value, False, ())

    if not _FOREIGN_PASSPORT.fullmatch(value):
        raise IdRuleError(
            "passport_format",
            "A passport number must be 5 to 20 letters and digits.",
            min_length=5,
            max_length=20,
        )
    # Most countries use 6-9 characters with at least one digit; anything else is probably a
    # typo, but could be real, so a reviewer looks at it instead of the buyer being refused.
    notes = []
    if not 6 <= len(value) <= 9:
        notes.append(f"Foreign passport number has an unusual length ({len(value)} characters).")
    if not any(char.isdigit() for char in value):
        notes.append("Foreign passport number has no digits.")
    return IdCheck(value, bool(notes), tuple(notes))


def _validate_residence_permit(kind: str, text: str, country: str) -> IdCheck:
    label = kind.upper()
    if country == "ID":
        raise IdRuleError(
            "foreigner_document",
            f"{label} is a residence permit for foreign nationals; an Indonesian citizen "
            "registers with a KTP, SIM, passport or student card.",
            id_type=kind,
        )
    value = normalize_id_number(kind, text)
    if not _RESIDENCE_PERMIT.fullmatch(value):
        raise IdRuleError(
            f"{kind}_format",
            f"A {label} number must be 6 to 20 letters and digits.",
            min_length=6,
            max_length=20,
        )
    return IdCheck(value, False, ())


def _validate_student_card(text: str) -> IdCheck:
    value = normalize_id_number("student_card", text)
    if not _STUDENT_CARD.fullmatch(value):
        raise IdRuleError(
            "student_card_format",
            "A student card number must be 3 to 30 letters, digits, dots, slashes or dashes.",
            min_length=3,
            max_length=30,
        )
    return IdCheck(value, True, (_STUDENT_CARD_NOTE,))


# --- MSISDN and ICCID --------------------------------------------------------------------------

_MSISDN_LAYOUT = re.compile(r"[\s().\-]")
_MSISDN_TYPED = re.compile(r"\+?[0-9]+")
_INDONESIAN_MOBILE = re.compile(r"628[0-9]{8,11}")


def normalize_msisdn(raw: str) -> str:
    """Return an Indonesian mobile number as ``628…`` (11-14 digits), or raise ``msisdn_format``.

    Accepts digits with spaces, dashes, dots, parentheses and a leading "+":
    "08123456789", "8123456789", "628123456789", "+62 (812) 3456-789" all give
    "628123456789". A "+" must be followed by 62: foreign numbers are refused, and so are
    landlines (the result must be 62, then 8, then 8 to 11 more digits).
    """
    text = raw.strip() if isinstance(raw, str) else ""
    compact = _MSISDN_LAYOUT.sub("", text)
    if _MSISDN_TYPED.fullmatch(compact):
        digits = compact.lstrip("+")
        if compact.startswith("+"):
            candidate = digits  # international form: must already carry the 62 country code
        elif digits.startswith("0"):
            candidate = "62" + digits[1:]  # trunk prefix 0 replaced by the country code
        elif digits.startswith("8"):
            candidate = "62" + digits  # national number without prefix
        else:
            candidate = digits
        if _INDONESIAN_MOBILE.fullmatch(candidate):
            return candidate
    raise IdRuleError(
        "msisdn_format",
        "Enter an Indonesian mobile number, for example 0812 3456 789 or +62 812 3456 789.",
    )


_ICCID = re.compile(r"89[0-9]{16,18}")
_DIGITS = re.compile(r"[0-9]+")
_WHITESPACE = re.compile(r"\s")
# Luhn: a digit doubled, reduced to one digit (2 * 7 = 14 -> 1 + 4 = 5).
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_check_digit(payload: str) -> str:
    """The Luhn (mod 10) check digit to append to ``payload`` (a non-empty digit string)."""
    if not isinstance(payload, str) or not _DIGITS.fullmatch(payload):
        raise ValueError("Luhn payload must be a non-empty string of digits.")
    # The check digit will sit rightmost, so the payload's rightmost digit is the one doubled
    # (then every second one leftwards); a doubled digit over 9 counts as its digit sum.
    backwards = payload[::-1]
    total = sum(map(int, backwards[0::2].translate(_LUHN_DOUBLED))) + sum(map(int, backwards[1::2]))
    return str(-total % 10)


def validate_iccid(iccid: str) -> str:
    """Check a SIM card's ICCID; return its digits.

    18-20 digits once spaces are dropped, starting with 89 (the telecom industry prefix)
    (``iccid_format``), whose last digit is the Luhn check digit of the rest
    (``iccid_checksum``: catches any single mistyped digit).
    """
    digits = _WHITESPACE.sub("", iccid) if isinstance(iccid, str) else ""
    if not _ICCID.fullmatch(digits):
        raise IdRuleError(
            "iccid_format",
            "The ICCID (SIM card serial number) must be 18 to 20 digits starting with 89.",
            length=len(digits),
        )
    if luhn_check_digit(digits[:-1]) != digits[-1]:
        raise IdRuleError(
            "iccid_checksum",
            "The ICCID is not valid: its last digit does not match. Check the number on the card.",
        )
    return digits


# --- names -------------------------------------------------------------------------------------

NAME_MAX_LENGTH = 100
# Apostrophe straight or typographic U+2019 (Ma'ruf), hyphen, dot (M. Nuh), comma.
_NAME_PUNCTUATION = frozenset("'\u2019-.,")
# The common case, decided without looking at each character's Unicode category: only ASCII
# letters, spaces and the punctuation above. Such a name is accepted when it has a letter.
_PLAIN_NAME = re.compile(r"[A-Za-z '\u2019\-.,]+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


# Apostrophes Unicode files as letters (modifier letters, category Lm): ʼ (U+02BC, what some
# phone keyboards type for '), ʻ ʽ ʹ ʺ, and the half rings ʾ ʿ of Arabic transliteration
# (Maʾruf). In a name they are punctuation, as ' and ’ are.
APOSTROPHE_LETTERS = frozenset("\u02b9\u02ba\u02bb\u02bc\u02bd\u02be\u02bf")


def normalize_name_for_comparison(name: str) -> str:
    """The key two names are compared on: NFKC, casefold, keep only ``str.isalnum`` characters
    (the apostrophes Unicode files as letters, ``APOSTROPHE_LETTERS``, dropped too).

    So case, spacing and punctuation are ignored ("Siti  Nur'aini" == "SITI NURAINI") and
    nothing more: no accent stripping, no title removal, no spelling variants ("Muhammad" !=
    "Muhamad"). A looser match would hide real discrepancies from reconciliation.
    """
    if name.isascii():
        # NFKC leaves ASCII as it is and casefold is lower(); the filter runs in C.
        return "".join(filter(str.isalnum, name.lower()))
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(char for char in folded if char.isalnum() and char not in APOSTROPHE_LETTERS)


def clean_person_name(name: str) -> str:
    """Tidy a person's name for storage, or refuse it.

    Strips, collapses runs of whitespace to one space and composes accents (NFC). Then:
    1-100 characters (``name_length``); only Unicode letters, spaces, apostrophes (' and U+2019),
    hyphens, dots and commas, plus combining marks on a letter (``name_chars``: digits, <, >,
    ;, quotes, parentheses, = ... are refused); at least one letter (``name_no_letter``).
    Single names ("Sukarno") are normal in Indonesia and accepted.
    """
    text = " ".join(unicodedata.normalize("NFC", name).split()) if isinstance(name, str) else ""
    if not 1 <= len(text) <= NAME_MAX_LENGTH:
        raise IdRuleError(
            "name_length",
            f"The name must be 1 to {NAME_MAX_LENGTH} characters long.",
            length=len(text),
            min_length=1,
            max_length=NAME_MAX_LENGTH,
        )
    if _PLAIN_NAME.fullmatch(text) and _ASCII_LETTER.search(text):
        return text  # what the loop below would decide, without it

    refused: dict[str, None] = {}  # ordered set, for the message
    has_letter = False
    previous_category = ""
    for char in text:
        category = unicodedata.category(char)
        if category.startswith("L"):
            has_letter = True
        elif category.startswith("M") and previous_category[:1] in ("L", "M"):
            pass  # a combining mark that does not compose (some scripts): part of its letter
        elif char != " " and char not in _NAME_PUNCTUATION:
            refused[char] = None
        previous_category = category
    if refused:
        shown = " ".join(refused)
        raise IdRuleError(
            "name_chars",
            f"The name contains characters that are not allowed: {shown}",
            chars="".join(refused),
        )
    if not has_letter:
        raise IdRuleError("name_no_letter", "The name must contain at least one letter.")
    return text
