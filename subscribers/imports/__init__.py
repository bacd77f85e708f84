"""Bulk import of registrations made elsewhere (``manage.py import_registrations``, ``seed_demo``).

Every row passes the rules the form applies (``rules.clean_registration_fields``) under the
policy in force at the row's ``registered_at``, plus what needs the database: the outlet (by
ROID), the starter pack, the staff-own-ID rule and the cap of numbers per ID, the rows of the
file itself counted too. Two differences with the form, because an import is a legacy record of
a sale made elsewhere, not a sale happening now:

- photos are not required (a CSV cannot carry them), so no face is verified and a "KK or
  face" rule set does not ask for the KK;
- consent is taken as given (``consent_at`` is the row's ``registered_at``); the in-person
  document check is the optional ``document_checked`` column — absent or empty is recorded as
  not known, never as a yes (under a rule set requiring the original documents, a row saying
  they were not checked is flagged for review);
- under a rule set that validates against the population registry a citizen's row is checked
  against it like the form (NIK known, name, birth date and sex agreeing, and the KK paired
  with the NIK where the rule set asks for the KK — a family card reissued since the sale is
  corrected in the file). The registry away, the rows are imported awaiting
  verification (the sweep of ``subscribers.tasks`` asks again).

Packs: a pack the portal does not know yet is created as held by the row's outlet (and its
dealer) and registered; a known pack must be in that outlet's stock. The outlet's current status
does not matter (a legacy sale may predate a suspension); an unknown ROID rejects the row.

The end-user-only rule and the cap, where the row's policy has them, are judged as the form
judges them at the time of the import: against the dealer's people (staff present and past,
admins, outlet owners), and against the personal numbers the ID holds now plus those of the
file's earlier rows (over the cap, the row is rejected unless its outlet may register beyond it
on the row's day: the operator's own outlet, or one it authorised in writing, as the rule set
says; above the rule set's declared-purpose limit the row is flagged, a file carrying no
purpose). Optional columns ``category`` (personal, corporate, m2m) and ``company_name``: only
personal numbers count against the cap.

Idempotent: a pack that is already registered with the same MSISDN, ID number and
``registered_at`` is the same sale imported before, and the row is skipped silently; so a file
imported twice, or re-run after a crash, adds nothing twice. A row repeating an earlier row
of the same chunk exactly is the same sale too: imported once, and counted and said as
"repeated in this file (line N)" rather than "already imported" (a repeat in a later chunk is
the sale that chunk found imported: ``skipped``).

Bulk: the rules needing no database (and the encryption) run on chunks of rows, in worker
processes when asked; then each chunk does one query per kind of lookup (outlets, packs with
their registrations, staff IDs, numbers held per ID) and writes packs, registrations and one
``registration.import`` audit row per registration in one transaction, with ``COPY`` on
PostgreSQL and ``bulk_create`` elsewhere. On PostgreSQL, outside a caller's transaction, a
writer thread writes each judged chunk on a connection of its own while the next chunk is
judged (``background``): the next chunk is judged as if the chunks not yet committed were (their
packs taken, their ICCIDs, the numbers their IDs hold), so the verdicts are the same as one
chunk after the other. A crash loses at most the chunks in flight, each whole: the chunks
handed to the writer are committed, the one being judged is not; a write that fails rolls its
chunk back and the chunks judged after it are not written.

The package, in the order a row goes through it: ``reading`` (the CSV, record by record),
``prepare`` (the rules needing no database, worker processes; the chunk's ID and KK numbers
encrypted and digested together by ``bulk``, the same tokens and digests as ``core.pii``),
``judging`` (the chunk's lookups — the population registry's among them, one question a chunk
— and each row's verdict against them), ``writing`` (packs, registrations and audit rows),
``background`` (the writer thread). This module runs the chunks, one transaction each.
"""

from __future__ import annotations

import queue
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from core.connections import another_connection_sees_ours
from core.requestid import request_id as current_request_id

