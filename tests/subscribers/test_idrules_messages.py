"""What a clerk reads when an identity rule refuses a value: each rule's code, its sentence and
the parameters a translated message is built from, pinned for one failing input each; and the
review notes a reviewer reads. The codes alone (tests/subscribers/test_idrules.py) would let a
garbled or missing sentence through.

Dates are pinned with ``today=TODAY``.
"""

import pickle
from datetime import date

import pytest

from identity.idrules import (
    ID_TYPES,
    IdRuleError,
    clean_person_name,
    luhn_check_digit,
    normalize_msisdn,
    parse_nik,
    validate_iccid,
    validate_id_number,
    validate_kk,
    validate_nik,
)

TODAY = date(2026, 11, 27)
NIK_1990 = "3171010101900001"  # a man born 1 January 1990
NIK_1990_F = "3171014101900001"  # a woman born 1 January 1990
NIK_FORMAT = "The NIK must be exactly 16 digits."


def refusal(call, *args, **kwargs) -> tuple[str, str, dict]:
    with pytest.raises(IdRuleError) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert str(error) == error.message  # what a log line or a 400 body shows
    return error.code, error.message, error.params


CASES = [
    # --- NIK ---
    (
        lambda: parse_nik("31710101019", today=TODAY),
        ("nik_format", NIK_FORMAT, {"length": 11}),
    ),
    (
        lambda: parse_nik("9971010101900001", today=TODAY),
        (
            "nik_province",
            "The NIK does not start with a valid Indonesian province code.",
            {"province": "99"},
        ),
    ),
    (
        lambda: parse_nik("3100010101900001", today=TODAY),
        (
            "nik_region",
            "The NIK's regency and district codes (digits 3 to 6) cannot be 00.",
            {"region": "310001"},
        ),
    ),
    (
        lambda: parse_nik("3171000101900001", today=TODAY),
        (
            "nik_region",
            "The NIK's regency and district codes (digits 3 to 6) cannot be 00.",
            {"region": "317100"},
        ),
    ),
    (
        lambda: parse_nik("3171013002900001", today=TODAY),
        (
            "nik_birth_date",
            "Digits 7 to 12 of the NIK are not a real birth date (DDMMYY, with 40 added to the "
            "day for women).",
            {"date_digits": "300290"},
        ),
    ),
    (
        lambda: parse_nik("3171010101900000", today=TODAY),
        ("nik_serial", "The last 4 digits of the NIK cannot be 0000.", {}),
    ),
    (
        lambda: validate_nik(NIK_1990, birth_date=date(1990, 1, 2), sex="M", today=TODAY),
        (
            "nik_birth_date_mismatch",
            "The birth date in the NIK does not match the birth date entered.",
            {"nik_birth_date": date(1990, 1, 1), "birth_date": date(1990, 1, 2)},
        ),
    ),
    (
        lambda: validate_nik(NIK_1990, birth_date=date(1990, 1, 1), sex="F", today=TODAY),
        (
            "nik_sex_mismatch",
            "The NIK does not match the sex entered: in a woman's NIK, 40 is added to the day "
            "of birth.",
            {"nik_sex": "M", "sex": "F"},
        ),
    ),
    (
        lambda: validate_nik(NIK_1990_F, birth_date=date(1990, 1, 1), sex="m ", today=TODAY),
        (
            "nik_sex_mismatch",
            "The NIK does not match the sex entered: this NIK has 40 added to the day of birth, "
            "which marks a woman.",
            {"nik_sex": "F", "sex": "M"},
        ),
    ),
    (
        lambda: validate_nik(NIK_1990, birth_date=None, sex="L", today=TODAY),
        ("sex_invalid", "Sex must be M (male) or F (female).", {}),
    ),
    (
        lambda: validate_nik(NIK_1990, birth_date=None, sex=1, today=TODAY),
        ("sex_invalid", "Sex must be M (male) or F (female).", {}),
    ),
    (
        lambda: validate_nik("3171010101270001", birth_date=date(2027, 1, 1), sex="M", today=TODAY),
        ("nik_age", "The birth date cannot be in the future.", {"reason": "future"}),
    ),
    (
        lambda: validate_nik(
            "3171012711050001", birth_date=date(1905, 11, 27), sex="M", today=TODAY
        ),
        (
            "nik_age",
            "The birth date is more than 120 years ago.",
            {"reason": "too_old", "max_age": 120},
        ),
    ),
    # --- KK ---
    (
        lambda: validate_kk("3171", today=TODAY),
        ("kk_format", "The family card (KK) number must be exactly 16 digits.", {"length": 4}),
    ),
    (
        lambda: validate_kk("0071010101200042", today=TODAY),
        (
            "kk_province",
            "The family card (KK) number does not start with a valid Indonesian province code.",
            {"province": "00"},
        ),
    ),
    (
        lambda: validate_kk("3171012811260042", today=TODAY),
        (
            "kk_date",
            "Digits 7 to 12 of the family card (KK) number must be its recording date (DDMMYY), "
            "a real date that is not in the future.",
            {"date_digits": "281126"},
        ),
    ),
    (
        lambda: validate_kk("3171010101200000", today=TODAY),
        ("kk_serial", "The last 4 digits of the family card (KK) number cannot be 0000.", {}),
    ),
    # --- ID documents ---
    (
        lambda: validate_id_number("visa", "X1", today=TODAY),
        (
            "id_type_unknown",
            "Unknown identity document type.",
            {"id_type": "visa", "allowed": ID_TYPES},
        ),
    ),
    (
        lambda: validate_id_number("sim", "3171010101900000", today=TODAY),
        (
            "nik_serial",
            "A 16-digit SIM number is the holder's NIK. The last 4 digits of the NIK cannot be "
            "0000.",
            {},
        ),
    ),
    (
        lambda: validate_id_number("sim", NIK_1990, sex="F", today=TODAY),
        (
            "nik_sex_mismatch",
            "A 16-digit SIM number is the holder's NIK. The NIK does not match the sex entered: "
            "in a woman's NIK, 40 is added to the day of birth.",
            {"nik_sex": "M", "sex": "F"},
        ),
    ),
    (
        lambda: validate_id_number("sim", "1234 5678 901", today=TODAY),
        (
            "sim_format",
            "A driving licence (SIM) number has 12 digits (old format) or 16 digits (new format, "
            "the holder's NIK).",
            {"length": 11},
        ),
    ),
    (
        lambda: validate_id_number("passport", "AB123456", today=TODAY),
        (
            "passport_format",
            "An Indonesian passport number is one letter followed by 7 digits, for example "
            "A1234567.",
            {},
        ),
    ),
    (
        lambda: validate_id_number("passport", "X12", nationality="MY", today=TODAY),
        (
            "passport_format",
            "A passport number must be 5 to 20 letters and digits.",
            {"min_length": 5, "max_length": 20},
        ),
    ),
    (
        lambda: validate_id_number("kitas", "2C11AB1234", today=TODAY),
        (
            "foreigner_document",
            "KITAS is a residence permit for foreign nationals; an Indonesian citizen registers "
            "with a KTP, SIM, passport or student card.",
            {"id_type": "kitas"},
        ),
    ),
    (
        lambda: validate_id_number("kitap", "AB12", nationality="AU", today=TODAY),
        (
            "kitap_format",
            "A KITAP number must be 6 to 20 letters and digits.",
            {"min_length": 6, "max_length": 20},
        ),
    ),
    (
        lambda: validate_id_number("student_card", "A#1", today=TODAY),
        (
            "student_card_format",
            "A student card number must be 3 to 30 letters, digits, dots, slashes or dashes.",
            {"min_length": 3, "max_length": 30},
        ),
    ),
    # --- MSISDN, ICCID ---
    (
        lambda: normalize_msisdn("021 555 1234"),
        (
            "msisdn_format",
            "Enter an Indonesian mobile number, for example 0812 3456 789 or +62 812 3456 789.",
            {},
        ),
    ),
    (
        lambda: validate_iccid("8962 1234"),
        (
            "iccid_format",
            "The ICCID (SIM card serial number) must be 18 to 20 digits starting with 89.",
            {"length": 8},
        ),
    ),
    (
        lambda: validate_iccid("8962" + "0" * 13 + "1"),
        (
            "iccid_checksum",
            "The ICCID is not valid: its last digit does not match. Check the number on the card.",
            {},
        ),
    ),
    # --- names ---
    (
        lambda: clean_person_name("   "),
        (
            "name_length",
            "The name must be 1 to 100 characters long.",
            {"length": 0, "min_length": 1, "max_length": 100},
        ),
    ),
    (
        lambda: clean_person_name("A" * 101),
        (
            "name_length",
            "The name must be 1 to 100 characters long.",
            {"length": 101, "min_length": 1, "max_length": 100},
        ),
    ),
    (
        lambda: clean_person_name("Budi <b>2</b>"),
        (
            "name_chars",
            "The name contains characters that are not allowed: < > 2 /",
            {"chars": "<>2/"},
        ),
    ),
    (
        lambda: clean_person_name("- . ,"),
        ("name_no_letter", "The name must contain at least one letter.", {}),
    ),
]


