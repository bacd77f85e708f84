"""Whether work may be handed to another thread with a database connection of its own."""

from django.db import DEFAULT_DB_ALIAS, connections


def another_connection_sees_ours() -> bool:
    """True when a second connection of this process would see what this thread's connection
    holds, and could work beside it: on PostgreSQL, outside a transaction of the caller's.
    Inside one (a test, a caller that wants one transaction) the rows are not committed, and
    another connection would not see them; SQLite has one writer at a time, so a second
    connection would wait rather than help. Then the work stays in this thread."""
    connection = connections[DEFAULT_DB_ALIAS]
    return connection.vendor == "postgresql" and not connection.in_atomic_block
