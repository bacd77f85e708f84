"""PDF: a printable report (A4) — what it is and who made it, the key figures, the charts of
the dashboard (same shapes, ``reports.charts``) and the summary tables; for a row export, the
first ``REPORTS_PDF_MAX_ROWS`` rows too (the whole set is what CSV and XLSX are for)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils.translation import gettext as _

from core import vocabulary
from core.pdffonts import pdf_fonts

from .. import hooks
from ..charts import Chart, fmt, percent
from ..columns import RowSource, people_rows
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
# The columns a printed page shows, per row export (the CSV and XLSX carry them all). Their
# widths come from their content (``fit_columns``).
PDF_ROW_COLUMNS = {
    "registrations": [
        "registration_number", "registered_at", "msisdn", "outlet_roid", "id_type",
        "id_number", "status",
    ],
    "discrepancies": [
        "msisdn", "kind", "status", "registration_number", "outlet_roid", "detected_at",
    ],
    "outlets": [
        "roid", "name", "registrations", "violation_rate", "discrepancies", "ids_over_cap",
        "ids_repeated",
    ],
    "clarifications": [
        "id", "msisdn", "kind", "outlet_roid", "status", "opened_at", "due_at",
    ],
}  # fmt: skip
# A table cell's padding, left and right (reportlab's default is 6 points each side).
CELL_PADDING = 3


def fit_columns(
    header: list[str],
    rows: list[list[str]],
    *,
    available: float,
    font: str,
    bold: str,
    size: float,
    squeeze: bool = False,
) -> list[float] | None:
    """Column widths (points) for a table of ``header`` and ``rows`` (text) within
    ``available``: each column at least as wide as its longest word (so a header wraps at word
    boundaries, never inside a word), as wide as its longest cell when there is room, the
    room left shared out. None when even the narrowest layout is wider than ``available``
    (the caller turns the page); with ``squeeze``, the narrowest layout shrunk to fit instead
    (the last resort: long words then break, but nothing runs past the margin)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def words_width(text: str, face: str) -> float:
        return max((stringWidth(word, face, size) for word in str(text).split()), default=0)

    pad = 2 * CELL_PADDING + 1
    narrow, natural = [], []
    for index, title in enumerate(header):
        cells = [str(row[index]) for row in rows]
        cell_full = max((stringWidth(cell, font, size) for cell in cells), default=0)
        cell_word = max((words_width(cell, font) for cell in cells), default=0)
        low = max(words_width(title, bold), cell_word) + pad
        high = max(low, cell_full + pad, min(stringWidth(str(title), bold, size) + pad, 3 * low))
        narrow.append(low)
        natural.append(high)
    if sum(narrow) > available:
        return [w * available / sum(narrow) for w in narrow] if squeeze else None
    if sum(natural) <= available:
        slack = available - sum(natural)
        total = sum(natural)
        return [w + slack * w / total for w in natural]
    room = available - sum(narrow)
    wanted = sum(h - n for h, n in zip(natural, narrow, strict=True))
    return [n + room * (h - n) / wanted for h, n in zip(natural, narrow, strict=True)]


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
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    story, pagesize, printed = layout_report(
        figures, title=title, about=about, rows=rows, kind=kind
    )
    regular, _bold = _fonts()
    document = SimpleDocTemplate(
        str(path),
        pagesize=pagesize,
        leftMargin=MARGIN_MM * mm,
        rightMargin=MARGIN_MM * mm,
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
        canvas.drawString(MARGIN_MM * mm, 8 * mm, title)
        canvas.drawRightString(pagesize[0] - MARGIN_MM * mm, 8 * mm, str(doc.page))
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    progress(printed)
    return printed


MARGIN_MM = 15


def layout_report(
    figures: Figures,
    *,
    title: str,
    about: list[tuple[str, object]],
    rows: RowSource | None = None,
    kind: str = "summary",
):
    """The report's flowables and its page size: (story, pagesize, rows printed). A4 upright,
    or turned when a table needs the width; every table's columns fitted to its content
    (``fit_columns``), so it never runs past the margin and no header breaks inside a word."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import (
        CondPageBreak,
        KeepTogether,
        Paragraph,
        Spacer,
        Table,
        TableStyle,
    )

    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9, leading=12)
    small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5)
    h1 = ParagraphStyle("h1", parent=base, fontName=bold, fontSize=15, leading=19)
    h2 = ParagraphStyle("h2", parent=base, fontName=bold, fontSize=11, leading=14, spaceBefore=8)

    # --- the wide tables' text first: their widths decide the page's orientation -------------
    group_title = str(GROUP_LABELS[figures.filter.grouping])
    group_header = [
        group_title,
        str(_("Registrations")),
        str(_("Blocked")),
        str(_("With discrepancy")),
        str(_("Rate")),
        str(_("Discrepancies")),
        str(_("IDs over cap")),
        str(_("Repeated IDs")),
    ]
    shown_groups = figures.groups[:300]
    group_text = [
        [
            f"{g.label} {g.key}" if str(g.key) != str(g.label) else str(g.label),
            fmt(g.counts.registrations),
            fmt(g.counts.blocked),
            fmt(g.counts.with_discrepancy),
            percent(g.counts.violation_rate),
            fmt(g.counts.discrepancies),
            fmt(g.counts.over_cap_ids),
            fmt(g.counts.repeated_ids),
        ]
        for g in shown_groups
    ]
    printed = 0
    row_header, row_text = [], []
    if rows is not None and kind in PDF_ROW_COLUMNS:
        wanted = list(PDF_ROW_COLUMNS[kind])
        if kind == "outlets":  # the columns the layers above add and a page has room for
            wanted += [key for spec in hooks.outlet_columns() for key, _width in spec.pdf]
        keys = [k for k in wanted if k in rows.keys]
        indexes = [rows.keys.index(k) for k in keys]
        row_header = [rows.labels[i] for i in indexes]
        for row in islice(people_rows(rows), settings.REPORTS_PDF_MAX_ROWS):
            row_text.append([_cell(row[i]) for i in indexes])
            printed += 1

    def fits(available: float, squeeze: bool = False) -> tuple[list | None, list | None]:
        groups = fit_columns(
            group_header,
            group_text,
            available=available,
            font=regular,
            bold=bold,
            size=7.5,
            squeeze=squeeze,
        )
        body = (
            fit_columns(
                row_header,
                row_text,
                available=available,
                font=regular,
                bold=bold,
                size=6.5,
                squeeze=squeeze,
            )
            if row_header
            else []
        )
        return groups, body

    pagesize = A4
    content_width = pagesize[0] - 2 * MARGIN_MM * mm
    group_widths, row_widths = fits(content_width)
    if group_widths is None or row_widths is None:
        pagesize = landscape(A4)
        content_width = pagesize[0] - 2 * MARGIN_MM * mm
        group_widths, row_widths = fits(content_width, squeeze=True)

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
                    ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                    ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ]
            )
        )
        return t

    def wrapped(data, widths, style, header_style):
        """Header cells as paragraphs (they wrap at spaces); a body cell too when its text is
        wider than its column."""
        room = [w - 2 * CELL_PADDING - 1 for w in widths] if widths else None
        out = [[Paragraph(escape(str(h)), header_style) for h in data[0]]]
        for line in data[1:]:
            out.append(
                [
                    Paragraph(escape(cell), style)
                    if room and stringWidth(cell, style.fontName, style.fontSize) > room[i]
                    else cell
                    for i, cell in enumerate(line)
                ]
            )
        return out

    story: list = [Paragraph(escape(title), h1)]
    about_widths = [content_width * 0.35, content_width * 0.65]
    about_table = table(
        wrapped(
            [[str(_("About this report")), ""], *[[str(k), str(v)] for k, v in about]],
            about_widths,
            small,
            ParagraphStyle("ah", parent=small, fontName=bold),
        ),
        about_widths,
    )
    about_table.setStyle(TableStyle([("ALIGN", (1, 1), (-1, -1), "LEFT")]))
    story.append(about_table)
    t, w = figures.totals, figures.workflow
    key_figures = [
        [_("Figure"), _("Value")],
        [_("Registrations"), fmt(t.registrations)],
        [_("Numbers blocked"), fmt(t.blocked)],
        [_("Flagged for review"), fmt(t.flagged)],
        [_("Awaiting verification by the population registry"), fmt(t.awaiting)],
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
            ", ".join(
                f"{vocabulary.label('sanction_level', k)}: {v}"
                for k, v in sorted(w.sanctions_by_level.items())
            )
            or "0",
        ],
    ]
    key_widths = [content_width * 0.7, content_width * 0.3]
    story += [
        Paragraph(_("Key figures"), h2),
        table(
            wrapped(
                [[str(c) for c in line] for line in key_figures],
                key_widths,
                small,
                ParagraphStyle("kh", parent=small, fontName=bold),
            ),
            key_widths,
            8.5,
        ),
    ]

    for chart in dashboard_charts(figures).values():
        story.append(
            KeepTogether(
                [
                    Paragraph(chart.title, h2),
                    chart_drawing(chart, width=min(content_width * 0.8, 150 * mm), font=regular),
                ]
                + ([Paragraph(chart.description, small)] if chart.description else [])
            )
        )

    header_style = ParagraphStyle("th", parent=small, fontName=bold)
    story += [
        CondPageBreak(40 * mm),
        Paragraph(_("By %(group)s") % {"group": group_title.lower()}, h2),
    ]
    story.append(
        table(
            wrapped([group_header, *group_text], group_widths, small, header_style),
            group_widths,
            7.5,
        )
    )
    if len(figures.groups) > 300:
        story.append(Paragraph(_("First 300 groups; the XLSX or CSV export has them all."), small))

    if figures.repeated:
        story += [Paragraph(_("Outlets registering one ID unusually often"), h2)]
        repeated = [[str(_("Outlet")), str(_("IDs")), str(_("Most registrations of one ID"))]] + [
            [f"{r.outlet.roid} {r.outlet.name}", fmt(r.ids), fmt(r.most)]
            for r in figures.repeated[:100]
        ]
        repeated_widths = fit_columns(
            repeated[0], repeated[1:], available=content_width, font=regular, bold=bold, size=8
        ) or [content_width * 0.6, content_width * 0.2, content_width * 0.2]
        story.append(
            table(wrapped(repeated, repeated_widths, small, header_style), repeated_widths)
        )

    if row_header:
        story += [Spacer(1, 4 * mm), Paragraph(_("Rows"), h2)]
        story.append(
            Paragraph(
                _("%(shown)s of %(total)s rows; the CSV and XLSX exports carry them all.")
                % {"shown": fmt(printed), "total": fmt(rows.total)},
                small,
            )
        )
        cell_style = ParagraphStyle("rc", parent=small, fontSize=6.5, leading=8)
        row_table = table(
            wrapped(
                [row_header, *row_text],
                row_widths,
                cell_style,
                ParagraphStyle("rh", parent=cell_style, fontName=bold),
            ),
            row_widths,
            6.5,
        )
        row_table.setStyle(TableStyle([("ALIGN", (0, 1), (-1, -1), "LEFT")]))
        story.append(row_table)
    return story, pagesize, printed


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return percent(value) if value <= 1 else fmt(value)
    return str(value)[:60]
