"""The columns of the row exports, declared once, and the rows ready for a writer.

A CSV is for machines: its header is the columns' keys and coded values stay codes (``ktp``,
``id_over_limit``, ``6281…``). The XLSX and PDF are for people: headers in words and each coded
value as its label in the export's language (``core.vocabulary``), phone numbers as a clerk
reads them (``0811-0000-1000``), provinces by name (``Column.display``, ``people_rows``).

A masked export — every export unless a user holding ``reports.export_unmasked`` asks
otherwise, and always the regulator's — carries no name, birth place, birth date or address,
and ID numbers only in their stored masked form: nothing is decrypted. Photos are never
exported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet, Value
from django.db.models.functions import NullIf
from django.utils.translation import gettext_lazy as _

from core import pii, vocabulary
from core.masking import display_msisdn

from .expressions import Defused, LocalDateTimeText
from .rows import discrepancy_rows, period_bounds, registration_rows, restricted
from .scope import ReportFilter, ReportScope

ITERATOR_CHUNK = 5000


def _decrypt(value) -> str:
    try:
        return pii.decrypt(value or "")
    except ValueError:
        return "(cannot be decrypted)"


def _iso_date(value) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


@dataclass(frozen=True)
class Column:
    key: str  # the header of the CSV/XLSX column, stable for machines
    label: object
    source: object  # a field path or an expression
    # Python work on each value, which also keeps the CSV from being a COPY (decryption).
    transform: Callable | None = None
    unmasked_source: object = None  # what an unmasked export reads instead
    unmasked_transform: Callable | None = None
    unmasked_only: bool = False
    free_text: bool = False  # typed by people: defused; XLSX strips control characters
    # How people read a value (XLSX, PDF): a vocabulary's name, or "phone"; "" as it is.
    display: str = ""
    # Only for readers who see this kind of data in full (core.disclosure), masked or not.
    kind: str = ""

    def source_for(self, masked: bool, defused: bool = True):
        """What to read and the Python work on it. ``defused`` False (XLSX, PDF: cells typed
        as text, read by people) reads free text as typed, without the CSV's formula rule."""
        if not masked and self.unmasked_source is not None:
            return self.unmasked_source, self.unmasked_transform
        if not defused and isinstance(self.source, Defused):
            return self.source.source_expressions[0], self.transform
        return self.source, self.transform


REGISTRATION_COLUMNS: tuple[Column, ...] = (
    Column("registration_number", _("Registration number"), "registration_number"),
    Column("registered_at", _("Registered at (WIB)"), LocalDateTimeText("registered_at")),
    Column("msisdn", _("MSISDN"), "msisdn", display="phone"),
    # Empty text as NULL: COPY writes an empty string as "" and NULL as nothing, as csv does.
    Column("iccid", _("ICCID"), NullIf("iccid", Value(""))),
    Column("outlet_roid", _("ROID"), "outlet__roid"),
    Column("outlet_name", _("Outlet"), Defused("outlet__name"), free_text=True),
    Column("dealer_code", _("Dealer"), "outlet__dealer__code"),
    Column("province", _("Province"), "outlet__province", display="province"),
    Column("id_type", _("ID type"), "id_type", display="id_type"),
    Column(
        "id_number",
        _("ID number"),
        NullIf("id_number_masked", Value("")),  # empty once anonymised
        unmasked_source="id_number_encrypted",
        unmasked_transform=_decrypt,
    ),
    Column("sex", _("Sex"), "sex", display="sex"),
    Column("nationality", _("Nationality"), "nationality"),
    Column("status", _("Status"), "status", display="registration_status"),
    Column("source", _("Channel"), "source", display="registration_source"),
    Column("policy", _("Rules applied"), "policy__code"),
    # Reported to the regulator by rule: in the file of every role that may see it.
    Column(
        "declared_purpose",
        _("Declared purpose"),
        # Empty (most registrations) as NULL, so COPY and csv write the same nothing. Defused
        # outermost: off PostgreSQL its rule is a converter of the outer expression's value.
        Defused(NullIf("declared_purpose", Value(""))),
        free_text=True,
        kind="declared_purpose",
    ),
    # Unmasked exports only (permission reports.export_unmasked, audited).
    Column("kk_number", _("KK number"), "kk_number_encrypted", _decrypt, unmasked_only=True),
    Column("full_name", _("Full name"), Defused("full_name"), unmasked_only=True, free_text=True),
    Column(
        "birth_place",
        _("Place of birth"),
        Defused("birth_place"),
        unmasked_only=True,
        free_text=True,
    ),
    Column("birth_date", _("Date of birth"), "birth_date", _iso_date, unmasked_only=True),
    Column("address", _("Address"), Defused("address"), unmasked_only=True, free_text=True),
)

DISCREPANCY_COLUMNS: tuple[Column, ...] = (
    Column("msisdn", _("MSISDN"), "msisdn", display="phone"),
    Column("kind", _("Kind"), "kind", display="discrepancy_kind"),
    Column("status", _("Status"), "status", display="discrepancy_status"),
    Column("registration_number", _("Registration number"), "registration__registration_number"),
    Column("outlet_roid", _("ROID"), "outlet__roid"),
    Column("outlet_name", _("Outlet"), Defused("outlet__name"), free_text=True),
    Column("dealer_code", _("Dealer"), "outlet__dealer__code"),
    Column("province", _("Province"), "outlet__province", display="province"),
    Column("detected_at", _("Detected at (WIB)"), LocalDateTimeText("detected_at")),
    Column("resolved_at", _("Resolved at (WIB)"), LocalDateTimeText("resolved_at")),
)