from .background import NOT_WRITTEN, BackgroundWriter
from .judging import ChunkWriter, Judged, Unwritten
from .prepare import Candidate, PolicyBook, chunked, prepared_chunks
from .reading import (
    ALL_COLUMNS,
    COLUMNS,
    OPTIONAL_COLUMNS,
    ROW,
    ImportFileError,
    RowError,
    SourceRow,
    parse_registered_at,
    read_registration_csv,
)
from .writing import AUDIT_ACTION, AUDIT_COLUMNS, PACK_COLUMNS, REGISTRATION_COLUMNS

__all__ = [
    "ALL_COLUMNS",
    "AUDIT_ACTION",
    "AUDIT_COLUMNS",
    "COLUMNS",
    "DEFAULT_CHUNK_SIZE",
    "OPTIONAL_COLUMNS",
    "PACK_COLUMNS",
    "REGISTRATION_COLUMNS",
    "ROW",
    "ImportFileError",
    "ImportResult",
    "RowError",
    "SourceRow",
    "parse_registered_at",
    "read_registration_csv",
    "registrations_import",
]

DEFAULT_CHUNK_SIZE = 5000
_WRITE_ATTEMPTS = 3  # a chunk is retried after a unique clash (a racing clerk, a number reused)


@dataclass
class ImportResult:
    rows: int = 0
    imported: int = 0
    skipped: int = 0  # already imported before (same pack, ID number and time)
    # Rows repeating an earlier row of the file (the same sale, imported once): (line, the
    # earlier line). A repeat in a later chunk than its first is imported before: ``skipped``.
    repeats: list[tuple[int, int]] = field(default_factory=list)
    flagged: int = 0  # imported, but flagged for review (doubtful document, over the cap)
    awaiting: int = 0  # imported awaiting the population registry's verification
    packs_created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({error.line for error in self.errors})


def registrations_import(
    *,
    rows: Iterable[SourceRow],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int = 0,
    source_label: str = "",
    actor_label: str = "import_registrations",
    on_error: Callable[[RowError], None] | None = None,
    on_chunk: Callable[[ImportResult], None] | None = None,
    background: bool | None = None,
) -> ImportResult:
    """Import ``rows`` as registrations, chunk by chunk, each chunk in its own transaction.

    Rejected rows are collected in the result (and passed to ``on_error`` as they are found);
    the other rows of the chunk are imported. ``workers`` > 1 checks and encrypts the coming
    chunks in that many processes while the current one is written. ``source_label`` (e.g. the
    file name) goes into each audit row with the row's line, so a registration can be traced
    to where it came from; ``actor_label`` names who imported (the audit rows of one run share
    a request id). ``on_chunk`` is called after each chunk is committed, in the file's order.

    ``background``: write each judged chunk on a connection of its own (a writer thread) while
    the next is judged — by default on PostgreSQL outside a transaction (inside one, the
    writer's connection would not see what the caller's transaction holds). The result is the
    same: the next chunk is judged as if the chunks not yet committed were.
    """
    result = ImportResult()
    book = PolicyBook()
    writer = ChunkWriter(
        book=book,
        actor_label=actor_label,
        source_label=source_label,
        run_id=current_request_id.get() or f"import-{uuid.uuid4().hex[:16]}",
    )

    def committed(chunk: _Chunk, outcome) -> None:
        errors = chunk.errors + outcome.errors
        errors.sort(key=lambda error: error.line)  # stable: a row's faults keep their order
        result.rows += chunk.rows
        result.imported += outcome.imported
        result.skipped += outcome.skipped
        result.repeats.extend(outcome.repeats)
        result.flagged += outcome.flagged
        result.awaiting += outcome.awaiting
        result.packs_created += outcome.packs_created
        result.errors.extend(errors)
        if on_error:
            for error in errors:
                on_error(error)
        if on_chunk:
            on_chunk(result)

    if background is None:
        # ``IMPORT_WRITER_THREAD`` (on by default: the chunk's write overlaps the next chunk's
        # judging, bench/README.md); inside a caller's transaction the writer's connection
        # could not see what the transaction holds, so the chunks are written in turn.
        background = settings.IMPORT_WRITER_THREAD and another_connection_sees_ours()
    chunks = (
        _Chunk.of(rows, prepared)
        for rows, prepared in prepared_chunks(chunked(rows, chunk_size), book, workers)
    )
    try:
        if background:
            _judge_beside_writing(chunks, writer, committed)
        else:
            _judge_and_write(chunks, writer, committed)
    finally:
        chunks.close()  # the worker processes end now, not when the traceback is freed
    return result


