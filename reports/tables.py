"""The export kinds made of figures rather than rows (``outlets``, ``summary``), the
``clarifications`` rows of the compliance workflow, and ``row_source``: one entry point for
every kind."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from . import hooks, workflow_figures
from .columns import RowSource, discrepancy_source, registration_source
from .expressions import defuse
from .figures import Figures, outlet_figures, report_figures
from .models import ExportJob
from .rows import province_name
from .scope import ReportFilter, ReportScope

OUTLET_COLUMNS = (
    ("roid", _("ROID")),
    ("name", _("Outlet")),
    ("dealer_code", _("Dealer")),
    ("dealer_name", _("Dealer name")),
    ("region", _("Regency / city")),
    ("province", _("Province code")),
    ("province_name", _("Province")),
    ("status", _("Status")),
    ("registrations", _("Registrations")),
    ("blocked", _("Numbers blocked")),
    ("flagged", _("Flagged for review")),
    ("with_discrepancy", _("With an open discrepancy")),
    ("violation_rate", _("Violation rate")),
    ("discrepancies", _("Discrepancies detected")),
    ("discrepancies_open", _("Of which still open")),
    ("ids_over_cap", _("IDs over the cap")),
    ("ids_repeated", _("IDs registered unusually often")),
    ("open_clarifications", _("Open clarification requests")),
    ("confirmed_violations", _("Confirmed violations")),
)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _text_rule(defused: bool):
    """How free text is written: the CSV's formula rule (``defuse``), or as typed (XLSX, PDF:
    their cells are text)."""
    return defuse if defused else _as_typed


def _as_typed(value):
    return value


def outlet_source(flt: ReportFilter, scope: ReportScope, *, defused: bool = True) -> RowSource:
    """Every outlet in scope with its figures for the period (``reports.figures``), then the
    columns the layers above add (``hooks.register_outlet_columns``)."""
    rows = outlet_figures(flt, scope)
    text = _text_rule(defused)
    extras = [(spec, spec.values(flt, scope)) for spec in hooks.outlet_columns()]
    extra_columns = [column for spec, _values in extras for column in spec.columns]

    def generate():
        for outlet, counts in rows:
            yield (
                outlet.roid,
                text(outlet.name),
                outlet.dealer_code,
                text(outlet.dealer_name),
                text(outlet.region),
                outlet.province,
                province_name(outlet.province),
                outlet.status,
                counts.registrations,
                counts.blocked,
                counts.flagged,
                counts.with_discrepancy,
                _rate(counts.violation_rate),
                counts.discrepancies,
                counts.open_discrepancies,
                counts.over_cap_ids,
                counts.repeated_ids,
                counts.open_clarifications,
                counts.confirmed_violations,
                *(
                    value
                    for spec, values in extras
                    for value in values.get(outlet.id, (None,) * len(spec.columns))
                ),
            )

    columns = (*OUTLET_COLUMNS, *extra_columns)
    return RowSource(
        keys=[k for k, _ in columns],
        labels=[str(label) for _, label in columns],
        total=len(rows),
        rows=generate(),
        free_text=(1, 3, 4),
        displays=((7, "outlet_status"),),
    )


SUMMARY_COLUMNS = (
    ("figure", _("Figure")),
    ("dimension", _("Breakdown")),
    ("key", _("Key")),
    ("label", _("Label")),
    ("value", _("Value")),
)


def summary_lines(figures: Figures, *, defused: bool = True) -> list[tuple]:
    """Every figure as (figure, dimension, key, label, value): one tidy table a machine reads
    and a spreadsheet pivots."""
    text = _text_rule(defused)
    t = figures.totals
    flt = figures.filter
    lines: list[tuple] = [
        ("period", "total", "", f"{flt.period.date_from} {flt.period.date_to}", flt.period.days),
        ("registrations", "total", "", "", t.registrations),
        ("numbers_blocked", "total", "", "", t.blocked),
        ("registrations_flagged", "total", "", "", t.flagged),
        ("registrations_awaiting_registry", "total", "", "", t.awaiting),
        ("registrations_with_open_discrepancy", "total", "", "", t.with_discrepancy),
        ("violation_rate", "total", "", "", _rate(t.violation_rate)),
        ("ids_over_cap", "total", "", "", t.over_cap_ids),
        ("outlets_repeating_an_id", "total", "", "", len(figures.repeated)),
        ("discrepancies", "total", "", "", t.discrepancies),
        ("discrepancies_open", "total", "", "", t.open_discrepancies),
    ]
    for id_type, label, n in figures.by_id_type:
        lines.append(("registrations", "id_type", id_type, label, n))
    for kind in figures.discrepancies_by_kind:
        lines.append(("discrepancies", "kind", kind.kind, kind.label, kind.detected))
        lines.append(("discrepancies_open", "kind", kind.kind, kind.label, kind.still_open))
    grouping = flt.grouping
    for group in figures.groups:
        c = group.counts
        for figure, value in (
            ("registrations", c.registrations),
            ("numbers_blocked", c.blocked),
            ("registrations_with_open_discrepancy", c.with_discrepancy),
            ("violation_rate", _rate(c.violation_rate)),
            ("discrepancies", c.discrepancies),
            ("ids_over_cap", c.over_cap_ids),
            ("ids_repeated", c.repeated_ids),
        ):
            lines.append((figure, grouping, group.key, text(group.label), value))
    for point in figures.trend:
        lines.append(("registrations", flt.trend_bucket, point.label, "", point.registrations))
        lines.append(("discrepancies", flt.trend_bucket, point.label, "", point.discrepancies))
    for item in figures.repeated:
        lines.append(("ids_repeated", "outlet", item.outlet.roid, text(item.outlet.name), item.ids))
    w = figures.workflow
    for figure, value in (
        ("clarifications_opened", w.opened),
        ("clarifications_answered", w.answered),
        ("clarifications_overdue", w.overdue),
        ("clarification_median_hours_to_resolve", w.median_hours_to_resolve),
        ("confirmed_violations", w.confirmed_violations),
    ):
        lines.append((figure, "total", "", "", value))
    for level, n in sorted(w.sanctions_by_level.items()):
        lines.append(("sanctions", "level", level, "", n))
    return lines


def summary_source(
    flt: ReportFilter,
    scope: ReportScope,
    figures: Figures | None = None,
    *,
    defused: bool = True,
):
    lines = summary_lines(figures or report_figures(flt, scope), defused=defused)
    return RowSource(
        keys=[k for k, _ in SUMMARY_COLUMNS],
        labels=[str(label) for _, label in SUMMARY_COLUMNS],
        total=len(lines),
        rows=iter(lines),
        free_text=(3,),
    )


def clarification_source(flt: ReportFilter, scope: ReportScope) -> RowSource:
    total, rows = workflow_figures.clarification_rows(flt=flt, scope=scope)
    keys = list(workflow_figures.CLARIFICATION_COLUMNS)
    labels = [str(CLARIFICATION_LABELS[key]) for key in keys]
    return RowSource(
        keys=keys,
        labels=labels,
        total=total,
        rows=rows,
        displays=(
            (keys.index("msisdn"), "phone"),
            (keys.index("kind"), "discrepancy_kind+"),
            (keys.index("status"), "clarification_status"),
            (keys.index("accountable"), "accountable"),
        ),
    )


# The clarification export's columns in words (XLSX, PDF); the CSV keeps the keys.
CLARIFICATION_LABELS = {
    "id": _("Request"),
    "msisdn": _("MSISDN"),
    "kind": _("Kinds asked about"),
    "registration_number": _("Registration number"),
    "outlet_roid": _("ROID"),  # the number's outlet, whoever answers
    "status": _("Status"),
    "opened_at": _("Opened at (WIB)"),
    "due_at": _("Answer due (WIB)"),
    "answered_at": _("Answered at (WIB)"),
    "resolved_at": _("Resolved at (WIB)"),
    "decision": _("Decision"),
    "accountable": _("Who answers"),
    "dealer_code": _("Dealer"),
}


def row_source(
    kind: str, flt: ReportFilter, scope: ReportScope, *, masked: bool, defused: bool = True
) -> RowSource:
    """The rows of an export of ``kind`` — every format and interface goes through here.

    ``defused``: free text under the CSV's formula rule (``core.csvsafe``: a leading ``'``,
    line breaks as spaces). Only the CSV needs it — a spreadsheet reads a CSV cell and may run
    it; an XLSX cell is typed as text (``exporters.xlsx_file`` makes sure) and a PDF runs
    nothing — so those two get the text as typed: the ``'`` would be part of the value there.
    """
    if kind == ExportJob.Kind.REGISTRATIONS:
        return registration_source(flt, scope, masked=masked, defused=defused)
    if kind == ExportJob.Kind.DISCREPANCIES:
        return discrepancy_source(flt, scope, masked=masked, defused=defused)
    if kind == ExportJob.Kind.OUTLETS:
        return outlet_source(flt, scope, defused=defused)
    if kind == ExportJob.Kind.SUMMARY:
        return summary_source(flt, scope, defused=defused)
    if kind == ExportJob.Kind.CLARIFICATIONS:
        return clarification_source(flt, scope)
    raise ValueError(f"unknown export kind {kind!r}")
