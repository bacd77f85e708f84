"""PDF: a printable report (A4) — what it is and who made it, the key figures, the charts of
the dashboard (same shapes, ``reports.charts``) and the summary tables; for a row export, the
first ``REPORTS_PDF_MAX_ROWS`` rows too (the whole set is what CSV and XLSX are for)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from core.pdffonts import pdf_fonts

from .. import hooks
from ..charts import Chart, fmt, percent
from ..columns import RowSource
from ..dashboard import charts as dashboard_charts
from ..figures import GROUP_LABELS, Figures

COLOURS = {
    "bar": "#0b57a3",
    "bar-alt": "#b3261e",
    "bar-warn": "#b26a00",
    "axis": "#5a6470",
    "grid": "#d5dae0",
    "label": "#1b1f24",
    "value": "#1b1f24",
    "tick": "#5a6470",
}
# The columns a printed page has room for, per row export, with their widths in mm.
PDF_ROW_COLUMNS = {
    "registrations": [
        ("registration_number", 30),
        ("registered_at", 30),
        ("msisdn", 26),
        ("outlet_roid", 24),
        ("id_type", 20),
        ("id_number", 28),
        ("status", 20),
    ],
    "discrepancies": [
        ("msisdn", 26),
        ("kind", 38),
        ("status", 16),
        ("registration_number", 30),
        ("outlet_roid", 24),
        ("detected_at", 30),
    ],
    "outlets": [
        ("roid", 24),
        ("name", 36),
        ("registrations", 18),
        ("violation_rate", 16),
        ("discrepancies", 18),
        ("ids_over_cap", 16),
        ("ids_repeated", 16),
    ],
}


def _fonts() -> tuple[str, str]:
    """DejaVu Sans, shipped with the code (``core.pdffonts``): names in any script print."""
    return pdf_fonts()


def chart_drawing(chart: Chart, *, width: float, font: str):
    """The chart's shapes as a reportlab Drawing ``width`` points wide (y axis flipped)."""
    from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
    from reportlab.lib import colors

    scale = width / chart.width
    drawing = Drawing(width, chart.height * scale)
    group = Group()
    group.scale(scale, scale)
    height = chart.height
    for rect in chart.rects:
        colour = colors.HexColor(COLOURS.get(rect.css, "#0b57a3"))
        group.add(
            Rect(
                rect.x, height - rect.y - rect.h, rect.w, rect.h, fillColor=colour, strokeColor=None
            )
        )
    for line in chart.lines:
        group.add(
            Line(
                line.x1,
                height - line.y1,
                line.x2,
                height - line.y2,
                strokeColor=colors.HexColor(COLOURS.get(line.css, "#5a6470")),
                strokeWidth=0.6,
            )
        )
    for text in chart.texts:
        group.add(
            String(
                text.x,
                height - text.y,
                text.text,
                fontName=font,
                fontSize=9 if text.css in ("label", "value") else 8,
                fillColor=colors.HexColor(COLOURS.get(text.css, "#1b1f24")),
                textAnchor=text.anchor,
            )
        )
    drawing.add(group)
    return drawing


