"""What every service of the outlets app shares: who may act for whom, and how to say no."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

NON_FIELD = "non_field_errors"


def is_user(actor) -> bool:
    return getattr(actor, "is_authenticated", False)


def is_operator(actor) -> bool:
    return is_user(actor) and actor.is_operator


def admin_dealer_id(actor) -> int | None:
    """The dealer ``actor`` administers, or None."""
    if not is_user(actor):
        return None
    admin = getattr(actor, "dealer_admin", None)
    return admin.dealer_id if admin is not None else None


def require_operator(actor) -> None:
    if not is_operator(actor):
        raise PermissionDenied(_("Only the operator can do this."))


def require_manages_dealer(actor, dealer_id: int) -> None:
    """The operator, or an admin of that dealer."""
    if is_operator(actor) or admin_dealer_id(actor) == dealer_id:
        return
    raise PermissionDenied(_("Only the dealer's admins or the operator can do this."))


def may_sanction(actor) -> bool:
    """Outlet status changes: the operator and GraPARI (who decide sanctions), and the
    compliance workflow acting without a user (an ``actor`` label such as "compliance")."""
    if not is_user(actor):
        return bool(actor)
    return actor.is_operator or actor.role == actor.Role.GRAPARI


def actor_label(actor) -> str:
    if is_user(actor):
        return actor.get_username()
    return str(actor) if actor else "system"
