"""Identity rules (identity.idrules): pure Python, no database.

Dates are pinned with ``today=TODAY`` so the century and "future" rules are deterministic.
"""

import pickle
import string
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.masking import mask_id_number
from identity.idrules import (
    ID_TYPES,
    KK_FIRST_YEAR,
    PROVINCE_CODES,
    IdCheck,
    IdRuleError,
    NikInfo,
    clean_person_name,
    luhn_check_digit,
    normalize_msisdn,
    normalize_name_for_comparison,
    parse_nik,
    validate_iccid,
    validate_id_number,
    validate_kk,
    validate_nik,
)

TODAY = date(2026, 11, 27)


def make_nik(birth_date, sex="M", *, province="31", regency="71", district="01", serial=1):
    day = birth_date.day + (40 if sex == "F" else 0)
    return (
        f"{province}{regency}{district}"
        f"{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}{serial:04d}"
    )


def make_kk(recorded, *, region="317101", serial=42):
    return f"{region}{recorded:%d%m%y}{serial:04d}"


def fullwidth(text):
    """The full-width forms of ASCII letters and digits ("A1" -> U+FF21 U+FF11)."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


def raises_code(code):
    """pytest.raises for an IdRuleError with this code (the message must be non-empty)."""
    return pytest.raises(IdRuleError, match=r".+", check=lambda error: error.code == code)


# --- IdRuleError and constants -----------------------------------------------------------------


def test_error_carries_code_message_and_params():
    error = IdRuleError("nik_format", "The NIK must be exactly 16 digits.", length=3)
    assert isinstance(error, ValueError)
    assert (error.code, error.message, error.params) == (
        "nik_format",
        "The NIK must be exactly 16 digits.",
        {"length": 3},
    )
    assert str(error) == "The NIK must be exactly 16 digits."


def test_error_survives_pickling():
    error = IdRuleError("nik_province", "Bad province.", province="20")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert (copy.code, copy.message, copy.params) == (
        "nik_province",
        "Bad province.",
        {"province": "20"},
    )


def test_id_types():
    assert ID_TYPES == ("ktp", "sim", "passport", "student_card", "kitas", "kitap")


def test_province_codes_are_exactly_the_kemendagri_list():
    expected = [*range(11, 20), 21, *range(31, 37), *range(51, 54), *range(61, 66)]
    expected += [*range(71, 77), 81, 82, *range(91, 97)]
    assert frozenset(f"{code:02d}" for code in expected) == PROVINCE_CODES
    assert len(PROVINCE_CODES) == 38


# --- parse_nik: valid NIKs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nik", "birth_date", "sex"),
    [
        ("3171010501900001", date(1990, 1, 5), "M"),  # Jakarta Pusat, man born 5 Jan 1990
        ("3171014501900001", date(1990, 1, 5), "F"),  # same day, woman: day + 40
        ("3273012312850123", date(1985, 12, 23), "M"),
        ("3273016312850123", date(1985, 12, 23), "F"),
        ("3507130107059999", date(2005, 7, 1), "M"),  # YY=05 is 2005, not 1905
        ("3507134107050001", date(2005, 7, 1), "F"),
        ("1101013112990002", date(1999, 12, 31), "M"),
        ("1101017112990002", date(1999, 12, 31), "F"),  # day 71 = 31 for a woman
        ("9601014101000001", date(2000, 1, 1), "F"),  # day 41 = 1 for a woman
        ("5171020101100005", date(2010, 1, 1), "M"),
        ("6471052711260001", date(2026, 11, 27), "M"),  # born today
        ("6471052811260001", date(1926, 11, 28), "M"),  # 2026-11-28 is tomorrow: 1926
        ("6471050101270001", date(1927, 1, 1), "M"),  # YY=27 cannot be 2027 yet
        ("7371010101500001", date(1950, 1, 1), "M"),
    ],
)
def test_parse_valid_nik(nik, birth_date, sex):
    info = parse_nik(nik, today=TODAY)
    assert info.birth_date == birth_date
    assert info.sex == sex
    assert info.serial == nik[12:]


def test_parse_nik_splits_the_region_codes():
    assert parse_nik("3171014501900001", today=TODAY) == NikInfo(
        province="31",
        regency="3171",
        district="317101",
        birth_date=date(1990, 1, 5),
        sex="F",
        serial="0001",
    )


@pytest.mark.parametrize(
    "typed",
    [
        "3171 0145 0190 0001",
        "3171-0145-0190-0001",
        "31.71.01.450190.0001",
        " 3171014501900001 ",
        "3171\t014501900001",
        "317101\u00a0450190 0001",  # a non-breaking space from a copy-paste
    ],
)
def test_parse_nik_drops_typed_separators(typed):
    assert parse_nik(typed, today=TODAY).birth_date == date(1990, 1, 5)
    assert validate_nik(typed, birth_date=date(1990, 1, 5), sex="F", today=TODAY) == (
        "3171014501900001"
    )


def test_parse_nik_defaults_today_to_the_real_date():
    assert parse_nik("3171014501900001").birth_date == date(1990, 1, 5)


def test_parse_nik_accepts_a_datetime_for_today():
    assert parse_nik("3171010501900001", today=datetime(2026, 11, 27, 8, 0)).sex == "M"


# --- parse_nik: errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nik",
    [
        "",
        "317101450190001",  # 15 digits
        "31710145019000011",  # 17 digits
        "3171O14501900001",  # letter O for zero
        "317101450190000A",
        "3171+14501900001",
        "3171/01/450190/0001",  # slashes are not a separator people type in a NIK
        "\u0663\u0661\u0667\u0661014501900001",  # Arabic-Indic digits are not NIK digits
        fullwidth("3171014501900001"),
        None,
        3171014501900001,
    ],
)
def test_nik_format(nik):
    with raises_code("nik_format"):
        parse_nik(nik, today=TODAY)


PROVINCE_BOUNDARIES = {
    "00": False,
    "10": False,
    "11": True,
    "19": True,
    "20": False,
    "21": True,
    "22": False,
    "30": False,
    "31": True,
    "36": True,
    "37": False,
    "50": False,
    "51": True,
    "53": True,
    "54": False,
    "60": False,
    "61": True,
    "65": True,
    "66": False,
    "70": False,
    "71": True,
    "76": True,
    "77": False,
    "80": False,
    "81": True,
    "82": True,
    "83": False,
    "90": False,
    "91": True,
    "96": True,
    "97": False,
    "99": False,
}


@pytest.mark.parametrize(("province", "valid"), PROVINCE_BOUNDARIES.items())
def test_nik_province_boundaries(province, valid):
    nik = make_nik(date(1990, 1, 5), province=province)
    if valid:
        assert parse_nik(nik, today=TODAY).province == province
    else:
        with raises_code("nik_province") as caught:
            parse_nik(nik, today=TODAY)
        assert caught.value.params == {"province": province}


@pytest.mark.parametrize("province", [f"{code:02d}" for code in range(100)])
def test_every_two_digit_province_code(province):
    nik = make_nik(date(1990, 1, 5), province=province)
    if province in PROVINCE_CODES:
        parse_nik(nik, today=TODAY)
    else:
        with raises_code("nik_province"):
            parse_nik(nik, today=TODAY)


@pytest.mark.parametrize(("regency", "district"), [("00", "01"), ("01", "00"), ("00", "00")])
def test_nik_region(regency, district):
    with raises_code("nik_region"):
        parse_nik(make_nik(date(1990, 1, 5), regency=regency, district=district), today=TODAY)


@pytest.mark.parametrize(
    "date_digits",
    [
        "300266",  # 30 Feb
        "310466",  # 31 Apr
        "700266",  # 30 Feb for a woman
        "710466",  # 31 Apr for a woman
        "720490",  # day 72 = 32 for a woman
        "000190",  # day 0
        "320190",  # day 32
        "400190",  # day 40 = 0 for a woman
        "011390",  # month 13
        "010090",  # month 0
        "290201",  # 29 Feb 2001 and 1901: not leap years
        "690201",  # the same for a woman
        "290226",  # 2026 and 1926 are not leap years
        "990190",
    ],
)
def test_nik_birth_date_impossible(date_digits):
    with raises_code("nik_birth_date") as caught:
        parse_nik(f"317101{date_digits}0001", today=TODAY)
    assert caught.value.params == {"date_digits": date_digits}


@pytest.mark.parametrize(
    ("date_digits", "birth_date", "sex"),
    [
        ("290200", date(2000, 2, 29), "M"),  # 2000 is a leap year (1900 was not)
        ("690200", date(2000, 2, 29), "F"),
        ("290204", date(2004, 2, 29), "M"),
        ("690204", date(2004, 2, 29), "F"),
        ("290296", date(1996, 2, 29), "M"),
        ("290224", date(2024, 2, 29), "M"),
        ("280201", date(2001, 2, 28), "M"),
    ],
)
def test_nik_leap_days(date_digits, birth_date, sex):
    info = parse_nik(f"317101{date_digits}0001", today=TODAY)
    assert (info.birth_date, info.sex) == (birth_date, sex)


def test_nik_feb_29_of_year_00_falls_back_to_a_real_date_in_the_previous_century():
    # In 2100, "290200" cannot be 2100-02-29 (not a leap year), so it is 2000-02-29.
    info = parse_nik("3171012902000001", today=date(2100, 6, 1))
    assert info.birth_date == date(2000, 2, 29)


def test_nik_feb_29_of_year_00_seen_before_it_happened_is_impossible():
    # Seen from 1999, 2000-02-29 is in the future and 1900-02-29 never existed.
    with raises_code("nik_birth_date"):
        parse_nik("3171012902000001", today=date(1999, 6, 1))


@pytest.mark.parametrize(("serial", "valid"), [(0, False), (1, True), (9999, True), (5000, True)])
def test_nik_serial(serial, valid):
    nik = make_nik(date(1990, 1, 5), serial=serial)
    if valid:
        assert parse_nik(nik, today=TODAY).serial == f"{serial:04d}"
    else:
        with raises_code("nik_serial"):
            parse_nik(nik, today=TODAY)


# --- the century -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yy", "expected_year"),
    [
        ("00", 2000),
        ("05", 2005),
        ("10", 2010),
        ("25", 2025),
        ("26", 2026),  # 1 Jan 2026 is not in the future
        ("27", 1927),
        ("50", 1950),
        ("90", 1990),
        ("99", 1999),
    ],
)
def test_nik_century_is_the_latest_that_is_not_in_the_future(yy, expected_year):
    info = parse_nik(f"3171010101{yy}0001", today=TODAY)
    assert info.birth_date == date(expected_year, 1, 1)


def test_entered_birth_date_in_another_century_makes_the_holder_too_old():
    # Same DDMMYY as the NIK, so the entered century is taken: 136 years old.
    with raises_code("nik_age"):
        validate_nik("3171010501900001", birth_date=date(1890, 1, 5), sex="M", today=TODAY)


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (date(1926, 1, 1), date(1926, 1, 1)),  # a 100-year-old: the hint picks the century
        (date(2026, 1, 1), date(2026, 1, 1)),
        (datetime(1926, 1, 1, 12, 0), date(1926, 1, 1)),
        (date(1926, 1, 2), date(2026, 1, 1)),  # the day differs: the hint is ignored
        (date(1925, 1, 1), date(2026, 1, 1)),  # the two-digit year differs: ignored
        (date(1926, 2, 1), date(2026, 1, 1)),  # the month differs: ignored
    ],
)
def test_nik_century_from_birth_date_hint(hint, expected):
    nik = "3171010101260001"
    assert parse_nik(nik, today=TODAY, birth_date_hint=hint).birth_date == expected


def test_nik_hint_matches_a_womans_decoded_day():
    info = parse_nik("3171014101260001", today=TODAY, birth_date_hint=date(1926, 1, 1))
    assert (info.birth_date, info.sex) == (date(1926, 1, 1), "F")


# --- validate_nik ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nik", "birth_date", "sex"),
    [
        ("3171010501900001", date(1990, 1, 5), "M"),
        ("3171014501900001", date(1990, 1, 5), "F"),
        ("3507130107050001", date(2005, 7, 1), "M"),
        ("3507134107050001", date(2005, 7, 1), "F"),
        ("3171012902000001", date(2000, 2, 29), "M"),
        ("3171016902000001", date(2000, 2, 29), "F"),
        ("3171010101260001", date(1926, 1, 1), "M"),  # 100 years old
        ("3171010101260001", date(2026, 1, 1), "M"),  # 10 months old
        ("3171012811061234", date(1906, 11, 28), "M"),  # 119
        ("3171012711061234", date(1906, 11, 27), "M"),  # 120 today
        ("3171012811051234", date(1905, 11, 28), "M"),  # 120 until tomorrow
        ("3171012711260001", date(2026, 11, 27), "M"),  # born today
    ],
)
def test_validate_nik_ok(nik, birth_date, sex):
    assert validate_nik(nik, birth_date=birth_date, sex=sex, today=TODAY) == nik


@pytest.mark.parametrize("sex", ["m", " M ", "M"])
def test_validate_nik_sex_is_case_and_space_insensitive(sex):
    validate_nik("3171010501900001", birth_date=date(1990, 1, 5), sex=sex, today=TODAY)


@pytest.mark.parametrize("sex", ["X", "", "L", "male", 1])
def test_validate_nik_sex_invalid(sex):
    with raises_code("sex_invalid"):
        validate_nik("3171010501900001", birth_date=date(1990, 1, 5), sex=sex, today=TODAY)


def test_validate_nik_without_birth_date_or_sex_checks_the_nik_alone():
    assert validate_nik("3171014501900001", birth_date=None, sex=None, today=TODAY)


@pytest.mark.parametrize(
    ("nik", "entered"),
    [
        ("3171010501900001", date(1990, 1, 6)),  # another day
        ("3171010501900001", date(1990, 2, 5)),  # another month
        ("3171010501900001", date(1991, 1, 5)),  # another year
        ("3171010501900001", date(1980, 1, 5)),
        ("3171014501900001", date(1990, 1, 15)),
        ("3171014501900001", date(1990, 1, 4)),
        ("3507130107050001", date(2005, 1, 7)),  # day and month swapped
    ],
)
def test_validate_nik_birth_date_mismatch(nik, entered):
    with raises_code("nik_birth_date_mismatch") as caught:
        validate_nik(nik, birth_date=entered, sex=None, today=TODAY)
    assert caught.value.params["birth_date"] == entered


@pytest.mark.parametrize(
    ("nik", "birth_date", "entered_sex"),
    [
        ("3171010501900001", date(1990, 1, 5), "F"),  # a woman whose NIK day is not + 40
        ("3171014501900001", date(1990, 1, 5), "M"),  # a man whose NIK day is + 40
        ("3507130107050001", date(2005, 7, 1), "F"),
        ("3171017112990002", date(1999, 12, 31), "M"),
    ],
)
def test_validate_nik_sex_mismatch(nik, birth_date, entered_sex):
    with raises_code("nik_sex_mismatch") as caught:
        validate_nik(nik, birth_date=birth_date, sex=entered_sex, today=TODAY)
    assert caught.value.params["sex"] == entered_sex
    assert "40" in caught.value.message


def test_validate_nik_woman_with_day_plus_40_entered_as_day_plus_40_is_a_mismatch():
    # A clerk who copies "45" as the day: no such date, the NIK says the 5th.
    with raises_code("nik_birth_date_mismatch"):
        validate_nik("3171014501900001", birth_date=date(1990, 1, 15), sex="F", today=TODAY)


@pytest.mark.parametrize(
    ("nik", "entered"),
    [
        ("3171012811261234", date(2026, 11, 28)),  # tomorrow
        ("3171010101271234", date(2027, 1, 1)),
        ("3171010101991234", date(2099, 1, 1)),
    ],
)
def test_validate_nik_birth_date_future(nik, entered):
    with raises_code("nik_age") as caught:
        validate_nik(nik, birth_date=entered, sex="M", today=TODAY)
    assert caught.value.params == {"reason": "future"}


@pytest.mark.parametrize(
    "entered", [date(1905, 11, 27), date(1905, 1, 1), date(1806, 11, 28), date(1826, 1, 1)]
)
def test_validate_nik_birth_date_too_old(entered):
    nik = make_nik(entered)
    with raises_code("nik_age") as caught:
        validate_nik(nik, birth_date=entered, sex="M", today=TODAY)
    assert caught.value.params == {"reason": "too_old", "max_age": 120}


@pytest.mark.parametrize(
    ("nik", "code"),
    [
        ("317101450190000", "nik_format"),
        ("2071014501900001", "nik_province"),
        ("3100014501900001", "nik_region"),
        ("3171017204900001", "nik_birth_date"),
        ("3171014501900000", "nik_serial"),
    ],
)
def test_validate_nik_reports_parse_errors(nik, code):
    with raises_code(code):
        validate_nik(nik, birth_date=date(1990, 1, 5), sex="F", today=TODAY)


# --- validate_kk -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "recorded",
    [
        date(2010, 3, 15),
        date(2000, 2, 29),
        date(2024, 2, 29),
        date(1999, 12, 31),
        date(1990, 1, 1),
        date(2026, 11, 27),  # today
        date(2026, 1, 1),
        date(1971, 6, 1),  # YY above this year's: the 1900s
    ],
)
def test_validate_kk_ok(recorded):
    kk = make_kk(recorded)
    assert validate_kk(kk, today=TODAY) == kk


def test_validate_kk_drops_separators():
    assert validate_kk("3171 0115 0310 0042", today=TODAY) == "3171011503100042"
    assert validate_kk("3171-01-150310-0042", today=TODAY) == "3171011503100042"


def test_validate_kk_defaults_today():
    assert validate_kk("3171011503100042") == "3171011503100042"


@pytest.mark.parametrize(
    "kk", ["", "317101150310004", "31710115031000421", "31710115031000A2", None]
)
def test_kk_format(kk):
    with raises_code("kk_format"):
        validate_kk(kk, today=TODAY)


@pytest.mark.parametrize("province", ["00", "10", "20", "22", "37", "54", "66", "77", "83", "97"])
def test_kk_province(province):
    with raises_code("kk_province"):
        validate_kk(make_kk(date(2010, 3, 15), region=f"{province}7101"), today=TODAY)


@pytest.mark.parametrize(
    "date_digits",
    [
        "551003",  # day + 40 is a NIK habit; a KK recording date has none
        "410110",
        "300210",
        "310410",
        "290201",
        "000110",
        "011310",
        "010010",
        "281126",  # tomorrow
        "011226",  # next month
        "311226",
        "010630",  # 1930: no family card of this numbering is that old
        "311269",
    ],
)
def test_kk_date(date_digits):
    with raises_code("kk_date"):
        validate_kk(f"317101{date_digits}0042", today=TODAY)


@pytest.mark.parametrize("region", ["310001", "317100", "310000"])
def test_kk_region(region):
    """As in a NIK: the regency and district codes are never 00."""
    with raises_code("kk_region"):
        validate_kk(make_kk(date(2010, 3, 15), region=region), today=TODAY)


def test_kk_serial():
    with raises_code("kk_serial"):
        validate_kk(make_kk(date(2010, 3, 15), serial=0), today=TODAY)
    assert validate_kk(make_kk(date(2010, 3, 15), serial=1), today=TODAY)


# --- validate_id_number ------------------------------------------------------------------------


def test_ktp_is_a_nik():
    check = validate_id_number(
        "ktp", "3171 0145 0190 0001", birth_date=date(1990, 1, 5), sex="F", today=TODAY
    )
    assert check == IdCheck(normalized="3171014501900001", doubtful=False, notes=())


@pytest.mark.parametrize(
    ("birth_date", "sex", "code"),
    [
        (date(1990, 1, 6), "F", "nik_birth_date_mismatch"),
        (date(1990, 1, 5), "M", "nik_sex_mismatch"),
    ],
)
def test_ktp_agreement_errors(birth_date, sex, code):
    with raises_code(code):
        validate_id_number("ktp", "3171014501900001", birth_date=birth_date, sex=sex, today=TODAY)


def test_ktp_for_a_foreign_resident_is_allowed():
    # Holders of a KITAP get a KTP-el with a NIK too.
    check = validate_id_number("ktp", "3171010501900001", nationality="MY", today=TODAY)
    assert check.normalized == "3171010501900001"


@pytest.mark.parametrize("id_type", ["KTP", " ktp "])
def test_id_type_is_case_insensitive(id_type):
    assert validate_id_number(id_type, "3171010501900001", today=TODAY).normalized


def test_new_sim_is_validated_as_nik():
    check = validate_id_number(
        "sim", "3171-0145-0190-0001", birth_date=date(1990, 1, 5), sex="F", today=TODAY
    )
    assert check == IdCheck("3171014501900001", False, ())


@pytest.mark.parametrize(
    ("number", "birth_date", "sex", "code"),
    [
        ("3171014501900001", date(1990, 1, 6), "F", "nik_birth_date_mismatch"),
        ("3171014501900001", date(1990, 1, 5), "M", "nik_sex_mismatch"),
        ("2071014501900001", date(1990, 1, 5), "F", "nik_province"),
        ("3171017204900001", None, None, "nik_birth_date"),
        ("3171014501900000", None, None, "nik_serial"),
    ],
)
def test_new_sim_nik_errors(number, birth_date, sex, code):
    with raises_code(code) as caught:
        validate_id_number("sim", number, birth_date=birth_date, sex=sex, today=TODAY)
    assert "SIM" in caught.value.message


@pytest.mark.parametrize(
    ("number", "normalized"),
    [
        ("901012345678", "901012345678"),
        ("9010-1234-5678", "901012345678"),
        ("9010 1234 5678", "901012345678"),
        ("9010.1234.5678", "901012345678"),
    ],
)
def test_old_sim_is_accepted(number, normalized):
    check = validate_id_number("sim", number, birth_date=date(1990, 1, 5), sex="F", today=TODAY)
    assert (check.normalized, check.doubtful) == (normalized, False)
    assert check.notes  # tells the reviewer it could not be cross-checked


@pytest.mark.parametrize(
    "number",
    [
        "",
        "12345678901",
        "1234567890123",
        "123456789012345",
        "12345678901234567",
        "A01012345678",
        "9010/1234/5678",
    ],
)
def test_sim_format(number):
    with raises_code("sim_format"):
        validate_id_number("sim", number, today=TODAY)


@pytest.mark.parametrize(
    ("number", "normalized"),
    [
        ("A1234567", "A1234567"),
        ("a1234567", "A1234567"),
        ("B 1234567", "B1234567"),
        ("X-1234567", "X1234567"),
        (" C9876543 ", "C9876543"),
        ("E0000001", "E0000001"),
    ],
)
def test_indonesian_passport_ok(number, normalized):
    assert validate_id_number("passport", number, today=TODAY) == IdCheck(normalized, False, ())


@pytest.mark.parametrize(
    "number",
    [
        "",
        "AB123456",
        "A123456",
        "A12345678",
        "12345678",
        "A123456B",
        "1A234567",
        "Ä1234567",
        "A1234.567",
        "A" + fullwidth("1234567"),
    ],
)
def test_indonesian_passport_format(number):
    with raises_code("passport_format"):
        validate_id_number("passport", number, nationality="ID", today=TODAY)


@pytest.mark.parametrize("nationality", ["id", " ID ", "", None])
def test_nationality_is_normalised_and_defaults_to_indonesian(nationality):
    with raises_code("passport_format"):
        validate_id_number("passport", "AB123456", nationality=nationality, today=TODAY)


@pytest.mark.parametrize(
    ("number", "nationality", "normalized"),
    [
        ("123456789", "US", "123456789"),
        ("C01X00T47", "DE", "C01X00T47"),
        ("a12345678", "MY", "A12345678"),
        ("E1234567A", "SG", "E1234567A"),
        ("AB 123456", "GB", "AB123456"),
        ("MA1234567", "CN", "MA1234567"),
        ("A1234567", "AU", "A1234567"),
        ("ZZ1234", "NL", "ZZ1234"),  # 6 characters: still usual
    ],
)
def test_foreign_passport_usual_shapes_are_not_doubtful(number, nationality, normalized):
    assert validate_id_number("passport", number, nationality=nationality, today=TODAY) == (
        IdCheck(normalized, False, ())
    )


@pytest.mark.parametrize(
    "number",
    [
        "A1234",  # 5 characters
        "1234567890",  # 10
        "ABCDEFG1234567890123",  # 20
        "ABCDEFGH",  # no digits
        "ABCDE",  # short and no digits: two notes
    ],
)
def test_foreign_passport_unusual_shapes_are_doubtful(number):
    check = validate_id_number("passport", number, nationality="JP", today=TODAY)
    assert check.doubtful
    assert check.notes
    assert check.normalized == number


def test_foreign_passport_notes_each_reason():
    check = validate_id_number("passport", "abcde", nationality="JP", today=TODAY)
    assert check.normalized == "ABCDE"
    assert len(check.notes) == 2


@pytest.mark.parametrize(
    "number",
    ["", "A123", "ABCDEFG12345678901234", "A1234#567", "A12345<6", "A123.4567", "Ñ1234567"],
)
def test_foreign_passport_format(number):
    with raises_code("passport_format"):
        validate_id_number("passport", number, nationality="JP", today=TODAY)


@pytest.mark.parametrize("id_type", ["kitas", "kitap"])
@pytest.mark.parametrize(
    ("number", "normalized"),
    [
        ("2C21JE1234AB", "2C21JE1234AB"),
        ("2c21je1234-ab", "2C21JE1234AB"),
        ("123456", "123456"),
        ("ABCDEF", "ABCDEF"),
        ("1234 5678 9012 3456 7890", "12345678901234567890"),
    ],
)
def test_residence_permit_ok(id_type, number, normalized):
    check = validate_id_number(id_type, number, nationality="AU", today=TODAY)
    assert check == IdCheck(normalized, False, ())


@pytest.mark.parametrize("id_type", ["kitas", "kitap"])
@pytest.mark.parametrize(
    "number", ["", "12345", "123456789012345678901", "2C21JE1234/AB", "2C21.JE1234", "2C21;DROP"]
)
def test_residence_permit_format(id_type, number):
    with raises_code(f"{id_type}_format"):
        validate_id_number(id_type, number, nationality="AU", today=TODAY)


@pytest.mark.parametrize("id_type", ["kitas", "kitap"])
@pytest.mark.parametrize("nationality", ["ID", "id"])
def test_residence_permit_is_for_foreigners(id_type, nationality):
    with raises_code("foreigner_document") as caught:
        validate_id_number(id_type, "2C21JE1234AB", nationality=nationality, today=TODAY)
    assert caught.value.params == {"id_type": id_type}


@pytest.mark.parametrize("id_type", ["kitas", "kitap", "passport"])
def test_a_foreign_document_never_carries_a_niks_number(id_type):
    """Its digest would be the NIK's: it would count against that NIK's cap, show at its
    holder's door and answer its personal-data requests. A 16-digit number no NIK can be
    (serial 0000, a day that does not exist) stays a document number."""
    nik = make_nik(date(1990, 8, 17), "F", serial=42)
    with raises_code("nik_as_document") as caught:
        validate_id_number(id_type, f"{nik[:8]} {nik[8:]}", nationality="MY", today=TODAY)
    assert caught.value.params == {"id_type": id_type}
    for not_a_nik in (nik[:12] + "0000", nik[:6] + "32" + nik[8:]):
        assert validate_id_number(id_type, not_a_nik, nationality="MY", today=TODAY)


def test_a_student_card_may_print_its_holders_own_nik():
    nik = make_nik(date(2010, 8, 17), "M", serial=42)
    assert validate_id_number("student_card", nik, today=TODAY).normalized == nik


def test_residence_permit_default_nationality_is_indonesian():
    with raises_code("foreigner_document"):
        validate_id_number("kitas", "2C21JE1234AB", today=TODAY)


@pytest.mark.parametrize(
    ("number", "normalized"),
    [
        ("123", "123"),
        ("NIS-2024/0157", "NIS-2024/0157"),
        ("sma.3.bdg/1234", "SMA.3.BDG/1234"),
        ("12 345", "12345"),
        ("A" * 30, "A" * 30),
    ],
)
def test_student_card_is_always_doubtful(number, normalized):
    check = validate_id_number(
        "student_card", number, birth_date=date(2010, 5, 5), sex="F", today=TODAY
    )
    assert check.normalized == normalized
    assert check.doubtful is True
    assert check.notes and "minor" in check.notes[0]


@pytest.mark.parametrize(
    "number", ["", "12", "A" * 31, "NIS_2024", "12<34", "12;34", "12'34", "(123)", "12=3", "NIS#1"]
)
def test_student_card_format(number):
    with raises_code("student_card_format"):
        validate_id_number("student_card", number, today=TODAY)


@pytest.mark.parametrize("id_type", ["", "kk", "npwp", "bpjs", "paspor", None])
def test_id_type_unknown(id_type):
    with raises_code("id_type_unknown") as caught:
        validate_id_number(id_type, "3171014501900001", today=TODAY)
    assert caught.value.params["allowed"] == ID_TYPES


# --- normalize_msisdn --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("08123456789", "628123456789"),
        ("+62 812-3456-789", "628123456789"),
        ("628123456789", "628123456789"),
        ("+628123456789", "628123456789"),
        ("8123456789", "628123456789"),
        ("0812.3456.789", "628123456789"),
        ("(0812) 3456 789", "628123456789"),
        ("(+62) 812 3456 789", "628123456789"),
        ("+62 (812) 3456-789", "628123456789"),
        ("  0812 3456 789  ", "628123456789"),
        ("0811000000", "62811000000"),  # 11 digits in all, the minimum
        ("0812 3456 7890 1", "62812345678901"),  # 14 digits, the maximum
    ],
)
def test_normalize_msisdn_ok(raw, normalized):
    assert normalize_msisdn(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "+",
        "62812",
        "0812345",  # too short
        "08123456789012",  # 628 + 11 = 14 digits is the maximum: this makes 15
        "+1 415 555 2671",  # foreign
        "+60 12-345 6789",  # Malaysia
        "0062812345678",  # international prefix 00 is not supported
        "021 5555 1234",  # Jakarta landline
        "+62 21 5555 1234",
        "62 0812 3456 789",  # 62 followed by the trunk 0
        "0812345678a",
        "0812/345/678",
        "08123+456789",
        "++628123456789",
        "0812_3456_789",
        "\u0660\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
        None,
    ],
)
def test_msisdn_format(raw):
    with raises_code("msisdn_format"):
        normalize_msisdn(raw)


@pytest.mark.parametrize(
    ("rest", "valid"),
    [
        ("1234567", False),  # 62 8 + 7 = 10 digits
        ("12345678", True),  # 11
        ("123456789", True),
        ("1234567890", True),
        ("12345678901", True),  # 14
        ("123456789012", False),  # 15
    ],
)
def test_msisdn_length_boundaries(rest, valid):
    for raw in (f"08{rest}", f"628{rest}", f"+628{rest}", f"8{rest}"):
        if valid:
            assert normalize_msisdn(raw) == f"628{rest}"
        else:
            with raises_code("msisdn_format"):
                normalize_msisdn(raw)


# --- ICCID and Luhn ----------------------------------------------------------------------------

# Check digits computed by hand-rolled Luhn outside the module (and 79927398713, the textbook
# example).
KNOWN_VALID_ICCIDS = [
    "8962100000000000010",  # 19 digits
    "89621000000000000122",  # 20 digits
    "896210123456789012",  # 18 digits
    "89621012345678901234",
    "8962012345678901230",
]


@pytest.mark.parametrize("iccid", KNOWN_VALID_ICCIDS)
def test_luhn_check_digit_of_known_iccids(iccid):
    assert luhn_check_digit(iccid[:-1]) == iccid[-1]
    assert validate_iccid(iccid) == iccid


def test_luhn_textbook_example():
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_check_digit("0") == "0"
    assert luhn_check_digit("1") == "8"


@pytest.mark.parametrize("payload", ["", "12a", "1 2", None, 123])
def test_luhn_check_digit_refuses_non_digits(payload):
    with pytest.raises(ValueError):
        luhn_check_digit(payload)


def test_validate_iccid_drops_spaces():
    assert validate_iccid(" 8962 1000 0000 0000 0122 ") == "89621000000000000122"


@pytest.mark.parametrize(
    "iccid",
    [
        "8962100000000000011",  # last digit changed
        "8962100000000000019",
        "8962100000000001010",  # one digit changed elsewhere
        "8962100000000000100",  # adjacent digits swapped
        "89621000000000000123",
    ],
)
def test_iccid_checksum(iccid):
    with raises_code("iccid_checksum"):
        validate_iccid(iccid)


@pytest.mark.parametrize(
    "iccid",
    [
        "",
        "89621000000000001",  # 17 digits
        "896210000000000000122",  # 21 digits
        "9962100000000000010",  # does not start with 89
        "8862100000000000010",
        "896210000000000001A",
        "8962-1000-0000-0000-010",
        None,
    ],
)
def test_iccid_format(iccid):
    with raises_code("iccid_format"):
        validate_iccid(iccid)


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Siti  Nur'aini", "SITI NURAINI"),
        ("Siti Nur\u2019aini", "siti nuraini"),
        ("Ahmad  Dahlan", "ahmad dahlan"),
        ("M. Nuh", "m nuh"),
        ("Abdul-Rahman", "Abdul Rahman"),
        ("Sukarno", " SUKARNO "),
        (fullwidth("SUKARNO"), "Sukarno"),  # NFKC
        ("Straße", "STRASSE"),  # casefold
        ("Nyoman,   Wayan", "nyomanwayan"),
    ],
)
def test_names_compare_equal(a, b):
    assert normalize_name_for_comparison(a) == normalize_name_for_comparison(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Muhammad", "Muhamad"),  # a spelling variant is a real difference
        ("Siti Nuraini", "Siti Nuraeni"),
        ("José", "Jose"),  # no accent stripping
        ("Dr. Ahmad", "Ahmad"),  # no title stripping
        ("Ahmad", "Ahmad 2"),
    ],
)
def test_names_compare_different(a, b):
    assert normalize_name_for_comparison(a) != normalize_name_for_comparison(b)


def test_name_comparison_key():
    assert normalize_name_for_comparison("  Siti  Nur'aini ") == "sitinuraini"
    assert normalize_name_for_comparison("José") == "josé"
    assert normalize_name_for_comparison("Jose\u0301") == "josé"  # decomposed accent composed
    assert normalize_name_for_comparison("") == ""


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Sukarno", "Sukarno"),
        ("  Siti   Nur'aini  ", "Siti Nur'aini"),
        ("Siti Nur\u2019aini", "Siti Nur\u2019aini"),
        ("Abdul-Rahman", "Abdul-Rahman"),
        ("M. Nuh", "M. Nuh"),
        ("Wahid, Abdurrahman", "Wahid, Abdurrahman"),
        ("I\tGusti\nNgurah", "I Gusti Ngurah"),
        ("José", "José"),
        ("Jose\u0301", "José"),  # stored composed (NFC)
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        ("李明", "李明"),
        ("A", "A"),
        ("a" * 100, "a" * 100),
    ],
)
def test_clean_person_name_ok(raw, clean):
    assert clean_person_name(raw) == clean


@pytest.mark.parametrize("raw", ["", "   ", "a" * 101, "Siti " + "a" * 96, None])
def test_name_length(raw):
    with raises_code("name_length"):
        clean_person_name(raw)


@pytest.mark.parametrize(
    ("raw", "chars"),
    [
        ("Agus 2", "2"),
        ("<script>", "<>"),
        ("Budi; DROP TABLE", ";"),
        ('Budi "Bud"', '"'),
        ("Budi (Bud)", "()"),
        ("a=b", "="),
        ("Budi_Santoso", "_"),
        ("Budi\u200bSantoso", "\u200b"),  # zero-width space
        ("Budi`s", "`"),
        ("Budi@home", "@"),
        ("\u0301Budi", "\u0301"),  # a combining mark on nothing
    ],
)
def test_name_chars(raw, chars):
    with raises_code("name_chars") as caught:
        clean_person_name(raw)
    assert caught.value.params == {"chars": chars}


@pytest.mark.parametrize("raw", ["'", "-", "...", "' - ,", "\u2019"])
def test_name_without_letters(raw):
    with raises_code("name_no_letter"):
        clean_person_name(raw)


# --- masking -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("3171014501900001", "3171********0001"),
        ("901012345678", "9010****5678"),  # 12: first 4 and last 4
        ("12345678901234567890", "1234************7890"),
        ("A1234567", "*****567"),
        ("123456", "***456"),
        ("12345", "***45"),
        ("1234", "**34"),
        ("123", "**3"),
        ("12", "*2"),
        ("1", "*"),
        ("", ""),
        (" A1234567 ", "*****567"),
    ],
)
def test_mask_id_number(number, masked):
    assert mask_id_number(number) == masked


# --- properties (hypothesis) -------------------------------------------------------------------

provinces = st.sampled_from(sorted(PROVINCE_CODES))
two_digit_codes = st.integers(1, 99).map(lambda n: f"{n:02d}")
sexes = st.sampled_from(["M", "F"])
serials = st.integers(1, 9999)
# Without a hint, a NIK holds a 100-year window: (today - 100 years, today].
birth_dates_in_window = st.dates(date(1926, 11, 28), TODAY)
# With the birth date entered, any plausible age (0 to 120) comes back.
plausible_birth_dates = st.dates(date(1905, 11, 28), TODAY)


@given(provinces, two_digit_codes, two_digit_codes, birth_dates_in_window, sexes, serials)
def test_built_nik_parses_back(province, regency, district, birth_date, sex, serial):
    nik = make_nik(
        birth_date, sex, province=province, regency=regency, district=district, serial=serial
    )
    info = parse_nik(nik, today=TODAY)
    assert (info.birth_date, info.sex) == (birth_date, sex)
    assert (info.province, info.regency, info.district) == (
        province,
        province + regency,
        province + regency + district,
    )
    assert info.serial == f"{serial:04d}"


@given(provinces, plausible_birth_dates, sexes, serials)
def test_built_nik_validates_with_its_own_birth_date_and_sex(province, birth_date, sex, serial):
    nik = make_nik(birth_date, sex, province=province, serial=serial)
    assert validate_nik(nik, birth_date=birth_date, sex=sex, today=TODAY) == nik
    assert parse_nik(nik, today=TODAY, birth_date_hint=birth_date).birth_date == birth_date
    check = validate_id_number("sim", nik, birth_date=birth_date, sex=sex, today=TODAY)
    assert check == IdCheck(nik, False, ())


@given(provinces, plausible_birth_dates, sexes)
def test_built_nik_refuses_the_other_sex(province, birth_date, sex):
    nik = make_nik(birth_date, sex, province=province)
    other = "F" if sex == "M" else "M"
    with raises_code("nik_sex_mismatch"):
        validate_nik(nik, birth_date=birth_date, sex=other, today=TODAY)


@given(provinces, plausible_birth_dates, st.integers(1, 3650))
def test_built_nik_refuses_another_birth_date(province, birth_date, shift):
    nik = make_nik(birth_date, "F", province=province)
    entered = birth_date - timedelta(days=shift)
    # Up to 10 years apart, so never the same DDMMYY: the NIK's date cannot be the entered one.
    with raises_code("nik_birth_date_mismatch"):
        validate_nik(nik, birth_date=entered, sex="F", today=TODAY)


@given(st.dates(date(KK_FIRST_YEAR, 1, 1), TODAY), serials)
def test_built_kk_validates(recorded, serial):
    kk = make_kk(recorded, serial=serial)
    assert validate_kk(kk, today=TODAY) == kk


@given(st.dates(TODAY + timedelta(days=1), date(TODAY.year, 12, 31)))
def test_kk_recorded_later_this_year_is_refused(recorded):
    with raises_code("kk_date"):
        validate_kk(make_kk(recorded), today=TODAY)


layout = st.lists(st.sampled_from([" ", "-", ".", "(", ")", "  "]), max_size=2).map("".join)


@st.composite
def typed_msisdns(draw):
    """An Indonesian mobile number as people type it."""
    subscriber = draw(st.text("0123456789", min_size=8, max_size=11))
    prefix = draw(st.sampled_from(["0", "62", "+62", "+62 ", "", "(+62) "]))
    digits = "8" + subscriber
    cut = draw(st.integers(0, len(digits)))
    return prefix + digits[:cut] + draw(layout) + digits[cut:], "628" + subscriber


@given(typed_msisdns())
def test_msisdn_normalises_typed_numbers(typed_and_expected):
    typed, expected = typed_and_expected
    assert normalize_msisdn(typed) == expected


@given(st.one_of(typed_msisdns().map(lambda pair: pair[0]), st.text(max_size=20)))
def test_normalize_msisdn_is_idempotent(raw):
    try:
        once = normalize_msisdn(raw)
    except IdRuleError as error:
        assert error.code == "msisdn_format"
        return
    assert normalize_msisdn(once) == once
    assert once.startswith("628") and once.isdigit() and 11 <= len(once) <= 14


@given(st.text("0123456789", min_size=15, max_size=17))
def test_luhn_completed_iccid_validates(rest):
    payload = "89" + rest
    iccid = payload + luhn_check_digit(payload)
    assert validate_iccid(iccid) == iccid


@given(st.text("0123456789", min_size=15, max_size=17), st.data())
def test_luhn_catches_any_single_digit_error(rest, data):
    payload = "89" + rest
    iccid = payload + luhn_check_digit(payload)
    position = data.draw(st.integers(2, len(iccid) - 1))  # keep the 89 prefix
    wrong = data.draw(st.sampled_from([d for d in string.digits if d != iccid[position]]))
    with raises_code("iccid_checksum"):
        validate_iccid(iccid[:position] + wrong + iccid[position + 1 :])


NAME_LETTERS = string.ascii_letters + "éñöüçãâ"
NOISE = [*string.punctuation, " ", "  ", "\t", "\n", "\u00a0", "\u3000"]
NOISE += ["\u2019", "\u2018", "\u2013", "\u2014"]  # curly quotes, en and em dash


@given(st.text(NAME_LETTERS, min_size=1, max_size=30), st.data())
def test_name_comparison_ignores_case_spacing_and_punctuation(name, data):
    noisy = []
    for char in name:
        noisy.append(data.draw(st.sampled_from([char.upper(), char.lower(), char])))
        noisy.append("".join(data.draw(st.lists(st.sampled_from(NOISE), max_size=2))))
    prefix = "".join(data.draw(st.lists(st.sampled_from(NOISE), max_size=2)))
    noisy_name = prefix + "".join(noisy)
    assert normalize_name_for_comparison(noisy_name) == normalize_name_for_comparison(name)
    assert normalize_name_for_comparison(noisy_name) == name.casefold()


@given(st.text(NAME_LETTERS, min_size=1, max_size=30), st.sampled_from(NAME_LETTERS))
def test_name_comparison_sees_an_extra_letter(name, extra):
    assert normalize_name_for_comparison(name + extra) != normalize_name_for_comparison(name)


@given(st.text())
def test_name_comparison_key_is_stable(name):
    key = normalize_name_for_comparison(name)
    assert normalize_name_for_comparison(key) == key
    assert all(char.isalnum() for char in key)


@given(st.text(max_size=120))
def test_clean_person_name_is_idempotent_or_refuses(name):
    try:
        cleaned = clean_person_name(name)
    except IdRuleError as error:
        assert error.code in ("name_length", "name_chars", "name_no_letter")
        return
    assert clean_person_name(cleaned) == cleaned
    assert 1 <= len(cleaned) <= 100
    assert not any(char.isdigit() or char in '<>;"()=' for char in cleaned)


@given(st.text(max_size=40).map(str.strip))
def test_mask_never_reveals_more_than_8_characters(number):
    masked = mask_id_number(number)
    assert len(masked) == len(number)
    revealed = [i for i, char in enumerate(masked) if char != "*"]
    assert len(revealed) <= 8
    assert all(masked[i] == number[i] for i in revealed)
    if len(number) < 12:
        assert len(revealed) <= 3 and len(revealed) <= len(number) // 2
