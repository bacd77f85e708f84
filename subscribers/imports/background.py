"""The import's writer thread: judged chunks written on a database connection of its own, each in
its own transaction, in the order they are handed over, while the main thread judges the next
chunk (PostgreSQL's work on the written chunk — COPY, indexes, foreign-key checks at commit —
runs beside the Python work on the next one)."""

from __future__ import annotations

import queue
import threading

from django.db import connection, transaction

from .judging import ChunkWriter, Judged

_STOP, _RESUME = object(), object()
# A chunk handed over after one that failed, not written: the main thread judges it again.
NOT_WRITTEN = object()


class BackgroundWriter:
    """Writes what ``submit`` hands it, in order; ``results`` gives back each chunk handed over
    with None (committed), the exception that rolled it back, or ``NOT_WRITTEN``. After a
    failure the following chunks are not written until ``resume``: they were judged on the
    failed one being written."""

    def __init__(self, writer: ChunkWriter) -> None:
        self.writer = writer
        # One chunk waiting while one is written: the main thread waits when it is a chunk
        # ahead, and memory stays flat.
        self.jobs: queue.Queue = queue.Queue(maxsize=1)
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
        self.thread.start()

    def submit(self, judged: Judged) -> None:
        self.jobs.put(judged)

    def resume(self) -> None:
        self.jobs.put(_RESUME)

    def stop(self) -> None:
        """Write what was handed over, then end the thread and its connection."""
        self.jobs.put(_STOP)
        self.thread.join()

    def _run(self) -> None:
        failed = False
        try:
            while True:
                judged = self.jobs.get()
                if judged is _STOP:
                    return
                if judged is _RESUME:
                    failed = False
                    continue
                if failed:
                    self.results.put((judged, NOT_WRITTEN))
                    continue
                try:
                    if judged.accepted:
                        with transaction.atomic():
                            self.writer.write(judged)
                except BaseException as exc:  # handed to the main thread, which decides
                    failed = True
                    self.results.put((judged, exc))
                else:
                    self.results.put((judged, None))
        finally:
            connection.close()  # this thread's own
