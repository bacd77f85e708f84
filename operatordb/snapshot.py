"""Loading the operator's daily snapshot into the mock (``load_operator_snapshot FILE``).

The file: UTF-8 CSV with a header row ``msisdn, iccid, status, activated_at, outlet_roid,
id_type, id_number, full_name, birth_date``, optionally followed by either or both of the
columns of a number's lives (``OPTIONAL_COLUMNS``, docs/number-lives.md): ``issued_at`` (when
the operator issued the number for the life the row describes; empty: not given, the number's
only life) and ``deactivated_at`` (when that life ended; the row's status is then
``inactive``). A file without them loads as before and means what it always meant.

Decisions:
- **All or nothing.** Every row is checked; if any is bad, the whole file is rejected, every
  bad row is reported as (line, field, reason) and nothing is written. A daily snapshot is the
  operator's whole picture: loading only its good rows would make the numbers of the bad rows
  look deactivated (see the next point), which reconciliation would then report wrongly.
- **A full snapshot replaces the picture.** Rows are upserted by MSISDN; a row whose values did
  not change is not written (its ``updated_at`` stays, so incremental reconciliation does not
  re-examine it). An MSISDN *absent* from a full snapshot is set ``inactive`` rather than
  deleted: operators keep churned numbers on record, and a deletion would be invisible to
  "what changed since". ``full=False`` (``--delta``) loads a partial feed: upserts only.
- **Identity is stored the portal's way**: the ID number normalised (``core.idnumbers``, its
  digits of any script written as ASCII digits first) and kept as its keyed digest plus a
  masked copy — the raw number is never stored; the name with its comparison key. MSISDNs are
  normalised to ``62…``.

On PostgreSQL a pool of worker processes (``OPERATORDB_LOAD_WORKERS``, default one a core)
converts the file a chunk of whole lines at a time while this process streams their output into
the database by one ``COPY``: a row whose every field is already in its stored form (the form the
operator's export writes) takes a quick path (``_Converter._fast_row``); every other row — any
field needing a normalisation, and every bad row — goes through ``RowTransformer``, the one set
of rules, so a bad row is reported with the same line, field and reason. The keyed digests are
computed in Python as ``core.pii`` computes them: the key never reaches the database
(docs/decisions.md). Into an empty table (the first load) the converted rows are ``COPY``d
straight into the table, its read-only indexes and its MSISDN's unique constraint dropped first
and built again after, one sort each (``_ReadIndexes``); a duplicate MSISDN fails the unique
constraint's return, nothing is written, and the load goes through staging instead, which
reports it. A reload converts only the lines that changed
(``_load_changed_lines``): each stored row carries the keyed fingerprint of the line it came
from, and a line whose fingerprint a stored row carries is that row, unchanged. The changed
lines (or, past half of the file, every line) go into a temporary staging table and
the duplicate check, the delta (one join of the snapshot with the table), the update of changed
rows, the insert of new ones and the deactivation of absent ones are set-based statements —
all in one transaction, one load at a time (an advisory lock). A file that is not plain CSV
line by line (a quoted field, a ``\\r``, bytes that are not UTF-8) is read by one streaming
Python pass (``RowTransformer`` feeding ``COPY``). Elsewhere (SQLite, ``make run``) the same
rows are written in batches.
"""

# SQL here is assembled from table and column names of our own models; every value is a bound
# parameter.
# ruff: noqa: S608

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import multiprocessing
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import chain, islice

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from core import pii
from core.idnumbers import ascii_digits, normalize_id_number
from core.masking import mask_id_number
from identity.idrules import (
    ID_TYPES,
    IdRuleError,
    normalize_msisdn,
    normalize_name_for_comparison,
)

from .models import OperatorSubscriber

COLUMNS = (
    "msisdn",
    "iccid",
    "status",
    "activated_at",
    "outlet_roid",
    "id_type",
    "id_number",
    "full_name",
    "birth_date",
)
# Optional, after the columns above, in any order: the life of the number the row describes.
OPTIONAL_COLUMNS = ("issued_at", "deactivated_at")
ALL_COLUMNS = COLUMNS + OPTIONAL_COLUMNS
STATUSES = frozenset({"active", "inactive"})
MAX_REPORTED_ERRORS = 1000
_ROID = re.compile(r"RO[A-Z0-9]{6,18}")
_ICCID = re.compile(r"89[0-9]{16,18}")
# Digits, or capitals and digits: already what normalize_id_number would return.
_CANONICAL_NUMBER = re.compile(r"[0-9]{1,40}|[A-Z0-9]{1,40}")
# The offset at the end of an ISO timestamp as written (``+07:00``, ``-0530``, ``+05:30:15``).
_OFFSET_TEXT = re.compile(r"[+-]([0-9]{2}):?([0-9]{2})(:?[0-9]{2}(\.[0-9]+)?)?$")


def _offset_in_range(value: str, parsed: datetime) -> bool:
    """Whether an aware timestamp's offset is one PostgreSQL reads too: minutes as written below
    60 (Python turns ``+14:60`` into ``+15:00``, PostgreSQL refuses it) and less than 16 hours."""
    match = _OFFSET_TEXT.search(value)
    if match and int(match[2]) > 59:
        return False
    return abs(parsed.utcoffset()) < timedelta(hours=16)


# A snapshot's timestamps (``activated_at``, ``issued_at``, ``deactivated_at``): ISO 8601's
# extended form, a date and a time to the minute at least (``T`` or a space between, seconds and
# up to six decimals optional), then ``Z`` or an offset (``+07:00``, ``+0700``, ``+07``) — or
# none: a time of the portal's zone (Asia/Jakarta); or a date alone, the start of that day in
# the portal's zone (as the loader always read it: an export of dates is still the operator's).
# ``datetime.fromisoformat`` reads more — week dates (``2016-W22-3``), the basic form
# (``20160601T100000``), any one character before the offset —: none of them is an export.
_TIMESTAMP_FORM = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
# A timestamp later than the loading clock by more than this is refused: what the operator
# reports happened (an activation, an issue, an end) has happened; a skew of clocks, a
# time zone written wrongly are within it.
FUTURE_TOLERANCE = timedelta(days=1)
_IN_THE_FUTURE = "in the future (more than a day after now)"
_NOT_A_TIMESTAMP = "not a date and time (YYYY-MM-DDTHH:MM[:SS], then Z or an offset)"


def _latest_accepted() -> datetime:
    """The latest timestamp a load accepts (``FUTURE_TOLERANCE`` after now), aware."""
    return timezone.now() + FUTURE_TOLERANCE


_PLAIN_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)
_ASCII_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# Whitespace other than single inner spaces: the name is then tidied as clean_person_name does.
_ODD_SPACE = re.compile(r"[^\S ]|  |^ | $")
# Control characters (Unicode's Cc: C0, DEL, C1) left in a name or an ID number once whitespace
# is tidied: never part of a person's record, and a NUL cannot even be stored (PostgreSQL's
# text refuses it). The other fields refuse them by their formats.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _from_iso(value: str) -> datetime:
    """A timestamp of the documented form (``_TIMESTAMP_FORM``) parsed; ``ValueError`` for
    anything else ``datetime.fromisoformat`` would read too, and for a day or time that does
    not exist."""
    if not _TIMESTAMP_FORM.fullmatch(value):
        raise ValueError(value)
    return datetime.fromisoformat(value)


def _control_fault(value: str) -> str | None:
    """The reason a value holding a control character is refused, or None."""
    found = _CONTROL.search(value)
    if found is None:
        return None
    return f"a control character (U+{ord(found[0]):04X}) is not allowed"


ID_TYPE_SET = frozenset(ID_TYPES)
_STORED_MSISDN = re.compile(r"628[0-9]{8,11}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TABLE = OperatorSubscriber._meta.db_table
# COPY's NULL marker (text form; given explicitly in CSV form, so that an empty field is an
# empty string there).
NULL = "\\N"
# Columns written to the operator table, in staging order (after the line number).
STORED = (
    "msisdn",
    "iccid",
    "status",
    "activated_at",
    "outlet_roid",
    "id_type",
    "id_number_digest",
    "id_number_masked",
    "full_name",
    "name_key",
    "birth_date",
    "issued_at",
    "deactivated_at",
)


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.reason}"


@dataclass
class LoadReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    # Lines left out as the stored rows they are, unchanged: a reload's lines whose fingerprint
    # a stored row carries (``_load_changed_lines``). Every other line is converted.
    listed: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    seconds: float = 0.0

    @property
    def converted(self) -> int:
        """Lines that went through the checks and the conversion."""
        return self.rows - self.listed

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deactivated": self.deactivated,
            "converted": self.converted,
            "error_count": self.error_count,
            "errors": [e.__dict__ for e in self.errors],
            "seconds": round(self.seconds, 3),
        }


