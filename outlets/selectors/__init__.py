"""Reads of the outlets app, scoped to what the asking user may see. Split by area; everything
is importable from here (``from outlets.selectors import outlets_for_user``)."""

from .dashboard import (
    DASHBOARD_COLUMNS,
    DEFAULT_SORT,
    SORT_KEYS,
    dealer_stock_on_hand,
    outlet_dashboard_for_user,
    sort_choices,
    untrained_outlets_for_user,
)
from .insiders import InsiderDigests, insider_digests, insider_match, insider_querysets
from .records import (
    agreement_get_for_user,
    agreements_for_user,
    allocation_get_for_user,
    allocations_for_user,
    application_get_for_user,
    applications_for_user,
    dealer_choices_for_user,
    notices_for_user,
    parties_for_user,
    staff_for_user,
    staff_get_for_user,
    stock_moves_for_user,
)
from .scope import (
    dealer_id_for_user,
    outlet_get_for_user,
    outlets_for_user,
    scope_to_user,
    staff_membership_for_user,
    starter_packs_for_user,
)
from .training import (
    attendances_for_user,
    outlet_trained_expression,
    training_session_get_for_user,
    training_sessions_for_user,
    user_has_attended_training,
)

__all__ = [
    "DASHBOARD_COLUMNS",
    "DEFAULT_SORT",
    "SORT_KEYS",
    "InsiderDigests",
    "agreement_get_for_user",
    "agreements_for_user",
    "allocation_get_for_user",
    "allocations_for_user",
    "application_get_for_user",
    "applications_for_user",
    "attendances_for_user",
    "dealer_choices_for_user",
    "dealer_id_for_user",
    "dealer_stock_on_hand",
    "insider_digests",
    "insider_match",
    "insider_querysets",
    "notices_for_user",
    "outlet_dashboard_for_user",
    "outlet_get_for_user",
    "outlet_trained_expression",
    "outlets_for_user",
    "parties_for_user",
    "scope_to_user",
    "sort_choices",
    "staff_for_user",
    "staff_get_for_user",
    "staff_membership_for_user",
    "starter_packs_for_user",
    "stock_moves_for_user",
    "training_session_get_for_user",
    "training_sessions_for_user",
    "untrained_outlets_for_user",
    "user_has_attended_training",
]
