"""Who a user is, for every permission check in the portal: each predicate is written once here.

The role lives on ``accounts.User.role``; these functions read it by duck typing (``role``,
``is_operator``), so the foundation imports no app. Scoping to a dealer or
an outlet (which needs the outlets' tables) is ``outlets.selectors.scope``.

``actor`` may also be a plain label (a management command, a Celery task, the workflow acting on
its own): such an actor is never a signed-in user.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

# The roles a user may have (``accounts.User.Role`` gives them their labels).
OUTLET_STAFF = "outlet_staff"
DEALER_ADMIN = "dealer_admin"
GRAPARI = "grapari"
REGULATOR = "regulator"
OPERATOR = "operator"


def is_signed_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def is_operator(user) -> bool:
    """Operator admins (and superusers) see and run everything."""
    return is_signed_in(user) and bool(user.is_operator)


def is_regulator(user) -> bool:
    """The regulator reads everything and changes nothing."""
    return is_signed_in(user) and user.role == REGULATOR and not user.is_operator


def may_decide(user) -> bool:
    """GraPARI reviewers and operator admins decide reviews and sanctions; the regulator only
    reads."""
    return is_signed_in(user) and (user.is_operator or user.role == GRAPARI)


def require_operator(actor) -> None:
    if not is_operator(actor):
        raise PermissionDenied(_("Only the operator can do this."))
