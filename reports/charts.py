"""Charts as plain shapes (rectangles, lines, text) computed once from the figures, then drawn
as inline SVG by the dashboard (no script, no library, nothing fetched: it renders offline
and under a strict CSP) and as vector drawings in the PDF (``exporters.pdf``).

Coordinates are in a 360-unit-wide box — a phone's width — so text is legible at 1:1 there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext as _

WIDTH = 360.0


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    css: str = "bar"
    href: str = ""
    title: str = ""


@dataclass
class Text:
    x: float
    y: float
    text: str
    css: str = "label"
    anchor: str = "start"  # start / middle / end


@dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str = "axis"


@dataclass
class Chart:
    id: str
    title: str
    description: str
    height: float
    width: float = WIDTH
    rects: list[Rect] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    # The same numbers as a table, for screen readers and for reading exact values:
    # (label, shown value, href, key, raw value).
    table: list[tuple[str, str, str, str, float]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.table


def rounded(value: float, places: int = 1, *, times_10_to: int = 0) -> Decimal:
    """``value`` (times 10 to the power ``times_10_to``) rounded half up to ``places`` decimals:
    Django's ``number_format`` cuts the digits off (11.76 would read 11,7). From the float's
    shortest form, so that 0.125 is 0.125 and not the binary number just under it."""
    exact = Decimal(repr(value)).scaleb(times_10_to)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return number_format(rounded(value), 1)
    return number_format(value, force_grouping=True)


def percent(value: float | None) -> str:
    """A share (0.1176) as a percentage rounded half up to one decimal ("11,8 %")."""
    return "—" if value is None else f"{number_format(rounded(value, times_10_to=2), 1)} %"


def _clip(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def ranked_bars(
    chart_id: str,
    title: str,
    items: list[tuple],
    *,
    description: str = "",
    css: str = "bar",
) -> Chart:
    """Horizontal bars, one per row, longest first as given: (label, value, shown, href) and
    optionally a key naming the row (the label otherwise)."""
    row_h, bar_h, top = 34.0, 12.0, 4.0
    value_room = 100.0
    chart = Chart(chart_id, title, description, height=top + row_h * max(len(items), 1))
    largest = max((item[1] for item in items), default=0) or 1
    for index, (label, value, shown, href, *key) in enumerate(items):
        y = top + index * row_h
        width = max((WIDTH - value_room) * value / largest, 1.5 if value else 0)
        chart.texts.append(Text(0, y + 13, _clip(label)))
        chart.rects.append(Rect(0, y + 18, width, bar_h, css, href, f"{label}: {shown}"))
        chart.texts.append(Text(width + 4, y + 29, shown, "value"))
        chart.table.append((label, shown, href, key[0] if key else label, value))
    return chart


def columns(
    chart_id: str,
    title: str,
    items: list[tuple[str, float, str]],
    *,
    description: str = "",
    css: str = "bar",
    height: float = 150.0,
) -> Chart:
    """Vertical bars over time (label, value, href), with the largest value and the first,
    middle and last labels on the axes."""
    left, bottom, top = 4.0, 24.0, 18.0
    plot_w, plot_h = WIDTH - left, height - bottom - top
    chart = Chart(chart_id, title, description, height=height)
    count = max(len(items), 1)
    step = plot_w / count
    gap = min(step * 0.2, 3.0)
    largest = max((value for _, value, _ in items), default=0) or 1
    base = top + plot_h
    chart.lines.append(Line(left, base, WIDTH, base))
    chart.texts.append(Text(left, top - 4, fmt(int(largest)), "tick"))
    chart.lines.append(Line(left, top, WIDTH, top, "grid"))
    for index, (label, value, href) in enumerate(items):
        h = plot_h * value / largest
        x = left + index * step + gap / 2
        shown = fmt(int(value))
        chart.rects.append(
            Rect(x, base - h, max(step - gap, 0.8), h, css, href, f"{label}: {shown}")
        )
        chart.table.append((label, shown, href, label, value))
    if items:
        marks = {0: "start", count - 1: "end"}
        if count > 2:
            marks[count // 2] = "middle"
        for index, anchor in sorted(marks.items()):
            x = left + index * step + step / 2
            if anchor == "start":
                x = left
            elif anchor == "end":
                x = WIDTH
            chart.texts.append(Text(x, height - 6, items[index][0], "tick", anchor))
    return chart


def no_data(chart: Chart, message: str = "") -> Chart:
    chart.height = max(chart.height, 40.0)
    chart.texts = [
        Text(
            WIDTH / 2,
            chart.height / 2 + 4,
            message or _("No data for this period."),
            "tick",
            "middle",
        )
    ]
    chart.rects, chart.lines = [], []
    return chart
