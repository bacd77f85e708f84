"""Where people look: the risk signals registered into the hooks of the layers below (called
from ``RiskConfig.ready``), so none of them imports this app.

- the dealer's dashboard (``outlets``): per outlet, its signals above the baseline over the
  last ``RISK_RECENT_DAYS`` days;
- GraPARI's review queue (``compliance.workflow``): the filter "outlets above the baseline";
- the ``outlets`` export (``reports``): rank, score, reasons and every signal's figures;
- the reports dashboard (``reports``): the ranked outlets with their reasons.
"""

from __future__ import annotations

from django.db.models import IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from compliance.workflow.selectors import register_outlet_set
from outlets.selectors.dashboard import register_outlet_figures
from reports.hooks import (
    DashboardSection,
    OutletColumns,
    register_dashboard_section,
    register_outlet_columns,
)

from .models import RecentOutletRisk
from .signals import SIGNALS

DASHBOARD_SHOWN = 10


def _dealer_dashboard_figures(recent_since) -> dict:
    above = RecentOutletRisk.objects.filter(outlet=OuterRef("pk")).values("signals_above")[:1]
    return {
        "risk_signals": Coalesce(
            Subquery(above, output_field=IntegerField()), Value(0), output_field=IntegerField()
        )
    }


def _outlets_above_baseline():
    return RecentOutletRisk.objects.values("outlet_id")


def _round(value, digits: int):
    return None if value is None else round(value, digits)


SIGNAL_COLUMNS = tuple(
    column
    for signal in SIGNALS
    for column in (
        (f"risk_{signal.code}_count", signal.label),
        (f"risk_{signal.code}_rate", format_lazy("{}: {}", signal.label, _("rate"))),
        (f"risk_{signal.code}_baseline", format_lazy("{}: {}", signal.label, _("baseline"))),
        (f"risk_{signal.code}_distance", format_lazy("{}: {}", signal.label, _("distance"))),
    )
)
EXPORT_COLUMNS: tuple[tuple[str, object], ...] = (
    ("risk_rank", _("Risk rank")),
    ("risk_score", _("Risk score")),
    ("risk_signals_above", _("Risk signals above the baseline")),
    ("risk_reasons", _("Why (signals above the baseline)")),
    ("risk_baseline_of", _("Baseline of")),
    *SIGNAL_COLUMNS,
)


def export_values(flt, scope) -> dict[int, tuple]:
    """The export's risk columns, signals as of the export (as its figures are: the export
    refreshed the summary tables just before)."""
    from .figures import outlet_risks
    from .refresh import risk_signals_refresh

    risk_signals_refresh(recent=False)
    out = {}
    for risk in outlet_risks(flt, scope):
        values = [
            risk.rank,
            risk.score if risk.rank else None,
            len(risk.reasons),
            "; ".join(str(s.signal.label) for s in risk.reasons),
            risk.peer_label,
        ]
        for figure in risk.signals:
            values += [
                figure.count,
                _round(figure.rate, 4),
                _round(figure.baseline, 4),
                _round(figure.distance, 2),
            ]
        out[risk.outlet.id] = tuple(values)
    return out


def dashboard_context(flt, scope) -> dict:
    from .figures import ranked_outlets

    ranked = ranked_outlets(flt, scope)
    return {
        "ranked": ranked[:DASHBOARD_SHOWN],
        "more": max(len(ranked) - DASHBOARD_SHOWN, 0),
        "query": flt.query_string(),
    }


def register() -> None:
    register_outlet_figures("risk", _dealer_dashboard_figures)
    register_outlet_set(
        "above_baseline",
        _("Outlets above the baseline (risk signals, last 30 days)"),
        _outlets_above_baseline,
    )
    register_outlet_columns(
        "risk",
        OutletColumns(
            columns=EXPORT_COLUMNS,
            values=export_values,
            pdf=(("risk_rank", 14), ("risk_signals_above", 16)),
        ),
    )
    register_dashboard_section(
        "risk", DashboardSection("risk/_dashboard_section.html", dashboard_context)
    )
