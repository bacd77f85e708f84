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
- **Identity is stored the portal's way**: the ID number normalised
  (``operatordb.normalize``) and kept as its keyed digest plus a masked copy — the raw number is
  never stored; the name with its comparison key. MSISDNs are normalised to ``62…``.

On PostgreSQL the file is ``COPY``d as text into a temporary staging table; one
``INSERT … SELECT`` checks every row and converts those whose fields are all in their stored
form — the keyed digest by ``pgcrypto``'s ``hmac()`` with the key handed over by ``COPY``, never
in a statement's text (docs/decisions.md) —, and the rows it does not prove valid go through
``RowTransformer``, the one set of rules, so a bad row is reported with the same line, field and
reason. That statement first runs in its quicker form (``_STAGE_FAST``: impossible days left to
PostgreSQL's casts, which then fail it) inside a savepoint, and in its careful form
(``_STAGE_CANONICAL``) only when a cast failed. A file that is not plain CSV line by line falls
back to one streaming Python pass over the whole file (``RowTransformer`` feeding ``COPY``). The
duplicate check, the delta (one join of the snapshot with the table), the update of changed
rows, the insert of new ones and the deactivation of absent ones are then set-based statements,
all in one transaction, one load at a time (an advisory lock). Into an empty table (the first
load) every staged row is inserted without working out a delta. A large write (``_ReadIndexes``)
drops the table's read-only indexes first and builds them again after it, in the same
transaction. Elsewhere (SQLite, ``make run``) the same rows are written in batches.
"""

# SQL here is assembled from table and column names of our own models; every value is a bound
# parameter.
# ruff: noqa: S608

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import islice

from django.conf import settings
from django.db import DataError, connection, transaction
from django.utils import timezone

from core import pii
from core.idnumbers import normalize_id_number
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


_PLAIN_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)
_ASCII_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# Whitespace other than single inner spaces: the name is then tidied as clean_person_name does.
_ODD_SPACE = re.compile(r"[^\S ]|  |^ | $")
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
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    seconds: float = 0.0

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
            "error_count": self.error_count,
            "errors": [e.__dict__ for e in self.errors],
            "seconds": round(self.seconds, 3),
        }


class SnapshotRejected(Exception):
    """The file had bad rows (or a bad header); nothing was loaded."""

    def __init__(self, report: LoadReport):
        super().__init__(f"{report.error_count} bad row(s); nothing was loaded")
        self.report = report


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

    def __init__(self, errors: _Errors):
        self.errors = errors
        self.tz = timezone.get_default_timezone()
        # During a digest-key rotation: the previous key, then the rotation's map (below).
        self.digest = _Digester(pii.loader_key().encode())

    def _timestamp(self, value: str, line: int, field_name: str) -> tuple[bool, str | None]:
        """(ok, the ISO text PostgreSQL reads) of an optional timestamp field."""
        if not value:
            return True, None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.errors.add(line, field_name, "not an ISO 8601 date and time")
            return False, None
        if timezone.is_aware(parsed) and not _offset_in_range(value, parsed):
            self.errors.add(line, field_name, "time zone offset out of range (up to ±15:59)")
            return False, None
        if timezone.is_aware(parsed) and _PLAIN_TIMESTAMP.fullmatch(value):
            return True, value
        if timezone.is_naive(parsed):  # naive: Jakarta time, as the rest of the portal
            parsed = timezone.make_aware(parsed, self.tz)
        return True, parsed.isoformat()

    def __call__(self, values: list[str], line: int) -> tuple | None:
        """The stored values in ``STORED`` order (dates as ISO text, None when empty), or None
        when the row is bad (each fault recorded with its line). ``values`` are in
        ``ALL_COLUMNS`` order (``read_rows`` puts the optional ones there, empty if absent)."""
        errors = self.errors
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
            try:
                value = datetime.fromisoformat(activated)
            except ValueError:
                errors.add(line, "activated_at", "not an ISO 8601 date and time")
                ok = False
            else:
                if timezone.is_aware(value) and not _offset_in_range(activated, value):
                    errors.add(line, "activated_at", "time zone offset out of range (up to ±15:59)")
                    ok = False
                elif timezone.is_aware(value) and _PLAIN_TIMESTAMP.fullmatch(activated):
                    activated_at = activated  # PostgreSQL reads it as it is
                else:  # naive: Jakarta time, as the rest of the portal
                    if timezone.is_naive(value):
                        value = timezone.make_aware(value, self.tz)
                    activated_at = value.isoformat()
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
            normalized = (
                id_number if _CANONICAL_NUMBER.fullmatch(id_number)
                else normalize_id_number(id_type, id_number)
            )  # fmt: skip
            if not 1 <= len(normalized) <= 40:
                errors.add(line, "id_number", "must be 1 to 40 characters")
                ok = False
            else:
                digest = self.digest(normalized)
                masked = mask_id_number(normalized)
        if not name.isascii() or _ODD_SPACE.search(name):
            name = " ".join(name.split())
        if len(name) > 100:
            errors.add(line, "full_name", "at most 100 characters")
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
    at line 1. The optional columns may follow the required ones in any order."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        errors.add(1, "header", "the file is empty")
        return
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
    if not extra:
        padding = [""] * len(OPTIONAL_COLUMNS)
        for values in reader:
            if not values:
                continue
            if len(values) == width:
                yield reader.line_num, values + padding
            else:
                yield reader.line_num, _wrong_width(values, width)
        return
    positions = [header.index(c) if c in extra else None for c in OPTIONAL_COLUMNS]
    for values in reader:
        if not values:
            continue
        if len(values) != width:
            yield reader.line_num, _wrong_width(values, width)
            continue
        yield (
            reader.line_num,
            values[: len(COLUMNS)] + [values[i] if i is not None else "" for i in positions],
        )


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

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        while size < 0 or len(self._pending) < size:
            chunk = "".join(islice(self._lines, 2000))
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


def _stage_line(line: int, out: tuple) -> str:
    (msisdn, iccid, status, activated, roid, id_type, digest, masked, name, key, birth,
     issued, deactivated) = out  # fmt: skip
    # Only the masked number and the name can hold characters COPY's text form escapes: the
    # other fields passed format checks.
    return (
        f"{line}\t{msisdn}\t{iccid}\t{status}\t{activated or NULL}\t{roid}\t{id_type}\t{digest}"
        f"\t{_text_field(masked)}\t{_text_field(name)}\t{key}\t{birth or NULL}"
        f"\t{issued or NULL}\t{deactivated or NULL}\n"
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
    name_key varchar(100) NOT NULL,
    birth_date date,
    issued_at timestamptz,
    deactivated_at timestamptz
) ON COMMIT DROP
"""

_COMPARED = ", ".join(f"t.{c}" for c in STORED[1:])
_INCOMING = ", ".join(f"s.{c}" for c in STORED[1:])
# The written rows carry the load's time and the change sequence's value (the loading
# transaction's id: what the column's default and trigger would give each row, computed once).
_WRITTEN = f"{', '.join(STORED)}, updated_at, change_xid"
# One hash join of the snapshot with the table finds what is new, changed or (full snapshot)
# no longer listed — a few percent of a daily snapshot; the writes then touch only those rows.
# Rather than INSERT ... ON CONFLICT, which probes the index row by row. Loads are serialised
# by an advisory lock, so nothing inserts the same MSISDN in between.
_DELTA = f"""
CREATE TEMP TABLE operatordb_snapshot_delta ON COMMIT DROP AS
SELECT s.*, t.id AS target_id, s.msisdn IS NULL AS absent
FROM operatordb_snapshot_stage s
FULL JOIN {_TABLE} t ON t.msisdn = s.msisdn
WHERE t.id IS NULL
   OR (s.msisdn IS NULL AND t.status = 'active' AND %(full)s)
   OR (s.msisdn IS NOT NULL AND ({_COMPARED}) IS DISTINCT FROM ({_INCOMING}))
"""
_UPDATE_CHANGED = f"""
UPDATE {_TABLE} t
SET {", ".join(f"{c} = s.{c}" for c in STORED[1:])}, updated_at = %(now)s
FROM operatordb_snapshot_delta s
WHERE NOT s.absent AND s.target_id IS NOT NULL AND t.id = s.target_id
"""
# New rows land in MSISDN order: reconciliation reads the table by MSISDN ranges. (MSISDNs are
# digits: the "C" order is the database's, without its collation's cost.)
_INSERT_NEW = f"""
INSERT INTO {_TABLE} ({_WRITTEN})
SELECT {", ".join(f"s.{c}" for c in STORED)}, %(now)s, %(xid)s
FROM operatordb_snapshot_delta s
WHERE s.target_id IS NULL
ORDER BY s.msisdn COLLATE "C"
"""
# Into an empty table (the first load): every staged row is new; no delta to work out.
_INSERT_ALL = f"""
INSERT INTO {_TABLE} ({_WRITTEN})
SELECT {", ".join(f"s.{c}" for c in STORED)}, %(now)s, %(xid)s
FROM operatordb_snapshot_stage s
ORDER BY s.msisdn COLLATE "C"
"""
_DEACTIVATE = f"""
UPDATE {_TABLE} t SET status = 'inactive', updated_at = %(now)s
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
        "operatordb_snapshot_raw",
        "operatordb_snapshot_key",
    ):
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")


class _ReadIndexes:
    """Around a large write: the table's read-only indexes dropped, then built again (in the
    load's transaction: readers of the table wait for its commit, and see the new state whole)."""

    def __init__(self, cursor, rows: int, existing: int):
        self.cursor = cursor
        least = getattr(settings, "OPERATORDB_LOAD_REBUILD_INDEXES_FROM", REBUILD_INDEXES_FROM)
        self.active = rows >= least and rows * 2 >= existing
        self.definitions: list[str] = []

    def __enter__(self):
        if self.active:
            self.cursor.execute(_READ_INDEXES)
            found = self.cursor.fetchall()
            self.definitions = [definition for _name, definition in found]
            if found:
                self.cursor.execute(f"DROP INDEX {', '.join(name for name, _d in found)}")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            for definition in self.definitions:
                self.cursor.execute(definition)


def _finish_load(cursor, report: LoadReport, errors: _Errors, *, full: bool) -> None:
    """From the staging table: the duplicate check, then (no fault) the delta and its writes."""
    now = timezone.now()
    # Looked for in a file already rejected too, so that one reading reports every fault.
    cursor.execute(_DUPLICATES)
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
    values = {"now": now, "xid": xid, "full": full}
    if not occupied:  # the first load: everything is new
        with _ReadIndexes(cursor, report.rows, 0):
            cursor.execute(_INSERT_ALL, values)
            report.inserted = cursor.rowcount
        return
    cursor.execute(_DELTA, values)
    with _ReadIndexes(cursor, cursor.rowcount, existing):
        cursor.execute(_UPDATE_CHANGED, values)
        report.updated = cursor.rowcount
        cursor.execute(_INSERT_NEW, values)
        report.inserted = cursor.rowcount
        cursor.execute(_DEACTIVATE, values)
        report.deactivated = cursor.rowcount


def _load_postgresql(rows: Iterator[tuple], report: LoadReport, errors: _Errors, *, full: bool):
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
        cursor.cursor.copy_expert(
            "COPY operatordb_snapshot_stage FROM STDIN", CopySource(staged()), size=1 << 16
        )
        _finish_load(cursor, report, errors, full=full)


def _load_orm(rows: Iterator[tuple], report: LoadReport, errors: _Errors, *, full: bool):
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
        absent = [
            pk
            for pk, msisdn in OperatorSubscriber.objects.filter(status="active").values_list(
                "pk", "msisdn"
            )
            if msisdn not in clean
        ]
        for start in range(0, len(absent), 500):
            report.deactivated += OperatorSubscriber.objects.filter(
                pk__in=absent[start : start + 500]
            ).update(status="inactive", updated_at=now)


# --- the set-based load (PostgreSQL) ------------------------------------------------------------
#
# The file goes into a staging table of text columns by one COPY; one INSERT … SELECT then checks
# every row and, for a row whose every field is already in its stored form (the common case: the
# form the operator's export writes), converts it — keyed digest, masked copy and name key
# included — in the same statement. The rows it does not prove valid (any field needing a
# normalisation, and every bad row) go through ``RowTransformer`` — the one set of rules, so a
# bad row is reported with exactly the line, field and reason of the streaming pass. When the
# file is not plain CSV line by line (a row of the wrong width, a quoted field, a blank line, a
# line break in a field, bytes that are not UTF-8), the streaming pass reads the whole file.

_DIGITS = "0123456789"
# What a timestamp's digits may be followed by after ``YYYY-MM-DDTHH:MM`` (digits shown as 9):
# the seconds and their fraction, optional, then the offset.
_TIMESTAMP_TAILS = ", ".join(
    f"'{seconds}{offset}'"
    for seconds in ["", ":99", *(":99." + "9" * n for n in range(1, 7))]
    for offset in ("Z", "+99:99", "-99:99")
)


def _shape(column: str) -> str:
    """SQL: ``column`` with every digit shown as 9 (computed once per row, see ``_SHAPED``)."""
    return (
        f"CASE WHEN {column} = '' THEN '' ELSE translate({column}, '{_DIGITS}', '9999999999') END"
    )


def _sql_date_ok(column: str) -> str:
    """SQL: the first 10 characters of ``column`` (already of the shape 9999-99-99) are a day
    that exists, as ``date.fromisoformat`` decides (year 1 to 9999, 29 February in leap
    years)."""
    year, month, day = (
        f"substr({column}, 1, 4)::int", f"substr({column}, 6, 2)::int",
        f"substr({column}, 9, 2)::int",
    )  # fmt: skip
    return (
        f"({year} >= 1 AND {month} BETWEEN 1 AND 12 AND {day} >= 1"
        f" AND ({day} <= 28 OR ({day} <= 30 AND {month} <> 2)"
        f" OR ({day} = 31 AND {month} IN (1, 3, 5, 7, 8, 10, 12))"
        f" OR ({month} = 2 AND {day} = 29 AND {year} % 4 = 0"
        f" AND ({year} % 100 <> 0 OR {year} % 400 = 0))))"
    )


def _sql_timestamp_shape(column: str) -> str:
    """SQL: ``column`` is empty or has the shape of an aware ISO timestamp."""
    shape = f"r.{column}_shape"
    return (
        f"(r.{column} = '' OR (left({shape}, 16) IN ('9999-99-99T99:99', '9999-99-99 99:99')"
        f" AND substr({shape}, 17) IN ({_TIMESTAMP_TAILS})))"
    )


def _sql_timestamp_ok(column: str) -> str:
    """SQL, once the shape is proven: the fields are in range (``datetime.fromisoformat``
    accepts it, and PostgreSQL reads it as it is)."""
    c = f"r.{column}"
    return (
        f"({c} = '' OR ({_sql_date_ok(c)} AND substr({c}, 12, 2)::int <= 23"
        f" AND substr({c}, 15, 2)::int <= 59"
        f" AND (substr({c}, 17, 1) <> ':' OR substr({c}, 18, 2)::int <= 59)"
        f" AND (right({c}, 1) = 'Z' OR (substr(right({c}, 6), 2, 2)::int <= 14"
        f" AND substr(right({c}, 6), 5, 2)::int <= 59))))"
    )


# The ICCID's Luhn digit over its bytes, padded to 20 digits with zeros (which add nothing).
_LUHN_SQL = " + ".join(
    f"(2 * (get_byte(r.iccid_bytes, {i}) - 48) - 9 * ((get_byte(r.iccid_bytes, {i}) - 48) / 5))"
    if i % 2 == 0
    else f"(get_byte(r.iccid_bytes, {i}) - 48)"
    for i in range(20)
)
# Each raw row with what the checks read more than once, computed once (OFFSET 0 keeps the
# subquery from being flattened into copies of the expressions).
_SHAPED = f"""(
    SELECT r.*, {_shape("r.activated_at")} AS activated_at_shape,
           {_shape("r.issued_at")} AS issued_at_shape,
           {_shape("r.deactivated_at")} AS deactivated_at_shape,
           CASE WHEN length(r.iccid) BETWEEN 18 AND 20 AND ltrim(r.iccid, '{_DIGITS}') = ''
                THEN lpad(r.iccid, 20, '0')::bytea END AS iccid_bytes
    FROM operatordb_snapshot_raw r OFFSET 0) r"""

# Every field in its stored form: the shapes, checked without casting anything.
_SHAPES_OK = f"""
left(r.msisdn, 3) = '628' AND length(r.msisdn) BETWEEN 11 AND 14
      AND ltrim(r.msisdn, '{_DIGITS}') = ''
      AND r.status IN ('active', 'inactive')
      AND (r.activated_at <> '' OR r.status = 'inactive')
      AND (r.deactivated_at = '' OR r.status = 'inactive')
      AND (r.iccid = '' OR (left(r.iccid, 2) = '89' AND r.iccid_bytes IS NOT NULL))
      AND (r.outlet_roid = ''
           OR (left(r.outlet_roid, 2) = 'RO' AND length(r.outlet_roid) BETWEEN 8 AND 20
               AND ltrim(r.outlet_roid, '{_DIGITS}ABCDEFGHIJKLMNOPQRSTUVWXYZ') = ''))
      AND ((r.id_type = '' AND r.id_number = '')
           OR (r.id_type IN ({", ".join(f"'{t}'" for t in ID_TYPES)})
               AND length(r.id_number) BETWEEN 1 AND 40
               AND ltrim(r.id_number, '{_DIGITS}ABCDEFGHIJKLMNOPQRSTUVWXYZ') = ''))
      AND length(r.full_name) <= 100 AND r.full_name ~ '^([!-~]+( [!-~]+)*)?$'
      AND (r.birth_date = ''
           OR translate(r.birth_date, '{_DIGITS}', '9999999999') = '9999-99-99')
      AND {_sql_timestamp_shape("activated_at")}
      AND {_sql_timestamp_shape("issued_at")}
      AND {_sql_timestamp_shape("deactivated_at")}"""
# The checks that cast run only once the shapes are proven (CASE fixes the order of evaluation).
_CANONICAL = f"""
CASE WHEN {_SHAPES_OK}
 THEN (r.iccid = '' OR ({_LUHN_SQL}) % 10 = 0)
      AND (r.birth_date = '' OR {_sql_date_ok("r.birth_date")})
      AND {_sql_timestamp_ok("activated_at")}
      AND {_sql_timestamp_ok("issued_at")}
      AND {_sql_timestamp_ok("deactivated_at")}
      AND (r.issued_at = '' OR r.deactivated_at = ''
           OR r.issued_at::timestamptz <= r.deactivated_at::timestamptz)
 ELSE false END"""

# ``core.masking.mask_id_number`` of a stored number (a test holds the two together).
_MASK_SQL = """CASE
    WHEN length(r.id_number) >= 12
        THEN left(r.id_number, 4) || repeat('*', length(r.id_number) - 8) || right(r.id_number, 4)
    ELSE repeat('*', length(r.id_number) - least(3, length(r.id_number) / 2))
         || right(r.id_number, least(3, length(r.id_number) / 2))
    END"""

_RAW = f"""
CREATE TEMP TABLE operatordb_snapshot_raw (
    line bigint GENERATED ALWAYS AS IDENTITY (START WITH 2),
    {", ".join(f"{c} text NOT NULL DEFAULT ''" for c in ALL_COLUMNS)}
) ON COMMIT DROP
"""
# The digest key, handed over by COPY: never in a statement's text, so never in the server's
# statement log, pg_stat_statements or an error message; dropped with the transaction.
_KEY = "CREATE TEMP TABLE operatordb_snapshot_key (key bytea NOT NULL) ON COMMIT DROP"
_STAGE_CANONICAL = f"""
INSERT INTO operatordb_snapshot_stage
SELECT r.line, r.msisdn, r.iccid, r.status, nullif(r.activated_at, '')::timestamptz,
       r.outlet_roid, r.id_type,
       CASE WHEN r.id_number = '' THEN ''
            ELSE encode(hmac(convert_to(r.id_number, 'UTF8'), k.key, 'sha256'), 'hex') END,
       {_MASK_SQL},
       r.full_name, regexp_replace(lower(r.full_name COLLATE "C"), '[^a-z0-9]+', '', 'g'),
       nullif(r.birth_date, '')::date, nullif(r.issued_at, '')::timestamptz,
       nullif(r.deactivated_at, '')::timestamptz
FROM {_SHAPED} CROSS JOIN operatordb_snapshot_key k
WHERE {_CANONICAL}
"""


# The same in fewer operations a row, for a file expected to be good: what a cast refuses is
# left to the cast (an impossible day: the statement fails, and ``_STAGE_CANONICAL`` runs in its
# place), the other ranges are compared as text (two digits each, proven by the shape), and the
# Luhn sum adds five looked-up sums of four digits (positions 1 and 3 of each doubled, as
# positions are counted from the right of the 20 digits).
_LUHN_OF_FOUR = """(SELECT array_agg(
    (2 * (i / 1000) - 9 * (i / 5000)) + (i / 100) % 10
    + (2 * ((i / 10) % 10) - 9 * (((i / 10) % 10) / 5)) + i % 10 ORDER BY i)
    FROM generate_series(0, 9999) i)"""
_LUHN_FAST = " + ".join(
    f"l.sums[substr(r.iccid_digits, {start}, 4)::int + 1]" for start in (1, 5, 9, 13, 17)
)


def _sql_time_ok_fast(column: str) -> str:
    """SQL, once the shape is proven: the time of day and the offset are in range (the date is
    the cast's)."""
    c = f"r.{column}"
    return (
        f"({c} = '' OR (substr({c}, 12, 2) <= '23' COLLATE \"C\""
        f" AND substr({c}, 15, 2) <= '59' COLLATE \"C\""
        f" AND (substr({c}, 17, 1) <> ':' OR substr({c}, 18, 2) <= '59' COLLATE \"C\")"
        f" AND (right({c}, 1) = 'Z' OR (substr(right({c}, 6), 2, 2) <= '14' COLLATE \"C\""
        f" AND right({c}, 2) <= '59' COLLATE \"C\"))))"
    )


_STAGE_FAST = (
    _STAGE_CANONICAL.replace(
        _SHAPED, _SHAPED.replace("lpad(r.iccid, 20, '0')::bytea", "lpad(r.iccid, 20, '0')")
    )
    .replace(
        "CROSS JOIN operatordb_snapshot_key k",
        f"CROSS JOIN operatordb_snapshot_key k CROSS JOIN (SELECT {_LUHN_OF_FOUR} AS sums) l",
    )
    .replace(
        _CANONICAL,
        f"""
CASE WHEN {_SHAPES_OK}
 THEN (r.iccid = '' OR ({_LUHN_FAST}) % 10 = 0)
      AND {_sql_time_ok_fast("activated_at")}
      AND {_sql_time_ok_fast("issued_at")}
      AND {_sql_time_ok_fast("deactivated_at")}
      AND (r.issued_at = '' OR r.deactivated_at = ''
           OR r.issued_at::timestamptz <= r.deactivated_at::timestamptz)
 ELSE false END""",
    )
    .replace("iccid_bytes", "iccid_digits")
)
_NOT_STAGED = f"""
SELECT r.line, {", ".join(f"r.{c}" for c in ALL_COLUMNS)}
FROM operatordb_snapshot_raw r
WHERE NOT EXISTS (SELECT FROM operatordb_snapshot_stage s WHERE s.line = r.line)
ORDER BY r.line
"""


class _NotPlain(Exception):
    """The file is not plain CSV line by line: the streaming pass reads it."""


class _LineCounter(io.RawIOBase):
    """The file's bytes for COPY, counting its line breaks and refusing quotes (where Python's
    csv module and COPY may split a malformed line differently)."""

    def __init__(self, fh):
        self._fh = fh
        self.newlines = 0
        self.ends_with_newline = True
        self.refused = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._fh.read(size)
        if chunk:
            if b'"' in chunk or b"\r" in chunk:
                self.refused = True
                raise _NotPlain
            self.newlines += chunk.count(b"\n")
            self.ends_with_newline = chunk.endswith(b"\n")
        return chunk


def _header(first_line: bytes, errors: _Errors) -> list[str] | None:
    """The header's columns, or None (reported at line 1 as ``read_rows`` does)."""
    header = next(csv.reader([first_line.decode("utf-8-sig")]), [])
    header = [h.strip().lower().lstrip("\ufeff") for h in header]
    extra = header[len(COLUMNS) :]
    if (
        tuple(header[: len(COLUMNS)]) != COLUMNS
        or not set(extra) <= set(OPTIONAL_COLUMNS)
        or len(set(extra)) != len(extra)
    ):
        return None
    return header


def _load_postgresql_bulk(path, report: LoadReport, errors: _Errors, *, full: bool) -> None:
    """The set-based load; raises ``_NotPlain`` (nothing staged) to hand over to the stream."""
    with open(path, "rb") as fh:
        first = fh.readline()
        if b'"' in first or b"\r" in first or not first.endswith(b"\n"):
            raise _NotPlain
        header = _header(first, errors)
        if header is None:
            raise _NotPlain  # the streaming pass reports it
        source = _LineCounter(fh)
        with connection.cursor() as cursor:
            _begin_load(cursor)
            cursor.execute(_RAW)
            cursor.execute(_STAGE)
            cursor.execute(_KEY)
            cursor.cursor.copy_expert(
                "COPY operatordb_snapshot_key FROM STDIN",
                io.StringIO("\\\\x" + pii.loader_key().encode().hex() + "\n"),
            )
            try:
                cursor.cursor.copy_expert(
                    f"COPY operatordb_snapshot_raw ({', '.join(header)}) FROM STDIN "
                    f"WITH (FORMAT csv, FORCE_NOT_NULL ({', '.join(header)}))",
                    source,
                    size=1 << 18,
                )
            except (DataError, connection.Database.Error) as exc:
                # A row of the wrong width, bytes that are not UTF-8, a quote (the COPY was
                # cancelled from read()): not plain. Anything else is an error.
                if source.refused or isinstance(exc, (DataError, connection.Database.DataError)):
                    raise _NotPlain from None
                raise
            report.rows = cursor.cursor.rowcount
            if report.rows != source.newlines + (not source.ends_with_newline):
                raise _NotPlain  # a blank line, or COPY's end-of-data marker
            try:
                with transaction.atomic():  # a savepoint
                    cursor.execute(_STAGE_FAST)
            except DataError:  # a day that does not exist: the careful checks find it
                cursor.execute(_STAGE_CANONICAL)
            staged = cursor.cursor.rowcount
            cursor.execute("DROP TABLE operatordb_snapshot_key")
            if staged != report.rows:
                _stage_the_rest(cursor, errors)
            _finish_load(cursor, report, errors, full=full)


def _stage_the_rest(cursor, errors: _Errors) -> None:
    """The rows the SQL did not prove valid, through ``RowTransformer``, into the staging
    table (the valid ones) or the report (the bad ones), a batch at a time."""
    transform = RowTransformer(errors)
    # A server-side cursor: memory stays flat however many rows need the rules.
    with connection.connection.cursor(name="operatordb_snapshot_rest") as rest:
        rest.itersize = 10_000
        rest.execute(_NOT_STAGED)
        while batch := rest.fetchmany(10_000):
            staged = []
            for line, *values in batch:
                out = transform(values, line)
                if out is not None:
                    staged.append(_stage_line(line, out))
            if staged:
                cursor.cursor.copy_expert(
                    "COPY operatordb_snapshot_stage FROM STDIN", io.StringIO("".join(staged))
                )


def load_rows(
    rows: Iterable[tuple[int, list[str]]], *, full: bool = True, report: LoadReport | None = None
) -> LoadReport:
    """Load (line, values) rows in ``COLUMNS`` order; raises ``SnapshotRejected`` (nothing
    written) if any row is bad."""
    report = report if report is not None else LoadReport()
    errors = _Errors(report)
    started = time.perf_counter()
    with transaction.atomic():
        loader = _load_postgresql if connection.vendor == "postgresql" else _load_orm
        loader(iter(rows), report, errors, full=full)
        if report.error_count:
            transaction.set_rollback(True)
    report.seconds = time.perf_counter() - started
    if report.error_count:
        raise SnapshotRejected(report)
    report.unchanged = report.rows - report.inserted - report.updated
    return report


def load_snapshot(path, *, full: bool = True) -> LoadReport:
    """Load a snapshot file (see the module docstring); all or nothing."""
    if connection.vendor == "postgresql":
        report = LoadReport()
        errors = _Errors(report)
        started = time.perf_counter()
        try:
            with transaction.atomic():
                _load_postgresql_bulk(path, report, errors, full=full)
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
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return load_rows(read_rows(fh, _Errors(report)), full=full, report=report)
