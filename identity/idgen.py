"""Builders of well-formed identity numbers, for demo data, generators and tests.

The inverse of ``idrules``: given a person, produce the NIK/KK/ICCID the rules accept.
"""

from datetime import date

from .idrules import luhn_check_digit


def make_nik(
    *,
    birth_date: date,
    sex: str,
    province: str = "31",
    regency: str = "71",
    district: str = "01",
    serial: int = 1,
) -> str:
    """A NIK: region codes, birth date with day + 40 for women, serial 0001–9999."""
    day = birth_date.day + (40 if sex == "F" else 0)
    serial = (serial - 1) % 9999 + 1
    return (
        f"{province}{regency}{district}{day:02d}{birth_date.month:02d}"
        f"{birth_date.year % 100:02d}{serial:04d}"
    )


def make_kk(*, recorded: date, region: str = "317101", serial: int = 1) -> str:
    """A KK number: 6-digit region, recording date DDMMYY (no + 40), serial."""
    return f"{region}{recorded:%d%m}{recorded.year % 100:02d}{(serial - 1) % 9999 + 1:04d}"


def make_iccid(n: int, *, prefix: str = "896210") -> str:
    """A 19-digit ICCID with a valid Luhn check digit; ``n`` picks the card."""
    payload = f"{prefix}{n:012d}"
    return payload + luhn_check_digit(payload)


def make_msisdn(n: int, *, prefix: str = "62812") -> str:
    """A 13-digit Indonesian mobile number in the stored form (62…)."""
    return f"{prefix}{n:08d}"
