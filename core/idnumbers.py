"""The one ID-number normaliser (pure Python, no Django).

A number is stored and digested in the form ``normalize_id_number`` gives it for its document
type; the registration rules, the operator's snapshot, reconciliation and data-subject requests
all call it, so the same number typed with spaces, dots or dashes has one digest. A test holds
every caller to it.
"""

import re

# What a person may type between the groups of a number. Digit documents (KTP/NIK, KK, SIM):
# spaces, dots and dashes. Passports and residence permits: spaces and dashes (a dot would be a
# typo). Student cards: spaces only (their numbers may hold dots, slashes and dashes).
_NUMBER_SEPARATORS = re.compile(r"[\s.\-]")
_DOCUMENT_SEPARATORS = re.compile(r"[\s\-]")
_SPACES = re.compile(r"\s")

DIGIT_DOCUMENTS = frozenset({"ktp", "kk", "sim"})
LETTER_DOCUMENTS = frozenset({"passport", "kitas", "kitap"})
MIN_SEARCH_LENGTH = 3
MAX_SEARCH_LENGTH = 40


def normalize_id_number(id_type: str, number: str) -> str:
    """An ID number as the portal stores and digests it, for its document type.

    KTP, KK and SIM: spaces, dots and dashes dropped. Passport, KITAS, KITAP: spaces and dashes
    dropped, upper case. Student cards and unknown types: spaces dropped, upper case. The
    registration rules, the operator's snapshot and the data-subject search all use this, so one
    number typed three ways has one digest.
    """
    kind = (id_type or "").strip().lower() if isinstance(id_type, str) else ""
    text = (number or "").strip() if isinstance(number, str) else ""
    if kind in DIGIT_DOCUMENTS:
        return _NUMBER_SEPARATORS.sub("", text)
    if kind in LETTER_DOCUMENTS:
        return _DOCUMENT_SEPARATORS.sub("", text).upper()
    return _SPACES.sub("", text).upper()


def ascii_digits(number: str) -> str:
    """``number`` with the digits of every script (Arabic-Indic, fullwidth, Devanagari …:
    Unicode's decimal digits) written as ASCII digits, everything else as it is.

    For records another system made — the operator's snapshot: its NIK written in Arabic-Indic
    digits is the same NIK, and must digest as the portal's record of it does. Not for what a
    clerk types: the registration rules refuse such digits (``identity.idrules``), so
    ``normalize_id_number`` leaves them alone."""
    if number.isascii():
        return number
    return "".join(str(int(char)) if char.isdecimal() else char for char in number)


def id_number_forms(raw: str) -> list[str]:
    """Every stored form a number typed without its document type may take (at most three:
    digit documents, passports and permits, student cards), most likely first, no duplicates."""
    forms = [
        normalize_id_number("ktp", raw).upper(),
        normalize_id_number("passport", raw),
        normalize_id_number("student_card", raw),
    ]
    return [form for index, form in enumerate(forms) if form and form not in forms[:index]]


def is_plausible_id_number(raw: str) -> bool:
    """Enough letters or digits to name one document (guards against '1' finding everything)."""
    forms = id_number_forms(raw)
    if not forms or len(forms[-1]) > MAX_SEARCH_LENGTH:
        return False
    return sum(ch.isalnum() for ch in forms[0]) >= MIN_SEARCH_LENGTH
