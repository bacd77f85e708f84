"""The rows behind the figures: one definition per export kind, used by the exports (CSV,
XLSX, PDF), the "rows behind this figure" pages and the row counts the exports report.

Columns are declared once per kind (``Column``: header key, label, where the value comes
from, masked and unmasked). A masked export — every export unless a user holding
``reports.export_unmasked`` asks otherwise, and always the regulator's — carries no name,
birth place, birth date or address, and ID numbers only in their stored masked form: nothing
is decrypted. Photos are never exported. Registrations whose processing a data subject
restricted are left out for everyone but the operator admin, and counted as *withheld*.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import CharField, Count, Exists, Func, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from compliance import pii
from compliance.models import Discrepancy
from outlets.regions import PROVINCES
from privacy.selectors import exclude_restricted
from subscribers.models import Registration

from .models import FlaggedIdRegistration
from .periods import Period
from .scope import ReportFilter, ReportScope
from .summary import ACCOUNTABLE_KINDS

ITERATOR_CHUNK = 5000
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


def period_bounds(period: Period) -> tuple[datetime, datetime]:
    """The instants the local days of ``period`` start and end (end excluded)."""
    tz = timezone.get_default_timezone()
    start = datetime.combine(period.date_from, time.min, tzinfo=tz)
    end = datetime.combine(period.date_to + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def local_text(value) -> str | None:
    """An instant as local wall-clock text (``TIME_ZONE``), as the exports write it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime(LOCAL_FORMAT)
    return str(value)


class LocalDateTimeText(Func):
    """A timestamp as local wall-clock text, ``YYYY-MM-DD HH:MM:SS``.

    PostgreSQL formats it (millions of rows never become Python datetimes); other databases
    return the stored value and ``local_text`` formats it in Python.
    """

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"to_char(({sql}) AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI:SS')",
            (*params, settings.TIME_ZONE),
        )

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])

    def get_db_converters(self, connection):
        if connection.vendor == "postgresql":
            return []
        return [self._to_local]

    @staticmethod
    def _to_local(value, expression, connection):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if timezone.is_naive(value):
            value = value.replace(tzinfo=UTC)
        return local_text(value)


