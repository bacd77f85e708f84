"""Figures of the compliance workflow: clarification requests, review decisions, sanctions.

The dashboard, the API, the exports (``summary``, ``outlets``, ``clarifications``) and the PDF
read them through the functions below. Each takes the report filter (``flt.period``: local
days, both ends included; ``flt.outlet_q(scope, prefix)``: the outlets covered, as a Q on the
model's outlet relation) and the reader's scope. Definitions (docs/reports.md):

- opened: clarification requests created in the period;
- answered: of those, answered by the outlet (at any time up to now);
- overdue: of those, unanswered past their deadline now;
- median_hours_to_resolve: median of (resolved − created) in hours over those resolved;
- confirmed_violations: review decisions "violation confirmed" taken in the period;
- sanctions_by_level: sanctions imposed in the period, per level (the model's level values);
- open_now: clarification requests in progress now (``Clarification.ACTIVE``: open, answered,
  asked again, or past their deadline unanswered — awaiting GraPARI), whenever they were
  opened, to outlets in scope and — when no outlet filter narrows the report — to the dealer
  or a party the reader sees: the requests ``/api/v1/clarifications/?status=active`` lists for
  the same reader; the figures' ``totals.open_clarifications``;
- per outlet (``by_outlet``): open clarification requests now (the same statuses, the requests
  the outlet answers) and confirmed violations in the period, keyed by outlet id — the outlets
  export and the groups show them; the groups add up to ``open_now`` less the requests a
  dealer or a party answers (they have no outlet to be grouped under);
- ``clarification_rows``: the rows of the ``clarifications`` export, columns in
  ``CLARIFICATION_COLUMNS`` order, ID numbers never in them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from statistics import median

from django.db.models import Count, Q
from django.utils import timezone

from compliance.models import Clarification, ClarificationItem, Sanction, Violation

from .expressions import local_text
from .rows import period_bounds, restricted

# The clarifications export's columns (header keys); new columns go at the end.
# ``outlet_roid`` is the outlet of the number — the one that registered it, or that an
# unregistered pack was sold through: the ROID the discrepancies export gives for the same
# number — whoever answers the request; ``accountable`` (outlet, party, dealer) and
# ``dealer_code`` (the dealer whose admins answer when no outlet does) say who answers.
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
    "accountable",
    "dealer_code",
)


@dataclass
class OutletWorkflow:
    open_clarifications: int = 0
    confirmed_violations: int = 0


@dataclass
class WorkflowFigures:
    opened: int = 0
    answered: int = 0
    overdue: int = 0
    median_hours_to_resolve: float | None = None
    confirmed_violations: int = 0
    sanctions_by_level: dict[str, int] = field(default_factory=dict)
    open_now: int = 0
    by_outlet: dict[int, OutletWorkflow] = field(default_factory=dict)


def _requests(flt, scope):
    """Clarification requests opened in the period (local days) in scope (``_in_scope``)."""
    start, end = period_bounds(flt.period)
    return _in_scope(
        Clarification.objects.filter(opened_at__gte=start, opened_at__lt=end), flt, scope
    )


def _in_scope(qs, flt, scope):
    """Of ``qs``, the requests to outlets in scope. Requests to a dealer or a party (no outlet)
    count only when no outlet filter narrows the report and the reader sees that dealer."""
    outlets = flt.outlet_q(scope)
    if flt.narrows_outlets:
        return qs.filter(outlets)
    dealer_only = Q(outlet__isnull=True)
    if scope.dealer_id is not None:
        dealer_only &= Q(dealer_id=scope.dealer_id)
    return qs.filter(outlets | dealer_only) if outlets else qs


def workflow_figures(*, flt, scope) -> WorkflowFigures:
    """Clarifications, confirmed violations and sanctions for the filter and scope (the
    definitions of the module docstring)."""
    now = timezone.now()
    start, end = period_bounds(flt.period)
    requests = _requests(flt, scope)
    counts = requests.aggregate(
        opened=Count("pk"),
        answered=Count("pk", filter=Q(answered_at__isnull=False)),
        overdue=Count(
            "pk",
            filter=Q(
                status__in=[*Clarification.AWAITING_ANSWER, Clarification.Status.EXPIRED],
                due_at__lte=now,
            ),
        ),
    )
    hours = [
        (resolved - opened).total_seconds() / 3600
        for opened, resolved in requests.filter(resolved_at__isnull=False)
        .values_list("opened_at", "resolved_at")
        .iterator(chunk_size=5000)
    ]
    violations = Violation.objects.filter(confirmed_at__gte=start, confirmed_at__lt=end).filter(
        flt.outlet_q(scope)
    )
    sanctions = (
        Sanction.objects.filter(created_at__gte=start, created_at__lt=end)
        .filter(flt.outlet_q(scope))
        .order_by()
        .values_list("level")
        .annotate(n=Count("pk"))
    )
    by_outlet: dict[int, OutletWorkflow] = {}
    open_now = (
        Clarification.objects.filter(status__in=Clarification.ACTIVE, outlet__isnull=False)
        .filter(flt.outlet_q(scope))
        .order_by()
        .values_list("outlet_id")
        .annotate(n=Count("pk"))
    )
    for outlet_id, n in open_now:
        by_outlet.setdefault(outlet_id, OutletWorkflow()).open_clarifications = n
    active = Clarification.objects.filter(status__in=Clarification.ACTIVE)
    per_outlet_violations = (
        violations.filter(outlet__isnull=False)
        .order_by()
        .values_list("outlet_id")
        .annotate(n=Count("pk"))
    )
    for outlet_id, n in per_outlet_violations:
        by_outlet.setdefault(outlet_id, OutletWorkflow()).confirmed_violations = n
    return WorkflowFigures(
        opened=counts["opened"],
        answered=counts["answered"],
        overdue=counts["overdue"],
        median_hours_to_resolve=round(median(hours), 1) if hours else None,
        confirmed_violations=violations.count(),
        sanctions_by_level={level: n for level, n in sanctions},
        open_now=_in_scope(active, flt, scope).count(),
        by_outlet=by_outlet,
    )


def clarification_rows(*, flt, scope) -> tuple[int, Iterator[tuple]]:
    """(row count, rows) of the ``clarifications`` export: the requests of the period in scope,
    oldest first, columns in ``CLARIFICATION_COLUMNS`` order (``kind``: the kinds asked about,
    joined by ``+``; ``outlet_roid``: the outlet of the discrepancies asked about, else of the
    registration, else the outlet asked; times as every export writes them,
    ``expressions.local_text``). No ID
    numbers; requests about a registration whose processing a data subject restricted are left
    out unless the reader may see those."""
    qs = _requests(flt, scope)
    if not scope.sees_restricted:
        qs = qs.filter(~restricted("registration_id"))
    qs = qs.order_by("opened_at", "pk")
    total = qs.count()

    def rows() -> Iterator[tuple]:
        values = qs.values_list(
            "pk",
            "msisdn",
            "registration__registration_number",
            "registration__outlet__roid",
            "outlet__roid",
            "status",
            "opened_at",
            "due_at",
            "answered_at",
            "resolved_at",
            "decision",
            "accountable",
            "dealer__code",
        ).iterator(chunk_size=2000)
        batch: list[tuple] = []
        for row in values:
            batch.append(row)
            if len(batch) == 2000:
                yield from _with_kinds(batch)
                batch = []
        yield from _with_kinds(batch)

    return total, rows()


def _with_kinds(batch: list[tuple]) -> Iterator[tuple]:
    if not batch:
        return
    kinds: dict[int, set[str]] = {}
    roids: dict[int, set[str]] = {}
    for clarification_id, kind, roid in ClarificationItem.objects.filter(
        clarification_id__in=[row[0] for row in batch]
    ).values_list("clarification_id", "kind", "discrepancy__outlet__roid"):
        kinds.setdefault(clarification_id, set()).add(kind)
        if roid:
            roids.setdefault(clarification_id, set()).add(roid)
    for (
        pk,
        msisdn,
        number,
        registration_roid,
        asked_roid,
        status,
        opened,
        due,
        answered,
        resolved,
        decision,
        accountable,
        dealer_code,
    ) in batch:
        # The number's outlet, whoever answers: a dealer answering for an unregistered pack
        # leaves the request without an outlet, not the number (one ROID but in odd cases).
        roid = "+".join(sorted(roids.get(pk, ()))) or registration_roid or asked_roid or ""
        yield (
            pk,
            msisdn,
            "+".join(sorted(kinds.get(pk, ()))),
            number or "",
            roid,
            status,
            local_text(opened),
            local_text(due),
            local_text(answered),
            local_text(resolved),
            decision,
            accountable,
            dealer_code,
        )