@dataclass
class _Chunk:
    """A chunk's rows once the rules needing no database have run."""

    rows: int
    candidates: list[Candidate]
    rejected: list
    errors: list[RowError]  # the rejected rows' faults
    attempts: int = 0  # times it was handed to the writer

    @classmethod
    def of(cls, rows: list[SourceRow], prepared: list) -> _Chunk:
        candidates, rejected, errors = [], [], []
        for item in prepared:
            if isinstance(item, Candidate):
                candidates.append(item)
            else:
                rejected.append(item)
                errors.extend(item.errors)
        return cls(len(rows), candidates, rejected, errors)


def _judge_and_write(chunks: Iterator[_Chunk], writer: ChunkWriter, committed) -> None:
    """Each chunk judged and written in one transaction of this thread's connection."""
    for chunk in chunks:
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with transaction.atomic():
                    outcome = writer.judge_and_write(chunk.candidates, chunk.rejected)
                break
            except IntegrityError:
                # Someone registered or created one of these packs meanwhile, or a registration
                # number clashed: judge the chunk again against what is committed now.
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        committed(chunk, outcome)


def _judge_beside_writing(chunks: Iterator[_Chunk], writer: ChunkWriter, committed) -> None:
    """Judge each chunk on this thread while the writer thread writes the one before: the
    chunks handed over and not yet committed are ``Unwritten``, and the next chunk is judged
    on the database's answers plus them. Reported (``committed``) in order as each commits.

    A chunk whose write fails on a unique clash is judged again with the ones handed over after
    it (which the writer then leaves unwritten), up to ``_WRITE_ATTEMPTS`` times. Any other
    failure, here or in the writer, stops the import: the chunks handed over before it are
    written (and reported), nothing after it."""
    background = BackgroundWriter(writer)
    unwritten = Unwritten()
    pending: deque[tuple[_Chunk, Judged]] = deque()  # handed over, in order
    again: deque[_Chunk] = deque()  # to judge again (a clash), in order

    def settle(wait: bool) -> None:
        """Take the writer's answers (with ``wait``, at least one); after a failure, all of
        them, so that every chunk to judge again is known before any is."""
        failed, back = None, []
        while pending:
            try:
                judged, outcome = background.results.get(block=wait or failed is not None)
            except queue.Empty:
                break
            wait = False
            chunk, handed = pending.popleft()
            assert judged is handed  # the writer answers in order
            unwritten.remove(judged)
            if outcome is None:
                committed(chunk, judged.outcome)
                continue
            back.append(chunk)  # failed, or after a failure: judged again, before the rest
            if outcome is not NOT_WRITTEN:
                failed = outcome
        if failed is None:
            return
        # A clash (a racing clerk, a registration number drawn twice): judged again.
        if isinstance(failed, IntegrityError) and back[0].attempts < _WRITE_ATTEMPTS:
            again.extendleft(reversed(back))
            background.resume()
            return
        raise failed

    try:
        while True:
            settle(wait=False)
            if again:
                chunk = again.popleft()
            else:
                chunk = next(chunks, None)
                if chunk is None:
                    if not pending:
                        return
                    settle(wait=True)
                    continue
            with transaction.atomic(), connection.cursor() as cursor:
                # The lookups of a few thousand keys each are planned on tables this size as
                # parallel scans: extra processes competing with the writer for the cores.
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                judged = writer.judge(chunk.candidates, chunk.rejected, unwritten=unwritten)
            chunk.attempts += 1
            unwritten.add(judged)
            pending.append((chunk, judged))
            background.submit(judged)
    finally:
        # What was handed over is written; the rest of the file is not read.
        background.stop()
        while pending:
            judged, outcome = background.results.get()
            chunk, _handed = pending.popleft()
            if outcome is None:
                committed(chunk, judged.outcome)
