"""How operator-side identity values are brought to the portal's form before comparison.

Pure functions (no Django). The operator's data is what the portal is checked against, so it is
*normalised* the way ``subscribers.idrules`` normalises what a clerk types, but never *judged* by
the portal's rules: a NIK the portal would refuse is still the operator's value, and comparing
its digest is exactly how the difference is found.
"""

import re

# The same layout characters idrules.validate_id_number drops, per document type.
_NUMBER_SEPARATORS = re.compile(r"[\s.\-]")
_DOCUMENT_SEPARATORS = re.compile(r"[\s\-]")
_SPACES = re.compile(r"\s")

_DIGIT_DOCUMENTS = frozenset({"ktp", "sim"})
_LETTER_DOCUMENTS = frozenset({"passport", "kitas", "kitap"})


def normalize_id_number(id_type: str, number: str) -> str:
    """The ID number as the portal stores it before digesting (``idrules.validate_id_number``).

    KTP/SIM: spaces, dots and dashes dropped. Passport/KITAS/KITAP: spaces and dashes dropped,
    upper case. Student card: spaces dropped, upper case. Unknown types: stripped, upper case.
    """
    kind = (id_type or "").strip().lower()
    text = (number or "").strip()
    if kind in _DIGIT_DOCUMENTS:
        return _NUMBER_SEPARATORS.sub("", text)
    if kind in _LETTER_DOCUMENTS:
        return _DOCUMENT_SEPARATORS.sub("", text).upper()
    return _SPACES.sub("", text).upper()
