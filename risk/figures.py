"""The risk figures of outlets for a period, explained: for every signal (``risk.signals``) the
count, the outlet's rate, the baseline of comparable outlets and how far the outlet stands from
it; then a rank made only of those distances.

Definitions (docs/risk.md):

- **count**: the outlet's registrations of the period carrying the signal; **rate**: count ÷
  the outlet's registrations of the period (``reports``' summary table, the dashboard's own
  registration figure);
- **baseline**: the pooled rate of the comparable outlets — the other outlets of the same
  dealer in the same province, with registrations in the period; when fewer than
  ``RISK_MIN_PEERS`` such outlets exist, the other outlets of the province, then every other
  outlet (the page says which);
- **distance**: (count − expected) ÷ √(expected × (1 − baseline) + 1), where expected =
  registrations × baseline: how many standard deviations the count stands above what the
  baseline predicts (the + 1 keeps a handful of registrations from looking extreme);
- **above the baseline**: count ≥ ``RISK_MIN_COUNT`` and distance ≥ ``RISK_MIN_DISTANCE``;
- **score**: the sum of the distances of the signals above the baseline; the **rank** orders
  the outlets with at least one such signal by score (then ROID). An outlet with none is not
  ranked.

A period's counts are summed per outlet from the per-month rows (``MonthlyOutletRisk``) of the
months it holds whole, plus (or, for a month mostly inside it, minus) the per-day rows of the
days at its edges (``period_plan``); the baselines are pooled from those per-outlet sums.
"""

# Table names and placeholders are ours; every value goes through query parameters.
# ruff: noqa: S608

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from outlets.models import Outlet
from reports.figures import OutletInfo, outlets_in_scope
from reports.models import DailyOutletStats
from reports.periods import Period
from reports.scope import ReportFilter, ReportScope

from .models import MonthlyOutletRisk, RecentOutletRisk, RegistrationSignal
from .refresh import month_of, next_month, risk_state
from .signals import BY_CODE, CODES, SIGNALS, Signal

DEALER_PROVINCE, PROVINCE, EVERYONE = "dealer_province", "province", "all"
PEER_LEVELS = {
    DEALER_PROVINCE: _("other outlets of the same dealer in the same province"),
    PROVINCE: _("other outlets in the same province"),
    EVERYONE: _("all other outlets"),
}


@dataclass
class SignalFigure:
    signal: Signal
    count: int
    registrations: int
    baseline: float | None  # None: no comparable outlet registered anything
    distance: float | None
    above: bool = False

    @property
    def code(self) -> str:
        return self.signal.code

    @property
    def rate(self) -> float | None:
        return self.count / self.registrations if self.registrations else None

    @property
    def expected(self) -> float | None:
        return None if self.baseline is None else self.registrations * self.baseline

    @property
    def times_baseline(self) -> float | None:
        """The rate as a multiple of the baseline (None when the baseline is 0)."""
        if self.rate is None or not self.baseline:
            return None
        return self.rate / self.baseline


class OutletRisk:
    """One outlet's figures for the period. Every signal's figure (``signals``) is worked out
    when first asked for; the reasons need only the signals the outlet counts, so a page of
    every outlet builds a handful of figures an outlet, not one per signal."""

    def __init__(
        self,
        outlet: OutletInfo,
        registrations: int,
        counts: dict[str, int],
        pool: _Pool | None = None,
        peer_level: str = "",
        peers: int = 0,
        *,
        minimum_count: int | None = None,
        minimum_distance: float | None = None,
    ):
        self.outlet = outlet
        self.registrations = registrations
        self.counts = counts
        self.pool = pool
        self.peer_level = peer_level
        self.peers = peers
        self.rank: int | None = None
        if minimum_count is None:
            minimum_count = settings.RISK_MIN_COUNT
        if minimum_distance is None:
            minimum_distance = settings.RISK_MIN_DISTANCE
        # Above the baseline needs a distance above 0, so a count above what is expected: a
        # signal the outlet does not count is never a reason.
        self._figures = {
            code: self._figure(BY_CODE[code], minimum_count, minimum_distance)
            for code, count in counts.items()
            if count
        }
        self.reasons: list[SignalFigure] = sorted(
            (f for f in self._figures.values() if f.above), key=lambda f: -(f.distance or 0)
        )
        """The signals above the baseline, farthest first: what the rank is made of."""
        self.score = round(sum(f.distance for f in self.reasons), 2)

    def _figure(self, signal: Signal, minimum_count: int, minimum_distance: float) -> SignalFigure:
        count, n, pool = self.counts.get(signal.code, 0), self.registrations, self.pool
        baseline = distance = None
        if pool is not None and n:
            rest = pool.registrations - n
            if rest > 0:
                # (Clamped: between two refreshes a count may run ahead of the registrations
                # it is counted among.)
                baseline = min(max(pool.counts.get(signal.code, 0) - count, 0) / rest, 1.0)
                distance = _distance(count, n, baseline)
        above = distance is not None and count >= minimum_count and distance >= minimum_distance
        return SignalFigure(signal, count, n, baseline, distance, above)

    @cached_property
    def signals(self) -> list[SignalFigure]:
        """Every signal's figure, in the order of ``risk.signals``."""
        minimum_count, minimum_distance = settings.RISK_MIN_COUNT, settings.RISK_MIN_DISTANCE
        return [
            self._figures.get(signal.code) or self._figure(signal, minimum_count, minimum_distance)
            for signal in SIGNALS
        ]

    @cached_property
    def url(self) -> str:
        """The outlet's page; the records behind a signal are ``url + code + "/"`` (one URL
        reversed an outlet, not one a reason)."""
        return reverse("risk:outlet", args=[self.outlet.roid])

    @property
    def peer_label(self) -> str:
        return str(PEER_LEVELS.get(self.peer_level, ""))

    def figure(self, code: str) -> SignalFigure:
        return next(s for s in self.signals if s.code == code)


