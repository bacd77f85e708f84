"""The figures, defined once. The dashboard, the API, the ``summary`` and ``outlets`` exports
and the PDF all call ``report_figures`` (or the functions it is made of); nothing else counts.

Every figure reads the summary tables (``reports.summary`` keeps them up to date), for a
``ReportFilter`` (period of local days, optional province / dealer / outlet) within the
reader's ``ReportScope``. Definitions (docs/reports.md):

- registrations: registered in the period (local day of ``registered_at``), not refused by the
  population registry (a refused registration never made a subscriber); by ID type; of those,
  *blocked*, *flagged* and *awaiting* (the registry's verification) by their status now;
- discrepancies by kind: detected in the period (local day of ``detected_at``), with an
  accountable outlet; of those, still open now;
- violation rate of an outlet: the share of its registrations in the period that have an open
  discrepancy of a kind the outlet is accountable for (all kinds but "unknown to the operator");
- IDs over the cap: ID numbers that hold more active numbers (not blocked, not deactivated)
  than the cap of the policy in force, counted once per group among the IDs registered in the
  period there;
- outlets registering one ID unusually often: an outlet with at least
  ``REPORTS_REPEATED_ID_MIN`` registrations of the same ID number in the period.

Province and dealer are the outlet's now (an outlet that moved is counted where it is).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from compliance.models import DiscrepancyKind
from core.routers import read_alias, replica_reads
from outlets.models import Outlet
from outlets.regions import PROVINCES
from subscribers.models import IdType

from . import workflow_figures
from .models import DailyDiscrepancyStats, DailyOutletStats, FlaggedIdRegistration
from .periods import Bucket, buckets
from .scope import DEALER, OUTLET, PROVINCE, ReportFilter, ReportScope
from .summary import summary_state

GROUP_LABELS = {PROVINCE: _("Province"), DEALER: _("Dealer"), OUTLET: _("Outlet")}
TOP_OUTLETS = 10


@dataclass
class Counts:
    registrations: int = 0
    blocked: int = 0
    flagged: int = 0
    awaiting: int = 0  # of the registrations, awaiting the population registry now
    with_discrepancy: int = 0
    discrepancies: int = 0  # detected in the period
    open_discrepancies: int = 0  # of those, open now
    over_cap_ids: int = 0
    repeated_ids: int = 0
    confirmed_violations: int = 0  # in the period (the compliance workflow's)
    open_clarifications: int = 0  # now

    def add_registrations(self, other: Counts) -> None:
        self.registrations += other.registrations
        self.blocked += other.blocked
        self.flagged += other.flagged
        self.awaiting += other.awaiting
        self.with_discrepancy += other.with_discrepancy

    @property
    def violation_rate(self) -> float | None:
        """Share of the period's registrations with an open accountable discrepancy."""
        if not self.registrations:
            return None
        return self.with_discrepancy / self.registrations


@dataclass
class GroupRow:
    key: str
    label: str
    detail: str = ""
    counts: Counts = field(default_factory=Counts)


@dataclass(frozen=True)
class OutletInfo:
    id: int
    roid: str
    name: str
    province: str
    dealer_code: str
    dealer_name: str
    region: str
    status: str

    def group_key(self, grouping: str) -> str:
        return {PROVINCE: self.province, DEALER: self.dealer_code, OUTLET: self.roid}[grouping]


@dataclass
class KindCount:
    kind: str
    label: str
    detected: int = 0
    still_open: int = 0


@dataclass
class TrendPoint:
    bucket: Bucket
    label: str
    registrations: int = 0
    discrepancies: int = 0


@dataclass
class RepeatedIdOutlet:
    outlet: OutletInfo
    ids: int  # ID numbers registered at least REPORTS_REPEATED_ID_MIN times in the period
    most: int  # the most registrations of one of them


@dataclass
class Figures:
    filter: ReportFilter
    as_of: datetime | None
    totals: Counts
    by_id_type: list[tuple[str, str, int]]
    discrepancies_by_kind: list[KindCount]
    trend: list[TrendPoint]
    groups: list[GroupRow]
    top_outlets: list[GroupRow]
    repeated: list[RepeatedIdOutlet]
    workflow: workflow_figures.WorkflowFigures
    repeated_min: int
    top_min_registrations: int

    @property
    def discrepancies_detected(self) -> int:
        return sum(k.detected for k in self.discrepancies_by_kind)


# --- the building blocks ---------------------------------------------------------------------


def _period_q(flt: ReportFilter) -> Q:
    return Q(day__gte=flt.period.date_from, day__lte=flt.period.date_to)


