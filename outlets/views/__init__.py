"""The dealer's pages (dealer operations), under /outlets/. Thin: parse, fetch through the
user-scoped selectors (an outsider gets a 404), call one service, respond."""

from .agreements import agreement_detail, agreement_document, agreement_list, agreement_new
from .outlets import (
    application_detail,
    application_list,
    application_new,
    dashboard,
    dashboard_csv,
    notices_read,
    outlet_detail,
    outlet_status,
)
from .staff import invitation, staff_invitation_link, staff_invite, staff_remove
from .stock import (
    allocation_detail,
    stock_overview,
    stock_return,
    stock_to_dealer,
    stock_to_outlet,
)
from .training import training_detail, training_list, training_new

__all__ = [
    "agreement_detail",
    "agreement_document",
    "agreement_list",
    "agreement_new",
    "allocation_detail",
    "application_detail",
    "application_list",
    "application_new",
    "dashboard",
    "dashboard_csv",
    "invitation",
    "notices_read",
    "outlet_detail",
    "outlet_status",
    "staff_invitation_link",
    "staff_invite",
    "staff_remove",
    "stock_overview",
    "stock_return",
    "stock_to_dealer",
    "stock_to_outlet",
    "training_detail",
    "training_list",
    "training_new",
]
