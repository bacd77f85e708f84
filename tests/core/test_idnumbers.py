"""One ID-number normaliser: the registration rules, the operator's snapshot and a data-subject
request bring a number to the same form, so its keyed digest is one digest however it was typed.
If one of them drifted, the cap, reconciliation and personal-data requests would silently stop
finding the person."""

from datetime import date

import pytest

from core import pii
from core.idnumbers import id_number_forms, is_plausible_id_number, normalize_id_number
from identity import idrules
from operatordb.models import OperatorSubscriber
from operatordb.snapshot import load_snapshot

HEADER = "msisdn,iccid,status,activated_at,outlet_roid,id_type,id_number,full_name,birth_date\n"

# (document type, the number in its stored form, three ways a person types it, nationality)
CASES = [
    ("ktp", "3171015708900042", ["3171015708900042", "3171 0157 0890 0042", "3171.0157.0890-0042"]),
    ("passport", "A1234567", ["A1234567", "a 123-4567", " A-1234 567 "]),
    ("kitas", "2C21AB0012345", ["2C21AB0012345", "2c21-ab00 12345", "2C21 AB00-12345"]),
]


def _registration_form(id_type: str, typed: str) -> str:
    """What the registration service stores for ``typed`` (the buyer is Siti, born 17 Aug 1990)."""
    nationality = "ID" if id_type in ("ktp", "passport") else "MY"
    check = idrules.validate_id_number(
        id_type, typed, birth_date=date(1990, 8, 17), sex="F", nationality=nationality
    )
    return check.normalized


def _snapshot_digests(tmp_path, id_type: str, typed: list[str]) -> set[str]:
    lines = [
        f"0812000000{index:02d},,active,2025-03-01 10:00:00,,{id_type},{number},Siti,1990-08-17"
        for index, number in enumerate(typed, start=1)
    ]
    path = tmp_path / "snapshot.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    load_snapshot(path)
    return set(OperatorSubscriber.objects.values_list("id_number_digest", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize(("id_type", "stored", "typed"), CASES)
def test_the_same_number_typed_three_ways_has_one_digest(tmp_path, id_type, stored, typed):
    expected = pii.digest(stored)

    registrations = {pii.digest(_registration_form(id_type, number)) for number in typed}
    snapshot = _snapshot_digests(tmp_path, id_type, typed)
    # A data-subject request names a number without its type: one of its forms is the stored one.
    requests = [{pii.digest(form) for form in id_number_forms(number)} for number in typed]
    direct = {pii.id_digest(id_type, number) for number in typed}

    assert registrations == snapshot == direct == {expected}
    assert all(expected in digests for digests in requests)


@pytest.mark.parametrize(
    ("id_type", "typed", "stored"),
    [
        ("ktp", " 3171-0157.0890 0042\t", "3171015708900042"),
        ("kk", "3171 0101 0101 0001", "3171010101010001"),
        ("sim", "1234-5678-9012", "123456789012"),
        ("passport", "x12 34-56.7", "X123456.7"),  # a dot is not layout in a passport number
        ("student_card", "nim 12.34/5-6", "NIM12.34/5-6"),
        ("unknown", " ab c ", "ABC"),
        ("", None, ""),
    ],
)
def test_the_normaliser_per_document_type(id_type, typed, stored):
    assert normalize_id_number(id_type, typed) == stored


def test_a_search_needs_enough_of_a_number():
    assert is_plausible_id_number("3171 0157")
    assert not is_plausible_id_number("1-2")
    assert not is_plausible_id_number("9" * 41)
    assert id_number_forms(" ab-1.2 ") == ["AB12", "AB1.2", "AB-1.2"]
