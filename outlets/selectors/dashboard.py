"""The dealer dashboard: per outlet, registrations, open clarifications, confirmed violations,
sanction status, training status and stock on hand — one annotated, sortable queryset for the
page, its CSV export and the API, with the columns declared once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import Outlet, OutletStaff, StarterPack
from .scope import outlets_for_user
from .training import outlet_trained_expression

RECENT_DAYS = 30


def count_per_outlet(queryset, outlet_field: str = "outlet"):
    """A correlated COUNT per outlet (a subquery, so several counts never multiply)."""
    counted = (
        queryset.filter(**{outlet_field: OuterRef("pk")})
        .order_by()
        .values(outlet_field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


# Figures about an outlet that layers above this one own: its registrations (the registrations
# app), its open clarifications and confirmed violations (the compliance workflow) and its risk
# signals above the baseline of comparable outlets over the last 30 days (the risk app). Each
# registers a provider when it is loaded (its ``AppConfig.ready``); a figure nobody provides is 0.
OUTLET_FIGURES = (
    "registration_count",
    "recent_registration_count",
    "open_clarifications",
    "confirmed_violations",
    "risk_signals",
)
_figure_providers: dict[str, Callable[[datetime], dict]] = {}


def register_outlet_figures(name: str, provider: Callable[[datetime], dict]) -> None:
    """Let a higher layer fill some of ``OUTLET_FIGURES``: ``provider(recent_since)`` returns a
    dict of figure names to expressions over ``OuterRef("pk")`` (the outlet), such as
    ``count_per_outlet(...)``. Registering the same ``name`` again replaces it."""
    _figure_providers[name] = provider


def _outlet_figures(recent_since: datetime) -> dict:
    figures = {name: Value(0, output_field=IntegerField()) for name in OUTLET_FIGURES}
    for provider in _figure_providers.values():
        figures.update(provider(recent_since))
    return figures


@dataclass(frozen=True)
class Column:
    key: str
    label: object
    value: Callable[[Outlet], object]
    sort_by: str = ""  # the ORM expression ordered on; "" when not sortable


DASHBOARD_COLUMNS: tuple[Column, ...] = (
    Column("roid", _("ROID"), lambda o: o.roid, "roid"),
    Column("name", _("Outlet"), lambda o: o.name, "name"),
    Column("dealer", _("Dealer"), lambda o: o.dealer.code, "dealer__code"),
    Column("region", _("Regency / city"), lambda o: o.region, "region"),
    Column("status", _("Sanction status"), lambda o: o.status, "status"),
    Column(
        "registrations", _("Registrations"), lambda o: o.registration_count, "registration_count"
    ),
    Column(
        "registrations_recent",
        _("Registrations, last 30 days"),
        lambda o: o.recent_registration_count,
        "recent_registration_count",
    ),
    Column(
        "open_clarifications",
        _("Open clarifications"),
        lambda o: o.open_clarifications,
        "open_clarifications",
    ),
    Column(
        "confirmed_violations",
        _("Confirmed violations"),
        lambda o: o.confirmed_violations,
        "confirmed_violations",
    ),
    Column("trained", _("Trained"), lambda o: o.trained, "trained"),
    Column("active_staff", _("Active staff"), lambda o: o.active_staff, "active_staff"),
    Column("stock_on_hand", _("Stock on hand"), lambda o: o.stock_on_hand, "stock_on_hand"),
    Column(
        "risk_signals",
        _("Risk signals above the baseline, last 30 days"),
        lambda o: o.risk_signals,
        "risk_signals",
    ),
)
SORT_KEYS = {column.key: column.sort_by for column in DASHBOARD_COLUMNS if column.sort_by}
DEFAULT_SORT = "roid"


def sort_choices() -> list[tuple[str, str]]:
    """``?sort=`` values: each column ascending, and descending with a leading ``-``."""
    choices = []
    for column in DASHBOARD_COLUMNS:
        if column.sort_by:
            choices += [(column.key, f"{column.label} ↑"), (f"-{column.key}", f"{column.label} ↓")]
    return choices


def outlet_dashboard_for_user(
    *, user, sort: str = DEFAULT_SORT, dealer_code: str = "", status: str = "", trained=None
) -> QuerySet[Outlet]:
    """The outlets ``user`` may see (``outlets_for_user``: a dealer its own, a clerk theirs,
    operator roles all, narrowed by ``dealer_code``), each annotated with the dashboard's
    figures, ordered by ``sort`` (a ``SORT_KEYS`` key, ``-`` for descending; unknown keys fall
    back to ROID). ``trained``: True/False to keep only (un)trained outlets."""
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    qs = outlets_for_user(user=user).annotate(
        stock_on_hand=count_per_outlet(
            StarterPack.objects.filter(status=StarterPack.Status.IN_STOCK)
        ),
        active_staff=count_per_outlet(OutletStaff.objects.filter(is_active=True)),
        trained=outlet_trained_expression(),
        **_outlet_figures(since),
    )
    if dealer_code:
        qs = qs.filter(dealer__code=dealer_code)
    if status:
        qs = qs.filter(status=status)
    if trained is not None:
        qs = qs.filter(trained=trained)
    descending = sort.startswith("-")
    field = SORT_KEYS.get(sort.lstrip("-"), SORT_KEYS[DEFAULT_SORT])
    return qs.order_by(f"-{field}" if descending else field, "roid")


def untrained_outlets_for_user(*, user) -> QuerySet[Outlet]:
    """The user's outlets (not revoked) where no active staff member attended a training."""
    return (
        outlets_for_user(user=user)
        .exclude(status=Outlet.Status.REVOKED)
        .annotate(trained=outlet_trained_expression())
        .filter(trained=False)
    )


def dealer_stock_on_hand(*, dealer_id: int) -> int:
    """Packs in the dealer's own stock (in stock, not at an outlet)."""
    return StarterPack.objects.filter(
        dealer_id=dealer_id, outlet__isnull=True, status=StarterPack.Status.IN_STOCK
    ).count()
