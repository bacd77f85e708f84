"""The forms a typed ID number may have been stored under (pure: no database)."""

import pytest

from core.idnumbers import id_number_forms, is_plausible_id_number


@pytest.mark.parametrize(
    ("typed", "forms"),
    [
        ("3171015708900042", ["3171015708900042"]),
        (" 3171 0157.0890-0042 ", ["3171015708900042", "31710157.08900042", "31710157.0890-0042"]),
        ("a 123-4567", ["A1234567", "A123-4567"]),
        ("ks.12/3 4", ["KS12/34", "KS.12/34"]),
        ("", []),
    ],
)
def test_forms(typed, forms):
    assert id_number_forms(typed) == forms


@pytest.mark.parametrize(
    ("typed", "plausible"),
    [
        ("3171015708900042", True),
        ("A1234567", True),
        ("1", False),
        (" - . ", False),
        ("9" * 41, False),
        ("AB/1", True),
    ],
)
def test_plausible(typed, plausible):
    assert is_plausible_id_number(typed) is plausible
