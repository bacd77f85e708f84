"""Masking of personal data for display (pure Python, no Django): what a role that may not see a
value in full is shown instead."""


def mask_id_number(number: str) -> str:
    """Mask an ID number for display, keeping its length.

    12 characters or more: first 4 and last 4 kept ("3171014501900001" -> "3171********0001";
    the first 4 are only the region). Shorter: the last 3 kept, but never more than half, so a
    short number is not given away. Never more than 8 characters revealed.
    """
    text = number.strip() if isinstance(number, str) else ""
    length = len(text)
    if length >= 12:
        return text[:4] + "*" * (length - 8) + text[-4:]
    keep = min(3, length // 2)
    return "*" * (length - keep) + text[length - keep :]


def local_msisdn(msisdn: str) -> str:
    """``6281234567890`` as Indonesians write it: ``081234567890``."""
    return "0" + msisdn[2:] if msisdn.startswith("62") else msisdn


def mask_msisdn(msisdn: str) -> str:
    """The local form with the middle hidden: ``0812*****7890``."""
    local = local_msisdn(msisdn)
    if len(local) <= 8:
        return local
    return local[:4] + "*" * (len(local) - 8) + local[-4:]


def mask_name(name: str) -> str:
    """The first letter of each word: ``Siti Nur'aini`` -> ``S*** N*******``."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in name.split())


def display_msisdn(msisdn: str) -> str:
    """A number as a clerk reads it aloud: the local form in groups of four,
    ``6281100001000`` -> ``0811-0000-1000`` (stored as ``62…``)."""
    local = local_msisdn(msisdn.strip()) if isinstance(msisdn, str) else ""
    if not local.isdigit() or len(local) < 9:
        return local
    return f"{local[:4]}-{local[4:8]}-{local[8:]}"
