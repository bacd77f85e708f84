"""Figures of the compliance workflow (issue 4: clarification requests, review, sanctions).

THE INTERFACE ISSUE 4 FILLS IN. The dashboard, the API, the exports (``summary``, ``outlets``,
``clarifications``) and the PDF call only the three functions below; until the compliance app
has its models they answer "not available" (``available=False``: the dashboard shows "—", the
exports leave the cells empty), so nothing here can break while issue 4 is being built.

Each function takes the report filter (``flt.period``: local days, both ends included;
``flt.outlet_q(scope, prefix)``: the outlets covered, as a Q on the model's outlet relation)
and the reader's scope. Definitions to implement (docs/reports.md):

- opened: clarification requests created in the period;
- answered: of those, answered by the outlet (at any time up to now);
- overdue: of those, unanswered past their deadline now;
- median_hours_to_resolve: median of (resolved − created) in hours over those resolved;
- confirmed_violations: review decisions "violation confirmed" taken in the period;
- sanctions_by_level: sanctions imposed in the period, per level (the model's level values);
- per outlet (``by_outlet``): open clarification requests now and confirmed violations in the
  period, keyed by outlet id — the outlets export and the top-outlets list show them;
- ``clarification_rows``: the rows of the ``clarifications`` export, columns in
  ``CLARIFICATION_COLUMNS`` order, ID numbers never in them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.apps import apps

logger = logging.getLogger(__name__)

# The clarifications export's columns (header keys). Issue 4 may add columns at the end.
CLARIFICATION_COLUMNS = (
    "id",
    "msisdn",
    "kind",
    "registration_number",
    "outlet_roid",
    "status",
    "opened_at",
    "due_at",
    "answered_at",
    "resolved_at",
    "decision",
)


@dataclass
class OutletWorkflow:
    open_clarifications: int = 0
    confirmed_violations: int = 0


@dataclass
class WorkflowFigures:
    available: bool = False
    opened: int = 0
    answered: int = 0
    overdue: int = 0
    median_hours_to_resolve: float | None = None
    confirmed_violations: int = 0
    sanctions_by_level: dict[str, int] = field(default_factory=dict)
    by_outlet: dict[int, OutletWorkflow] = field(default_factory=dict)


def _model(name: str):
    """The compliance app's model ``name``, or None while issue 4 has not added it."""
    try:
        return apps.get_model("compliance", name)
    except LookupError:
        return None


def workflow_available() -> bool:
    return _model("Clarification") is not None


def workflow_figures(*, flt, scope) -> WorkflowFigures:
    """Clarifications, confirmed violations and sanctions for the filter and scope."""
    if _model("Clarification") is None:
        return WorkflowFigures()
    # Issue 4: compute the figures of the module docstring here and set available=True.
    logger.debug("reports: compliance.Clarification exists; workflow figures not wired yet")
    return WorkflowFigures()


def clarification_rows(*, flt, scope) -> tuple[int, Iterator[tuple]]:
    """(row count, rows) of the ``clarifications`` export; (0, nothing) until issue 4."""
    if _model("Clarification") is None:
        return 0, iter(())
    # Issue 4: a scoped queryset's count and ``values_list(...).iterator(chunk_size=...)``.
    return 0, iter(())