@dataclass
class _Pool:
    outlets: int = 0
    registrations: int = 0
    counts: dict = field(default_factory=lambda: defaultdict(int))

    def add(self, registrations: int, counts: dict) -> None:
        self.outlets += 1
        self.registrations += registrations
        for code, n in counts.items():
            self.counts[code] += n


def _all_outlets() -> dict[int, OutletInfo]:
    rows = Outlet.objects.order_by().values_list(
        "id", "roid", "name", "province", "dealer__code", "dealer__name", "region", "status"
    )
    return {row[0]: OutletInfo(*row) for row in rows}


@dataclass(frozen=True)
class PeriodPlan:
    """How a period's figures are summed: the per-month rows of ``months``, plus the days of
    ``added`` and minus those of ``taken`` (runs of days, both ends included). A month the
    period holds whole is one row; a month it holds in part is either its days, or the month
    less the days outside the period — whichever reads fewer days."""

    months: tuple[date, ...]
    added: tuple[tuple[date, date], ...]
    taken: tuple[tuple[date, date], ...]


def period_plan(period: Period, *, months: bool = True) -> PeriodPlan:
    """The plan of ``period`` (``months=False``: its days only, as before the per-month rows
    are built)."""
    if not months:
        return PeriodPlan((), ((period.date_from, period.date_to),), ())
    whole, added, taken = [], [], []
    month = month_of(period.date_from)
    while month <= period.date_to:
        following = next_month(month)
        last = following - timedelta(days=1)
        first_in, last_in = max(month, period.date_from), min(last, period.date_to)
        inside = (last_in - first_in).days + 1
        outside = (last - month).days + 1 - inside
        if outside == 0:
            whole.append(month)
        elif outside < inside:
            whole.append(month)
            if first_in > month:
                taken.append((month, first_in - timedelta(days=1)))
            if last_in < last:
                taken.append((last_in + timedelta(days=1), last))
        else:
            added.append((first_in, last_in))
        month = following
    return PeriodPlan(tuple(whole), tuple(added), tuple(taken))


def _days_sql(runs) -> tuple[str, list]:
    parts, params = [], []
    for first, last in runs:
        parts.append("(day >= %s AND day <= %s)")
        params += [first, last]
    return " OR ".join(parts), params


def _add_days(runs, sign: int, registrations: dict, counts: dict) -> None:
    """Add (``sign`` 1) or take away (-1) the days of ``runs``: the registrations from the
    reports' per-day table, the signals from their rows (distinct registrations)."""
    if not runs:
        return
    where, params = _days_sql(runs)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT outlet_id, SUM(registrations) FROM {DailyOutletStats._meta.db_table} "
            f"WHERE {where} GROUP BY outlet_id",
            params,
        )
        for outlet_id, n in cursor.fetchall():
            registrations[outlet_id] += sign * n
        cursor.execute(
            f"SELECT outlet_id, signal, COUNT(DISTINCT registration_id) "
            f"FROM {RegistrationSignal._meta.db_table} WHERE {where} GROUP BY outlet_id, signal",
            params,
        )
        for outlet_id, code, n in cursor.fetchall():
            if code in BY_CODE:
                counts[outlet_id][code] += sign * n