@pytest.mark.parametrize(("call", "expected"), CASES)
def test_each_refusal_says_what_the_clerk_must_fix(call, expected):
    assert refusal(call) == expected


def test_an_error_shows_its_code_and_sentence_and_travels_whole():
    with pytest.raises(IdRuleError) as caught:
        parse_nik("123", today=TODAY)
    error = caught.value
    assert repr(error) == f"IdRuleError('nik_format', {NIK_FORMAT!r})"
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert (type(copy), copy.code, copy.message, copy.params) == (
        IdRuleError,
        "nik_format",
        NIK_FORMAT,
        {"length": 3},
    )


def test_the_review_notes_a_reviewer_reads():
    old_sim = validate_id_number("sim", "1234-5678-9012", today=TODAY)
    assert (old_sim.normalized, old_sim.doubtful, old_sim.notes) == (
        "123456789012",
        False,
        ("Old-format (12-digit) SIM: the number cannot be checked against the birth date.",),
    )
    card = validate_id_number("student_card", "nis 12/a", today=TODAY)
    assert (card.normalized, card.doubtful, card.notes) == (
        "NIS12/A",
        True,
        (
            "Student card: there is no national number format to check, and the holder may be "
            "a minor. Check the card itself.",
        ),
    )
    odd = validate_id_number("passport", "abcde", nationality="sg", today=TODAY)
    assert (odd.normalized, odd.doubtful, odd.notes) == (
        "ABCDE",
        True,
        (
            "Foreign passport number has an unusual length (5 characters).",
            "Foreign passport number has no digits.",
        ),
    )


