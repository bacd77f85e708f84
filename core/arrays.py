"""A list of values as ONE array parameter: ``column = ANY(%s)``.

``Model.objects.filter(pk__in=ids)`` binds one parameter per value and has Django prepare each
of them (``get_prep_value``, ``get_db_prep_value``): for the ten thousand ids of a batch that is
most of the query's cost in Python, and the statement PostgreSQL parses is as long. ``AnyOf``
passes the list as a single array instead (the driver adapts a Python list to an array):

    Discrepancy.objects.filter(AnyOf("pk", ids))

The values are taken as they are (ints for keys, normalised strings for MSISDNs): no field
conversion is applied to them. An empty list matches nothing, as ``__in=[]`` does.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Lookup


class AnyOf(Lookup):
    """``lhs = ANY(%s)`` with the values as one array parameter."""

    lookup_name = "any_of"
    prepare_rhs = False

    def __init__(self, lhs, values: Iterable) -> None:
        if isinstance(lhs, str):
            lhs = F(lhs)
        super().__init__(lhs, list(values))

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs_sql} = ANY(%s)", [*lhs_params, self.rhs]
        if not self.rhs:
            return "1 = 0", list(lhs_params)
        marks = ", ".join(["%s"] * len(self.rhs))
        return f"{lhs_sql} IN ({marks})", [*lhs_params, *self.rhs]