def outlets_in_scope(flt: ReportFilter, scope: ReportScope) -> dict[int, OutletInfo]:
    """The outlets the figures cover, with what groups and labels them."""
    rows = (
        Outlet.objects.filter(flt.outlet_q(scope, prefix=""))
        .order_by()
        .values_list(
            "id", "roid", "name", "province", "dealer__code", "dealer__name", "region", "status"
        )
    )
    return {row[0]: OutletInfo(*row) for row in rows}


def registrations_per_outlet(flt: ReportFilter, scope: ReportScope) -> dict[int, dict[str, Counts]]:
    """Registrations of the period per outlet and ID type (with blocked, flagged, with an open
    accountable discrepancy)."""
    rows = (
        DailyOutletStats.objects.filter(_period_q(flt), flt.outlet_q(scope))
        .order_by()
        .values_list("outlet_id", "id_type")
        .annotate(
            n=Sum("registrations"),
            b=Sum("blocked"),
            f=Sum("flagged"),
            a=Sum("awaiting"),
            w=Sum("with_discrepancy"),
        )
    )
    out: dict[int, dict[str, Counts]] = defaultdict(dict)
    for outlet_id, id_type, n, b, f, a, w in rows:
        out[outlet_id][id_type] = Counts(
            registrations=n, blocked=b, flagged=f, awaiting=a, with_discrepancy=w
        )
    return out


def registrations_per_day(flt: ReportFilter, scope: ReportScope) -> dict[date, int]:
    rows = (
        DailyOutletStats.objects.filter(_period_q(flt), flt.outlet_q(scope))
        .order_by()
        .values_list("day")
        .annotate(n=Sum("registrations"))
    )
    return dict(rows)


def discrepancies_per_outlet(
    flt: ReportFilter, scope: ReportScope
) -> dict[int, dict[str, tuple[int, int]]]:
    """Discrepancies detected in the period per accountable outlet and kind: (detected, open)."""
    rows = (
        DailyDiscrepancyStats.objects.filter(_period_q(flt), flt.outlet_q(scope))
        .order_by()
        .values_list("outlet_id", "kind")
        .annotate(n=Sum("detected"), o=Sum("still_open"))
    )
    out: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for outlet_id, kind, n, o in rows:
        out[outlet_id][kind] = (n, o)
    return out


def discrepancies_per_day(flt: ReportFilter, scope: ReportScope) -> dict[date, int]:
    rows = (
        DailyDiscrepancyStats.objects.filter(_period_q(flt), flt.outlet_q(scope))
        .order_by()
        .values_list("day")
        .annotate(n=Sum("detected"))
    )
    return dict(rows)


_GROUP_FIELDS = {PROVINCE: "outlet__province", DEALER: "outlet__dealer__code", OUTLET: "outlet_id"}


def over_cap_ids(flt: ReportFilter, scope: ReportScope, *, by: str | None = None):
    """Distinct ID numbers over the cap among those registered in the period: a total, or a
    dict per group key (``by``: province / dealer / outlet — outlet keys are outlet ids)."""
    rows = FlaggedIdRegistration.objects.filter(_period_q(flt), flt.outlet_q(scope), over_cap=True)
    if by is None:
        return rows.aggregate(n=Count("id_digest", distinct=True))["n"] or 0
    return dict(
        rows.order_by().values_list(_GROUP_FIELDS[by]).annotate(n=Count("id_digest", distinct=True))
    )


def repeated_id_counts(flt: ReportFilter, scope: ReportScope) -> dict[int, tuple[int, int]]:
    """Per outlet: (ID numbers registered there at least REPORTS_REPEATED_ID_MIN times in the
    period, the most registrations of one of them)."""
    threshold = settings.REPORTS_REPEATED_ID_MIN
    rows = (
        FlaggedIdRegistration.objects.filter(
            _period_q(flt), flt.outlet_q(scope), repeated_at_outlet=True
        )
        .order_by()
        .values_list("outlet_id", "id_digest")
        .annotate(n=Count("pk"))
        .filter(n__gte=threshold)
    )
    out: dict[int, tuple[int, int]] = {}
    for outlet_id, _digest, n in rows:
        ids, most = out.get(outlet_id, (0, 0))
        out[outlet_id] = (ids + 1, max(most, n))
    return out


# --- per outlet, then rolled up ----------------------------------------------------------------


