"""Outlet staff: invitation (own NIK/KK on record, the 2018 rule), the link, removal."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from accounts.models import ApiToken, User
from core import pii
from core.models import AuditEvent
from identity.idgen import make_kk, make_nik
from outlets import services
from outlets.invitations import invitation_path, user_for_invitation
from outlets.models import Outlet, OutletStaff
from subscribers import services as registration_services
from subscribers.models import Registration, RegistrationPolicy
from tests.conftest import BUYER_BIRTH, PASSWORD, buyer_data
from tests.factories import DealerAdminFactory, StaffFactory

pytestmark = pytest.mark.django_db

CLERK_BIRTH = date(1995, 3, 14)
CLERK_NIK = make_nik(birth_date=CLERK_BIRTH, sex="M", serial=321)
CLERK_KK = make_kk(recorded=date(2016, 5, 4), serial=99)


def can_log_in(username: str) -> bool:
    """Through the login page, as a person would (django-axes wants the request)."""
    response = Client().post("/accounts/login/", {"username": username, "password": PASSWORD})
    return response.status_code == 302


def invite(actor, outlet, **overrides):
    data = {
        "username": "budi.konter",
        "full_name": "Budi Hartono",
        "id_number": CLERK_NIK,
        "kk_number": CLERK_KK,
        "email": "",
    }
    return services.outlet_staff_invite(actor=actor, outlet=outlet, **{**data, **overrides})


def test_invitation_keeps_the_clerks_id_protected_and_recognisable(dealer_user, outlet):
    membership = invite(dealer_user, outlet, id_number="3171 0114 0395 0321")

    user = membership.user
    assert (user.username, user.first_name, user.role) == (
        "budi.konter",
        "Budi Hartono",
        "outlet_staff",
    )
    assert not user.has_usable_password()
    assert membership.outlet == outlet and membership.is_active
    assert membership.id_number_digest == pii.digest(CLERK_NIK)
    assert membership.kk_number_digest == pii.digest(CLERK_KK)
    assert pii.decrypt(membership.id_number_encrypted) == CLERK_NIK
    assert CLERK_NIK not in membership.id_number_encrypted
    event = AuditEvent.objects.get(action="outlet_staff.invite")
    assert CLERK_NIK not in str(event.after) and event.after["id_number"] == "3171********0321"


def test_invitation_input_is_checked(dealer_user, outlet, clerk):
    with pytest.raises(ValidationError) as exc:
        invite(
            dealer_user,
            outlet,
            username="clerk",  # taken
            full_name="<b>",
            id_number="1234",
            kk_number="3171010101010000",
            email="not-an-email",
        )

    assert set(exc.value.message_dict) == {
        "username",
        "full_name",
        "id_number",
        "kk_number",
        "email",
    }
    assert exc.value.message_dict["id_number"] == ["A NIK has exactly 16 digits."]
    assert not User.objects.filter(username="clerk").exclude(pk=clerk.pk).exists()
    assert OutletStaff.objects.count() == 1


def test_the_same_nik_twice_at_one_outlet_is_refused(dealer_user, outlet):
    invite(dealer_user, outlet)
    with pytest.raises(ValidationError) as exc:
        invite(dealer_user, outlet, username="budi2")
    assert "already on this outlet's staff" in exc.value.message_dict["id_number"][0]


@pytest.mark.parametrize("persona", ["other_dealer_user", "clerk", "grapari", "regulator"])
def test_only_the_dealer_invites(persona, outlet, request):
    with pytest.raises(PermissionDenied):
        invite(request.getfixturevalue(persona), outlet)
    assert not User.objects.filter(username="budi.konter").exists()


def test_a_revoked_outlet_takes_no_staff(dealer_user, operator, outlet):
    services.outlet_revoke(actor=operator, outlet=outlet, reason="x")
    with pytest.raises(ValidationError):
        invite(dealer_user, outlet)


def test_the_invitation_link_sets_a_password_once(dealer_user, outlet):
    membership = invite(dealer_user, outlet)
    uid, token = invitation_path(membership.user).rstrip("/").split("/")[-2:]

    assert user_for_invitation(uid, token) == membership.user
    assert user_for_invitation(uid, token[:-1] + "x") is None
    services.outlet_staff_accept_invitation(user=membership.user, password=PASSWORD)

    assert can_log_in("budi.konter")
    assert user_for_invitation(uid, token) is None  # used
    with pytest.raises(ValidationError):
        services.outlet_staff_accept_invitation(user=membership.user, password="123")


# --- the 2018 rule: staff may not register buyers with their own ID ------------------------------


def _own_id_buyer(pack, **overrides):
    return buyer_data(
        pack,
        id_number=CLERK_NIK,
        birth_date=CLERK_BIRTH.isoformat(),
        sex="M",
        full_name="Budi Hartono",
        **overrides,
    )


@pytest.fixture
def invited_clerk(dealer_user, outlet):
    membership = invite(dealer_user, outlet)
    services.outlet_staff_accept_invitation(user=membership.user, password=PASSWORD)
    return membership.user


def test_clerk_registering_a_buyer_with_their_own_nik_is_refused_under_2018(invited_clerk, pack):
    in_2018 = datetime(2018, 6, 1, 10, tzinfo=ZoneInfo("Asia/Jakarta"))
    # The ban dates from the agreement of 14 May 2018 (docs/rules.md).
    assert (
        RegistrationPolicy.objects.filter(effective_from__lte=in_2018.date()).first().code
        == "2018-05-14"
    )

    with pytest.raises(ValidationError) as exc:
        registration_services.registration_prepare(
            clerk=invited_clerk, data=_own_id_buyer(pack), now=in_2018
        )

    assert "Only the end user may be registered" in exc.value.message_dict["id_number"][0]


def test_and_under_the_rules_in_force_today(invited_clerk, pack, photos):
    with pytest.raises(ValidationError) as exc:
        registration_services.registration_create(
            clerk=invited_clerk, data=_own_id_buyer(pack), **photos
        )
    assert "Only the end user may be registered" in exc.value.message_dict["id_number"][0]
    assert not Registration.objects.exists()
    # Their own KK with someone else's NIK: their family may buy in their own name — flagged
    # for a review, not refused (the rule as written, docs/rules.md).
    registration = registration_services.registration_create(
        clerk=invited_clerk, data=buyer_data(pack, kk_number=CLERK_KK), **photos
    )
    assert registration.status == Registration.Status.FLAGGED
    assert [r["code"] for r in registration.review_reasons] == ["insider_kk"]


def test_before_2018_the_rule_did_not_exist(invited_clerk, pack):
    in_2017 = datetime(2017, 12, 1, 10, tzinfo=ZoneInfo("Asia/Jakarta"))
    registration_services.registration_prepare(
        clerk=invited_clerk, data=_own_id_buyer(pack), now=in_2017
    )


def test_a_buyer_with_another_nik_is_fine(invited_clerk, pack, photos):
    registration = registration_services.registration_create(
        clerk=invited_clerk, data=buyer_data(pack), **photos
    )
    assert registration.clerk == invited_clerk
    assert buyer_data(pack)["id_number"] == make_nik(birth_date=BUYER_BIRTH, sex="F", serial=42)


# --- removal ------------------------------------------------------------------------------------


def test_a_removed_clerk_can_no_longer_log_in(dealer_user, clerk, outlet, pack):
    assert can_log_in("clerk")
    ApiToken.objects.issue(user=clerk)
    membership = clerk.outlet_staff

    services.outlet_staff_remove(actor=dealer_user, membership=membership, reason="Berhenti")

    membership.refresh_from_db()
    clerk.refresh_from_db()
    assert not membership.is_active and membership.removed_at is not None
    assert not clerk.is_active
    assert not can_log_in("clerk")
    assert not ApiToken.objects.filter(user=clerk).exists()
    with pytest.raises(ValidationError) as exc:
        registration_services.registration_prepare(clerk=clerk, data=buyer_data(pack))
    assert "Only staff of an outlet" in exc.value.messages[0]
    event = AuditEvent.objects.get(action="outlet_staff.remove")
    assert event.after == {"is_active": False, "reason": "Berhenti", "account_deactivated": True}
    with pytest.raises(ValidationError):
        services.outlet_staff_remove(actor=dealer_user, membership=membership)


def test_an_account_with_another_role_stays_active_but_loses_the_outlet(
    dealer_user, outlet, dealer_org
):
    both = StaffFactory(outlet=outlet).user
    DealerAdminFactory(user=both, dealer=dealer_org)

    services.outlet_staff_remove(actor=dealer_user, membership=both.outlet_staff)

    both.refresh_from_db()
    assert both.is_active
    assert not OutletStaff.objects.get(user=both).is_active


@pytest.mark.parametrize("persona", ["other_dealer_user", "clerk2", "grapari", "regulator"])
def test_only_the_dealer_removes(persona, clerk, request):
    with pytest.raises(PermissionDenied):
        services.outlet_staff_remove(
            actor=request.getfixturevalue(persona), membership=clerk.outlet_staff
        )
    assert OutletStaff.objects.get(user=clerk).is_active


def test_removed_clerks_invitation_link_stops_working(dealer_user, outlet):
    membership = invite(dealer_user, outlet)
    uid, token = invitation_path(membership.user).rstrip("/").split("/")[-2:]

    services.outlet_staff_remove(actor=dealer_user, membership=membership)

    assert user_for_invitation(uid, token) is None
    assert Outlet.objects.get(pk=outlet.pk).status == "active"
