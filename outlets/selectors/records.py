"""Reads of the dealer's records: applications, staff, stock movements, agreements, notices.

Each ``*_for_user`` is the one scoped queryset behind a page and its API resource; each
``*_get_for_user`` answers 404 for what does not exist *and* for what the user may not see.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from ..models import (
    Dealer,
    Notice,
    Outlet,
    OutletApplication,
    OutletStaff,
    ResponsibleParty,
    RoidSequence,
    StarterPack,
    StockAllocation,
    StockMove,
    TransferAgreement,
)
from .scope import dealer_id_for_user, scope_to_user


def _authenticated(user) -> bool:
    return getattr(user, "is_authenticated", False)


# --- applications ------------------------------------------------------------------------------


def applications_for_user(*, user, status: str | None = None) -> QuerySet[OutletApplication]:
    """All applications for the operator (who decides them), the dealer's own for a dealer
    admin, none for anyone else."""
    qs = OutletApplication.objects.select_related("dealer", "outlet", "submitted_by")
    if not _authenticated(user):
        return qs.none()
    if not user.is_operator:
        dealer_id = dealer_id_for_user(user=user)
        if dealer_id is None:
            return qs.none()
        qs = qs.filter(dealer_id=dealer_id)
    return qs.filter(status=status) if status else qs


def application_get_for_user(*, user, pk) -> OutletApplication:
    return get_object_or_404(applications_for_user(user=user), pk=pk)


# --- staff -------------------------------------------------------------------------------------


def staff_for_user(*, user, active: bool | None = None) -> QuerySet[OutletStaff]:
    """Outlet staff memberships: all for the operator and GraPARI, the dealer's outlets' for a
    dealer admin, their own for a clerk. The regulator has no use for the list of clerks."""
    qs = OutletStaff.objects.select_related("user", "outlet", "outlet__dealer").order_by(
        "outlet__roid", "user__username"
    )
    if not _authenticated(user):
        return qs.none()
    if not (user.is_operator or user.role == user.Role.GRAPARI):
        dealer_id = dealer_id_for_user(user=user)
        if dealer_id is not None:
            qs = qs.filter(outlet__dealer_id=dealer_id)
        elif user.role == user.Role.OUTLET_STAFF:
            qs = qs.filter(user=user, is_active=True)
        else:
            return qs.none()
    return qs if active is None else qs.filter(is_active=active)


def staff_get_for_user(*, user, pk) -> OutletStaff:
    return get_object_or_404(staff_for_user(user=user), pk=pk)


# --- stock -------------------------------------------------------------------------------------


def allocations_for_user(*, user, kind: str | None = None) -> QuerySet[StockAllocation]:
    """Allocations: all for operator roles, the dealer's for a dealer admin, those to or from
    the clerk's outlet for outlet staff."""
    qs = scope_to_user(StockAllocation.objects.select_related("dealer", "outlet"), user=user)
    return qs.filter(kind=kind) if kind else qs


def allocation_get_for_user(*, user, pk) -> StockAllocation:
    return get_object_or_404(allocations_for_user(user=user), pk=pk)


def stock_moves_for_user(
    *, user, msisdn: str | None = None, allocation_id: int | None = None
) -> QuerySet[StockMove]:
    """Moves of the allocations the user may see, newest first; ``msisdn`` gives one pack's
    history."""
    qs = (
        StockMove.objects.filter(allocation__in=allocations_for_user(user=user))
        .select_related(
            "allocation", "pack", "from_dealer", "from_outlet", "to_dealer", "to_outlet"
        )
        .order_by("-allocation_id", "pack__msisdn")
    )
    if msisdn:
        qs = qs.filter(pack__msisdn=msisdn)
    if allocation_id:
        qs = qs.filter(allocation_id=allocation_id)
    return qs


# --- agreements --------------------------------------------------------------------------------


def _dealer_scoped(qs, user, field: str = "dealer_id"):
    if not _authenticated(user):
        return qs.none()
    if user.sees_all_outlets:
        return qs
    dealer_id = dealer_id_for_user(user=user)
    return qs.filter(**{field: dealer_id}) if dealer_id is not None else qs.none()


def parties_for_user(*, user) -> QuerySet[ResponsibleParty]:
    """Responsible parties: the dealer's own for a dealer admin, all for operator roles."""
    return _dealer_scoped(ResponsibleParty.objects.select_related("dealer"), user)


def agreements_for_user(*, user, status: str | None = None) -> QuerySet[TransferAgreement]:
    """Agreements (their terms): the dealer's own for a dealer admin, all for operator roles
    (the regulator included; the signed document itself is not for the regulator, see
    ``outlets.services.may_read_agreement_document``). Clerks see none."""
    qs = _dealer_scoped(
        TransferAgreement.objects.select_related("dealer", "party").prefetch_related("ranges"),
        user,
    )
    return qs.filter(status=status) if status else qs


def agreement_get_for_user(*, user, pk) -> TransferAgreement:
    return get_object_or_404(agreements_for_user(user=user), pk=pk)


# --- notices -----------------------------------------------------------------------------------


def notices_for_user(*, user, unread: bool = False) -> QuerySet[Notice]:
    """Notices to the dealer for its admins; all for the operator."""
    qs = Notice.objects.select_related("dealer", "outlet")
    if not _authenticated(user):
        return qs.none()
    if not user.is_operator:
        dealer_id = dealer_id_for_user(user=user)
        if dealer_id is None:
            return qs.none()
        qs = qs.filter(dealer_id=dealer_id)
    return qs.filter(read_at__isnull=True) if unread else qs


def dealer_choices_for_user(*, user):
    """Dealers the user may pick in a filter: all for operator roles, its own for a dealer."""
    qs = Dealer.objects.order_by("code")
    if not _authenticated(user):
        return qs.none()
    if user.sees_all_outlets:
        return qs
    dealer_id = dealer_id_for_user(user=user)
    return qs.filter(pk=dealer_id) if dealer_id is not None else qs.none()


def outlet_stock_count(*, outlet) -> int:
    """Starter packs the outlet holds in stock (what "take every pack back" would move); the
    caller has already scoped the outlet to the user (``outlet_get_for_user``)."""
    return StarterPack.objects.filter(outlet=outlet, status=StarterPack.Status.IN_STOCK).count()


def roid_preview(*, province: str) -> str:
    """The ROID the next approval in ``province`` would most likely get (``roid_issue``'s
    scheme: ``RO`` + province code + running number), for the approval's summary. Only a
    preview: the number is issued, under a lock, when the approval is made."""
    from ..services.outlets import ROID_DIGITS

    prefix = f"RO{province}"
    number = (
        RoidSequence.objects.filter(prefix=prefix).values_list("last_number", flat=True).first()
        or 0
    )
    while True:
        number += 1
        roid = f"{prefix}{number:0{ROID_DIGITS}d}"
        if not Outlet.objects.filter(roid=roid).exists():
            return roid
