"""The dashboard's charts and links, from the figures (nothing is counted here)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from .charts import Chart, columns, fmt, no_data, percent, ranked_bars
from .figures import GROUP_LABELS, Figures
from .periods import Period
from .scope import OUTLET, ReportFilter

MAX_GROUP_BARS = 15


def rows_link(rows: str, flt: ReportFilter, **extra) -> str:
    """The rows behind a figure: ``rows`` is ``registrations`` or ``discrepancies``."""
    return f"{reverse(f'reports:{rows}_rows')}?{flt.query_string(**extra)}"


def _group_filter(grouping: str, key: str) -> dict:
    return {grouping: key}


def charts(figures: Figures) -> dict[str, Chart]:
    flt = figures.filter
    bucket = flt.trend_bucket
    bucket_names = {"day": _("day"), "week": _("week"), "month": _("month")}

    def bucket_filter(point) -> ReportFilter:
        return flt.with_(period=Period(point.bucket.start, point.bucket.end))

    trend_reg = columns(
        "chart-trend-registrations",
        _("Registrations per %(bucket)s") % {"bucket": bucket_names[bucket]},
        [
            (p.label, p.registrations, rows_link("registrations", bucket_filter(p)))
            for p in figures.trend
        ],
    )
    trend_disc = columns(
        "chart-trend-discrepancies",
        _("Discrepancies detected per %(bucket)s") % {"bucket": bucket_names[bucket]},
        [
            (p.label, p.discrepancies, rows_link("discrepancies", bucket_filter(p)))
            for p in figures.trend
        ],
        css="bar-alt",
        height=110,
    )
    groups = figures.groups[:MAX_GROUP_BARS]
    by_group = ranked_bars(
        "chart-groups",
        _("Registrations by %(group)s") % {"group": str(GROUP_LABELS[flt.grouping]).lower()},
        [
            (
                g.label if flt.grouping != OUTLET else f"{g.key} {g.label}",
                g.counts.registrations,
                fmt(g.counts.registrations),
                rows_link("registrations", flt, **_group_filter(flt.grouping, g.key)),
                g.key,
            )
            for g in groups
        ],
        description=_("Largest first; the table below has every group."),
    )
    mix = ranked_bars(
        "chart-discrepancy-mix",
        _("Discrepancy mix"),
        [
            (
                k.label,
                k.detected,
                _("%(n)s (%(open)s open)") % {"n": fmt(k.detected), "open": fmt(k.still_open)},
                rows_link("discrepancies", flt, kind=k.kind),
                k.kind,
            )
            for k in sorted(figures.discrepancies_by_kind, key=lambda k: -k.detected)
        ],
        css="bar-alt",
    )
    top = ranked_bars(
        "chart-top-outlets",
        _("Top outlets by violation rate"),
        [
            (
                f"{g.key} {g.label}",
                g.counts.violation_rate or 0,
                f"{percent(g.counts.violation_rate)} ({g.counts.with_discrepancy}/"
                f"{g.counts.registrations})",
                rows_link("registrations", flt, outlet=g.key, flag="discrepancy"),
                g.key,
            )
            for g in figures.top_outlets
        ],
        description=_(
            "Share of the outlet's registrations in the period with an open discrepancy it is "
            "accountable for; outlets with at least %(n)s registrations."
        )
        % {"n": figures.top_min_registrations},
        css="bar-warn",
    )
    id_types = ranked_bars(
        "chart-id-types",
        _("Registrations by ID type"),
        [
            (label, n, fmt(n), rows_link("registrations", flt, id_type=key), key)
            for key, label, n in sorted(figures.by_id_type, key=lambda item: -item[2])
            if n
        ],
    )
    out = {
        "trend_registrations": trend_reg,
        "trend_discrepancies": trend_disc,
        "groups": by_group,
        "discrepancy_mix": mix,
        "top_outlets": top,
        "id_types": id_types,
    }
    if not figures.totals.registrations:
        for key in ("trend_registrations", "groups", "id_types", "top_outlets"):
            no_data(out[key])
    if not figures.top_outlets and figures.totals.registrations:
        no_data(top, _("No outlet qualifies in this period."))
    if not figures.discrepancies_detected:
        for key in ("trend_discrepancies", "discrepancy_mix"):
            no_data(out[key])
    return out