def write_pdf(
    figures: Figures,
    path: Path,
    *,
    title: str,
    about: list[tuple[str, object]],
    rows: RowSource | None = None,
    kind: str = "summary",
    progress: Callable[[int], None] = lambda done: None,
) -> int:
    """Write the report to ``path``; returns the number of rows printed (0 for a summary)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        CondPageBreak,
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9, leading=12)
    small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5)
    h1 = ParagraphStyle("h1", parent=base, fontName=bold, fontSize=15, leading=19)
    h2 = ParagraphStyle("h2", parent=base, fontName=bold, fontSize=11, leading=14, spaceBefore=8)
    content_width = A4[0] - 30 * mm

    def table(data, widths=None, font_size=8):
        t = Table(data, colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), regular, font_size),
                    ("FONT", (0, 0), (-1, 0), bold, font_size),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#5a6470")),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#d5dae0")),
                    ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ]
            )
        )
        return t

    story: list = [Paragraph(title, h1)]
    about_table = table([[_("About this report"), ""], *[[k, str(v)] for k, v in about]])
    about_table.setStyle(TableStyle([("ALIGN", (1, 1), (-1, -1), "LEFT")]))
    story.append(about_table)
    t, w = figures.totals, figures.workflow
    key_figures = [
        [_("Figure"), _("Value")],
        [_("Registrations"), fmt(t.registrations)],
        [_("Numbers blocked"), fmt(t.blocked)],
        [_("Flagged for review"), fmt(t.flagged)],
        [
            _("With an open discrepancy (violation rate)"),
            f"{fmt(t.with_discrepancy)} ({percent(t.violation_rate)})",
        ],
        [
            _("Discrepancies detected (still open)"),
            f"{fmt(t.discrepancies)} ({fmt(t.open_discrepancies)})",
        ],
        [_("IDs holding more numbers than the cap"), fmt(t.over_cap_ids)],
        [
            _("Outlets registering one ID at least %(n)s times") % {"n": figures.repeated_min},
            fmt(len(figures.repeated)),
        ],
        [
            _("Clarification requests opened / answered / overdue"),
            f"{w.opened} / {w.answered} / {w.overdue}",
        ],
        [_("Median time to resolve (hours)"), fmt(w.median_hours_to_resolve)],
        [_("Confirmed violations"), fmt(w.confirmed_violations)],
        [
            _("Sanctions by level"),
            ", ".join(f"{k}: {v}" for k, v in sorted(w.sanctions_by_level.items())) or "0",
        ],
    ]
    story += [Paragraph(_("Key figures"), h2), table(key_figures, [110 * mm, None], 8.5)]

    for chart in dashboard_charts(figures).values():
        story.append(
            KeepTogether(
                [
                    Paragraph(chart.title, h2),
                    chart_drawing(chart, width=content_width * 0.8, font=regular),
                ]
                + ([Paragraph(chart.description, small)] if chart.description else [])
            )
        )

    group_title = str(GROUP_LABELS[figures.filter.grouping])
    header_style = ParagraphStyle("th", parent=small, fontName=bold, alignment=2)
    group_header = [
        group_title,
        _("Registrations"),
        _("Blocked"),
        _("With discrepancy"),
        _("Rate"),
        _("Discrepancies"),
        _("IDs over cap"),
        _("Repeated IDs"),
    ]
    group_rows = [
        [
            Paragraph(f"{g.label} <font size=6>{g.key}</font>", small),
            fmt(g.counts.registrations),
            fmt(g.counts.blocked),
            fmt(g.counts.with_discrepancy),
            percent(g.counts.violation_rate),
            fmt(g.counts.discrepancies),
            fmt(g.counts.over_cap_ids),
            fmt(g.counts.repeated_ids),
        ]
        for g in figures.groups[:300]
    ]
    group_header = [group_title] + [Paragraph(str(h), header_style) for h in group_header[1:]]
    story += [
        CondPageBreak(40 * mm),
        Paragraph(_("By %(group)s") % {"group": group_title.lower()}, h2),
    ]
    story.append(table([group_header, *group_rows], [46 * mm] + [19 * mm] * 7, 7.5))
    if len(figures.groups) > 300:
        story.append(Paragraph(_("First 300 groups; the XLSX or CSV export has them all."), small))

    if figures.repeated:
        story += [Paragraph(_("Outlets registering one ID unusually often"), h2)]
        story.append(
            table(
                [[_("Outlet"), _("IDs"), _("Most registrations of one ID")]]
                + [
                    [Paragraph(f"{r.outlet.roid} {r.outlet.name}", small), fmt(r.ids), fmt(r.most)]
                    for r in figures.repeated[:100]
                ],
                [100 * mm, None, None],
            )
        )

    printed = 0
    if rows is not None and kind in PDF_ROW_COLUMNS:
        wanted = list(PDF_ROW_COLUMNS[kind])
        if kind == "outlets":  # the columns the layers above add and a page has room for
            wanted += [c for spec in hooks.outlet_columns() for c in spec.pdf]
        columns = [(k, w) for k, w in wanted if k in rows.keys]
        indexes = [rows.keys.index(k) for k, _w in columns]
        limit = settings.REPORTS_PDF_MAX_ROWS
        data = []
        for row in islice(rows.rows, limit):
            data.append([_cell(row[i]) for i in indexes])
            printed += 1
        story += [Spacer(1, 4 * mm), Paragraph(_("Rows"), h2)]
        story.append(
            Paragraph(
                _("%(shown)s of %(total)s rows; the CSV and XLSX exports carry them all.")
                % {"shown": fmt(printed), "total": fmt(rows.total)},
                small,
            )
        )
        header = [
            Paragraph(rows.labels[i], ParagraphStyle("rh", parent=small, fontName=bold))
            for i in indexes
        ]
        row_table = table([header, *data], [w * mm for _k, w in columns], 6.5)
        row_table.setStyle(TableStyle([("ALIGN", (0, 1), (-1, -1), "LEFT")]))
        story.append(row_table)
        progress(printed)

    document = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=title,
        author="Satu Pintu",
        subject=", ".join(f"{k}: {v}" for k, v in about),
    )

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.setFillColor(colors.HexColor("#5a6470"))
        canvas.drawString(15 * mm, 8 * mm, title)
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, str(doc.page))
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return printed


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return percent(value) if value <= 1 else fmt(value)
    return str(value)[:40]