def _add_months(months, registrations: dict, counts: dict) -> None:
    if not months:
        return
    sums = ", ".join(f"SUM({column})" for column in ("registrations", *CODES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT outlet_id, {sums} FROM {MonthlyOutletRisk._meta.db_table} "
            f"WHERE month IN ({', '.join(['%s'] * len(months))}) GROUP BY outlet_id",
            list(months),
        )
        for outlet_id, n, *per_signal in cursor.fetchall():
            registrations[outlet_id] += n
            mine = counts[outlet_id]
            for code, count in zip(CODES, per_signal, strict=True):
                if count:
                    mine[code] += count


def _tallies(period: Period) -> tuple[dict[int, int], dict[int, dict[str, int]]]:
    """Per outlet, its registrations of the period and how many of them carry each signal."""
    state = risk_state()
    plan = period_plan(period, months=bool(state and state.months_built))
    registrations: dict[int, int] = defaultdict(int)
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    _add_months(plan.months, registrations, counts)
    _add_days(plan.added, 1, registrations, counts)
    _add_days(plan.taken, -1, registrations, counts)
    return (
        {outlet_id: n for outlet_id, n in registrations.items() if n > 0},
        {outlet_id: {c: n for c, n in mine.items() if n > 0} for outlet_id, mine in counts.items()},
    )


def _distance(count: int, registrations: int, baseline: float) -> float:
    expected = registrations * baseline
    return (count - expected) / math.sqrt(expected * (1 - baseline) + 1)


def outlet_risks(flt: ReportFilter, scope: ReportScope) -> list[OutletRisk]:
    """Every outlet in ``scope`` and ``flt`` with its explained signals for the period: the
    ranked ones first (by rank), then the others by ROID."""
    every = _all_outlets()
    # Every outlet, unless the reader's scope or the filter narrows them.
    targets = outlets_in_scope(flt, scope) if flt.outlet_q(scope, prefix="") else every
    if not targets:
        return []
    registrations, counts = _tallies(flt.period)
    pools: dict[tuple, _Pool] = defaultdict(_Pool)
    for outlet_id, n in registrations.items():
        outlet = every.get(outlet_id)
        if outlet is None:
            continue
        mine = counts.get(outlet_id, {})
        for key in (
            (DEALER_PROVINCE, outlet.dealer_code, outlet.province),
            (PROVINCE, outlet.province),
            (EVERYONE,),
        ):
            pools[key].add(n, mine)

    minimum_count, minimum_distance = settings.RISK_MIN_COUNT, settings.RISK_MIN_DISTANCE
    minimum_peers = settings.RISK_MIN_PEERS
    risks = []
    for outlet_id, outlet in targets.items():
        n = registrations.get(outlet_id, 0)
        mine = counts.get(outlet_id, {})
        level, pool, peers = "", None, 0
        for key in (
            (DEALER_PROVINCE, outlet.dealer_code, outlet.province),
            (PROVINCE, outlet.province),
            (EVERYONE,),
        ):
            candidate = pools.get(key)
            others = (candidate.outlets - (1 if n else 0)) if candidate else 0
            if others >= minimum_peers or (key[0] == EVERYONE and others > 0):
                level, pool, peers = key[0], candidate, others
                break
        risks.append(
            OutletRisk(
                outlet,
                n,
                mine,
                pool,
                level,
                peers,
                minimum_count=minimum_count,
                minimum_distance=minimum_distance,
            )
        )
    ranked = sorted((r for r in risks if r.score > 0), key=lambda r: (-r.score, r.outlet.roid))
    for position, risk in enumerate(ranked, start=1):
        risk.rank = position
    unranked = sorted((r for r in risks if r.rank is None), key=lambda r: r.outlet.roid)
    return ranked + unranked


def ranked_outlets(flt: ReportFilter, scope: ReportScope) -> list[OutletRisk]:
    """Only the outlets with a signal above the baseline, by rank."""
    return [risk for risk in outlet_risks(flt, scope) if risk.rank is not None]


def recent_period() -> Period:
    today = timezone.localdate()
    return Period(today - timedelta(days=settings.RISK_RECENT_DAYS - 1), today)


def recent_outlets_refresh() -> int:
    """Replace ``RecentOutletRisk`` with the outlets above the baseline over the last
    ``RISK_RECENT_DAYS`` days (every outlet, as the operator sees them); returns how many."""
    period = recent_period()
    ranked = ranked_outlets(ReportFilter(period), ReportScope.everything())
    with transaction.atomic():
        RecentOutletRisk.objects.all().delete()
        RecentOutletRisk.objects.bulk_create(
            RecentOutletRisk(
                outlet_id=risk.outlet.id,
                rank=risk.rank,
                score=risk.score,
                signals_above=len(risk.reasons),
                reasons=[s.code for s in risk.reasons],
                date_from=period.date_from,
                date_to=period.date_to,
            )
            for risk in ranked
        )
    return len(ranked)