class SnapshotRejected(Exception):
    """The file had bad rows (or a bad header); nothing was loaded."""

    def __init__(self, report: LoadReport):
        super().__init__(f"{report.error_count} bad row(s); nothing was loaded")
        self.report = report


# A full snapshot that would set more than ``OPERATORDB_MAX_DEACTIVATED_SHARE`` of the active
# numbers inactive is refused, and so is one listing no number at all while some are active: a
# truncated or empty export, not the operator's picture.


class MassDeactivationRefused(Exception):
    """A full snapshot would set too many active numbers inactive; nothing was loaded (unless
    ``allow_mass_deactivation``)."""

    def __init__(self, report: LoadReport, deactivating: int, active: int, share: float):
        self.report, self.deactivating, self.active = report, deactivating, active
        self.share = share
        if report.rows == 0:
            what = f"the file lists no number: all {active} active numbers would be set inactive"
        else:
            what = (
                f"{deactivating} of the {active} active numbers ({deactivating / active:.0%}) are"
                f" not in the file and would be set inactive, more than {share:.0%}"
            )
        super().__init__(
            f"{what}; nothing was loaded. A truncated export? If the operator really ended"
            " them, load it with --allow-mass-deactivation."
        )


def _guard_deactivation(report: LoadReport, deactivating: int, active) -> None:
    """Refuse (``MassDeactivationRefused``) a full load setting too many numbers inactive.
    ``active``: the active rows now, or a callable counting them (asked only when needed)."""
    if not deactivating:
        return
    share = settings.OPERATORDB_MAX_DEACTIVATED_SHARE
    active = active() if callable(active) else active
    if report.rows == 0 or deactivating > share * active:
        raise MassDeactivationRefused(report, deactivating, active, share)


class _Errors:
    def __init__(self, report: LoadReport):
        self.report = report

    def add(self, line: int, field_name: str, reason: str) -> None:
        self.report.error_count += 1
        if len(self.report.errors) < MAX_REPORTED_ERRORS:
            self.report.errors.append(RowError(line, field_name, reason))


# --- one row ----------------------------------------------------------------------------------


class _Digester:
    """``core.pii.digest`` (HMAC-SHA256 with ID_DIGEST_KEY, hex), with the keyed inner
    and outer hashes prepared once instead of per row."""

    def __init__(self, key: bytes):
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, value: str) -> str:
        inner = self._inner.copy()
        inner.update(value.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


# Each digit replaced by the digit sum of its double: the Luhn step, done by str.translate.
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def _luhn_ok(digits: str) -> bool:
    return (
        sum(map(int, digits[-1::-2])) + sum(map(int, digits[-2::-2].translate(_LUHN_DOUBLED)))
    ) % 10 == 0


@lru_cache(maxsize=1 << 16)  # names repeat a lot in a population
def name_key(name: str) -> str:
    """``idrules.normalize_name_for_comparison``, with a fast path for ASCII names (for which
    NFKC changes nothing and casefold is lower)."""
    if name.isascii():
        return _ASCII_NOT_ALNUM.sub("", name.lower())
    return normalize_name_for_comparison(name)


class RowTransformer:
    """Checks and normalises snapshot rows (one streaming pass; the common, already canonical
    form of each field takes the fast path)."""

    def __init__(self, errors: _Errors, *, key: str | None = None, latest: datetime | None = None):
        self.errors = errors
        self.tz = timezone.get_default_timezone()
        # The latest timestamp accepted (the quick path hands over its own: one clock).
        self.latest = _latest_accepted() if latest is None else latest
        # During a digest-key rotation: the previous key, then the rotation's map (below).
        self.digest = _Digester((pii.loader_key() if key is None else key).encode())

    def _timestamp(self, value: str, line: int, field_name: str) -> tuple[bool, str | None]:
        """(ok, the ISO text PostgreSQL reads) of an optional timestamp field."""
        if not value:
            return True, None
        plain = None
        try:
            parsed = _from_iso(value)
        except ValueError:
            self.errors.add(line, field_name, _NOT_A_TIMESTAMP)
            return False, None
        if timezone.is_aware(parsed) and not _offset_in_range(value, parsed):
            self.errors.add(line, field_name, "time zone offset out of range (up to ±15:59)")
            return False, None
        if timezone.is_naive(parsed):  # naive: Jakarta time, as the rest of the portal
            parsed = timezone.make_aware(parsed, self.tz)
        elif _PLAIN_TIMESTAMP.fullmatch(value):
            plain = value  # PostgreSQL reads it as it is
        if parsed > self.latest:
            self.errors.add(line, field_name, _IN_THE_FUTURE)
            return False, None
        return True, plain or parsed.isoformat()

    def __call__(self, values: list[str], line: int) -> tuple | None:
        """The stored values in ``STORED`` order (dates as ISO text, None when empty), or None
        when the row is bad (each fault recorded with its line). ``values`` are in
        ``ALL_COLUMNS`` order (``read_rows`` puts the optional ones there, empty if absent)."""
        errors = self.errors
        if type(values) is _NotUtf8:
            errors.add(line, "row", "not UTF-8 text")
            return None
        if len(values) != len(ALL_COLUMNS):
            width = getattr(values, "expected", len(ALL_COLUMNS))
            found = getattr(values, "found", len(values))
            errors.add(line, "row", f"expected {width} columns, found {found}")
            return None
        msisdn, iccid, status, activated, roid, id_type, id_number, name, birth = [
            v.strip() for v in values[: len(COLUMNS)]
        ]
        issued, deactivated = (v.strip() for v in values[len(COLUMNS) :])
        ok = True
        issued_ok, issued_at = self._timestamp(issued, line, "issued_at")
        ended_ok, deactivated_at = self._timestamp(deactivated, line, "deactivated_at")
        ok = issued_ok and ended_ok
        if not _STORED_MSISDN.fullmatch(msisdn):
            try:
                msisdn = normalize_msisdn(msisdn)
            except IdRuleError:
                errors.add(line, "msisdn", "not an Indonesian mobile number (08… or 62…)")
                ok = False
        if iccid:
            iccid = iccid.replace(" ", "")
            if not _ICCID.fullmatch(iccid):
                errors.add(line, "iccid", "an ICCID is 18 to 20 digits starting with 89")
                ok = False
            elif not _luhn_ok(iccid):
                errors.add(line, "iccid", "the ICCID's check digit does not match")
                ok = False
        if status not in STATUSES:
            status = status.lower()
            if status not in STATUSES:
                errors.add(line, "status", "must be 'active' or 'inactive'")
                ok = False
        activated_at = None
        if activated:
            activated_ok, activated_at = self._timestamp(activated, line, "activated_at")
            ok = ok and activated_ok
        elif status == "active":
            errors.add(line, "activated_at", "an active number needs its activation time")
            ok = False
        if roid and not _ROID.fullmatch(roid):
            roid = roid.upper()
            if not _ROID.fullmatch(roid):
                errors.add(
                    line, "outlet_roid", "a ROID is 'RO' followed by 6 to 18 letters or digits"
                )
                ok = False
        digest = masked = ""
        if id_type and id_type not in ID_TYPE_SET:
            id_type = id_type.lower()
        if id_type and id_type not in ID_TYPE_SET:
            errors.add(line, "id_type", f"must be one of {', '.join(ID_TYPES)} (or empty)")
            ok = False
        elif id_type and not id_number:
            errors.add(line, "id_number", "required when id_type is given")
            ok = False
        elif id_number and not id_type:
            errors.add(line, "id_type", "required when id_number is given")
            ok = False
        elif id_number:
            # Digits of any script are the digits they are: the operator's NIK in Arabic-Indic
            # digits is the portal's NIK (docs/decisions.md).
            normalized = (
                id_number if _CANONICAL_NUMBER.fullmatch(id_number)
                else normalize_id_number(id_type, ascii_digits(id_number))
            )  # fmt: skip
            if not 1 <= len(normalized) <= 40:
                errors.add(line, "id_number", "must be 1 to 40 characters")
                ok = False
            elif (fault := _control_fault(normalized)) is not None:
                errors.add(line, "id_number", fault)
                ok = False
            else:
                digest = self.digest(normalized)
                masked = mask_id_number(normalized)
        if not name.isascii() or _ODD_SPACE.search(name):
            name = " ".join(name.split())
        if len(name) > 100:
            errors.add(line, "full_name", "at most 100 characters")
            ok = False
        elif not name.isprintable() and (fault := _control_fault(name)) is not None:
            errors.add(line, "full_name", fault)
            ok = False
        if birth:
            try:
                if not _ISO_DATE.fullmatch(birth):
                    raise ValueError
                date.fromisoformat(birth)
            except ValueError:
                errors.add(line, "birth_date", "not a date (YYYY-MM-DD)")
                ok = False
        if deactivated_at is not None and status == "active":
            errors.add(line, "deactivated_at", "a deactivated number's status is 'inactive'")
            ok = False
        if (
            ok
            and issued_at is not None
            and deactivated_at is not None
            and datetime.fromisoformat(issued_at) > datetime.fromisoformat(deactivated_at)
        ):
            errors.add(line, "deactivated_at", "a life cannot end before the number was issued")
            ok = False
        if not ok:
            return None
        return (
            msisdn,
            iccid,
            status,
            activated_at,
            roid,
            id_type,
            digest,
            masked,
            name,
            name_key(name) if name else "",
            birth or None,
            issued_at,
            deactivated_at,
        )


class _WrongWidth(list):
    """A row with the wrong number of fields, with what the header asked for."""

    expected: int
    found: int


def read_rows(stream: Iterable[str], errors: _Errors) -> Iterator[tuple[int, list[str]]]:
    """(line, values in ``ALL_COLUMNS`` order) for each data row; a wrong header is reported
    at line 1. The optional columns may follow the required ones in any order. ``line`` is the
    record's first physical line (a quoted field may span lines), as the import reports it. A
    field longer than the ``csv`` module takes is read all the same (``_Lines.record_values``):
    its row is judged by the rules, which say which field is too long."""
    lines = _Lines(stream)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        errors.add(1, "header", "the file is empty")
        return
    except csv.Error:
        header = []  # a header field past the csv module's limit: not the header
    header = [h.strip().lower().lstrip("\ufeff") for h in header]
    extra = header[len(COLUMNS) :]
    if (
        tuple(header[: len(COLUMNS)]) != COLUMNS
        or not set(extra) <= set(OPTIONAL_COLUMNS)
        or len(set(extra)) != len(extra)
    ):
        errors.add(
            1,
            "header",
            f"expected columns: {', '.join(COLUMNS)} (then optionally "
            f"{', '.join(OPTIONAL_COLUMNS)})",
        )
        return
    width = len(header)
    positions = (
        None if not extra else [header.index(c) if c in extra else None for c in OPTIONAL_COLUMNS]
    )
    padding = [""] * len(OPTIONAL_COLUMNS)
    while True:
        first = lines.count + 1
        lines.record.clear()
        lines.utf8 = True
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            values = lines.record_values()
            if values is None:
                errors.add(
                    first,
                    "row",
                    f"a record longer than {MAX_RECORD_CHARS:,} characters (a quote left open?)",
                )
                return
        if not values:
            continue
        if not lines.utf8:  # bytes that are not UTF-8 in one of the record's lines
            if _not_utf8(values):
                yield first, _NotUtf8(values)
                continue
            lines.utf8 = True
        if len(values) != width:
            yield first, _wrong_width(values, width)
        elif positions is None:
            yield first, values + padding
        else:
            yield (
                first,
                values[: len(COLUMNS)] + [values[i] if i is not None else "" for i in positions],
            )


# A record (of a file read by the streaming pass) read past the csv module's field limit is read
# by ``_Lines.record_values`` up to this size; beyond it the file is rejected there and then.
MAX_RECORD_CHARS = 1 << 24


class _Lines:
    """The physical lines of a file as the csv reader takes them: counted (the next record's
    first line is the one after the last taken), and the current record's kept, to read it
    again when the csv module gives up on a field longer than its limit."""

    def __init__(self, stream: Iterable[str]):
        self._stream = iter(stream)
        self.count = 0
        self.record: list[str] = []
        # False once a line of the current record is not ASCII (then looked at closer).
        self.utf8 = True

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._stream)
        self.count += 1
        self.record.append(line)
        if not line.isascii():
            self.utf8 = False
        return line

    def record_values(self) -> list[str] | None:
        """The fields of the current record, read as the csv module reads them (its default
        dialect, not strict) but without its limit on a field's length: from the record's
        lines taken so far and, while a quoted field is open, the lines after them. None past
        ``MAX_RECORD_CHARS``."""
        fields: list[str] = []
        field: list[str] = []
        state = "start"  # start of a field, in a field, quoted, a quote in a quoted field
        taken = 0
        at = 0
        while True:
            while at < len(self.record):
                text = self.record[at]
                at += 1
                taken += len(text)
                if taken > MAX_RECORD_CHARS:
                    return None
                for char in text:
                    if state == "quoted":
                        if char == '"':
                            state = "quote"
                        else:
                            field.append(char)
                    elif char in "\r\n":
                        if state != "start" or fields or field:
                            fields.append("".join(field))
                        return fields
                    elif char == ",":
                        fields.append("".join(field))
                        field = []
                        state = "start"
                    elif char == '"' and state == "start":
                        state = "quoted"
                    elif char == '"' and state == "quote":
                        field.append(char)
                        state = "quoted"
                    else:
                        field.append(char)
                        state = "field"
            if state != "quoted":
                break  # the last line, without its line break
            try:
                next(self)
            except StopIteration:
                break  # a quote left open at the end: its field runs to the end, as csv has it
        if state != "start" or fields or field:
            fields.append("".join(field))
        return fields


