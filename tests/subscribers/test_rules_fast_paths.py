"""The shortcuts taken for speed in ``idrules`` and ``rules`` decide exactly as the general
code they skip (the bulk import runs them on every row)."""

import random
import re
from datetime import date

import pytest
from django.utils import translation

from identity import idrules
from identity.idrules import IdRuleError, clean_person_name, luhn_check_digit
from subscribers import rules


def _luhn_reference(payload: str) -> str:
    total = 0
    for position, char in enumerate(reversed(payload)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str(-total % 10)


def test_luhn_check_digit_matches_the_textbook_loop():
    rng = random.Random(7)
    for _ in range(3000):
        payload = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
        assert luhn_check_digit(payload) == _luhn_reference(payload), payload


@pytest.mark.parametrize("payload", ["", "12a4", " 123", "١٢٣", "123\n", None, 123])
def test_luhn_check_digit_refuses_what_is_not_ascii_digits(payload):
    with pytest.raises(ValueError):
        luhn_check_digit(payload)


NAMES = [
    "Siti Aminah", "Sukarno", "Ahmad Ma'ruf Hidayat", "Siti Nur\u2019aini", "M. Nuh",
    "O'Brien-Smith, Jr.", "  Dewi   Lestari  ", "a", "x" * 100, "x" * 101, "", "   ",
    "...", "'-.,", "Budi 2", "<script>", "Robert'); DROP TABLE", "Anna\tMaria", "Ánh Nguyễn",
    "Zoë", "Ni\u0301ng", "\u0301abc", "Ю́рий", "李小龙", "Budi_S", "Budi@", "Budi\u00a0S",
    "Budi\u2019", "\u2019", "Ma\u200bria", "Budi\x00", "Budi/S", 'Budi "S"',
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_clean_person_name_shortcut_decides_as_the_general_check(name, monkeypatch):
    def outcome():
        try:
            return ("ok", clean_person_name(name))
        except IdRuleError as exc:
            return ("refused", exc.code, exc.message, exc.params)

    fast = outcome()
    monkeypatch.setattr(idrules, "_PLAIN_NAME", re.compile(r"(?!)"))  # never matches
    assert outcome() == fast


class _AnyPolicy:
    code = "x"
    accepted_id_types = ["ktp", "sim", "passport", "student_card", "kitas", "kitap"]
    citizen_proof = "document"
    nik_required = False
    registry_check = False

    def accepts(self, id_type, nationality=None):
        return True


@pytest.mark.parametrize(
    "address",
    ["Jl. Kenanga 5", "Jl. <b>", "Jl. a>b", "Jl.\x01", "Jl.\x1f5", "Jl.\x7f5", "Jl. \\ 5",
     "Jl.\u00a05", "Jl. \u200b5", "Jl.\t5\n", "Jl. 5\x00"],
)  # fmt: skip
def test_address_check_refuses_brackets_and_control_characters(address):
    collapsed = " ".join(address.split())
    refused = any(ch in collapsed for ch in "<>") or any(ord(ch) < 32 for ch in collapsed)
    errors = rules.FieldErrors()
    with translation.override("en"):
        rules.clean_registration_fields(
            {"address": address}, policy=_AnyPolicy(), today=date.today(), errors=errors
        )
    message = "The address contains characters that are not allowed."
    assert (message in errors.errors.get("address", [])) == refused


def test_the_nik_disagreements_of_a_checked_nik_are_the_general_ones():
    """Where the NIK's digits give the date entered, the rules compare only the sex instead of
    decoding the NIK again: the same disagreements as the general function, on NIKs of every
    century and sex, with the date entered equal, a century off, a day off, or unknown."""
    from datetime import timedelta

    from identity.idgen import make_nik
    from tests.clock import shift_years

    rng = random.Random(11)
    today = date(2026, 3, 1)
    for _ in range(3000):
        born = date(1906, 1, 1) + timedelta(days=rng.randrange(43_000))
        if born > today:
            continue
        nik_sex = rng.choice("MF")
        nik = make_nik(birth_date=born, sex=nik_sex, serial=rng.randint(1, 9999))
        entered = rng.choice([born, shift_years(born, -100) if born.year > 2000
                              else born, born + timedelta(days=1), None])  # fmt: skip
        sex = rng.choice(["M", "F", "", "X"])
        assert rules._checked_nik_disagreements(
            nik, entered, sex, today
        ) == rules.nik_disagreements_of(nik, entered, sex, today), (nik, entered, sex)


def test_the_name_key_of_an_ascii_name_is_the_general_one():
    """An ASCII name's comparison key skips NFKC (which leaves ASCII alone) and casefolds with
    lower(): the same key as the general path for every ASCII character."""
    import unicodedata

    def general(name):
        folded = unicodedata.normalize("NFKC", name).casefold()
        return "".join(char for char in folded if char.isalnum())

    rng = random.Random(3)
    samples = [name for name in NAMES if name.isascii()]
    samples += ["".join(chr(rng.randrange(128)) for _ in range(rng.randint(0, 30)))
                for _ in range(3000)]  # fmt: skip
    samples.append("".join(map(chr, range(128))))
    for name in samples:
        assert idrules.normalize_name_for_comparison(name) == general(name), repr(name)
