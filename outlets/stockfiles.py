"""Lists of starter packs as people hand them in: a CSV file, typed numbers, an MSISDN range.

Pure (no Django): each input becomes ``PackLine``s, and every fault is a ``LineError`` naming
its line, so the whole file can be reported at once and nothing is applied until it is clean.
Messages are codes with parameters; ``outlets.services.stock`` turns them into sentences.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from identity.idrules import IdRuleError, normalize_msisdn, validate_iccid

# A dealer's delivery is tens of thousands of packs; the operator's, up to this many at once.
MAX_LINES = 200_000
MAX_LINE_ERRORS_SHOWN = 50


@dataclass(frozen=True)
class PackLine:
    line: int
    msisdn: str
    iccid: str | None = None


@dataclass(frozen=True)
class LineError:
    line: int  # 0: the input as a whole
    code: str
    params: dict = field(default_factory=dict)


@dataclass
class ParsedPacks:
    lines: list[PackLine]
    errors: list[LineError]


def parse_pack_csv(data: bytes | str, *, with_iccid: bool = True) -> ParsedPacks:
    """Read a UTF-8 CSV with a header row naming ``msisdn`` (and optionally ``iccid``).

    Line numbers are those of the file (the header is line 1). Blank lines are skipped. Each
    data line needs a valid Indonesian mobile number (stored as 62…) and, when given, a valid
    ICCID. A number or ICCID that appears twice is reported at its second line.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return ParsedPacks([], [LineError(0, "not_utf8")])
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error:
        return ParsedPacks([], [LineError(1, "csv_syntax")])
    if header is None:
        return ParsedPacks([], [LineError(0, "empty")])
    columns = [name.strip().lower() for name in header]
    if "msisdn" not in columns:
        return ParsedPacks([], [LineError(1, "no_msisdn_column")])
    msisdn_at = columns.index("msisdn")
    iccid_at = columns.index("iccid") if with_iccid and "iccid" in columns else None

    rows: list[tuple[int, str, str]] = []
    errors: list[LineError] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(columns):
                errors.append(LineError(line, "too_many_values", {"expected": len(columns)}))
                continue
            msisdn = values[msisdn_at] if msisdn_at < len(values) else ""
            iccid = values[iccid_at] if iccid_at is not None and iccid_at < len(values) else ""
            rows.append((line, msisdn, iccid))
            if len(rows) > MAX_LINES:
                return ParsedPacks([], [LineError(0, "too_many_lines", {"max": MAX_LINES})])
    except csv.Error:
        errors.append(LineError(reader.line_num, "csv_syntax"))
    parsed = check_pack_lines(rows)
    parsed.errors = sorted(errors + parsed.errors, key=lambda e: e.line)
    if not parsed.lines and not parsed.errors:
        parsed.errors.append(LineError(0, "empty"))
    return parsed


def parse_msisdn_list(text: str) -> ParsedPacks:
    """Numbers typed or pasted one per line (commas and semicolons also separate them)."""
    rows = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        for item in raw_line.replace(";", ",").split(","):
            if item.strip():
                rows.append((number, item, ""))
    if len(rows) > MAX_LINES:
        return ParsedPacks([], [LineError(0, "too_many_lines", {"max": MAX_LINES})])
    parsed = check_pack_lines(rows)
    if not parsed.lines and not parsed.errors:
        parsed.errors.append(LineError(0, "empty"))
    return parsed


def check_pack_lines(rows: list[tuple[int, str, str]]) -> ParsedPacks:
    """Normalise and check ``(line, msisdn, iccid)`` rows; duplicates reported at the later
    line, naming the first."""
    lines: list[PackLine] = []
    errors: list[LineError] = []
    first_msisdn: dict[str, int] = {}
    first_iccid: dict[str, int] = {}
    for line, raw_msisdn, raw_iccid in rows:
        try:
            msisdn = normalize_msisdn(raw_msisdn)
        except IdRuleError:
            errors.append(LineError(line, "msisdn_format", {"value": str(raw_msisdn)[:30]}))
            continue
        iccid = None
        if raw_iccid and raw_iccid.strip():
            try:
                iccid = validate_iccid(raw_iccid)
            except IdRuleError as exc:
                errors.append(LineError(line, exc.code, {"value": raw_iccid.strip()[:30]}))
                continue
        if msisdn in first_msisdn:
            errors.append(
                LineError(
                    line, "duplicate_msisdn", {"msisdn": msisdn, "first": first_msisdn[msisdn]}
                )
            )
            continue
        if iccid is not None and iccid in first_iccid:
            errors.append(
                LineError(line, "duplicate_iccid", {"iccid": iccid, "first": first_iccid[iccid]})
            )
            continue
        first_msisdn[msisdn] = line
        if iccid is not None:
            first_iccid[iccid] = line
        lines.append(PackLine(line, msisdn, iccid))
    return ParsedPacks(lines, errors)


@dataclass(frozen=True)
class MsisdnRange:
    first: str
    last: str

    @property
    def count(self) -> int:
        return int(self.last) - int(self.first) + 1

    def numbers(self):
        width = len(self.first)
        for value in range(int(self.first), int(self.last) + 1):
            yield f"{value:0{width}d}"


class RangeError(ValueError):
    def __init__(self, field_name: str, code: str, **params):
        super().__init__(code)
        self.field = field_name
        self.code = code
        self.params = params


def parse_range(first: str, last: str, *, max_count: int = MAX_LINES) -> MsisdnRange:
    """A contiguous range of mobile numbers, both ends included: same length, first ≤ last,
    at most ``max_count`` numbers. Raises ``RangeError`` naming the end at fault."""
    try:
        low = normalize_msisdn(first)
    except IdRuleError as exc:
        raise RangeError("msisdn_from", "msisdn_format") from exc
    try:
        high = normalize_msisdn(last)
    except IdRuleError as exc:
        raise RangeError("msisdn_to", "msisdn_format") from exc
    if len(low) != len(high):
        raise RangeError("msisdn_to", "range_lengths")
    if high < low:
        raise RangeError("msisdn_to", "range_order")
    span = MsisdnRange(low, high)
    if span.count > max_count:
        raise RangeError("msisdn_to", "range_too_long", max=max_count, count=span.count)
    return span


def range_lines(span: MsisdnRange) -> list[PackLine]:
    """Every number of ``span`` as a line (numbered from 1), without an ICCID."""
    return [PackLine(i, msisdn) for i, msisdn in enumerate(span.numbers(), start=1)]


_RANGE_SEPARATOR = re.compile(r"\s*(?:,|;|–|—|\.\.|\s-\s|\sto\s|\ss\.?d\.?\s)\s*", re.IGNORECASE)


def parse_range_lines(
    text: str, *, max_ranges: int = 200
) -> tuple[list[MsisdnRange], list[tuple[int, str, dict]]]:
    """Ranges typed one per line: the first and last number separated by a comma (or "–",
    " - ", "..", "to", "s.d."); a single number is a range of one. Returns the ranges and the
    faults as ``(line, code, params)`` (as ``RangeError``'s)."""
    spans, faults = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parts = _RANGE_SEPARATOR.split(raw.strip(), maxsplit=1)
        first, last = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        try:
            spans.append(parse_range(first, last, max_count=MAX_LINES * 10))
        except RangeError as exc:
            faults.append((number, exc.code, exc.params))
        if len(spans) > max_ranges:
            return [], [(0, "too_many_ranges", {})]
    return spans, faults