def columns_for(
    columns: tuple[Column, ...], *, masked: bool, scope: ReportScope | None = None
) -> list[Column]:
    return [
        c
        for c in columns
        if not (masked and c.unmasked_only)
        and not (c.kind == "declared_purpose" and not (scope and scope.sees_purpose))
    ]


@dataclass
class RowSource:
    """What a writer needs: header keys, labels, how many rows, and the rows themselves.

    ``copy_queries`` is the same rows as SQL statements over consecutive time windows, in
    order, when the database can write them itself (PostgreSQL ``COPY``; nothing left for
    Python to do to a value). Windows, not one statement: the job records its progress (on the
    same connection) between them.
    """

    keys: list[str]
    labels: list[str]
    total: int
    rows: Iterator[tuple]
    withheld: int = 0
    free_text: tuple[int, ...] = ()
    copy_queries: list[tuple[str, tuple]] | None = None
    # (index, display) of the columns people read otherwise than stored (``Column.display``).
    displays: tuple[tuple[int, str], ...] = ()


def people_value(display: str, value):
    """A stored value as people read it: a code's label, a phone number grouped."""
    if value is None or value == "" or not display:
        return value
    if display == "phone":
        return display_msisdn(str(value))
    if display.endswith("+"):  # several codes joined by "+"
        return vocabulary.labels(display[:-1], str(value).split("+"))
    return vocabulary.label(display, value)


def people_rows(source: RowSource) -> Iterator[tuple]:
    """``source``'s rows with coded values in words (for the XLSX and the PDF; the CSV keeps
    the codes). Labels in the active language: the export job's."""
    if not source.displays:
        yield from source.rows
        return
    for row in source.rows:
        row = list(row)
        for index, display in source.displays:
            row[index] = people_value(display, row[index])
        yield tuple(row)


def _values(qs: QuerySet, columns: list[Column], masked: bool, defused: bool = True):
    annotations, names, transforms = {}, [], []
    for index, column in enumerate(columns):
        source, transform = column.source_for(masked, defused)
        if isinstance(source, str):
            names.append(source)
        else:
            alias = f"_c{index}"
            annotations[alias] = source
            names.append(alias)
        if transform is not None:
            transforms.append((index, transform))
    return qs.annotate(**annotations).values_list(*names), transforms


def queryset_rows(
    qs: QuerySet, columns: list[Column], *, masked: bool, defused: bool = True
) -> Iterator[tuple]:
    """The rows of ``qs`` as tuples of text and numbers, streamed from a server-side cursor in
    chunks (constant memory)."""
    values, transforms = _values(qs, columns, masked, defused)
    rows = values.iterator(chunk_size=ITERATOR_CHUNK)
    if not transforms:
        yield from rows
        return
    for row in rows:
        row = list(row)
        for index, transform in transforms:
            row[index] = transform(row[index])
        yield tuple(row)


COPY_WINDOWS = 50  # statements per export at most: progress about every 2 %


def copy_queries(
    qs: QuerySet, columns: list[Column], *, masked: bool, field: str, period
) -> list[tuple[str, tuple]] | None:
    """``qs``'s rows as (SQL, params) per window of days of ``period`` on ``field`` (the
    field it is ordered by), or None when Python must touch a value, the database is not
    PostgreSQL, or ``REPORTS_CSV_COPY`` is off."""
    if connection.vendor != "postgresql" or not settings.REPORTS_CSV_COPY:
        return None
    if _values(qs, columns, masked)[1]:
        return None
    start, end = period_bounds(period)
    step = timedelta(days=max(1, -(-period.days // COPY_WINDOWS)))
    queries = []
    while start < end:
        window_end = min(start + step, end)
        window = qs.filter(**{f"{field}__gte": start, f"{field}__lt": window_end})
        queries.append(_values(window, columns, masked)[0].query.sql_with_params())
        start = window_end
    return queries


def registration_source(
    flt: ReportFilter, scope: ReportScope, *, masked: bool, defused: bool = True
) -> RowSource:
    columns = columns_for(REGISTRATION_COLUMNS, masked=masked, scope=scope)
    qs = registration_rows(flt, scope)
    withheld = 0
    if not scope.sees_restricted:
        withheld = (
            registration_rows(flt, scope, include_restricted=True).filter(restricted()).count()
        )
    return _source(columns, qs, masked, withheld, flt=flt, field="registered_at", defused=defused)


def discrepancy_source(
    flt: ReportFilter, scope: ReportScope, *, masked: bool, defused: bool = True
) -> RowSource:
    columns = list(DISCREPANCY_COLUMNS)
    qs = discrepancy_rows(flt, scope)
    withheld = 0
    if not scope.sees_restricted:
        withheld = (
            discrepancy_rows(flt, scope, include_restricted=True)
            .filter(restricted("registration_id"))
            .count()
        )
    return _source(columns, qs, masked, withheld, flt=flt, field="detected_at", defused=defused)


def _source(
    columns: list[Column],
    qs: QuerySet,
    masked: bool,
    withheld: int,
    *,
    flt,
    field: str,
    defused: bool,
) -> RowSource:
    return RowSource(
        keys=[c.key for c in columns],
        labels=[str(c.label) for c in columns],
        total=qs.count(),
        rows=queryset_rows(qs, columns, masked=masked, defused=defused),
        withheld=withheld,
        free_text=tuple(i for i, c in enumerate(columns) if c.free_text),
        displays=tuple((i, c.display) for i, c in enumerate(columns) if c.display),
        # COPY writes CSV only, which is always defused.
        copy_queries=(
            copy_queries(qs, columns, masked=masked, field=field, period=flt.period)
            if defused
            else None
        ),
    )
