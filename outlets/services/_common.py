"""What every service of the outlets app shares: who may act for whom, and how to say no."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from core.roles import is_operator, is_signed_in, may_decide

NON_FIELD = "non_field_errors"


def admin_dealer_id(actor) -> int | None:
    """The dealer ``actor`` administers, or None."""
    if not is_signed_in(actor):
        return None
    admin = getattr(actor, "dealer_admin", None)
    return admin.dealer_id if admin is not None else None


def require_manages_dealer(actor, dealer_id: int) -> None:
    """The operator, or an admin of that dealer."""
    if is_operator(actor) or admin_dealer_id(actor) == dealer_id:
        return
    raise PermissionDenied(_("Only the dealer's admins or the operator can do this."))


def may_sanction(actor) -> bool:
    """Outlet status changes: the operator and GraPARI (who decide sanctions), and the
    compliance workflow acting without a user (an ``actor`` label such as "compliance")."""
    if not is_signed_in(actor):
        return bool(actor)
    return may_decide(actor)
