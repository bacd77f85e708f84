"""Look-alike usernames and invisible characters: usernames are NFKC-normalised and limited to
one script (ASCII), free text refuses zero-width, bidirectional-override and control
characters — in the accounts and outlets forms and serializers."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User
from core.textclean import validate_visible_text
from outlets.forms import OutletApplicationForm, StaffInviteForm

from .test_outlets_services import APPLICATION
from .test_staff import invite

pytestmark = pytest.mark.django_db

CYRILLIC_A = "\u0430"
RLO = "\u202e"
ZWSP = "\u200b"


@pytest.mark.parametrize(
    "username",
    [f"gr{CYRILLIC_A}pari", "gr\u0251pari", "admіn", "budi\u200b", "budi\u00a0k", "bu di"],
)
def test_look_alike_usernames_are_refused(dealer_user, outlet, username):
    with pytest.raises(ValidationError) as exc:
        invite(dealer_user, outlet, username=username)

    assert "username" in exc.value.message_dict
    assert not User.objects.filter(username=username).exists()


def test_usernames_are_nfkc_normalised(dealer_user, outlet):
    membership = invite(dealer_user, outlet, username="ｂｕｄｉ.konter")

    assert membership.user.username == "budi.konter"


def test_the_user_model_refuses_a_look_alike_too():
    user = User(username=f"gr{CYRILLIC_A}pari")
    user.set_unusable_password()
    with pytest.raises(ValidationError) as exc:
        user.full_clean()
    assert "username" in exc.value.message_dict


@pytest.mark.parametrize("name", [f"Budi {RLO}otnawS", f"Bu{ZWSP}di Hartono", "Budi\x00 H"])
def test_invisible_characters_in_a_clerks_name_are_refused(dealer_user, outlet, name):
    with pytest.raises(ValidationError) as exc:
        invite(dealer_user, outlet, full_name=name)

    assert "full_name" in exc.value.message_dict


@pytest.mark.parametrize(
    "value",
    [f"abc{RLO}gpj.exe", f"a{ZWSP}b", "a\u2066b\u2069", "a\ufeffb", "a\x1b[2Jb", "a\u00adb"],
)
def test_validate_visible_text_refuses(value):
    with pytest.raises(ValidationError):
        validate_visible_text(value)


@pytest.mark.parametrize(
    "value", ["Budi Hartono", "Jl. Mawar 1\nRT 02", "Siti Nur'aini", "تجربة", "Ngô Bảo Châu"]
)
def test_validate_visible_text_accepts_real_text(value):
    validate_visible_text(value)


def test_the_outlets_forms_refuse_invisible_characters(dealer_user):
    form = OutletApplicationForm(data={**APPLICATION, "name": f"Konter{ZWSP} Jaya"})
    assert not form.is_valid()
    assert "name" in form.errors

    invite_form = StaffInviteForm(
        data={"username": "budi", "full_name": f"{RLO}Budi", "id_number": "", "kk_number": ""}
    )
    assert not invite_form.is_valid()
    assert "full_name" in invite_form.errors


def test_the_outlets_api_refuses_invisible_characters(client_for, dealer_user):
    response = client_for(dealer_user).post(
        "/api/v1/outlet-applications/",
        {**APPLICATION, "address": f"Jl. Mawar {RLO}1"},
        format="json",
    )

    assert response.status_code == 400
    assert "address" in response.json()
