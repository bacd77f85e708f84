"""The rules needing no database, run on chunks of rows (in worker processes when asked):
each row becomes a ``Candidate`` (checked, normalised, encrypted) or a ``Rejected``."""

from __future__ import annotations

import bisect
import itertools
import multiprocessing
import operator
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from typing import NamedTuple

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import pii
from core.masking import mask_id_number
from outlets.models import ROID_VALIDATOR

from ..models import Registration, RegistrationPolicy
from ..rules import CleanRegistration, FieldErrors, clean_registration_fields
from .reading import ALL_COLUMNS, RowError, SourceRow, parse_registered_at

_ID_MASKED_MAX = Registration._meta.get_field("id_number_masked").max_length
# The validator's own pattern, compiled once here (the validator compiles it lazily, behind a
# proxy that costs a call per row).
_ROID = re.compile(ROID_VALIDATOR.regex.pattern, ROID_VALIDATOR.regex.flags)


class Candidate(NamedTuple):
    """A row that passed the rules needing no database, encrypted and ready to write.

    Plain strings, cheap to send back from a worker process; dates are ISO text, times in the
    portal's time zone (so one instant always reads the same)."""

    line: int
    roid: str
    registered_at: str  # ISO 8601, in the portal's time zone
    policy: int  # index in the PolicyBook
    msisdn: str
    iccid: str
    id_type: str
    id_encrypted: str
    id_digest: str
    id_masked: str
    kk_encrypted: str
    kk_digest: str
    kk_masked: str
    full_name: str
    birth_place: str
    birth_date: str
    sex: str
    address: str
    nationality: str
    review_reasons: list
    category: str = "personal"
    company_name: str = ""
    document_checked: bool | None = None  # None: not known
    # The NIK's digits against the birth date and sex given, where the registry is the arbiter
    # (field -> the NIK's value): judged with the registry's record (``judging``).
    nik_disagreements: dict | None = None
    # The NIK itself where the registry is asked (its question is by NIK): kept from the check
    # rather than decrypted again. Never written anywhere.
    nik: str = ""

    @property
    def asks_registry(self) -> bool:
        """A citizen's NIK, to be checked against the registry under a rule set that asks."""
        return self.nik_disagreements is not None


class Rejected(NamedTuple):
    """A row that broke the rules needing no database: its faults, and its ROID when well
    formed (an unknown outlet is reported too, once the chunk looks outlets up)."""

    line: int
    errors: list[RowError]
    roid: str


class PolicyBook:
    """All policies, loaded once: the one in force on a day is the latest started by then
    (the rule of ``selectors.policy_in_force``, without a query per row)."""

    def __init__(self) -> None:
        self.policies = list(RegistrationPolicy.objects.order_by("effective_from"))
        self.starts = [policy.effective_from for policy in self.policies]

    def on(self, day: date) -> int | None:
        index = bisect.bisect_right(self.starts, day)
        return index - 1 if index else None


def _prepare_chunk(rows: list[SourceRow], book: PolicyBook, now: datetime) -> list:
    """Each row as a ``Candidate``, or as a ``Rejected``: the rules row by row, then the ID
    and KK numbers of the rows that passed encrypted and digested together (``bulk``)."""
    tz = timezone.get_default_timezone()
    checked = [_check_row(row, book, tz, now) for row in rows]
    passed = [item for item in checked if type(item) is _Checked]
    if not passed:
        return checked
    numbers = [item.clean.id_number for item in passed] + [item.clean.kk_number for item in passed]
    sealed = iter(pii.encrypt_many(numbers))
    digests = iter(pii.digest_many(numbers))
    id_sealed = [(next(sealed), next(digests)) for _ in passed]
    kk_sealed = [(next(sealed), next(digests)) for _ in passed]
    prepared = iter(
        _candidate(item, id_encrypted, id_digest, kk_encrypted, kk_digest)
        for item, (id_encrypted, id_digest), (kk_encrypted, kk_digest) in zip(
            passed, id_sealed, kk_sealed, strict=True
        )
    )
    return [next(prepared) if type(item) is _Checked else item for item in checked]


class _Checked(NamedTuple):
    """A row that passed the rules, before its numbers are encrypted and digested."""

    line: int
    roid: str
    local: datetime
    policy_index: int
    clean: CleanRegistration
    document_checked: bool | None
    asks_registry: bool


def _check_row(row: SourceRow, book: PolicyBook, tz, now: datetime):
    if row.problem is not None:
        return Rejected(row.line, [row.problem], "")
    data = row.data
    errors = FieldErrors()
    registered_at = parse_registered_at(data.get("registered_at", ""), tz=tz)
    policy_index = day = local = None
    if registered_at is None:
        errors.add(
            "registered_at",
            _("Enter the registration time as YYYY-MM-DD or an ISO 8601 date and time."),
        )
    elif registered_at > now:
        errors.add("registered_at", _("The registration time cannot be in the future."))
    else:
        local = registered_at.astimezone(tz)
        day = local.date()
        policy_index = book.on(day)
        if policy_index is None:
            errors.add(
                "registered_at",
                _("No registration policy was in force on %(day)s.") % {"day": day.isoformat()},
            )
    roid = (data.get("outlet_roid") or "").strip().upper()
    if not roid:
        errors.add("outlet_roid", _("This field is required."))
    elif len(roid) > 20 or not _ROID.fullmatch(roid):
        errors.add("outlet_roid", str(ROID_VALIDATOR.message))
        roid = ""

    document_checked = _tri_state(data.get("document_checked"))
    if document_checked == "bad":
        errors.add("document_checked", _("Write true or false, or leave it empty (not known)."))

    clean = None
    policy = None
    if policy_index is not None:
        policy = book.policies[policy_index]
        clean = clean_registration_fields(
            data,
            policy=policy,
            today=day,
            errors=errors,
            face_given=None,  # a file carries no photos
            registry_arbiter=policy.registry_check,
        )
        if clean is not None and len(clean.id_number) > _ID_MASKED_MAX:
            # Longer numbers (student cards reach 30) do not fit the masked column, and the
            # form would fail at the database: refuse it here, at its field.
            errors.add("id_number", _("The ID number is too long."))
    if errors:
        faults = [
            RowError(row.line, name, message)
            for name, messages in errors.errors.items()
            for message in messages
        ]
        return Rejected(row.line, faults, roid)
    asks_registry = policy.registry_check and clean.is_citizen and clean.has_nik
    return _Checked(row.line, roid, local, policy_index, clean, document_checked, asks_registry)