class _NotUtf8(list):
    """A record holding bytes that are not UTF-8 (read as lone surrogates): refused whole."""


def _not_utf8(values: list[str]) -> bool:
    """Whether a record read with ``surrogateescape`` held bytes that are not UTF-8."""
    for value in values:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


# The first bytes of files that are no UTF-8 text at all, and what to say of them.
_NOT_TEXT = (
    (b"\xef\xbb\xbf", None),  # UTF-8's byte order mark: text
    (b"\xff\xfe\x00\x00", "the file is UTF-32: save it as UTF-8"),
    (b"\x00\x00\xfe\xff", "the file is UTF-32: save it as UTF-8"),
    (b"\xff\xfe", "the file is UTF-16: save it as UTF-8"),
    (b"\xfe\xff", "the file is UTF-16: save it as UTF-8"),
    (b"\x1f\x8b", "the file is compressed (gzip): unpack it first"),
    (b"PK\x03\x04", "the file is a ZIP archive (an Excel workbook?): save it as CSV UTF-8"),
)


def _not_text(path) -> str | None:
    """Why the file is not UTF-8 text at all (UTF-16 or UTF-32, a gzip or ZIP archive), from
    its first bytes; None for anything else (its lines are then judged one by one)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    for magic, reason in _NOT_TEXT:
        if head.startswith(magic):
            return reason
    if len(head) == 4 and b"\x00\x00" in (head[0::2], head[1::2]):
        return "the file is UTF-16: save it as UTF-8"  # without its byte order mark
    return None


def _wrong_width(values: list[str], width: int) -> list[str]:
    row = _WrongWidth(values)
    row.expected, row.found = width, len(values)
    return row


# --- writing ----------------------------------------------------------------------------------


class CopySource(io.TextIOBase):
    """A file-like object ``COPY ... FROM STDIN`` reads from, filled from an iterator of text
    lines as PostgreSQL asks for more: the Python work and PostgreSQL's parsing overlap, and
    memory stays flat."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self._pending = ""
        # What stopped the lines (psycopg2 reports a failed read as a cancelled COPY).
        self.failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        while size < 0 or len(self._pending) < size:
            try:
                chunk = "".join(islice(self._lines, 2000))
            except BaseException as exc:
                self.failure = exc
                raise
            if not chunk:
                break
            self._pending += chunk
        if size < 0 or len(self._pending) <= size:
            out, self._pending = self._pending, ""
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
        return out


def csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    """Rows as lines of COPY's CSV form (``NULL`` for None, t/f for booleans)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(
            NULL if v is None else ("t" if v is True else "f" if v is False else v) for v in row
        )
        if buffer.tell() >= 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


_TEXT_SPECIAL = re.compile(r"[\\\t\n\r]")


def _text_field(value: str) -> str:
    """A value in COPY's text form (backslash, tab and line breaks escaped)."""
    if not _TEXT_SPECIAL.search(value):
        return value
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _stage_line(line: int, out: tuple, fingerprint: str = NULL) -> str:
    (msisdn, iccid, status, activated, roid, id_type, digest, masked, name, key, birth,
     issued, deactivated) = out  # fmt: skip
    # Only the masked number and the name can hold characters COPY's text form escapes: the
    # other fields passed format checks.
    return (
        f"{line}\t{msisdn}\t{iccid}\t{status}\t{activated or NULL}\t{roid}\t{id_type}\t{digest}"
        f"\t{_text_field(masked)}\t{_text_field(name)}\t{key}\t{birth or NULL}"
        f"\t{issued or NULL}\t{deactivated or NULL}\t{fingerprint}\n"
    )