def defuse(value):
    """A cell starting like a spreadsheet formula gets a leading ``'`` (names are typed by
    people; a file opened in a spreadsheet must not run them)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


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
    transform: Callable | None = None
    unmasked_source: object = None  # what an unmasked export reads instead
    unmasked_transform: Callable | None = None
    unmasked_only: bool = False
    free_text: bool = False  # typed by people: defused, stripped of control characters

    def source_for(self, masked: bool):
        if not masked and self.unmasked_source is not None:
            return self.unmasked_source, self.unmasked_transform
        return self.source, self.transform


REGISTRATION_COLUMNS: tuple[Column, ...] = (
    Column("registration_number", _("Registration number"), "registration_number"),
    Column(
        "registered_at",
        _("Registered at (WIB)"),
        LocalDateTimeText("registered_at"),
        transform=local_text,
    ),
    Column("msisdn", _("MSISDN"), "msisdn"),
    Column("iccid", _("ICCID"), "iccid"),
    Column("outlet_roid", _("ROID"), "outlet__roid"),
    Column("outlet_name", _("Outlet"), "outlet__name", free_text=True),
    Column("dealer_code", _("Dealer"), "outlet__dealer__code"),
    Column("province", _("Province"), "outlet__province"),
    Column("id_type", _("ID type"), "id_type"),
    Column(
        "id_number",
        _("ID number"),
        "id_number_masked",
        unmasked_source="id_number_encrypted",
        unmasked_transform=_decrypt,
    ),
    Column("sex", _("Sex"), "sex"),
    Column("nationality", _("Nationality"), "nationality"),
    Column("status", _("Status"), "status"),
    Column("source", _("Channel"), "source"),
    Column("policy", _("Rules applied"), "policy__code"),
    # Unmasked exports only (permission reports.export_unmasked, audited).
    Column("kk_number", _("KK number"), "kk_number_encrypted", _decrypt, unmasked_only=True),
    Column("full_name", _("Full name"), "full_name", unmasked_only=True, free_text=True),
    Column("birth_place", _("Place of birth"), "birth_place", unmasked_only=True, free_text=True),
    Column("birth_date", _("Date of birth"), "birth_date", _iso_date, unmasked_only=True),
    Column("address", _("Address"), "address", unmasked_only=True, free_text=True),
)

DISCREPANCY_COLUMNS: tuple[Column, ...] = (
    Column("msisdn", _("MSISDN"), "msisdn"),
    Column("kind", _("Kind"), "kind"),
    Column("status", _("Status"), "status"),
    Column("registration_number", _("Registration number"), "registration__registration_number"),
    Column("outlet_roid", _("ROID"), "outlet__roid"),
    Column("outlet_name", _("Outlet"), "outlet__name", free_text=True),
    Column("dealer_code", _("Dealer"), "outlet__dealer__code"),
    Column("province", _("Province"), "outlet__province"),
    Column("detected_at", _("Detected at (WIB)"), LocalDateTimeText("detected_at"), local_text),
    Column("resolved_at", _("Resolved at (WIB)"), LocalDateTimeText("resolved_at"), local_text),
)


def columns_for(columns: tuple[Column, ...], *, masked: bool) -> list[Column]:
    return [c for c in columns if not (masked and c.unmasked_only)]


# --- the querysets ------------------------------------------------------------------------------


def registration_rows(
    flt: ReportFilter,
    scope: ReportScope,
    *,
    id_type: str = "",
    status: str = "",
    flag: str = "",
    include_restricted: bool | None = None,
) -> QuerySet[Registration]:
    """Registrations of the period (local day of ``registered_at``) in scope — the rows behind
    the registration figures. ``flag``: ``discrepancy`` (an open accountable discrepancy),
    ``over_cap`` (its ID is over the cap), ``repeated`` (its ID was registered at least
    REPORTS_REPEATED_ID_MIN times at that outlet in the period)."""
    start, end = period_bounds(flt.period)
    qs = Registration.objects.filter(registered_at__gte=start, registered_at__lt=end).filter(
        flt.outlet_q(scope)
    )
    if not (scope.sees_restricted if include_restricted is None else include_restricted):
        qs = exclude_restricted(qs)
    if id_type:
        qs = qs.filter(id_type=id_type)
    if status:
        qs = qs.filter(status=status)
    if flag == "discrepancy":
        qs = qs.filter(
            Exists(
                Discrepancy.objects.filter(
                    registration_id=OuterRef("pk"),
                    status=Discrepancy.Status.OPEN,
                    kind__in=ACCOUNTABLE_KINDS,
                )
            )
        )
    elif flag == "over_cap":
        qs = qs.filter(
            pk__in=FlaggedIdRegistration.objects.filter(over_cap=True).values("registration_id")
        )
    elif flag == "repeated":
        qs = qs.filter(pk__in=_repeated_registration_ids(flt, scope))
    return qs.order_by("registered_at", "pk")


def _repeated_registration_ids(flt: ReportFilter, scope: ReportScope) -> list[int]:
    period = Q(day__gte=flt.period.date_from, day__lte=flt.period.date_to)
    flagged = FlaggedIdRegistration.objects.filter(
        period, flt.outlet_q(scope), repeated_at_outlet=True
    )
    pairs = list(
        flagged.order_by()
        .values_list("outlet_id", "id_digest")
        .annotate(n=Count("pk"))
        .filter(n__gte=settings.REPORTS_REPEATED_ID_MIN)
        .values_list("outlet_id", "id_digest")
    )
    if not pairs:
        return []
    condition = Q()
    for outlet_id, digest in pairs:
        condition |= Q(outlet_id=outlet_id, id_digest=digest)
    return list(flagged.filter(condition).values_list("registration_id", flat=True))


def discrepancy_rows(
    flt: ReportFilter,
    scope: ReportScope,
    *,
    kind: str = "",
    status: str = "",
    include_restricted: bool | None = None,
) -> QuerySet[Discrepancy]:
    """Discrepancies detected in the period (local day of ``detected_at``) whose accountable
    outlet is in scope — the rows behind the discrepancy figures."""
    start, end = period_bounds(flt.period)
    qs = Discrepancy.objects.filter(
        detected_at__gte=start, detected_at__lt=end, outlet__isnull=False
    ).filter(flt.outlet_q(scope))
    if not (scope.sees_restricted if include_restricted is None else include_restricted):
        qs = qs.exclude(registration__privacy__restricted_at__isnull=False)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("detected_at", "pk")


# --- rows, ready for a writer --------------------------------------------------------------------


@dataclass
class RowSource:
    """What a writer needs: header keys, labels, how many rows, and the rows themselves."""

    keys: list[str]
    labels: list[str]
    total: int
    rows: Iterator[tuple]
    withheld: int = 0
    free_text: tuple[int, ...] = ()


def queryset_rows(qs: QuerySet, columns: list[Column], *, masked: bool) -> Iterator[tuple]:
    """The rows of ``qs`` as tuples of text and numbers, streamed from a server-side cursor in
    chunks (constant memory), formatted and defused."""
    annotations, names, transforms = {}, [], []
    for index, column in enumerate(columns):
        source, transform = column.source_for(masked)
        if isinstance(source, str):
            names.append(source)
        else:
            alias = f"_c{index}"
            annotations[alias] = source
            names.append(alias)
        if transform is not None:
            transforms.append((index, transform))
        if column.free_text:
            transforms.append((index, defuse))
    values = qs.annotate(**annotations).values_list(*names).iterator(chunk_size=ITERATOR_CHUNK)
    if not transforms:
        yield from values
        return
    for row in values:
        row = list(row)
        for index, transform in transforms:
            row[index] = transform(row[index])
        yield tuple(row)


def registration_source(flt: ReportFilter, scope: ReportScope, *, masked: bool) -> RowSource:
    columns = columns_for(REGISTRATION_COLUMNS, masked=masked)
    qs = registration_rows(flt, scope)
    withheld = 0
    if not scope.sees_restricted:
        withheld = (
            registration_rows(flt, scope, include_restricted=True)
            .filter(privacy__restricted_at__isnull=False)
            .count()
        )
    return _source(columns, qs, masked, withheld)


def discrepancy_source(flt: ReportFilter, scope: ReportScope, *, masked: bool) -> RowSource:
    columns = list(DISCREPANCY_COLUMNS)
    qs = discrepancy_rows(flt, scope)
    withheld = 0
    if not scope.sees_restricted:
        withheld = (
            discrepancy_rows(flt, scope, include_restricted=True)
            .filter(registration__privacy__restricted_at__isnull=False)
            .count()
        )
    return _source(columns, qs, masked, withheld)


def _source(columns: list[Column], qs: QuerySet, masked: bool, withheld: int) -> RowSource:
    return RowSource(
        keys=[c.key for c in columns],
        labels=[str(c.label) for c in columns],
        total=qs.count(),
        rows=queryset_rows(qs, columns, masked=masked),
        withheld=withheld,
        free_text=tuple(i for i, c in enumerate(columns) if c.free_text),
    )


def province_name(code: str) -> str:
    return PROVINCES.get(code, code)
