"""CSV: UTF-8, a header row of column keys, one record per line (LF), constant memory.

On PostgreSQL a masked export is the database's own ``COPY (SELECT …) TO STDOUT`` of the
export's query (the masking, local times and defusing are in the SQL); otherwise the rows come
from a server-side cursor in chunks through Python's csv module. Both write the same columns.
"""

import csv
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from django.db import connections

from core.routers import read_alias

from ..columns import RowSource

BATCH = 10_000


class _CountingFile:
    """Counts the records COPY writes (no value holds a line break: free text is defused).
    Progress is recorded between statements: the connection is busy during a COPY."""

    def __init__(self, fh):
        self.fh, self.rows = fh, 0

    def write(self, data) -> int:
        self.rows += data.count(b"\n")
        return self.fh.write(data)


def write_csv(source: RowSource, path: Path, *, progress: Callable[[int], None]) -> int:
    """Write ``source`` to ``path``; ``progress(rows written)`` as it goes. Returns the number
    of rows (header excluded)."""
    if source.copy_queries is not None:
        return _copy(source, path, progress)
    done = 0
    with open(path, "w", encoding="utf-8", newline="", buffering=1 << 20) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(source.keys)
        rows = iter(source.rows)
        while batch := list(islice(rows, BATCH)):
            writer.writerows(batch)
            done += len(batch)
            progress(done)
    return done


def _copy(source: RowSource, path: Path, progress: Callable[[int], None]) -> int:
    with open(path, "wb", buffering=1 << 20) as fh:
        fh.write((",".join(source.keys) + "\n").encode())
        target = _CountingFile(fh)
        for sql, params in source.copy_queries:
            with connections[read_alias()].cursor() as cursor:
                statement = cursor.cursor.mogrify(sql, params).decode()
                cursor.cursor.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)", target)
            progress(target.rows)
    return target.rows
