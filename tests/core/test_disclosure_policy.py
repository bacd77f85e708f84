"""The disclosure policy's table and masked forms (``core.disclosure``), role by role."""

from datetime import date
from types import SimpleNamespace

import pytest

from core import disclosure, roles
from core.disclosure import Kind, Shown


def _user(role: str, *, operator: bool = False):
    return SimpleNamespace(is_authenticated=True, role=role, is_operator=operator)


ANONYMOUS = SimpleNamespace(is_authenticated=False)


@pytest.mark.parametrize(
    ("user", "row"),
    [
        (_user(roles.REGULATOR), roles.REGULATOR),
        (_user(roles.REGULATOR, operator=True), roles.OPERATOR),  # the operator admin wins
        (_user(roles.GRAPARI), roles.GRAPARI),
        (_user(""), roles.OUTLET_STAFF),  # a role-less account works through its membership
        (_user("public"), roles.OUTLET_STAFF),  # nobody signs in as the public row
        (ANONYMOUS, disclosure.PUBLIC),
        (None, disclosure.PUBLIC),
    ],
)
def test_role_of(user, row):
    assert disclosure.role_of(user) == row


def test_the_regulator_gets_masked_or_withheld_values():
    regulator = _user(roles.REGULATOR)
    assert disclosure.disclose(regulator, Kind.NAME, "Siti Nur'aini") == "S*** N*******"
    assert disclosure.disclose(regulator, Kind.BIRTH_DATE, date(1990, 8, 17)) == "1990-**-**"
    assert disclosure.disclose(regulator, Kind.BIRTH_DATE, "1990-08-17") == "1990-**-**"
    assert disclosure.disclose(regulator, Kind.BIRTH_PLACE, "Bandung") == "B******"
    assert disclosure.disclose(regulator, Kind.ADDRESS, "Jl. Kenanga 5") == "***"
    assert disclosure.disclose(regulator, Kind.MSISDN, "6281234567890") == "6281234567890"
    assert not disclosure.sees_in_full(regulator, Kind.PHOTO)
    assert not disclosure.sees_every_detail(regulator)


def test_staff_see_values_in_full_but_id_numbers_masked():
    for role in (roles.OUTLET_STAFF, roles.DEALER_ADMIN, roles.GRAPARI, roles.OPERATOR):
        user = _user(role)
        assert disclosure.disclose(user, Kind.ADDRESS, "Jl. Kenanga 5") == "Jl. Kenanga 5"
        assert disclosure.disclose(user, Kind.ID_NUMBER, "3171015708900042") == ("3171********0042")
        assert disclosure.sees_every_detail(user)


def test_the_public_row_hides_the_most():
    assert disclosure.disclose(None, Kind.MSISDN, "6281234567890") == "0812****7890"
    assert disclosure.disclose(None, Kind.BIRTH_DATE, date(1990, 8, 17)) is None
    assert disclosure.disclose(None, Kind.ADDRESS, "x") == disclosure.WITHHELD_TEXT


def test_mappings_are_disclosed_by_key_and_masking_is_idempotent():
    regulator = _user(roles.REGULATOR)
    correction = {
        "full_name": "Siti Nurhayati",
        "birth_date": "1990-09-17",
        "address": "Jl. Mawar 1",
        "id_number": "3171********0999",
        "sex": "F",
        "nested": {"full_name": "Ani"},
        "empty": "",
    }
    shown = disclosure.disclose_mapping(regulator, correction)
    assert shown == {
        "full_name": "S*** N********",
        "birth_date": "1990-**-**",
        "address": "***",
        "id_number": "3171********0999",
        "sex": "F",
        "nested": {"full_name": "A**"},
        "empty": "",
    }
    assert disclosure.disclose_mapping(regulator, shown) == shown


def test_every_role_has_a_row_for_every_kind():
    for row in disclosure.POLICY.values():
        assert set(row) == set(Kind)
        assert all(isinstance(level, Shown) for level in row.values())
    assert set(disclosure.POLICY) == {
        roles.OPERATOR,
        roles.GRAPARI,
        roles.DEALER_ADMIN,
        roles.OUTLET_STAFF,
        roles.REGULATOR,
        disclosure.PUBLIC,
    }