@dataclass
class Collected:
    """One pass over the summary tables: every figure per outlet, plus the two breakdowns
    that are not per outlet (ID types, discrepancy kinds)."""

    per_outlet: dict[int, Counts]
    by_id_type: dict[str, int]
    kinds: dict[str, KindCount]
    repeated: dict[int, tuple[int, int]]


def collect(
    flt: ReportFilter, scope: ReportScope, workflow: workflow_figures.WorkflowFigures
) -> Collected:
    per_outlet: dict[int, Counts] = defaultdict(Counts)
    by_id_type: dict[str, int] = dict.fromkeys(IdType.values, 0)
    for outlet_id, types in registrations_per_outlet(flt, scope).items():
        for id_type, counts in types.items():
            per_outlet[outlet_id].add_registrations(counts)
            by_id_type[id_type] = by_id_type.get(id_type, 0) + counts.registrations
    kinds = {kind: KindCount(kind, str(label)) for kind, label in DiscrepancyKind.choices}
    for outlet_id, items in discrepancies_per_outlet(flt, scope).items():
        for kind, (n, o) in items.items():
            per_outlet[outlet_id].discrepancies += n
            per_outlet[outlet_id].open_discrepancies += o
            kind_count = kinds.setdefault(kind, KindCount(kind, kind))
            kind_count.detected += n
            kind_count.still_open += o
    for outlet_id, n in over_cap_ids(flt, scope, by=OUTLET).items():
        per_outlet[outlet_id].over_cap_ids = n
    repeated = repeated_id_counts(flt, scope)
    for outlet_id, (ids, _most) in repeated.items():
        per_outlet[outlet_id].repeated_ids = ids
    # Open requests are counted now, whenever they were opened: an outlet with no registration
    # and no finding in the period still has them (its group shows them).
    for outlet_id, item in workflow.by_outlet.items():
        per_outlet[outlet_id].confirmed_violations = item.confirmed_violations
        per_outlet[outlet_id].open_clarifications = item.open_clarifications
    return Collected(dict(per_outlet), by_id_type, kinds, repeated)


def _group_label(grouping: str, key: str, outlet: OutletInfo) -> tuple[str, str]:
    if grouping == PROVINCE:
        return PROVINCES.get(key, key), key
    if grouping == DEALER:
        return outlet.dealer_name, key
    return outlet.name, f"{outlet.roid} · {PROVINCES.get(outlet.province, outlet.province)}"


def group_rows(
    flt: ReportFilter,
    scope: ReportScope,
    per_outlet: dict[int, Counts],
    outlets: dict[int, OutletInfo],
) -> list[GroupRow]:
    """The per-outlet figures rolled up by province, dealer or outlet (the filter's grouping),
    most registrations first. IDs over the cap are recounted per group (an ID is counted once
    per group)."""
    grouping = flt.grouping
    groups: dict[str, GroupRow] = {}
    for outlet_id, counts in per_outlet.items():
        outlet = outlets.get(outlet_id)
        if outlet is None:
            continue
        key = outlet.group_key(grouping)
        row = groups.get(key)
        if row is None:
            label, detail = _group_label(grouping, key, outlet)
            row = groups[key] = GroupRow(key, label, detail)
        row.counts.add_registrations(counts)
        row.counts.discrepancies += counts.discrepancies
        row.counts.open_discrepancies += counts.open_discrepancies
        row.counts.repeated_ids += counts.repeated_ids
        row.counts.confirmed_violations += counts.confirmed_violations
        row.counts.open_clarifications += counts.open_clarifications
    if grouping == OUTLET:
        per_outlet_ids = over_cap_ids(flt, scope, by=OUTLET)
        by_group = {outlets[k].roid: n for k, n in per_outlet_ids.items() if k in outlets}
    else:
        by_group = over_cap_ids(flt, scope, by=grouping)
    for key, n in by_group.items():
        if key in groups:
            groups[key].counts.over_cap_ids = n
    return sorted(groups.values(), key=lambda g: (-g.counts.registrations, g.label))


def top_outlets_by_violation_rate(
    per_outlet: dict[int, Counts], outlets: dict[int, OutletInfo], *, limit: int = TOP_OUTLETS
) -> list[GroupRow]:
    """Outlets with at least REPORTS_TOP_OUTLETS_MIN_REGISTRATIONS registrations in the period,
    highest violation rate first (then most registrations with a discrepancy)."""
    minimum = settings.REPORTS_TOP_OUTLETS_MIN_REGISTRATIONS
    ranked = [
        (outlet_id, counts)
        for outlet_id, counts in per_outlet.items()
        if counts.registrations >= minimum and counts.with_discrepancy and outlet_id in outlets
    ]
    ranked.sort(key=lambda item: (-item[1].violation_rate, -item[1].with_discrepancy, item[0]))
    rows = []
    for outlet_id, counts in ranked[:limit]:
        outlet = outlets[outlet_id]
        label, detail = _group_label(OUTLET, outlet.roid, outlet)
        rows.append(GroupRow(outlet.roid, label, detail, counts))
    return rows