_STAGE = """
CREATE TEMP TABLE operatordb_snapshot_stage (
    line integer NOT NULL,
    msisdn varchar(15) NOT NULL,
    iccid varchar(22) NOT NULL,
    status varchar(8) NOT NULL,
    activated_at timestamptz,
    outlet_roid varchar(20) NOT NULL,
    id_type varchar(12) NOT NULL,
    id_number_digest varchar(64) NOT NULL,
    id_number_masked varchar(40) NOT NULL,
    full_name varchar(100) NOT NULL,
    name_key text NOT NULL,
    birth_date date,
    issued_at timestamptz,
    deactivated_at timestamptz,
    line_fingerprint uuid
) ON COMMIT DROP
"""

_COMPARED = ", ".join(f"t.{c}" for c in STORED[1:])
_INCOMING = ", ".join(f"s.{c}" for c in STORED[1:])
# The written rows carry the fingerprint of the line they came from (``_line_key``), the
# load's time and the change sequence's value (the loading transaction's id: what the column's
# default and trigger would give each row, computed once).
_WRITTEN = f"{', '.join(STORED)}, line_fingerprint, updated_at, change_xid"
# One hash join of the snapshot with the table finds what is new, changed or (full snapshot)
# no longer listed — a few percent of a daily snapshot; the writes then touch only those rows.
# Rather than INSERT ... ON CONFLICT, which probes the index row by row. Loads are serialised
# by an advisory lock, so nothing inserts the same MSISDN in between. ``{rows}`` is the table,
# or (a reload that staged only its changed lines) the table's rows no line of the file
# fingerprints: the others are listed, unchanged, and not looked at. ``refresh``: a row whose
# values are the same but whose line is written differently (or whose fingerprint was
# forgotten) takes the line's fingerprint, nothing else (``changed`` false).
_DELTA = f"""
CREATE TEMP TABLE operatordb_snapshot_delta ON COMMIT DROP AS
SELECT s.*, t.id AS target_id, s.msisdn IS NULL AS absent,
       (t.id IS NULL OR s.msisdn IS NULL
        OR ({_COMPARED}) IS DISTINCT FROM ({_INCOMING})) AS changed
FROM operatordb_snapshot_stage s
FULL JOIN {{rows}} t ON t.msisdn = s.msisdn
WHERE t.id IS NULL
   OR (s.msisdn IS NULL AND t.status = 'active' AND %(full)s)
   OR (s.msisdn IS NOT NULL AND (({_COMPARED}) IS DISTINCT FROM ({_INCOMING})
       OR (%(refresh)s AND t.line_fingerprint IS DISTINCT FROM s.line_fingerprint)))
"""
_UNFINGERPRINTED = f"""(SELECT * FROM {_TABLE} x WHERE x.id IN (
    SELECT id FROM operatordb_snapshot_unmatched WHERE line IS NULL))"""
_UPDATE_CHANGED = f"""
UPDATE {_TABLE} t
SET {", ".join(f"{c} = s.{c}" for c in STORED[1:])}, line_fingerprint = s.line_fingerprint,
    updated_at = %(now)s
FROM operatordb_snapshot_delta s
WHERE s.changed AND NOT s.absent AND s.target_id IS NOT NULL AND t.id = s.target_id
"""
# Only the fingerprint: ``updated_at`` and the change sequence stay (nothing to reconcile).
_REFRESH_FINGERPRINTS = f"""
UPDATE {_TABLE} t SET line_fingerprint = s.line_fingerprint
FROM operatordb_snapshot_delta s
WHERE NOT s.changed AND t.id = s.target_id
"""
# New rows land in MSISDN order: reconciliation reads the table by MSISDN ranges. (MSISDNs are
# digits: the "C" order is the database's, without its collation's cost.)
_INSERT_NEW = f"""
INSERT INTO {_TABLE} ({_WRITTEN})
SELECT {", ".join(f"s.{c}" for c in STORED)}, s.line_fingerprint, %(now)s, %(xid)s
FROM operatordb_snapshot_delta s
WHERE s.target_id IS NULL
ORDER BY s.msisdn COLLATE "C"
"""
# Into an empty table (the first load): every staged row is new; no delta to work out.
_INSERT_ALL = f"""
INSERT INTO {_TABLE} ({_WRITTEN})
SELECT {", ".join(f"s.{c}" for c in STORED)}, s.line_fingerprint, %(now)s, %(xid)s
FROM operatordb_snapshot_stage s
ORDER BY s.msisdn COLLATE "C"
"""
# A row no longer listed keeps no fingerprint: no line of a later file stands for it as it is.
_DEACTIVATE = f"""
UPDATE {_TABLE} t SET status = 'inactive', line_fingerprint = NULL, updated_at = %(now)s
FROM operatordb_snapshot_delta s
WHERE s.absent AND t.id = s.target_id
"""
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('operatordb.snapshot'))"
_DUPLICATES = """
SELECT msisdn, array_agg(line ORDER BY line) FROM operatordb_snapshot_stage
WHERE msisdn IN (
    SELECT msisdn FROM operatordb_snapshot_stage GROUP BY msisdn HAVING count(*) > 1)
GROUP BY msisdn ORDER BY min(line)
"""
# A reload that staged only its changed lines: a staged line's number may also be on a line
# left out as listed and unchanged (the stored row its fingerprint names), reported as above.
_DUPLICATES_PARTIAL = f"""
WITH listed AS (
    SELECT DISTINCT l.line, t.msisdn
    FROM operatordb_snapshot_stage s
    JOIN {_TABLE} t ON t.msisdn = s.msisdn
    JOIN operatordb_snapshot_lines l ON l.fingerprint = t.line_fingerprint
    WHERE NOT EXISTS (SELECT FROM operatordb_snapshot_unmatched u WHERE u.line = l.line)
), every AS (
    SELECT line, msisdn FROM operatordb_snapshot_stage
    UNION ALL
    SELECT line, msisdn FROM listed
)
SELECT msisdn, array_agg(line ORDER BY line) FROM every
WHERE msisdn IN (SELECT msisdn FROM every GROUP BY msisdn HAVING count(*) > 1)
GROUP BY msisdn ORDER BY min(line)
"""
# The fingerprint of every line of a reload; then one hash join of the lines with the stored
# rows' fingerprints keeps what did not pair: the lines to convert (``id`` NULL: new or changed
# lines), and the stored rows no line stands for (``line`` NULL: changed, or no longer listed).
# With the count of the table's rows it also tells whether a line is written twice (both copies
# pair with the same row): then the regular path stages every line and reports it.
_LINES = """
CREATE TEMP TABLE operatordb_snapshot_lines (
    line integer NOT NULL,
    fingerprint uuid NOT NULL
) ON COMMIT DROP
"""
_UNMATCHED = f"""
CREATE TEMP TABLE operatordb_snapshot_unmatched ON COMMIT DROP AS
SELECT l.line, t.id FROM operatordb_snapshot_lines l
FULL JOIN (SELECT id, line_fingerprint FROM {_TABLE}) t ON t.line_fingerprint = l.fingerprint
WHERE l.line IS NULL OR t.id IS NULL
"""
_UNMATCHED_COUNTS = f"""
SELECT count(*) FILTER (WHERE id IS NULL), count(*) FILTER (WHERE line IS NULL),
       (SELECT count(*) FROM {_TABLE})
FROM operatordb_snapshot_unmatched
"""
# The table's indexes that only serve reads (not its primary key nor a unique constraint):
# name and definition, to drop them before a large write and build them again after it.
_READ_INDEXES = f"""
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = '{_TABLE}'::regclass AND NOT i.indisunique AND NOT i.indisprimary
ORDER BY 1
"""
# A write of at least this many rows (setting ``OPERATORDB_LOAD_REBUILD_INDEXES_FROM``), and of
# at least half as many as the table holds, drops those indexes and builds them again after it:
# one sort per index instead of an insertion per row and index (the first load's writes took a
# third of the time at 200 000 rows).
REBUILD_INDEXES_FROM = 10_000


