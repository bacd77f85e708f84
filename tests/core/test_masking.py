"""Masking for display: what a role that may not see a value whole is shown. Boundaries are
pinned (12 characters, 8-digit numbers, one-letter words) so an off-by-one shows up."""

import pytest

from core.masking import local_msisdn, mask_id_number, mask_msisdn, mask_name


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("3171014501900001", "3171********0001"),
        ("  3171014501900001 ", "3171********0001"),  # typed with spaces: the digits only
        ("317101450190", "3171****0190"),  # exactly 12: first and last 4
        ("31710145019", "********019"),  # 11: the last 3 only
        ("A1234567", "*****567"),
        ("123456", "***456"),
        ("12345", "***45"),  # never more than half
        ("12", "*2"),
        ("1", "*"),
        ("", ""),
    ],
)
def test_mask_id_number(number, masked):
    assert mask_id_number(number) == masked
    assert len(mask_id_number(number)) == len(number.strip())


def test_mask_id_number_of_no_value():
    assert mask_id_number(None) == ""


@pytest.mark.parametrize(
    ("msisdn", "local", "masked"),
    [
        ("6281234567890", "081234567890", "0812****7890"),
        ("628123456789", "08123456789", "0812***6789"),
        ("62812345", "0812345", "0812345"),  # 8 or fewer: nothing to hide
        ("628123456", "08123456", "08123456"),
        ("6281234567", "081234567", "0812*4567"),
        ("081234567890", "081234567890", "0812****7890"),  # already local
        ("8162123", "8162123", "8162123"),
    ],
)
def test_msisdn_forms(msisdn, local, masked):
    assert local_msisdn(msisdn) == local
    assert mask_msisdn(msisdn) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Siti Nur'aini", "S*** N*******"),
        ("  Budi   Santoso ", "B*** S******"),
        ("A B", "A B"),
        ("", ""),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked
