"""SQL building blocks for tables kept per local day, shared by every set-based refresh.

The summary tables (``reports.summary``) and the risk signal rows (``risk.refresh``) are both
recomputed per local calendar day (``TIME_ZONE``) of a timestamp and per batch of ID digests;
these helpers write the SQL for that once. Every value goes through query parameters; only
column names (ours) and placeholders are formatted into the SQL.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from datetime import time as dtime

from django.conf import settings
from django.db import connection
from django.db.models.functions import TruncDate

from .periods import day_ranges

PARAM_BATCH = 500


def local_tz():
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_day_sql(column: str) -> tuple[str, tuple]:
    """SQL for the local calendar day of a timestamp column, on this database."""
    sql, params = connection.ops.datetime_cast_date_sql(column, (), settings.TIME_ZONE)
    return sql, tuple(params)


def day_start(day: date):
    """The first instant of a local day, as the database takes it."""
    return connection.ops.adapt_datetimefield_value(
        datetime.combine(day, dtime.min, tzinfo=local_tz())
    )


def day_ranges_sql(column: str, days: list[date] | None) -> tuple[str, list]:
    """``column`` within the local days (runs of days, so the timestamp index is used);
    every day: None."""
    if days is None:
        return "1 = 1", []
    parts, params = [], []
    for first, last in day_ranges(days):
        parts.append(f"({column} >= %s AND {column} < %s)")
        params += [day_start(first), day_start(last + timedelta(days=1))]
    return "(" + " OR ".join(parts) + ")", params


def placeholders(values: list) -> str:
    """``%s, %s, …``, one a value, for an ``IN (…)`` list."""
    return ", ".join(["%s"] * len(values))


def batches(values, size: int = PARAM_BATCH):
    """``values`` sorted, in lists of at most ``size`` (one statement's parameters)."""
    values = sorted(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def local_days(queryset, field: str) -> set[date]:
    """The local days of ``field`` among ``queryset``'s rows."""
    return set(
        queryset.annotate(_day=TruncDate(field, tzinfo=local_tz()))
        .order_by()
        .values_list("_day", flat=True)
        .distinct()
    )