def _begin_load(cursor) -> None:
    cursor.execute(_LOCK)
    # Hash joins and aggregates over the whole snapshot in memory, index builds sorting in
    # memory (this transaction only).
    memory = str(getattr(settings, "OPERATORDB_LOAD_WORK_MEM", "256MB"))
    cursor.execute(
        "SELECT set_config('work_mem', %s, true), set_config('maintenance_work_mem', %s, true),"
        " set_config('jit', 'off', true)",
        [memory, memory],
    )
    for table in (
        "operatordb_snapshot_stage",
        "operatordb_snapshot_delta",
        "operatordb_snapshot_lines",
        "operatordb_snapshot_unmatched",
    ):
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")


# The table's unique constraints other than its primary key (the MSISDN's): name and
# definition, for the first load to drop and add again after its COPY.
_UNIQUE_CONSTRAINTS = f"""
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = '{_TABLE}'::regclass AND contype = 'u'
ORDER BY 1
"""


class _ReadIndexes:
    """Around a large write: the table's read-only indexes dropped, then built again (in the
    load's transaction: readers of the table wait for its commit, and see the new state whole).
    ``unique``: the unique constraints too (the first load into the empty table; adding one
    back fails with an ``IntegrityError`` when the rows hold a duplicate)."""

    def __init__(self, cursor, rows: int, existing: int, *, unique: bool = False):
        self.cursor = cursor
        least = getattr(settings, "OPERATORDB_LOAD_REBUILD_INDEXES_FROM", REBUILD_INDEXES_FROM)
        self.active = rows >= least and rows * 2 >= existing
        self.unique = unique and self.active
        self.definitions: list[str] = []
        self.constraints: list[tuple[str, str]] = []

    def __enter__(self):
        if self.active:
            self.cursor.execute(_READ_INDEXES)
            found = self.cursor.fetchall()
            self.definitions = [definition for _name, definition in found]
            if found:
                self.cursor.execute(f"DROP INDEX {', '.join(name for name, _d in found)}")
        if self.unique:
            self.cursor.execute(_UNIQUE_CONSTRAINTS)
            self.constraints = self.cursor.fetchall()
            if self.constraints:
                drops = ", ".join(f"DROP CONSTRAINT {name}" for name, _d in self.constraints)
                self.cursor.execute(f"ALTER TABLE {_TABLE} {drops}")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if self.constraints:
                adds = ", ".join(f"ADD CONSTRAINT {n} {d}" for n, d in self.constraints)
                self.cursor.execute(f"ALTER TABLE {_TABLE} {adds}")
            for definition in self.definitions:
                self.cursor.execute(definition)


def _finish_load(
    cursor,
    report: LoadReport,
    errors: _Errors,
    *,
    full: bool,
    fingerprinted: bool = False,
    partial: bool = False,
    allow_mass_deactivation: bool = False,
) -> None:
    """From the staging table: the duplicate check, then (no fault) the delta and its writes.
    ``fingerprinted``: the staged rows carry their lines' fingerprints (rows whose values did
    not change take them); ``partial``: only the lines no stored row fingerprints were staged
    (``_load_changed_lines``)."""
    now = timezone.now()
    # Looked for in a file already rejected too, so that one reading reports every fault.
    cursor.execute(_DUPLICATES_PARTIAL if partial else _DUPLICATES)
    for _msisdn, lines in cursor.fetchall():
        for line in lines[1:]:
            errors.add(line, "msisdn", f"the same number as line {lines[0]}")
    if report.error_count:
        return
    # During a digest-key rotation, numbers the rotation already moved get the new key's
    # digest, as every other copy of them has: the comparison below then sees no change.
    canonicalise = pii.canonicalise_sql("operatordb_snapshot_stage", "id_number_digest")
    if canonicalise:
        cursor.execute(canonicalise)
    cursor.execute(
        f"SELECT pg_current_xact_id()::text::bigint, EXISTS (SELECT FROM {_TABLE}),"
        f" (SELECT CASE WHEN reltuples >= 0 THEN reltuples::bigint"
        f" ELSE (SELECT count(*) FROM {_TABLE}) END"
        f" FROM pg_class WHERE oid = '{_TABLE}'::regclass)"
    )
    xid, occupied, existing = cursor.fetchone()
    values = {"now": now, "xid": xid, "full": full, "refresh": fingerprinted}
    if not occupied:  # the first load: everything is new
        with _ReadIndexes(cursor, report.rows, 0):
            cursor.execute(_INSERT_ALL, values)
            report.inserted = cursor.rowcount
        return
    cursor.execute(_DELTA.format(rows=_UNFINGERPRINTED if partial else _TABLE), values)
    delta = cursor.rowcount
    if full and not allow_mass_deactivation:
        cursor.execute("SELECT count(*) FROM operatordb_snapshot_delta WHERE absent")

        def active() -> int:
            cursor.execute(f"SELECT count(*) FROM {_TABLE} WHERE status = 'active'")
            return cursor.fetchone()[0]

        _guard_deactivation(report, cursor.fetchone()[0], active)
    with _ReadIndexes(cursor, delta, existing):
        cursor.execute(_UPDATE_CHANGED, values)
        report.updated = cursor.rowcount
        if fingerprinted:
            cursor.execute(_REFRESH_FINGERPRINTS, values)
        cursor.execute(_INSERT_NEW, values)
        report.inserted = cursor.rowcount
        cursor.execute(_DEACTIVATE, values)
        report.deactivated = cursor.rowcount


def _load_postgresql(
    rows: Iterator[tuple],
    report: LoadReport,
    errors: _Errors,
    *,
    full: bool,
    allow_mass_deactivation: bool = False,
):
    transform = RowTransformer(errors)

    def staged() -> Iterator[str]:
        for line, values in rows:
            report.rows += 1
            out = transform(values, line)
            if out is not None:
                yield _stage_line(line, out)

    with connection.cursor() as cursor:
        _begin_load(cursor)
        cursor.execute(_STAGE)
        source = CopySource(staged())
        try:
            cursor.cursor.copy_expert(
                "COPY operatordb_snapshot_stage FROM STDIN", source, size=1 << 16
            )
        except connection.Database.Error:
            if source.failure is not None:  # e.g. bytes that are not UTF-8: said as such
                raise source.failure from None
            raise
        _finish_load(
            cursor, report, errors, full=full, allow_mass_deactivation=allow_mass_deactivation
        )


