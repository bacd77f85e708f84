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
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from outlets.models import Outlet
from reports.figures import OutletInfo, outlets_in_scope
from reports.models import DailyOutletStats
from reports.periods import Period
from reports.scope import ReportFilter, ReportScope

from .models import RecentOutletRisk, RegistrationSignal
from .signals import BY_CODE, SIGNALS, Signal

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


@dataclass
class OutletRisk:
    outlet: OutletInfo
    registrations: int
    signals: list[SignalFigure]
    peer_level: str = ""
    peers: int = 0
    score: float = 0.0
    rank: int | None = None

    @property
    def reasons(self) -> list[SignalFigure]:
        """The signals above the baseline, farthest first: what the rank is made of."""
        return sorted((s for s in self.signals if s.above), key=lambda s: -(s.distance or 0))

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


def _period_q(period: Period) -> dict:
    return {"day__gte": period.date_from, "day__lte": period.date_to}


def _all_outlets() -> dict[int, OutletInfo]:
    rows = Outlet.objects.order_by().values_list(
        "id", "roid", "name", "province", "dealer__code", "dealer__name", "region", "status"
    )
    return {row[0]: OutletInfo(*row) for row in rows}


def _registrations(period: Period) -> dict[int, int]:
    rows = (
        DailyOutletStats.objects.filter(**_period_q(period))
        .order_by()
        .values_list("outlet_id")
        .annotate(n=Sum("registrations"))
    )
    return {outlet_id: n for outlet_id, n in rows if n}


def _signal_counts(period: Period) -> dict[int, dict[str, int]]:
    rows = (
        RegistrationSignal.objects.filter(**_period_q(period))
        .order_by()
        .values_list("outlet_id", "signal")
        .annotate(n=Count("registration_id", distinct=True))
    )
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for outlet_id, code, n in rows:
        if code in BY_CODE:
            out[outlet_id][code] = n
    return out


def _distance(count: int, registrations: int, baseline: float) -> float:
    expected = registrations * baseline
    return (count - expected) / math.sqrt(expected * (1 - baseline) + 1)


def outlet_risks(flt: ReportFilter, scope: ReportScope) -> list[OutletRisk]:
    """Every outlet in ``scope`` and ``flt`` with its explained signals for the period: the
    ranked ones first (by rank), then the others by ROID."""
    targets = outlets_in_scope(flt, scope)
    if not targets:
        return []
    every = _all_outlets()
    registrations = _registrations(flt.period)
    counts = _signal_counts(flt.period)
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
            if others >= settings.RISK_MIN_PEERS or (key[0] == EVERYONE and others > 0):
                level, pool, peers = key[0], candidate, others
                break
        figures = []
        for signal in SIGNALS:
            count = mine.get(signal.code, 0)
            baseline = distance = None
            if pool is not None and n:
                rest = pool.registrations - n
                if rest > 0:
                    # (Clamped: between two refreshes a count may run ahead of the
                    # registrations it is counted among.)
                    baseline = min(max(pool.counts.get(signal.code, 0) - count, 0) / rest, 1.0)
                    distance = _distance(count, n, baseline)
            above = distance is not None and count >= minimum_count and distance >= minimum_distance
            figures.append(SignalFigure(signal, count, n, baseline, distance, above))
        risk = OutletRisk(outlet, n, figures, level, peers)
        risk.score = round(sum(s.distance for s in figures if s.above), 2)
        risks.append(risk)
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
