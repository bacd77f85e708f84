"""Serialising the callers that share a key, until the current transaction ends.

Counting then writing (a cap of numbers per NIK, a limit of attempts per person) races when two
requests count before either has written. On PostgreSQL each key is a transaction-level
advisory lock (``hashtextextended`` of a namespaced key), taken in one order so that two callers
sharing two keys cannot deadlock. SQLite writes one transaction at a time: there the caller's
transaction must already be (or first become) the writer — ``hold_keys`` says whether it took
the locks.
"""

from django.db import connection

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def hold_keys(*keys: str) -> bool:
    """Lock ``keys`` (namespaced ``satupintu.<key>``) until the transaction ends; False where
    the database has no such locks (SQLite), so the caller orders itself by writing first."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        for key in sorted(set(keys)):
            cursor.execute(_LOCK, [f"satupintu.{key}"])
    return True
