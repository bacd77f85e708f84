"""Database expressions of the exports: local time as text, and free text made safe.

The free-text rule itself is ``core.csvsafe`` (``defuse``, re-exported here for the exporters).
PostgreSQL computes both in SQL, so millions of rows never become Python objects and a CSV
can be written by ``COPY``; other databases return the stored value and a converter does the
same in Python.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.db.models import CharField, Func
from django.utils import timezone

from core.csvsafe import defuse, defuse_sql

__all__ = ["Defused", "LocalDateTimeText", "defuse", "local_text"]

LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


def local_text(value) -> str | None:
    """An instant as local wall-clock text (``TIME_ZONE``, Asia/Jakarta), as every export
    writes every time (docs/reports.md, "Times"): ``YYYY-MM-DD HH:MM:SS``, the fraction of a
    second cut off, no offset."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime(LOCAL_FORMAT)
    return str(value)


class LocalDateTimeText(Func):
    """A timestamp as local wall-clock text, ``YYYY-MM-DD HH:MM:SS``."""

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
        return [] if connection.vendor == "postgresql" else [self._to_local]

    @staticmethod
    def _to_local(value, expression, connection):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if timezone.is_naive(value):
            value = value.replace(tzinfo=UTC)
        return local_text(value)


class Defused(Func):
    """``core.csvsafe.defuse`` as an expression (``defuse_sql`` on PostgreSQL). Elsewhere the
    rule is applied to the value read (a converter), which only happens when ``Defused`` is the
    column's outermost expression: wrap what it defuses, never the other way round."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return defuse_sql(sql), (*params, *params, *params)

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])

    def get_db_converters(self, connection):
        return [] if connection.vendor == "postgresql" else [self._defuse]

    @staticmethod
    def _defuse(value, expression, connection):
        return defuse(value)