@pytest.mark.parametrize(
    ("number", "doubtful"),
    [("K1234", True), ("K12345", False), ("K12345678", False), ("K123456789", True)],
)
def test_a_foreign_passport_of_6_to_9_characters_is_usual(number, doubtful):
    check = validate_id_number("passport", number, nationality="JP", today=TODAY)
    assert check.doubtful is doubtful
    assert bool(check.notes) is doubtful


@pytest.mark.parametrize("payload", ["", "12a4", 1234, None])
def test_luhn_refuses_what_is_not_a_digit_string_and_says_so(payload):
    with pytest.raises(ValueError, match=r"^Luhn payload must be a non-empty string of digits\.$"):
        luhn_check_digit(payload)


# --- boundaries the tables above do not cross ----------------------------------------------


@pytest.mark.parametrize(
    ("birth_date", "accepted"),
    [
        (date(1905, 11, 27), False),  # 121 today
        (date(1905, 11, 28), True),  # 120 until tomorrow
        (date(1906, 11, 27), True),  # 120 today
    ],
)
def test_the_oldest_holder_is_120(birth_date, accepted):
    nik = f"317101{birth_date:%d%m%y}0001"
    if accepted:
        assert validate_nik(nik, birth_date=birth_date, sex="M", today=TODAY) == nik
    else:
        assert refusal(validate_nik, nik, birth_date=birth_date, sex="M", today=TODAY)[0] == (
            "nik_age"
        )


def test_a_holder_born_today_is_accepted_and_tomorrow_is_the_future():
    assert validate_nik("3171012711260001", birth_date=TODAY, sex="M", today=TODAY)
    code, _, params = refusal(
        validate_nik, "3171012811260001", birth_date=date(2026, 11, 28), sex="M", today=TODAY
    )
    assert (code, params["reason"]) == ("nik_age", "future")