def trend(flt: ReportFilter, scope: ReportScope) -> list[TrendPoint]:
    """Registrations and discrepancies detected per day, week or month of the period."""
    bucket = flt.trend_bucket
    registrations = registrations_per_day(flt, scope)
    discrepancies = discrepancies_per_day(flt, scope)
    points = []
    for item in buckets(flt.period, bucket):
        point = TrendPoint(item, item.label(bucket))
        for day, n in registrations.items():
            if item.start <= day <= item.end:
                point.registrations += n
        for day, n in discrepancies.items():
            if item.start <= day <= item.end:
                point.discrepancies += n
        points.append(point)
    return points


# --- everything, for the dashboard, the API, the summary export and the PDF --------------------


@contextmanager
def _figures_source() -> Iterator[None]:
    """Read the figures from the read replica (``core.routers``) when there is
    one and it has replayed the latest summary refresh — the same generation of the summary
    tables as the primary, so the figures are exactly the primary's and "as of" the same
    moment (an export refreshes them just before it reads them). Otherwise from the primary."""
    if read_alias() == DEFAULT_DB_ALIAS:
        yield
        return
    primary = summary_state()
    with replica_reads():
        replica = summary_state()
    current = (primary.generation if primary else None) == (replica.generation if replica else None)
    if not current:
        yield
        return
    with replica_reads():
        yield


def report_figures(flt: ReportFilter, scope: ReportScope) -> Figures:
    """Every figure of the report for ``flt`` within ``scope``."""
    with _figures_source():
        return _report_figures(flt, scope)


def _report_figures(flt: ReportFilter, scope: ReportScope) -> Figures:
    state = summary_state()
    outlets = outlets_in_scope(flt, scope)
    workflow = workflow_figures.workflow_figures(flt=flt, scope=scope)
    collected = collect(flt, scope, workflow)
    per_outlet = collected.per_outlet

    totals = Counts()
    for counts in per_outlet.values():
        totals.add_registrations(counts)
        totals.discrepancies += counts.discrepancies
        totals.open_discrepancies += counts.open_discrepancies
        totals.repeated_ids += counts.repeated_ids
    totals.over_cap_ids = over_cap_ids(flt, scope)
    totals.confirmed_violations = workflow.confirmed_violations
    totals.open_clarifications = workflow.open_now
    labels = dict(IdType.choices)
    return Figures(
        filter=flt,
        as_of=state.refreshed_at if state else None,
        totals=totals,
        by_id_type=[(k, str(labels.get(k, k)), n) for k, n in collected.by_id_type.items()],
        discrepancies_by_kind=list(collected.kinds.values()),
        trend=trend(flt, scope),
        groups=group_rows(flt, scope, per_outlet, outlets),
        top_outlets=top_outlets_by_violation_rate(per_outlet, outlets),
        repeated=sorted(
            (
                RepeatedIdOutlet(outlets[k], ids, most)
                for k, (ids, most) in collected.repeated.items()
                if k in outlets
            ),
            key=lambda r: (-r.most, -r.ids, r.outlet.roid),
        ),
        workflow=workflow,
        repeated_min=settings.REPORTS_REPEATED_ID_MIN,
        top_min_registrations=settings.REPORTS_TOP_OUTLETS_MIN_REGISTRATIONS,
    )


def outlet_figures(flt: ReportFilter, scope: ReportScope) -> list[tuple[OutletInfo, Counts]]:
    """Every outlet in scope (active in the period or not) with its figures, by ROID: the
    ``outlets`` export."""
    with _figures_source():
        return _outlet_figures(flt, scope)


def _outlet_figures(flt: ReportFilter, scope: ReportScope) -> list[tuple[OutletInfo, Counts]]:
    outlets = outlets_in_scope(flt, scope)
    workflow = workflow_figures.workflow_figures(flt=flt, scope=scope)
    per_outlet = collect(flt, scope, workflow).per_outlet
    return [
        (outlet, per_outlet.get(outlet_id) or Counts())
        for outlet_id, outlet in sorted(outlets.items(), key=lambda item: item[1].roid)
    ]
