"""Translatable, field-level messages for the codes raised by the pure ID rules.

``idrules`` stays free of Django; this table is where its codes meet the translation catalogue.
An unknown code falls back to the rule's own (English) message rather than failing.
"""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "nik_format": _("A NIK has exactly 16 digits."),
    "nik_province": _("The first two digits of this NIK are not an Indonesian province code."),
    "nik_region": _("The regency or district code in this NIK is not valid."),
    "nik_birth_date": _("Digits 7–12 of this NIK are not a real date of birth."),
    "nik_serial": _("The last four digits of a NIK run from 0001 to 9999."),
    "nik_birth_date_mismatch": _(
        "The date of birth does not agree with the NIK (digits 7–12, day + 40 for women)."
    ),
    "nik_sex_mismatch": _(
        "The sex does not agree with the NIK: for women the day of birth in the NIK is + 40."
    ),
    "nik_age": _("The date of birth in this NIK is not plausible."),
    "kk_format": _("A family card (KK) number has exactly 16 digits."),
    "kk_province": _("The first two digits of this KK number are not a province code."),
    "kk_region": _("The regency or district code in this KK number is not valid."),
    "kk_date": _("Digits 7–12 of this KK number are not a real recording date."),
    "kk_serial": _("The last four digits of a KK number cannot be 0000."),
    "sim_format": _("A driving licence number has 12 digits (old) or 16 digits (new, the NIK)."),
    "passport_format": _(
        "An Indonesian passport number is one letter and 7 digits, e.g. A1234567."
    ),
    "kitas_format": _("A KITAS number has 6 to 20 letters or digits."),
    "kitap_format": _("A KITAP number has 6 to 20 letters or digits."),
    "foreigner_document": _("KITAS and KITAP are for foreign citizens: check the nationality."),
    "nik_as_document": _(
        "This number has the form of a NIK: a NIK is registered with the KTP (or the new SIM), "
        "whoever holds it — a foreign resident with a KTP-el too."
    ),
    "student_card_format": _("A student card number has 3 to 30 letters, digits, dots or dashes."),
    "id_type_unknown": _("Unknown ID type."),
    "msisdn_format": _("Enter an Indonesian mobile number, e.g. 0812 3456 7890 or 62812…"),
    "iccid_format": _("An ICCID has 18 to 20 digits and starts with 89."),
    "iccid_checksum": _("This ICCID's check digit is wrong: check it on the card."),
    "name_length": _("A name has 1 to 100 characters."),
    "name_no_letter": _("A name must contain at least one letter."),
    "sex_invalid": _("Choose M (male) or F (female)."),
    "name_chars": _(
        "Use letters, spaces, apostrophes, hyphens, dots and commas only (no digits or symbols)."
    ),
}


def id_rule_message(exc) -> str:
    """The translated message for an ``IdRuleError``."""
    message = MESSAGES.get(getattr(exc, "code", ""))
    return str(message) if message is not None else getattr(exc, "message", str(exc))


PHOTO_MESSAGES = {
    "photo_too_large": _("The photo is too large. Send a photo of at most %(mb)d MB."),
    "photo_not_image": _("The file is not a photo. Upload a JPEG, PNG or WebP image."),
    "photo_format": _("This image format is not accepted. Upload a JPEG, PNG or WebP image."),
    "photo_bomb": _("The image is far too large in pixels. Take the photo again."),
    "photo_too_small": _("The photo is too small to read. Take it closer, at least 200 pixels."),
    "photo_truncated": _("The photo is damaged or incomplete. Take or send it again."),
}


def photo_message(exc, *, max_bytes: int) -> str:
    message = PHOTO_MESSAGES.get(getattr(exc, "code", ""))
    if message is None:
        return getattr(exc, "message", str(exc))
    return (
        str(message) % {"mb": max_bytes // (1024 * 1024)}
        if "%(mb)" in str(message)
        else str(message)
    )
