"""What the dealer's pages share: role checks with a friendly 403, private responses."""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

from ..selectors import dealer_id_for_user, staff_membership_for_user
from ..services._common import may_sanction


def private(response: HttpResponse) -> HttpResponse:
    """Pages with people's data must not linger in shared or browser caches."""
    patch_cache_control(response, private=True, no_store=True)
    return response


def has_outlet_scope(user) -> bool:
    return bool(
        user.sees_all_outlets
        or dealer_id_for_user(user=user) is not None
        or staff_membership_for_user(user=user) is not None
    )


def require_outlet_scope(user) -> None:
    if not has_outlet_scope(user):
        raise PermissionDenied(_("Your account is not linked to a dealer or an outlet."))


def require_dealer_admin(user) -> int:
    dealer_id = dealer_id_for_user(user=user)
    if dealer_id is None:
        raise PermissionDenied(_("Only a dealer's admins can do this."))
    return dealer_id


def require_dealer_or_operator(user) -> None:
    if not (user.is_operator or dealer_id_for_user(user=user) is not None):
        raise PermissionDenied(_("Only a dealer's admins or the operator can do this."))


def manages(user, dealer_id: int) -> bool:
    return user.is_operator or dealer_id_for_user(user=user) == dealer_id


def nav_context(user) -> dict:
    """Which sections of the dealer's pages the user's menu shows."""
    dealer_id = dealer_id_for_user(user=user)
    return {
        "is_dealer_admin": dealer_id is not None,
        "is_operator": user.is_operator,
        "may_sanction": may_sanction(user),
        "sees_agreements": user.sees_all_outlets or dealer_id is not None,
        "sees_applications": user.is_operator or dealer_id is not None,
    }
