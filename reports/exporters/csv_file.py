"""CSV: UTF-8, a header row of column keys, rows streamed in constant memory."""

import csv
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from ..rows import RowSource

BATCH = 10_000


def write_csv(source: RowSource, path: Path, *, progress: Callable[[int], None]) -> int:
    """Write ``source`` to ``path``; ``progress(rows written)`` after each batch. Returns the
    number of rows (header excluded)."""
    done = 0
    with open(path, "w", encoding="utf-8", newline="", buffering=1 << 20) as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(source.keys)
        rows = iter(source.rows)
        while batch := list(islice(rows, BATCH)):
            writer.writerows(batch)
            done += len(batch)
            progress(done)
    return done
