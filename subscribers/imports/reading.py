"""Reading the import file: a UTF-8 CSV with a header row, record by record."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, time
from itertools import chain
from typing import NamedTuple

from django.utils.translation import gettext as _

COLUMNS = (
    "msisdn", "iccid", "id_type", "id_number", "kk_number", "full_name", "birth_place",
    "birth_date", "sex", "address", "nationality", "outlet_roid", "registered_at",
)  # fmt: skip
# Columns a file may have: ``category`` (personal, corporate, m2m; empty is personal),
# ``company_name`` (for corporate and M2M rows) and ``document_checked`` (whether the seller
# checked the original document; a file without it, or an empty value, records "not known" —
# never yes).
OPTIONAL_COLUMNS = ("category", "company_name", "document_checked")
ALL_COLUMNS = COLUMNS + OPTIONAL_COLUMNS
ROW = "row"  # the "field" of a fault that belongs to the whole row


class ImportFileError(ValueError):
    """The file cannot be imported at all (unreadable, header missing or wrong)."""


class RowError(NamedTuple):
    line: int
    field: str
    message: str


class SourceRow(NamedTuple):
    """One record of the input: its first line in the file, its values, or why it is unreadable."""

    line: int
    data: dict[str, str]
    problem: RowError | None = None


def read_registration_csv(stream) -> Iterator[SourceRow]:
    """Records of a UTF-8 CSV with a header row naming ``COLUMNS`` (any order, a BOM allowed),
    and any of ``OPTIONAL_COLUMNS``.

    ``stream`` is a text stream opened with ``newline=""`` and ``errors="surrogateescape"``, so a
    record that is not valid UTF-8 is reported as such and the rest of the file still reads.
    A header that lacks a column or names an unknown one raises ``ImportFileError`` before any
    row is read. Blank lines are skipped; ``line`` is the record's first physical line.
    """
    first = stream.readline()
    kind = not_text(first)
    if kind is not None:
        raise ImportFileError(kind)
    reader = csv.reader(chain([first], stream))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(_("The file is empty.")) from None
    except csv.Error as exc:
        raise ImportFileError(
            _("The header row cannot be read: %(error)s") % {"error": csv_fault(exc)}
        ) from exc
    names = [name.strip().lower().lstrip("\ufeff") for name in header]
    problems = []
    for label, found in (
        (_("missing columns"), [name for name in COLUMNS if name not in names]),
        (_("unknown columns"), [name for name in names if name not in ALL_COLUMNS]),
        (_("repeated columns"), sorted({name for name in names if names.count(name) > 1})),
    ):
        if found:
            problems.append(f"{label}: {', '.join(found)}")
    if problems:
        raise ImportFileError(
            _("Wrong header row (%(problems)s).") % {"problems": "; ".join(problems)}
        )

    last_line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(): this record only
            yield SourceRow(last_line + 1, {}, RowError(last_line + 1, ROW, csv_fault(exc)))
            last_line = reader.line_num
            continue
        line, last_line = last_line + 1, reader.line_num
        if not values:
            continue
        if len(values) != len(names):
            message = _("This row has %(found)d fields; the header has %(expected)d.") % {
                "found": len(values),
                "expected": len(names),
            }
            yield SourceRow(line, {}, RowError(line, ROW, message))
            continue
        data = dict(zip(names, values, strict=True))
        if not _is_utf8("".join(values)):
            bad = next(name for name, value in data.items() if not _is_utf8(value))
            yield SourceRow(line, {}, RowError(line, bad, _("This value is not valid UTF-8 text.")))
            continue
        yield SourceRow(line, data)


def not_text(first_line: str) -> str | None:
    """Why a file whose first line (read as UTF-8, other bytes as lone surrogates) is that is
    not a CSV text file at all — UTF-16 (its byte order mark, or a NUL beside each letter), a
    gzip or ZIP archive (an Excel workbook is one) —, or None. Said plainly, rather than as a
    header of unknown columns in escaped binary."""
    head = first_line[:4]
    if head[:2] in ("\udcff\udcfe", "\udcfe\udcff") or (
        len(head) == 4 and "\x00\x00" in (head[0::2], head[1::2])
    ):
        return _("The file is UTF-16 text: save it as UTF-8 (“CSV UTF-8”).")
    if head[:2] == "\x1f\udc8b":
        return _("The file is compressed (gzip): unpack it first.")
    if head == "PK\x03\x04":
        return _("The file is a ZIP archive (an Excel workbook?): save it as “CSV UTF-8”.")
    return None


def csv_fault(exc: csv.Error) -> str:
    """The csv module's reason for a record it cannot read, in the user's words."""
    if "field larger than field limit" in str(exc):
        return _("A field is longer than %(limit)d characters.") % {"limit": csv.field_size_limit()}
    return _("This row cannot be read as CSV (%(error)s).") % {"error": exc}


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")  # bytes that were not UTF-8 were read as lone surrogates
    except UnicodeEncodeError:
        return False
    return True


def parse_registered_at(value: str, *, tz) -> datetime | None:
    """``YYYY-MM-DD`` (midnight) or an ISO 8601 date and time; naive means ``tz``. Else None."""
    text = (value or "").strip()
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        return None
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=tz)
        except ValueError:
            return None
    if text[10] not in "T " or len(text) < 16:  # at least hours and minutes
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