def _candidate(item: _Checked, id_encrypted, id_digest, kk_encrypted, kk_digest) -> Candidate:
    clean = item.clean
    id_number, kk_number = clean.id_number, clean.kk_number
    return Candidate(
        item.line,
        item.roid,
        item.local.isoformat(),
        item.policy_index,
        clean.msisdn,
        clean.iccid,
        clean.id_type,
        id_encrypted,
        id_digest,
        mask_id_number(id_number),
        kk_encrypted,
        kk_digest,
        mask_id_number(kk_number) if kk_number else "",
        clean.full_name,
        clean.birth_place,
        clean.birth_date.isoformat(),
        clean.sex,
        clean.address,
        clean.nationality,
        clean.review_reasons,
        category=clean.category,
        company_name=clean.company_name,
        document_checked=item.document_checked,
        nik_disagreements=clean.nik_disagreements if item.asks_registry else None,
        nik=id_number if item.asks_registry else "",
    )


_YES = {"true", "1", "yes", "ya", "y", "t"}
_NO = {"false", "0", "no", "tidak", "n", "f"}


def _tri_state(value) -> bool | str | None:
    """True, False, None for empty or absent (not known), or "bad"."""
    if isinstance(value, bool):
        return value
    text = (value or "").strip().lower()
    if not text:
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    return "bad"


# --- worker processes --------------------------------------------------------------------------

_worker_book: PolicyBook | None = None


def _init_worker(book: PolicyBook) -> None:
    global _worker_book  # one book per worker process, set once
    _worker_book = book


def _prepare_in_worker(packed: list[tuple], now: datetime) -> list:
    rows = [
        SourceRow(line, dict(zip(ALL_COLUMNS, values, strict=True)) if values else {}, problem)
        for line, values, problem in packed
    ]
    return _prepare_chunk(rows, _worker_book, now)


def _packed(rows: list[SourceRow]) -> list[tuple]:
    """The chunk as plain tuples, the values in ``ALL_COLUMNS`` order: half the cost of pickling
    a dictionary per row on the way to a worker (the rules read only these columns)."""
    get = operator.attrgetter("line", "data", "problem")
    packed = []
    for line, data, problem in map(get, rows):
        packed.append((line, tuple(map(data.get, ALL_COLUMNS)) if data else (), problem))
    return packed


def prepared_chunks(chunks: Iterator[list[SourceRow]], book: PolicyBook, workers: int):
    """``(rows, prepared)`` per chunk, in order; with ``workers`` > 1 the next chunks are
    prepared in worker processes while the caller writes the current one."""
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if workers <= 1 or second is None:
        for chunk in itertools.chain((first,), () if second is None else (second,), chunks):
            yield chunk, _prepare_chunk(chunk, book, timezone.now())
        return

    # fork: the workers inherit the configured Django; they never touch the database. The two
    # first chunks are submitted from here, so the worker processes are forked from this thread.
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(book,),
    )
    # At most ``workers`` + 1 chunks submitted and not yet written: memory stays flat whatever
    # the file's size. The main thread frees a slot each time it is done with a chunk.
    slots = threading.Semaphore(workers + 1)
    ready: queue.SimpleQueue = queue.SimpleQueue()
    for chunk in (first, second):
        slots.acquire()
        ready.put((chunk, pool.submit(_prepare_in_worker, _packed(chunk), timezone.now())))
    stop = threading.Event()
    reader = threading.Thread(
        target=_submit_chunks,
        args=(chunks, pool, ready, slots, stop, translation.get_language()),
        name="import-reader",
        daemon=True,
    )
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _READ_ALL:
                return
            if isinstance(item, BaseException):
                raise item
            chunk, future = item
            yield chunk, future.result()
            slots.release()
    finally:
        stop.set()
        reader.join()
        pool.shutdown(wait=True, cancel_futures=True)


_READ_ALL = object()


def _submit_chunks(chunks, pool, ready, slots, stop: threading.Event, language) -> None:
    """The import's reader thread: reads the coming chunks from the file and hands them to the
    worker processes while the main thread writes (and waits for PostgreSQL, which releases
    the interpreter), so reading the file and packing the chunks leave the main thread's path.
    Faults found while reading are worded in the import's language."""
    if language:
        translation.activate(language)
    else:
        translation.deactivate_all()  # as the main thread: the messages as written
    try:
        while True:
            while not slots.acquire(timeout=0.05):
                if stop.is_set():
                    return
            if stop.is_set():
                return
            chunk = next(chunks, None)
            if chunk is None:
                break
            ready.put((chunk, pool.submit(_prepare_in_worker, _packed(chunk), timezone.now())))
        ready.put(_READ_ALL)
    except BaseException as exc:  # handed to the main thread, which raises it there
        ready.put(exc)


def chunked(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
