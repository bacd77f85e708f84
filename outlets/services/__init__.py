"""Writes of the outlets app: one way in for the web pages, the API, the admin and commands.

Split by area; everything is importable from here (``from outlets import services``).
"""

from .agreements import (
    agreement_attach_document,
    agreement_create,
    agreement_document_open,
    check_document,
    may_read_agreement_document,
    responsible_party_create,
)
from .outlets import (
    notices_mark_read,
    outlet_application_approve,
    outlet_application_reject,
    outlet_application_submit,
    outlet_reinstate,
    outlet_revoke,
    outlet_suspend,
    roid_issue,
)
from .staff import outlet_staff_accept_invitation, outlet_staff_invite, outlet_staff_remove
from .stock import (
    line_messages,
    range_message,
    refuse_lines,
    stock_allocate_to_dealer,
    stock_allocate_to_outlet,
    stock_return_to_dealer,
)
from .training import trainees_for, training_attendance_record, training_session_create

__all__ = [
    "agreement_attach_document",
    "agreement_create",
    "agreement_document_open",
    "check_document",
    "line_messages",
    "may_read_agreement_document",
    "notices_mark_read",
    "outlet_application_approve",
    "outlet_application_reject",
    "outlet_application_submit",
    "outlet_reinstate",
    "outlet_revoke",
    "outlet_staff_accept_invitation",
    "outlet_staff_invite",
    "outlet_staff_remove",
    "outlet_suspend",
    "range_message",
    "refuse_lines",
    "responsible_party_create",
    "roid_issue",
    "stock_allocate_to_dealer",
    "stock_allocate_to_outlet",
    "stock_return_to_dealer",
    "trainees_for",
    "training_attendance_record",
    "training_session_create",
]