@pytest.mark.parametrize(
    ("kk", "accepted"),
    [
        ("3171012711260042", True),  # recorded today
        ("3171012811260042", False),  # tomorrow
        ("3171010101000042", True),  # 1 January 2000
        ("3171012711270042", False),  # year 27 is still to come: 1927, before any such card
        ("3171012711700042", True),  # 1970
    ],
)
def test_a_family_card_is_recorded_no_later_than_today(kk, accepted):
    if accepted:
        assert validate_kk(kk, today=TODAY) == kk
    else:
        assert refusal(validate_kk, kk, today=TODAY)[0] == "kk_date"


@pytest.mark.parametrize(
    ("day_code", "sex", "day"),
    [("01", "M", 1), ("31", "M", 31), ("40", None, None), ("41", "F", 1), ("71", "F", 31)],
)
def test_the_day_code_splits_men_from_women_at_40(day_code, sex, day):
    nik = f"317101{day_code}01900001"
    if sex is None:
        assert refusal(parse_nik, nik, today=TODAY)[0] == "nik_birth_date"
        return
    info = parse_nik(nik, today=TODAY)
    assert (info.sex, info.birth_date) == (sex, date(1990, 1, day))


def test_a_datetime_birth_date_is_its_day():
    from datetime import datetime

    nik = validate_nik(NIK_1990, birth_date=datetime(1990, 1, 1, 23, 59), sex="M", today=TODAY)
    assert nik == NIK_1990


def test_the_century_is_the_one_of_today():
    """In 2019 a NIK or a family card of year "10" is from 2010, not 1910."""
    in_2019 = date(2019, 6, 1)
    assert parse_nik("3171010101100001", today=in_2019).birth_date == date(2010, 1, 1)
    # Recorded on 15 December of "18" seen in June 2019: 2018, in the past.
    assert validate_kk("3171011512180042", today=in_2019)
    # 1 July "19" seen on 1 June 2019: next month, refused (not 1919).
    assert refusal(validate_kk, "3171010107190042", today=in_2019)[0] == "kk_date"


def test_a_family_card_of_29_february_in_a_year_still_to_come_is_from_the_last_century():
    # "72" seen in 2026 is 1972, a leap year: 29 February existed.
    assert validate_kk("3171012902720042", today=TODAY) == "3171012902720042"
    assert refusal(validate_kk, "3171012902730042", today=TODAY)[0] == "kk_date"


@pytest.mark.parametrize("id_type", ["ktp", "sim"])
def test_the_document_rules_judge_the_birth_date_on_the_day_they_are_given(id_type):
    """``today`` reaches the NIK rules through ``validate_id_number``: seen in 1995, a holder
    born in 2000 is not born yet."""
    code, _, params = refusal(
        validate_id_number,
        id_type,
        "3171010101000001",
        birth_date=date(2000, 1, 1),
        sex="M",
        today=date(1995, 1, 1),
    )
    assert (code, params["reason"]) == ("nik_age", "future")


@pytest.mark.parametrize("typed", ["+08123456789", "+8123456789", "+0062812345678"])
def test_a_plus_must_be_followed_by_the_country_code(typed):
    assert refusal(normalize_msisdn, typed)[0] == "msisdn_format"


def test_what_is_not_text_is_an_empty_value():
    assert refusal(validate_iccid, None) == (
        "iccid_format",
        "The ICCID (SIM card serial number) must be 18 to 20 digits starting with 89.",
        {"length": 0},
    )
    assert refusal(validate_id_number, "ktp", None, today=TODAY) == (
        "nik_format",
        NIK_FORMAT,
        {"length": 0},
    )


@pytest.mark.parametrize(
    "name",
    [
        "किरण",  # Devanagari: a spacing vowel sign (Mc) after a letter
        "ปิ่น",  # Thai: two marks in a row on one letter (Mn, Mn)
        "Ade\u0331",  # a combining mark with no precomposed form, after a Latin letter
    ],
)
def test_combining_marks_on_a_letter_are_part_of_the_name(name):
    assert clean_person_name(name) == name


def test_a_combining_mark_on_nothing_is_refused():
    code, _, params = refusal(clean_person_name, "\u0331Ade")
    assert (code, params["chars"]) == ("name_chars", "\u0331")