def _load_orm(
    rows: Iterator[tuple],
    report: LoadReport,
    errors: _Errors,
    *,
    full: bool,
    allow_mass_deactivation: bool = False,
):
    now = timezone.now()
    transform = RowTransformer(errors)
    clean: dict[str, tuple] = {}
    first_line: dict[str, int] = {}
    for line, values in rows:
        report.rows += 1
        out = transform(values, line)
        if out is None:
            continue
        if out[0] in clean:
            errors.add(line, "msisdn", f"the same number as line {first_line[out[0]]}")
            continue
        clean[out[0]] = out
        first_line[out[0]] = line
    if report.error_count:
        return
    absent = []
    if full:
        absent = [
            pk
            for pk, msisdn in OperatorSubscriber.objects.filter(status="active").values_list(
                "pk", "msisdn"
            )
            if msisdn not in clean
        ]
        if not allow_mass_deactivation:
            _guard_deactivation(
                report, len(absent), OperatorSubscriber.objects.filter(status="active").count
            )

    def as_fields(out: tuple) -> dict:
        values = dict(zip(STORED, out, strict=True))
        for name in ("activated_at", "issued_at", "deactivated_at"):
            if values[name]:
                values[name] = datetime.fromisoformat(values[name])
        if values["birth_date"]:
            values["birth_date"] = date.fromisoformat(values["birth_date"])
        return values

    if pii.rotation_state() == "rotating":  # as the PostgreSQL path's canonicalise_sql
        at = STORED.index("id_number_digest")
        moved = pii.canonical_digests(out[at] for out in clean.values())
        for msisdn, out in clean.items():
            clean[msisdn] = (*out[:at], moved.get(out[at], out[at]), *out[at + 1 :])
    msisdns = sorted(clean)
    for start in range(0, len(msisdns), 500):
        batch = msisdns[start : start + 500]
        existing = {s.msisdn: s for s in OperatorSubscriber.objects.filter(msisdn__in=batch)}
        new, changed = [], []
        for msisdn in batch:
            values = as_fields(clean[msisdn])
            current = existing.get(msisdn)
            if current is None:
                new.append(OperatorSubscriber(updated_at=now, **values))
            elif any(getattr(current, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(current, k, v)
                current.updated_at = now
                changed.append(current)
        OperatorSubscriber.objects.bulk_create(new)
        OperatorSubscriber.objects.bulk_update(changed, [*STORED[1:], "updated_at"])
        report.inserted += len(new)
        report.updated += len(changed)
    if full:
        for start in range(0, len(absent), 500):
            report.deactivated += OperatorSubscriber.objects.filter(
                pk__in=absent[start : start + 500]
            ).update(status="inactive", updated_at=now)


# --- the bulk load (PostgreSQL) ------------------------------------------------------------------
#
# The file is cut into chunks of whole lines; a pool of worker processes turns each chunk into
# the staging table's rows in COPY's text form (every check, the keyed digest, the mask and the
# name key), and this process streams them into the staging table by one COPY while the workers
# go on. A line whose every field is already in its stored form (the common case: the form the
# operator's export writes) takes ``_fast_row``; any other line (a field needing normalisation,
# a bad row, a row of the wrong width) goes through ``RowTransformer`` — the one set of rules,
# so a bad row is reported with exactly the line, field and reason of the streaming pass. The
# digest key stays in Python. A file that is not plain CSV line by line (a quoted field, a
# ``\r``, bytes that are not UTF-8) is read by the streaming pass instead.

# Bytes of the file per chunk handed to a worker (whole lines; about 8 000 rows).
CHUNK_BYTES = 1 << 20
# Workers: ``OPERATORDB_LOAD_WORKERS`` (default: one per core, at most 4); a file of one chunk
# is converted in this process.
MAX_WORKERS = 4
# Doubled positions of a 20-digit (zero-padded) ICCID are its even ones, counted from the left:
# each four digits' share of the Luhn sum, looked up.
_LUHN_FOUR = {
    f"{i:04d}": sum(
        (2 * int(d) - 9 * (int(d) >= 5)) if k % 2 == 0 else int(d) for k, d in enumerate(f"{i:04d}")
    )
    for i in range(10_000)
}


class _NotPlain(Exception):
    """The file is not plain CSV line by line: the streaming pass reads it."""


def _header(first_line: bytes, errors: _Errors) -> list[str] | None:
    """The header's columns, or None (reported at line 1 as ``read_rows`` does)."""
    try:
        header = next(csv.reader([first_line.decode("utf-8-sig")]), [])
    except (csv.Error, UnicodeDecodeError):  # a field past the csv module's limit, bytes that
        return None  # are not UTF-8: not the header (the streaming pass says what it is)
    header = [h.strip().lower().lstrip("\ufeff") for h in header]
    extra = header[len(COLUMNS) :]
    if (
        tuple(header[: len(COLUMNS)]) != COLUMNS
        or not set(extra) <= set(OPTIONAL_COLUMNS)
        or len(set(extra)) != len(extra)
    ):
        return None
    return header


def _aware_plain(value: str) -> datetime | None:
    """An aware ISO timestamp PostgreSQL reads as it is (``_PLAIN_TIMESTAMP``, offset under
    16 hours with minutes below 60), parsed; None for anything else (the rules decide)."""
    if not _PLAIN_TIMESTAMP.fullmatch(value):
        return None
    if value[-1] != "Z" and (value[-5:-3] > "15" or value[-2:] > "59"):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@lru_cache(maxsize=1 << 16)  # birth dates repeat a lot in a population
def _day_ok(text: str) -> bool:
    """A birth date as the rules accept it (``YYYY-MM-DD``, a day that exists)."""
    if not _ISO_DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


_PLAIN_TIMESTAMP_MATCH = _PLAIN_TIMESTAMP.fullmatch
_FROM_ISO = datetime.fromisoformat


class _Converter:
    """One chunk of lines into rows in COPY's text form, and faults; run in a worker. The rows
    are the staging table's (the line first) or, with ``written`` (the load's ``updated_at``
    and ``change_xid``), the operator table's (``_WRITTEN``: a first load's straight COPY)."""

    def __init__(self, header: list[str], key: str, written: tuple[str, int] | None = None):
        # The keyed hash set up once (its key block hashed); each line's fingerprint is a copy
        # of it fed the line (the same value as ``blake2b(line, key=…)``, ~20 % cheaper).
        self.line_hash = hashlib.blake2b(key=_line_key(header, key), digest_size=16)
        self.tail = None if written is None else f"\t{written[0]}\t{written[1]}\n"
        self.end = "\n" if written is None else self.tail
        self.width = len(header)
        extra = header[len(COLUMNS) :]
        self.positions = [header.index(c) if c in extra else None for c in OPTIONAL_COLUMNS]
        self.plain_order = tuple(header) == ALL_COLUMNS
        self.latest = _latest_accepted()
        self.key = key
        digester = _Digester(key.encode())
        self.inner, self.outer = digester._inner, digester._outer

    def _fast_row(self, values: list[str], head: str, fingerprint: str) -> str | None:
        """The stored values of a row whose fields are all in their stored form and valid (the
        rules would store them as they are), in COPY's text form; None for any other row (the
        rules decide)."""
        (msisdn, iccid, status, activated, roid, id_type, id_number, name, birth, issued,
         deactivated) = values  # fmt: skip
        if not (
            11 <= len(msisdn) <= 14 and msisdn[:3] == "628" and msisdn.isdigit()
            and status in STATUSES
            and (not roid or (8 <= len(roid) <= 20 and roid[:2] == "RO" and roid.isalnum()
                              and roid.isupper()))
            and len(name) <= 100 and "  " not in name and name[:1] != " " and name[-1:] != " "
            and name.isprintable()
        ):  # fmt: skip
            return None
        latest = self.latest
        if iccid:
            if not (18 <= len(iccid) <= 20 and iccid[:2] == "89" and iccid.isdigit()):
                return None
            padded = iccid.rjust(20, "0")
            four = _LUHN_FOUR
            if (
                four[padded[:4]] + four[padded[4:8]] + four[padded[8:12]]
                + four[padded[12:16]] + four[padded[16:]]
            ) % 10:  # fmt: skip
                return None
        if activated:  # _aware_plain, inline for the one timestamp most rows have
            if not _PLAIN_TIMESTAMP_MATCH(activated) or (
                activated[-1] != "Z" and (activated[-5:-3] > "15" or activated[-2:] > "59")
            ):
                return None
            try:
                if _FROM_ISO(activated) > latest:
                    return None  # in the future: the rules say so
            except ValueError:
                return None
        elif status == "active":
            return None
        issued_at = deactivated_at = None
        if issued and ((issued_at := _aware_plain(issued)) is None or issued_at > latest):
            return None
        if deactivated:
            if status == "active" or (deactivated_at := _aware_plain(deactivated)) is None:
                return None
            if deactivated_at > latest:
                return None
            if issued_at is not None and issued_at > deactivated_at:
                return None
        if id_number:
            if id_type not in ID_TYPE_SET or len(id_number) > 40 or not id_number.isalnum():
                return None
            if not (id_number.isdigit() or id_number.isupper()):
                return None
            inner = self.inner.copy()  # _Digester, inline
            inner.update(id_number.encode())
            outer = self.outer.copy()
            outer.update(inner.digest())
            digest = outer.hexdigest()
            length = len(id_number)  # mask_id_number (a test holds them together)
            if length >= 12:
                masked = f"{id_number[:4]}{'*' * (length - 8)}{id_number[-4:]}"
            else:
                keep = min(3, length // 2)
                masked = "*" * (length - keep) + id_number[length - keep :]
        elif id_type:
            return None
        else:
            digest = masked = ""
        if birth and not _day_ok(birth):
            return None
        # The line holds no backslash (checked by the caller): nothing to escape.
        return (
            f"{head}{msisdn}\t{iccid}\t{status}\t{activated or NULL}\t{roid}\t{id_type}"
            f"\t{digest}\t{masked}\t{name}\t{name_key(name) if name else ''}"
            f"\t{birth or NULL}\t{issued or NULL}\t{deactivated or NULL}\t{fingerprint}{self.end}"
        )

    def _values(self, values: list[str]) -> list[str]:
        """A row of the header's width in ``ALL_COLUMNS`` order."""
        if self.plain_order:
            return values
        return values[: len(COLUMNS)] + [values[i] if i is not None else "" for i in self.positions]

    def __call__(self, task: tuple) -> tuple[bytes, list, int, int]:
        """(staging rows as COPY text, faults reported, faults counted, rows) of the lines of
        ``task`` (its first line's number, its bytes, and optionally the numbers of the only
        lines to convert, in order); raises ``_NotPlain``."""
        first, data = task[0], task[1]
        try:
            if len(task) > 2:  # only the lines asked for are read
                parts = data.split(b"\n")
                numbered = [(line, parts[line - first].decode("utf-8")) for line in task[2]]
            else:
                numbered = enumerate(data.decode("utf-8").split("\n"), start=first)
        except UnicodeDecodeError:
            raise _NotPlain from None
        report = LoadReport()
        errors = _Errors(report)
        transform = None
        out = []
        rows = 0
        width, plain, tail = self.width, self.plain_order, self.tail
        fast, append = self._fast_row, out.append
        head = "{}\t".format if tail is None else _no_head
        line_fingerprint = self.fingerprint
        for line, raw in numbered:
            if not raw:
                continue  # a blank line (the streaming pass skips it too), or the end
            rows += 1
            fingerprint = line_fingerprint(raw.encode())
            # (A NUL fails every field's quick check too; looked for once here, so that no
            # edit of them can let one through to COPY.)
            if raw.isascii() and "\\" not in raw and "\x00" not in raw:
                values = raw.split(",")
                if len(values) == width:
                    stored = fast(
                        values if plain else self._values(values), head(line), fingerprint
                    )
                    if stored is not None:
                        append(stored)
                        continue
            if transform is None:
                transform = RowTransformer(errors, key=self.key, latest=self.latest)
            # The chunk holds no quote and no \r (``_chunks``): the csv module would read the
            # line as its commas split it, but refuse a field longer than its limit.
            values = raw.split(",")
            values = self._values(values) if len(values) == width else _wrong_width(values, width)
            converted = transform(values, line)
            if converted is not None:
                staged = _stage_line(line, converted, fingerprint)
                out.append(staged if tail is None else staged[staged.index("\t") + 1 : -1] + tail)
        return "".join(out).encode(), report.errors, report.error_count, rows

    def fingerprint(self, line: bytes) -> str:
        """The keyed fingerprint of one line's bytes (without its line end): the same in the
        first pass of a reload and in the conversion that stores it with the row."""
        hashed = self.line_hash.copy()
        hashed.update(line)
        return hashed.hexdigest()

    def fingerprints(self, task: tuple[int, bytes]) -> tuple[bytes, list, int, int]:
        """(``line<TAB>fingerprint`` lines as COPY text, no faults, 0, rows) of the lines of
        ``task``: the first pass of a reload (``_load_changed_lines``)."""
        first, data = task
        fingerprint = self.fingerprint
        out = [
            f"{line}\t{fingerprint(raw)}\n"
            for line, raw in enumerate(data.split(b"\n"), start=first)
            if raw
        ]
        return "".join(out).encode(), [], 0, len(out)


def _line_key(header: list[str], key: str) -> bytes:
    """The key of a line's fingerprint: the digest key's HMAC of everything besides the line
    that decides the row stored from it — the header (the columns' order), the time zone (a
    timestamp without an offset is read in it) and the code that checks and converts a line
    (this module and the rules it calls, by the hash of their source). A change to any of them
    changes every fingerprint, so every line is converted again once. Keyed, because a line
    holds the ID number in the clear: a fingerprint anyone could compute would let a guess of
    a number be checked against the table."""
    material = "\x1f".join((",".join(header), settings.TIME_ZONE, _code_version()))
    return hmac.digest(key.encode(), b"operatordb.snapshot.line\x1f" + material.encode(), "sha256")


@lru_cache(maxsize=1)
def _code_version() -> str:
    from core import idnumbers, masking
    from identity import idrules

    digest = hashlib.sha256()
    for module in (sys.modules[__name__], idrules, idnumbers, masking):
        with open(module.__file__, "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()


def _no_head(_line: int) -> str:
    return ""


_CONVERTER: _Converter | None = None


def _start_worker(header: list[str], key: str, written: tuple[str, int] | None) -> None:
    global _CONVERTER
    _CONVERTER = _Converter(header, key, written)


def _convert(task: tuple):
    return _CONVERTER(task)


def _fingerprint(task: tuple[int, bytes]):
    return _CONVERTER.fingerprints(task)


def _chunks(fh, first_line: int) -> Iterator[tuple[int, bytes]]:
    """(number of its first line, bytes) of whole lines, about ``CHUNK_BYTES`` each; raises
    ``_NotPlain`` at a quote or a carriage return."""
    line = first_line
    rest = b""
    while True:
        data = fh.read(CHUNK_BYTES)
        if not data:
            if rest:
                yield line, rest
            return
        if b'"' in data or b"\r" in data:
            raise _NotPlain
        data = rest + data
        end = data.rfind(b"\n") + 1
        if end == 0:
            rest = data
            continue
        chunk, rest = data[:end], data[end:]
        yield line, chunk
        line += chunk.count(b"\n")


def _workers() -> int:
    wanted = getattr(settings, "OPERATORDB_LOAD_WORKERS", None)
    if wanted is None:
        wanted = min(MAX_WORKERS, os.cpu_count() or 1)
    return max(0, int(wanted))


def _converted(
    chunks: Iterator[tuple],
    header: list[str],
    key: str,
    written: tuple[str, int] | None,
    *,
    fingerprints: bool = False,
    here: bool = False,
) -> Iterator[tuple[bytes, list, int, int]]:
    """The converted chunks (``_chunks``; or with the lines to convert, ``_chunks_to_convert``),
    in order — or with ``fingerprints``, their lines' fingerprints: by a pool of worker
    processes (at most two chunks each in flight: memory stays flat), or here for a file of
    one chunk, or ``here`` (a few lines: the pool's start would cost more)."""
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    workers = _workers()
    if second is None or workers == 0 or here:
        converter = _Converter(header, key, written)
        work = converter.fingerprints if fingerprints else converter
        for task in chain((first, second), chunks) if second else (first,):
            yield work(task)
        return
    # Forked: the workers inherit the code and the key; they never touch the database. A worker
    # that dies (killed for memory, say) breaks the pool: the load fails instead of waiting.
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(header, key, written),
    )
    try:
        pending: deque = deque()
        for task in chain((first, second), chunks):
            pending.append(pool.submit(_fingerprint if fingerprints else _convert, task))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _StagedSource(io.RawIOBase):
    """What COPY reads: the converted chunks' staging rows; their faults go to the report."""

    def __init__(
        self, converted: Iterator, report: LoadReport, errors: _Errors, *, count: bool = True
    ):
        self._converted = converted
        self._count = count  # the rows into the report's (else only into ``rows``)
        self.rows = 0
        self._report = report
        self._errors = errors
        self._pending = b""
        self.failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._pending:
            try:
                staged, faults, count, rows = next(self._converted, (None, None, 0, 0))
            except BaseException as exc:  # kept: psycopg2 reports a failed read as its own
                self.failure = exc
                raise
            if staged is None:
                return b""
            self.rows += rows
            if self._count:
                self._report.rows += rows
            for fault in faults:
                self._errors.add(fault.line, fault.field, fault.reason)
            self._report.error_count += count - len(faults)
            self._pending = staged
        out, self._pending = self._pending, b""
        return out


def _copy(cursor, statement: str, source: _StagedSource) -> int:
    """``COPY … FROM STDIN`` of ``source``: the rows written; a failure of the conversion
    (``_NotPlain`` included) is raised as itself."""
    try:
        cursor.cursor.copy_expert(statement, source, size=1 << 18)
    except (DataError, connection.Database.Error):
        if source.failure is not None:
            raise source.failure from None
        raise
    if source.failure is not None:
        raise source.failure
    return cursor.cursor.rowcount


def _load_postgresql_bulk(
    path, report: LoadReport, errors: _Errors, *, full: bool, allow_mass_deactivation: bool = False
) -> None:
    """The bulk load; raises ``_NotPlain`` (nothing written) to hand over to the stream."""
    with open(path, "rb") as fh:
        first = fh.readline()
        if b'"' in first or b"\r" in first or not first.endswith(b"\n"):
            raise _NotPlain
        header = _header(first, errors)
        if header is None:
            raise _NotPlain  # the streaming pass reports it
        key = pii.loader_key()
        with connection.cursor() as cursor:
            _begin_load(cursor)
            if _load_first(cursor, fh, header, key, report, errors, path):
                return
            allow = allow_mass_deactivation
            if _load_changed_lines(
                cursor, fh, header, key, report, errors, full=full, allow_mass_deactivation=allow
            ):
                return
            cursor.execute(_STAGE)
            source = _StagedSource(_converted(_chunks(fh, 2), header, key, None), report, errors)
            _copy(cursor, "COPY operatordb_snapshot_stage FROM STDIN", source)
            _finish_load(
                cursor,
                report,
                errors,
                full=full,
                fingerprinted=True,
                allow_mass_deactivation=allow,
            )


# A reload where more than this share of the lines changed stages every line (the regular
# delta): sorting the file into listed and changed lines would cost more than it saves.
CHANGED_LINES_AT_MOST = 0.5
# Up to this many changed lines are converted in this process: ~10 µs a line, against ~0.1 s
# to start the worker processes.
CONVERT_HERE_AT_MOST = 10_000


def _load_changed_lines(
    cursor,
    fh,
    header,
    key,
    report: LoadReport,
    errors: _Errors,
    *,
    full,
    allow_mass_deactivation: bool = False,
):
    """A reload converting only the lines that changed. Every stored row carries the keyed
    fingerprint of the line it was written from (``_line_key``; forgotten by the table's
    trigger when anything else changes the row). A first pass fingerprints every line of the
    file (``COPY`` into a temporary table); a line whose fingerprint a stored row carries is
    that row, unchanged — listed, not converted, not written. Only the others (new or
    changed) are checked and converted by the rules and staged; the duplicate check sees both;
    the delta joins the staged rows with the stored rows no line stands for (what is left of
    those in a full snapshot is absent). True when done; False — more than
    ``CHANGED_LINES_AT_MOST`` of the lines changed, or a line is written twice (the regular
    path reports it) —: nothing staged, ``fh`` back after the header, for the regular path."""
    start = fh.tell()
    cursor.execute(_LINES)
    source = _StagedSource(
        _converted(_chunks(fh, 2), header, key, None, fingerprints=True), report, errors
    )
    _copy(cursor, "COPY operatordb_snapshot_lines FROM STDIN", source)
    # A hash join (the lines hashed, the table read once); the planner's guess of the pairs
    # otherwise picks a merge join sorting both sides (twice the time at 200 000 rows).
    cursor.execute(
        "SELECT current_setting('enable_mergejoin'), set_config('enable_mergejoin', 'off', true)"
    )
    (mergejoin, _off) = cursor.fetchone()
    cursor.execute(_UNMATCHED)
    cursor.execute("SELECT set_config('enable_mergejoin', %s, true)", [mergejoin])
    cursor.execute(_UNMATCHED_COUNTS)
    lines_unmatched, rows_unmatched, stored = cursor.fetchone()
    # Each stored row pairs with at most one distinct line; more paired lines than paired rows
    # means a line written twice.
    twice = report.rows - lines_unmatched > stored - rows_unmatched
    if twice or lines_unmatched > report.rows * CHANGED_LINES_AT_MOST:
        fh.seek(start)
        report.rows = 0
        return False
    # The lines to convert, one byte a line (1 MB a million lines): read before the staging
    # COPY, which the connection cannot interleave with a query.
    convert = bytearray()
    with cursor.cursor.connection.cursor("operatordb_snapshot_unmatched") as lines:
        lines.itersize = 50_000
        lines.execute("SELECT line FROM operatordb_snapshot_unmatched WHERE id IS NULL")
        for (line,) in lines:
            if line >= len(convert):
                convert.extend(bytes(line + 65_536 - len(convert)))
            convert[line] = 1
    fh.seek(start)
    cursor.execute(_STAGE)
    source = _StagedSource(
        _converted(
            _chunks_to_convert(_chunks(fh, 2), convert),
            header,
            key,
            None,
            here=lines_unmatched <= CONVERT_HERE_AT_MOST,
        ),
        report,
        errors,
        count=False,
    )
    _copy(cursor, "COPY operatordb_snapshot_stage FROM STDIN", source)
    report.listed = report.rows - source.rows
    _finish_load(
        cursor,
        report,
        errors,
        full=full,
        fingerprinted=True,
        partial=True,
        allow_mass_deactivation=allow_mass_deactivation,
    )
    return True


def _chunks_to_convert(chunks: Iterator[tuple[int, bytes]], convert: bytearray) -> Iterator[tuple]:
    """The chunks holding a line to convert, each with the numbers of those lines."""
    for first, data in chunks:
        part = convert[first : first + data.count(b"\n") + 1]
        lines = []
        at = part.find(1)
        while at >= 0:
            lines.append(first + at)
            at = part.find(1, at + 1)
        if lines:
            yield first, data, lines


def _load_first(cursor, fh, header, key, report: LoadReport, errors: _Errors, path) -> bool:
    """The first load (the operator table empty, no digest-key rotation under way): the
    converted rows ``COPY``d straight into the table, its read indexes and unique constraint
    dropped and built again. A duplicate MSISDN fails adding the unique constraint back after
    the COPY: then nothing was written (the savepoint), ``fh`` is back after the header and the
    load goes through staging, which reports each duplicate. True when the load is done here."""
    cursor.execute(f"SELECT pg_current_xact_id()::text::bigint, EXISTS (SELECT FROM {_TABLE})")
    xid, occupied = cursor.fetchone()
    if occupied or pii.canonicalise_sql("operatordb_snapshot_stage", "id_number_digest"):
        return False
    start = fh.tell()
    now = timezone.now()
    # The rows a file holds, from its size (for the index rule only; a row is ~130 bytes).
    rows = os.path.getsize(path) // 100
    indexes = _ReadIndexes(cursor, rows, 0, unique=True)
    try:
        with transaction.atomic(), indexes:  # a savepoint
            source = _StagedSource(
                _converted(_chunks(fh, 2), header, key, (now.isoformat(), xid)), report, errors
            )
            report.inserted = _copy(cursor, f"COPY {_TABLE} ({_WRITTEN}) FROM STDIN", source)
            if report.error_count:
                # Without its unique constraint the COPY let a number listed twice through:
                # staging reports it, with the other faults.
                if indexes.constraints:
                    cursor.execute(_LISTED_TWICE)
                    if cursor.fetchone()[0]:
                        raise IntegrityError("a number listed twice")
                raise _Rejected
    except _Rejected:
        report.inserted = 0
        return True  # rejected: nothing written, and no number listed twice
    except (IntegrityError, connection.Database.IntegrityError):
        fh.seek(start)
        report.rows = report.inserted = report.error_count = 0
        report.errors.clear()
        return False
    return True


_LISTED_TWICE = f"SELECT EXISTS (SELECT FROM {_TABLE} GROUP BY msisdn HAVING count(*) > 1)"


class _Rejected(Exception):
    """A first load with bad rows: its savepoint is rolled back (the indexes are not built)."""


def load_rows(
    rows: Iterable[tuple[int, list[str]]],
    *,
    full: bool = True,
    report: LoadReport | None = None,
    allow_mass_deactivation: bool = False,
) -> LoadReport:
    """Load (line, values) rows in ``COLUMNS`` order; raises ``SnapshotRejected`` (nothing
    written) if any row is bad, ``MassDeactivationRefused`` (nothing written) if a full load
    would set too many active numbers inactive and ``allow_mass_deactivation`` is not given."""
    report = report if report is not None else LoadReport()
    errors = _Errors(report)
    started = time.perf_counter()
    with transaction.atomic():
        loader = _load_postgresql if connection.vendor == "postgresql" else _load_orm
        loader(
            iter(rows), report, errors, full=full, allow_mass_deactivation=allow_mass_deactivation
        )
        if report.error_count:
            transaction.set_rollback(True)
    report.seconds = time.perf_counter() - started
    if report.error_count:
        raise SnapshotRejected(report)
    report.unchanged = report.rows - report.inserted - report.updated
    return report


def load_snapshot(path, *, full: bool = True, allow_mass_deactivation: bool = False) -> LoadReport:
    """Load a snapshot file (see the module docstring); all or nothing. A full load that would
    set more than ``OPERATORDB_MAX_DEACTIVATED_SHARE`` of the active numbers inactive (or any,
    from a file listing none) raises ``MassDeactivationRefused``, nothing written, unless
    ``allow_mass_deactivation``. A file that is no UTF-8 text at all (UTF-16, compressed) is
    rejected at line 1, field ``file``; a record holding bytes that are not UTF-8 at its line,
    field ``row``."""
    reason = _not_text(path)
    if reason is not None:
        report = LoadReport()
        _Errors(report).add(1, "file", reason)
        raise SnapshotRejected(report)
    if connection.vendor == "postgresql":
        report = LoadReport()
        errors = _Errors(report)
        started = time.perf_counter()
        try:
            with transaction.atomic():
                _load_postgresql_bulk(
                    path, report, errors, full=full, allow_mass_deactivation=allow_mass_deactivation
                )
                if report.error_count:
                    transaction.set_rollback(True)
        except _NotPlain:
            pass  # rolled back; the streaming pass reads the file
        else:
            report.seconds = time.perf_counter() - started
            if report.error_count:
                raise SnapshotRejected(report)
            report.unchanged = report.rows - report.inserted - report.updated
            return report
    report = LoadReport()
    # Bytes that are not UTF-8 are read as lone surrogates: their record is refused at its line.
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        return load_rows(
            read_rows(fh, _Errors(report)),
            full=full,
            report=report,
            allow_mass_deactivation=allow_mass_deactivation,
        )
