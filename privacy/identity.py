"""How a typed ID number becomes the forms the portal may have stored it under (pure, no Django).

``subscribers.idrules.validate_id_number`` normalises by document type before digesting: KTP and
SIM drop spaces, dots and dashes; passports and residence permits drop spaces and dashes and are
upper-cased; student cards drop spaces only and are upper-cased. A data-subject request names a
number, not always its type, so every form it could have been stored in is looked up (at most
three keyed digests, all exact matches).
"""

import re

_NUMBER_SEPARATORS = re.compile(r"[\s.\-]")
_DOCUMENT_SEPARATORS = re.compile(r"[\s\-]")
_SPACES = re.compile(r"\s")
MIN_LENGTH = 3
MAX_LENGTH = 40


def id_number_forms(raw: str) -> list[str]:
    """The stored forms ``raw`` may take, most likely first, without duplicates or blanks."""
    text = (raw or "").strip()
    forms = [
        _NUMBER_SEPARATORS.sub("", text).upper(),
        _DOCUMENT_SEPARATORS.sub("", text).upper(),
        _SPACES.sub("", text).upper(),
    ]
    return [form for index, form in enumerate(forms) if form and form not in forms[:index]]


def is_plausible_id_number(raw: str) -> bool:
    """Enough letters or digits to name one document (guards against '1' finding everything)."""
    forms = id_number_forms(raw)
    if not forms or len(forms[-1]) > MAX_LENGTH:
        return False
    return sum(ch.isalnum() for ch in forms[0]) >= MIN_LENGTH
