"""The compliance app's models, one module per part: ``reconciliation`` (runs, their chunks, the
discrepancies found) and ``workflow`` (clarifications, the review queue, violations, sanctions,
blocked numbers, notifications). All are re-exported here: the app label stays ``compliance``
and ``compliance.models.<Model>`` is the one way to name them (audit rows, migrations and
settings do). Migration 0005 also names the evidence photo's storage and path callables here.
"""

from .reconciliation import Discrepancy, DiscrepancyKind, ReconciliationRun, RunChunk
from .workflow import (
    Clarification,
    ClarificationAnswer,
    ClarificationItem,
    DiscrepancyOutcome,
    Notification,
    NumberBlock,
    RegistrationVersion,
    ReviewItem,
    Sanction,
    Violation,
    _evidence_path,
    _private_storage,
)

__all__ = [
    "Clarification",
    "ClarificationAnswer",
    "ClarificationItem",
    "Discrepancy",
    "DiscrepancyKind",
    "DiscrepancyOutcome",
    "Notification",
    "NumberBlock",
    "ReconciliationRun",
    "RegistrationVersion",
    "ReviewItem",
    "RunChunk",
    "Sanction",
    "Violation",
    "_evidence_path",
    "_private_storage",
]
