"""Who sees which outlets and packs: the scoping every other read of the app builds on."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from ..models import Outlet, OutletStaff, StarterPack


def staff_membership_for_user(*, user) -> OutletStaff | None:
    """The active outlet membership of ``user``, or None (not staff, or removed)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        OutletStaff.objects.select_related("outlet", "outlet__dealer")
        .filter(user=user, is_active=True)
        .first()
    )


def dealer_id_for_user(*, user) -> int | None:
    """The dealer ``user`` administers, or None."""
    admin = getattr(user, "dealer_admin", None) if user.is_authenticated else None
    return admin.dealer_id if admin is not None else None


def scope_to_user(
    qs: QuerySet,
    *,
    user,
    dealer_field: str = "dealer_id",
    outlet_field: str = "outlet_id",
    **staff_filters,
) -> QuerySet:
    """The one rule of who sees what, applied to ``qs``: everything for the operator, GraPARI
    and the regulator; rows of the administered dealer (``dealer_field``) for a dealer admin;
    rows of the clerk's outlet (``outlet_field``, plus ``staff_filters``) for active outlet
    staff; nothing for anyone else."""
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.sees_all_outlets:
        return qs
    dealer_id = dealer_id_for_user(user=user)
    if dealer_id is not None:
        return qs.filter(**{dealer_field: dealer_id})
    membership = staff_membership_for_user(user=user)
    if membership is None:
        return qs.none()
    return qs.filter(**{outlet_field: membership.outlet_id}, **staff_filters)


def outlets_for_user(*, user) -> QuerySet[Outlet]:
    """All outlets for the operator, GraPARI and the regulator; its own for a dealer admin;
    the clerk's own outlet for outlet staff; nothing for anyone else."""
    return scope_to_user(Outlet.objects.select_related("dealer"), user=user, outlet_field="pk")


def outlet_get_for_user(*, user, pk) -> Outlet:
    """One outlet, or 404 when it does not exist *or* the user may not see it."""
    return get_object_or_404(outlets_for_user(user=user), pk=pk)


def starter_packs_for_user(*, user, status: str | None = None) -> QuerySet[StarterPack]:
    """Packs the user may see: the clerk's outlet's, the dealer's own stock, all for operator
    roles."""
    qs = scope_to_user(StarterPack.objects.select_related("outlet"), user=user)
    if status:
        qs = qs.filter(status=status)
    return qs
