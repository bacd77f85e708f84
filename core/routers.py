"""An optional read replica for the reports app (docs/scaling.md).

With ``REPLICA_DATABASE_URL`` set, settings add a ``replica`` database alias (a streaming
replica of ``default``) and install ``ReplicaRouter``. Then the *read-only* work of regulator
reporting runs on the replica:

- the figures (``reports.figures``), read inside ``replica_reads()`` once the replica has
  replayed the latest summary refresh;
- the rows of the exports and of the "rows behind a figure" pages: the querysets of
  ``reports.rows`` carry the ``REPLICA_HINT`` and the router sends their reads — counts, the
  server-side cursor of a CSV/XLSX, the queryset evaluated by a page — to the replica, at
  whatever moment they are evaluated.

Everything else stays on ``default``, and so does every write: ``db_for_write`` always answers
``default`` (an object read from the replica is saved on the primary), compare-and-set claims
(``ExportJob``, chunk claims) are UPDATEs, ``select_for_update`` is a write query, and a read
inside ``transaction.atomic()`` on ``default`` stays there (it must see its own transaction's
writes). Without ``REPLICA_DATABASE_URL`` the router is not installed and nothing changes.

Raw SQL cannot be routed: code that opens a cursor itself for these reads (the CSV export's
``COPY``) asks ``read_alias()`` which connection to use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"
# A queryset hint: ``Model.objects.db_manager(hints={REPLICA_HINT: True})``. Hints travel with
# every clone of the queryset and reach ``db_for_read`` when it is evaluated.
REPLICA_HINT = "read_replica"

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


def replica_configured() -> bool:
    """A ``replica`` alias exists and this router is installed (settings do both together when
    ``REPLICA_DATABASE_URL`` is set; a test may add the alias alone)."""
    from django.conf import settings

    router = f"{__name__}.{ReplicaRouter.__name__}"
    return REPLICA in connections.settings and router in settings.DATABASE_ROUTERS


def read_alias() -> str:
    """Where a replica-eligible read goes now: the replica when there is one and no
    transaction is open on ``default`` (read-your-writes), else ``default``."""
    if replica_configured() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return REPLICA
    return DEFAULT_DB_ALIAS


@contextmanager
def replica_reads() -> Iterator[None]:
    """Every ORM read evaluated inside goes to the replica (``read_alias()``'s rule). For code
    that reads and computes at once, like the figures; a lazy queryset evaluated after the
    block is not covered (give it ``REPLICA_HINT`` instead)."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


class ReplicaRouter:
    """Reads marked for the replica go there; writes always go to ``default``."""

    def db_for_read(self, model, **hints):
        if hints.get(REPLICA_HINT) or _replica_reads.get():
            return read_alias()
        return None  # Django's default: the instance's own database, else default

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the primary's rows: an object read there may be related to one
        # read on the primary.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # A physical replica follows the primary's schema; never migrate it directly.
        return False if db == REPLICA else None
