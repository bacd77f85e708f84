"""XLSX: openpyxl's write-only workbook (rows go straight to disk, constant memory), one
sheet per 1 048 576 rows (Excel's limit, header included), and an "About" sheet saying what
the file is. A spreadsheet is read by people: the header row is the columns' labels and coded
values are in words (``reports.columns.people_rows``); the About sheet pairs each label with
the column's key, which the CSV (for machines) uses as its header.

Text is written as typed, never with the CSV's leading ``'`` (``core.csvsafe``): every text
cell is an inline string (``t="inlineStr"``), which no spreadsheet evaluates. openpyxl would
otherwise turn a text starting with ``=`` into a formula and ``#N/A`` into an error value
(``_text_cell``), and those cells also carry the "quote prefix" style, so that editing one in
Excel keeps it text."""

from collections.abc import Callable
from pathlib import Path

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from core.csvsafe import FORMULA_STARTS

from ..columns import RowSource, people_rows

SHEET_MAX_ROWS = 1_048_576  # Excel's limit per sheet, header row included
PROGRESS_EVERY = 10_000


def _looks_like_more_than_text(value: str) -> bool:
    return value[:1] in FORMULA_STARTS or value in ERROR_CODES


def _text_cell(sheet, value: str) -> WriteOnlyCell:
    """``value`` as a text cell, whatever it looks like: openpyxl infers a formula from a
    leading ``=`` and an error from ``#N/A`` (its ``_bind_value``); the type is set after."""
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _row(sheet, values) -> list:
    """``values`` with each text that a spreadsheet could read as more than text made a text
    cell (the others are left to openpyxl: a plain value costs no cell object)."""
    return [
        _text_cell(sheet, value)
        if isinstance(value, str) and _looks_like_more_than_text(value)
        else value
        for value in values
    ]


def _sheet(workbook, title: str, labels: list[str]):
    sheet = workbook.create_sheet(title=title)
    sheet.freeze_panes = "A2"
    header = []
    for label in labels:
        cell = WriteOnlyCell(sheet, value=str(label))
        cell.data_type = "s"
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    return sheet


def write_xlsx(
    source: RowSource,
    path: Path,
    *,
    progress: Callable[[int], None],
    title: str,
    about: list[tuple[str, object]],
    sheet_max_rows: int = SHEET_MAX_ROWS,
) -> int:
    """Write ``source`` to ``path``; returns the number of rows (headers excluded)."""
    workbook = Workbook(write_only=True)
    workbook.properties.title = title[:250]
    workbook.properties.creator = "Satu Pintu"
    per_sheet = sheet_max_rows - 1
    sheet_number, in_sheet, done = 1, 0, 0
    sheet = _sheet(workbook, title[:31] or "Rows", source.labels)
    free_text = source.free_text
    for row in people_rows(source):
        if in_sheet == per_sheet:
            sheet_number += 1
            sheet = _sheet(workbook, f"{title[:24]} ({sheet_number})", source.labels)
            in_sheet = 0
        if free_text:
            row = list(row)
            for index in free_text:
                if isinstance(row[index], str):
                    row[index] = ILLEGAL_CHARACTERS_RE.sub("", row[index])
        sheet.append(_row(sheet, row))
        in_sheet += 1
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress(done)
    info = workbook.create_sheet(title="About")
    for key, value in about:
        value = value if isinstance(value, int | float) or value is None else str(value)
        info.append(_row(info, [key, value]))
    info.append([_("Column"), _("Key (the CSV's header)")])
    for label, key in zip(source.labels, source.keys, strict=True):
        info.append(_row(info, [label, key]))
    workbook.save(path)
    progress(done)
    return done
