"""Bulk import of registrations made elsewhere (``manage.py import_registrations``, ``seed_demo``).

Every row passes the rules the form applies (``rules.clean_registration_fields``) under the
policy in force at the row's ``registered_at``, plus what needs the database: the outlet (by
ROID), the starter pack, the staff-own-ID rule and the cap of numbers per ID, the rows of the
file itself counted too. Two differences with the form, because an import is a legacy record of
a sale made elsewhere, not a sale happening now:

- photos are not required (a CSV cannot carry them);
- consent and the in-person document check are taken as given: ``consent_at`` is the row's
  ``registered_at`` and ``document_checked`` is True.

Packs: a pack the portal does not know yet is created as held by the row's outlet (and its
dealer) and registered; a known pack must be in that outlet's stock. The outlet's current status
does not matter (a legacy sale may predate a suspension); an unknown ROID rejects the row.

The staff-own-ID rule and the cap, where the row's policy has them, are judged as the form
judges them at the time of the import: against the outlet's current active staff, and against
the numbers the ID holds now plus those of the file's earlier rows (over the cap, a policy that
lets outlets exceed it flags the registration for review; otherwise the row is rejected).

Idempotent: a pack that is already registered with the same MSISDN, ID number and
``registered_at`` is the same sale imported before, and the row is skipped silently; so a file
imported twice, or re-run after a crash, adds nothing twice.

Bulk: the rules needing no database (and the encryption) run on chunks of rows, in worker
processes when asked; then each chunk does one query per kind of lookup (outlets, packs with
their registrations, staff IDs, numbers held per ID) and writes packs, registrations and one
``registration.import`` audit row per registration in one transaction, with ``COPY`` on
PostgreSQL and ``bulk_create`` elsewhere. A crash loses at most the chunk in flight.
"""

from __future__ import annotations

import base64
import bisect
import csv
import io
import itertools
import json
import multiprocessing
import secrets
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance import context, pii
from compliance.models import AuditEvent
from outlets.models import ROID_VALIDATOR, Outlet, OutletStaff, StarterPack

from . import idrules
from .models import Registration, RegistrationPolicy
from .rules import FieldErrors, clean_registration_fields
from .services import _NUMBER_ALPHABET

COLUMNS = (
    "msisdn", "iccid", "id_type", "id_number", "kk_number", "full_name", "birth_place",
    "birth_date", "sex", "address", "nationality", "outlet_roid", "registered_at",
)  # fmt: skip
ROW = "row"  # the "field" of a fault that belongs to the whole row
AUDIT_ACTION = "registration.import"
DEFAULT_CHUNK_SIZE = 5000
_WRITE_ATTEMPTS = 3  # a chunk is retried after a unique clash (a racing clerk, a number reused)
_ID_MASKED_MAX = Registration._meta.get_field("id_number_masked").max_length
_REGISTERED, _FLAGGED = Registration.Status.REGISTERED.value, Registration.Status.FLAGGED.value
_IMPORT, _NO_PHOTOS = Registration.Source.IMPORT.value, Registration.PhotoStatus.NONE.value
# RFC 4648 base32 symbols -> the registration numbers' alphabet (Crockford's, as the form's).
_TO_NUMBER_ALPHABET = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _NUMBER_ALPHABET.encode()
)


class ImportFileError(ValueError):
    """The file cannot be imported at all (unreadable, header missing or wrong)."""


class RowError(NamedTuple):
    line: int
    field: str
    message: str


class SourceRow(NamedTuple):
    """One record of the input: its first line in the file, its values, or why it is unreadable."""

    line: int
    data: dict[str, str]
    problem: RowError | None = None


@dataclass
class ImportResult:
    rows: int = 0
    imported: int = 0
    skipped: int = 0  # already imported before (same pack, ID number and time)
    flagged: int = 0  # imported, but flagged for review (doubtful document, over the cap)
    packs_created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({error.line for error in self.errors})


# --- reading the file ----------------------------------------------------------------------------


def read_registration_csv(stream) -> Iterator[SourceRow]:
    """Records of a UTF-8 CSV with a header row naming ``COLUMNS`` (any order, a BOM allowed).

    ``stream`` is a text stream opened with ``newline=""`` and ``errors="surrogateescape"``, so a
    record that is not valid UTF-8 is reported as such and the rest of the file still reads.
    A header that lacks a column or names an unknown one raises ``ImportFileError`` before any
    row is read. Blank lines are skipped; ``line`` is the record's first physical line.
    """
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(_("The file is empty.")) from None
    except csv.Error as exc:
        raise ImportFileError(
            _("The header row cannot be read: %(error)s") % {"error": exc}
        ) from exc
    names = [name.strip().lower().lstrip("\ufeff") for name in header]
    problems = []
    for label, found in (
        (_("missing columns"), [name for name in COLUMNS if name not in names]),
        (_("unknown columns"), [name for name in names if name not in COLUMNS]),
        (_("repeated columns"), sorted({name for name in names if names.count(name) > 1})),
    ):
        if found:
            problems.append(f"{label}: {', '.join(found)}")
    if problems:
        raise ImportFileError(
            _("Wrong header row (%(problems)s).") % {"problems": "; ".join(problems)}
        )

    last_line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(): this record only
            yield SourceRow(last_line + 1, {}, RowError(last_line + 1, ROW, str(exc)))
            last_line = reader.line_num
            continue
        line, last_line = last_line + 1, reader.line_num
        if not values:
            continue
        if len(values) != len(names):
            message = _("This row has %(found)d fields; the header has %(expected)d.") % {
                "found": len(values),
                "expected": len(names),
            }
            yield SourceRow(line, {}, RowError(line, ROW, message))
            continue
        data = dict(zip(names, values, strict=True))
        if not _is_utf8("".join(values)):
            bad = next(name for name, value in data.items() if not _is_utf8(value))
            yield SourceRow(line, {}, RowError(line, bad, _("This value is not valid UTF-8 text.")))
            continue
        yield SourceRow(line, data)


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")  # bytes that were not UTF-8 were read as lone surrogates
    except UnicodeEncodeError:
        return False
    return True


def parse_registered_at(value: str, *, tz) -> datetime | None:
    """``YYYY-MM-DD`` (midnight) or an ISO 8601 date and time; naive means ``tz``. Else None."""
    text = (value or "").strip()
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        return None
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=tz)
        except ValueError:
            return None
    if text[10] not in "T " or len(text) < 16:  # at least hours and minutes
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


# --- the rules needing no database -----------------------------------------------------------


class _Candidate(NamedTuple):
    """A row that passed the rules needing no database, encrypted and ready to write.

    Plain strings, cheap to send back from a worker process; dates are ISO text, times in the
    portal's time zone (so one instant always reads the same)."""

    line: int
    roid: str
    registered_at: str
    local_day: str  # YYMMDD of registered_at, for the registration number
    policy: int  # index in the _PolicyBook
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


class _Rejected(NamedTuple):
    """A row that broke the rules needing no database: its faults, and its ROID when well
    formed (an unknown outlet is reported too, once the chunk looks outlets up)."""

    line: int
    errors: list[RowError]
    roid: str


class _PolicyBook:
    """All policies, loaded once: the one in force on a day is the latest started by then
    (the rule of ``selectors.policy_in_force``, without a query per row)."""

    def __init__(self) -> None:
        self.policies = list(RegistrationPolicy.objects.order_by("effective_from"))
        self.starts = [policy.effective_from for policy in self.policies]

    def on(self, day: date) -> int | None:
        index = bisect.bisect_right(self.starts, day)
        return index - 1 if index else None


def _prepare_chunk(rows: list[SourceRow], book: _PolicyBook, now: datetime) -> list:
    """Each row as a ``_Candidate``, or as a ``_Rejected``."""
    tz = timezone.get_default_timezone()
    return [_prepare_row(row, book, tz, now) for row in rows]


def _prepare_row(row: SourceRow, book: _PolicyBook, tz, now: datetime):
    if row.problem is not None:
        return _Rejected(row.line, [row.problem], "")
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
    elif len(roid) > 20 or not ROID_VALIDATOR.regex.fullmatch(roid):
        errors.add("outlet_roid", str(ROID_VALIDATOR.message))
        roid = ""

    clean = None
    if policy_index is not None:
        policy = book.policies[policy_index]
        clean = clean_registration_fields(data, policy=policy, today=day, errors=errors)
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
        return _Rejected(row.line, faults, roid)
    return _Candidate(
        line=row.line,
        roid=roid,
        registered_at=local.isoformat(),
        local_day=f"{local:%y%m%d}",
        policy=policy_index,
        msisdn=clean.msisdn,
        iccid=clean.iccid,
        id_type=clean.id_type,
        id_encrypted=pii.encrypt(clean.id_number),
        id_digest=pii.digest(clean.id_number),
        id_masked=idrules.mask_id_number(clean.id_number),
        kk_encrypted=pii.encrypt(clean.kk_number),
        kk_digest=pii.digest(clean.kk_number),
        kk_masked=idrules.mask_id_number(clean.kk_number) if clean.kk_number else "",
        full_name=clean.full_name,
        birth_place=clean.birth_place,
        birth_date=clean.birth_date.isoformat(),
        sex=clean.sex,
        address=clean.address,
        nationality=clean.nationality,
        review_reasons=clean.review_reasons,
    )


_worker_book: _PolicyBook | None = None


def _init_worker(book: _PolicyBook) -> None:
    global _worker_book  # one book per worker process, set once
    _worker_book = book


def _prepare_in_worker(rows: list[SourceRow], now: datetime) -> list:
    return _prepare_chunk(rows, _worker_book, now)


def _prepared_chunks(chunks: Iterator[list[SourceRow]], book: _PolicyBook, workers: int):
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

    # fork: the workers inherit the configured Django; they never touch the database.
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(book,),
    )
    pending: deque = deque()
    try:
        for chunk in itertools.chain((first, second), chunks):
            pending.append((chunk, pool.submit(_prepare_in_worker, chunk, timezone.now())))
            if len(pending) > workers:  # enough queued to keep every worker busy
                chunk, future = pending.popleft()
                yield chunk, future.result()
        while pending:
            chunk, future = pending.popleft()
            yield chunk, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _chunked(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- the import ----------------------------------------------------------------------------------


def registrations_import(
    *,
    rows: Iterable[SourceRow],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int = 0,
    source_label: str = "",
    actor_label: str = "import_registrations",
    on_error: Callable[[RowError], None] | None = None,
    on_chunk: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import ``rows`` as registrations, chunk by chunk, each chunk in its own transaction.

    Rejected rows are collected in the result (and passed to ``on_error`` as they are found);
    the other rows of the chunk are imported. ``workers`` > 1 checks and encrypts the coming
    chunks in that many processes while the current one is written. ``source_label`` (e.g. the
    file name) goes into each audit row with the row's line, so a registration can be traced
    to where it came from; ``actor_label`` names who imported (the audit rows of one run share
    a request id).
    """
    result = ImportResult()
    book = _PolicyBook()
    writer = _ChunkWriter(
        book=book,
        actor_label=actor_label,
        source_label=source_label,
        run_id=context.request_id.get() or f"import-{uuid.uuid4().hex[:16]}",
    )
    for chunk, prepared in _prepared_chunks(_chunked(rows, chunk_size), book, workers):
        candidates, rejected, errors = [], [], []
        for item in prepared:
            if isinstance(item, _Candidate):
                candidates.append(item)
            else:
                rejected.append(item)
                errors.extend(item.errors)
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with transaction.atomic():
                    outcome = writer.judge_and_write(candidates, rejected)
                break
            except IntegrityError:
                # Someone registered or created one of these packs meanwhile, or a registration
                # number clashed: judge the chunk again against what is committed now.
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        errors.extend(outcome.errors)
        errors.sort(key=lambda error: error.line)  # stable: a row's faults keep their order
        result.rows += len(chunk)
        result.imported += outcome.imported
        result.skipped += outcome.skipped
        result.flagged += outcome.flagged
        result.packs_created += outcome.packs_created
        result.errors.extend(errors)
        if on_error:
            for error in errors:
                on_error(error)
        if on_chunk:
            on_chunk(result)
    return result


@dataclass
class _ChunkOutcome:
    imported: int = 0
    skipped: int = 0
    flagged: int = 0
    packs_created: int = 0
    errors: list[RowError] = field(default_factory=list)


class _Accepted(NamedTuple):
    row: _Candidate
    pack: dict  # the looked-up pack, or the new one (its "id" is known once it is written)
    outlet_id: int
    iccid: str
    review_reasons: list[dict]


@dataclass
class _ChunkWriter:
    book: _PolicyBook
    actor_label: str
    source_label: str
    run_id: str
    outlets: dict[str, tuple[int, int]] = field(default_factory=dict)  # ROID -> (id, dealer id)

    def judge_and_write(self, candidates: list[_Candidate], rejected: list[_Rejected]):
        """Judge the chunk against the database (one query per kind of lookup) and write it.
        Rows already rejected get their unknown outlet reported as well."""
        outcome = _ChunkOutcome()
        self._look_up_outlets({c.roid for c in candidates} | {r.roid for r in rejected if r.roid})
        for row in rejected:
            if row.roid and row.roid not in self.outlets:
                outcome.errors.append(
                    RowError(row.line, "outlet_roid", _("No outlet has this ROID."))
                )
        if not candidates:
            return outcome
        lookups = _Lookups.fetch(candidates, self.outlets)
        accepted, new_packs, claimed_ids = [], [], []
        in_file: dict[str, _Candidate] = {}  # MSISDN -> the row of this chunk that took it
        in_file_iccids: set[str] = set()
        for c in candidates:
            verdict = self._judge(c, lookups, in_file, in_file_iccids)
            if isinstance(verdict, RowError):
                outcome.errors.append(verdict)
            elif verdict is None:
                outcome.skipped += 1
            else:
                accepted.append(verdict)
                lookups.held[c.id_digest] += 1
                in_file[c.msisdn] = c
                if c.iccid:
                    in_file_iccids.add(c.iccid)
                if "id" in verdict.pack:
                    claimed_ids.append(verdict.pack["id"])
                else:
                    new_packs.append(verdict.pack)
        if accepted:
            _write(accepted, new_packs, claimed_ids, book=self.book, audit=self)
        outcome.imported = len(accepted)
        outcome.flagged = sum(1 for entry in accepted if entry.review_reasons)
        outcome.packs_created = len(new_packs)
        return outcome

    def _look_up_outlets(self, roids: set[str]) -> None:
        wanted = roids - self.outlets.keys()
        if wanted:
            for roid, outlet_id, dealer_id in Outlet.objects.filter(roid__in=wanted).values_list(
                "roid", "id", "dealer_id"
            ):
                self.outlets[roid] = (outlet_id, dealer_id)

    def _judge(self, c: _Candidate, lookups, in_file, in_file_iccids):
        """An ``_Accepted``, a ``RowError``, or None for a sale imported before."""
        if c.roid not in self.outlets:
            return RowError(c.line, "outlet_roid", _("No outlet has this ROID."))
        outlet_id, dealer_id = self.outlets[c.roid]
        earlier = in_file.get(c.msisdn)
        if earlier is not None:
            if earlier.id_digest == c.id_digest and earlier.registered_at == c.registered_at:
                return None  # the same row twice in one file
            return RowError(
                c.line,
                "msisdn",
                _("This starter pack is already registered by line %(line)d of this file.")
                % {"line": earlier.line},
            )
        pack = lookups.by_msisdn.get(c.msisdn)
        if pack is not None and pack["registration__registered_at"] is not None:
            if pack["registration__id_number_digest"] == c.id_digest and pack[
                "registration__registered_at"
            ] == datetime.fromisoformat(c.registered_at):
                return None  # imported before
            return RowError(c.line, "msisdn", _("This starter pack is already registered."))
        fault = _pack_fault(c, pack, outlet_id, lookups.by_iccid, in_file_iccids)
        if fault is not None:
            return fault

        policy = self.book.policies[c.policy]
        review_reasons = c.review_reasons  # copied before any change: a chunk may be retried
        staff_ids = lookups.staff_ids.get(outlet_id)
        staff_kks = lookups.staff_kks.get(outlet_id)
        if policy.staff_own_id_forbidden and (staff_ids or staff_kks):
            digests = {c.id_digest, c.kk_digest} - {""}
            if staff_ids and digests & staff_ids:
                return RowError(
                    c.line,
                    "id_number",
                    _("Outlet staff may not register buyers with their own ID."),
                )
            if c.kk_digest and staff_kks and digests & staff_kks:
                return RowError(
                    c.line,
                    "kk_number",
                    _("Outlet staff may not register buyers with their own KK."),
                )
        held = lookups.held[c.id_digest]
        if policy.max_numbers_per_id and held >= policy.max_numbers_per_id:
            if not policy.outlet_may_exceed_cap:
                return RowError(
                    c.line,
                    "id_number",
                    _("This ID already holds %(held)d numbers, the most the rules allow.")
                    % {"held": held},
                )
            review_reasons = [
                *review_reasons,
                {
                    "code": "over_cap",
                    "message": f"ID already holds {held} numbers (cap {policy.max_numbers_per_id})",
                },
            ]
        if pack is None:
            new_pack = {
                "msisdn": c.msisdn,
                "iccid": c.iccid or None,
                "dealer_id": dealer_id,
                "outlet_id": outlet_id,
            }
            return _Accepted(c, new_pack, outlet_id, c.iccid, review_reasons)
        return _Accepted(c, pack, outlet_id, c.iccid or pack["iccid"] or "", review_reasons)


@dataclass
class _Lookups:
    by_msisdn: dict[str, dict]
    by_iccid: dict[str, dict]
    staff_ids: dict[int, set[str]]
    staff_kks: dict[int, set[str]]
    held: Counter  # ID digest -> numbers it holds now (as ``services.active_id_count``)

    @classmethod
    def fetch(cls, candidates: list[_Candidate], outlets: dict) -> _Lookups:
        """Everything the chunk's rows are judged on, one query each (``outlets``: looked up)."""
        msisdns = {c.msisdn for c in candidates}
        iccids = {c.iccid for c in candidates if c.iccid}
        packs = StarterPack.objects.filter(Q(msisdn__in=msisdns) | Q(iccid__in=iccids))
        if connection.features.has_select_for_update_of:
            # Hold the packs until commit: no clerk registers one between our check and write.
            packs = packs.select_for_update(of=("self",))
        by_msisdn, by_iccid = {}, {}
        for pack in packs.values(
            "id", "msisdn", "iccid", "outlet_id", "status",
            "registration__id_number_digest", "registration__registered_at",
        ):  # fmt: skip
            by_msisdn[pack["msisdn"]] = pack
            if pack["iccid"]:
                by_iccid[pack["iccid"]] = pack

        staff_ids: dict[int, set[str]] = {}
        staff_kks: dict[int, set[str]] = {}
        outlet_ids = {outlets[c.roid][0] for c in candidates if c.roid in outlets}
        for outlet_id, id_digest, kk_digest in OutletStaff.objects.filter(
            outlet_id__in=outlet_ids, is_active=True
        ).values_list("outlet_id", "id_number_digest", "kk_number_digest"):
            if id_digest:
                staff_ids.setdefault(outlet_id, set()).add(id_digest)
            if kk_digest:
                staff_kks.setdefault(outlet_id, set()).add(kk_digest)

        held = Counter(
            dict(
                Registration.objects.filter(id_number_digest__in={c.id_digest for c in candidates})
                .exclude(status=Registration.Status.BLOCKED)
                .order_by()
                .values("id_number_digest")
                .annotate(n=Count("id"))
                .values_list("id_number_digest", "n")
            )
        )
        return cls(by_msisdn, by_iccid, staff_ids, staff_kks, held)


def _pack_fault(c: _Candidate, pack, outlet_id, by_iccid, in_file_iccids) -> RowError | None:
    """Why the row's pack cannot be registered at its outlet, or None."""
    if pack is None:
        if c.iccid and (c.iccid in by_iccid or c.iccid in in_file_iccids):
            return RowError(c.line, "iccid", _("This ICCID belongs to another starter pack."))
        return None
    if pack["outlet_id"] != outlet_id:
        return RowError(c.line, "msisdn", _("This starter pack is in the stock of another outlet."))
    if pack["status"] != StarterPack.Status.IN_STOCK:
        return RowError(
            c.line,
            "msisdn",
            _("This starter pack is %(status)s.")
            % {"status": StarterPack.Status(pack["status"]).label.lower()},
        )
    if c.iccid and pack["iccid"] and c.iccid != pack["iccid"]:
        return RowError(
            c.line,
            "iccid",
            _("This ICCID does not belong to the starter pack %(msisdn)s.") % {"msisdn": c.msisdn},
        )
    return None


# --- writing -----------------------------------------------------------------------------------

REGISTRATION_COLUMNS = (
    "id", "registration_number", "outlet_id", "clerk_id", "starter_pack_id", "msisdn", "iccid",
    "policy_id", "id_type", "id_number_encrypted", "id_number_digest", "id_number_masked",
    "kk_number_encrypted", "kk_number_digest", "kk_number_masked", "full_name", "birth_place",
    "birth_date", "sex", "address", "nationality", "id_photo", "id_photo_thumb", "face_photo",
    "face_photo_thumb", "photo_status", "consent_at", "document_checked", "status",
    "review_reasons", "source", "registered_at", "created_at", "updated_at",
)  # fmt: skip
PACK_COLUMNS = (
    "id", "msisdn", "iccid", "dealer_id", "outlet_id", "status", "created_at", "updated_at",
)  # fmt: skip
AUDIT_COLUMNS = (
    "actor_id", "actor_label", "action", "target_type", "target_id", "target_repr", "request_id",
    "before", "after", "created_at",
)  # fmt: skip


def _write(accepted: list[_Accepted], new_packs, claimed_ids, *, book, audit) -> None:
    """Claim the known packs, then write new packs, registrations and audit rows: ``COPY``
    on PostgreSQL (ids drawn from the sequences first), ``bulk_create`` elsewhere."""
    copy = connection.vendor == "postgresql"
    now = timezone.now()
    # Dates and times go in as ISO text: COPY reads it, and so do the model fields.
    now_text = now.isoformat()
    if claimed_ids:
        claimed = StarterPack.objects.filter(
            pk__in=claimed_ids, status=StarterPack.Status.IN_STOCK
        ).update(status=StarterPack.Status.REGISTERED, updated_at=now)
        if claimed != len(claimed_ids):
            raise IntegrityError("a starter pack was registered meanwhile")

    registered = StarterPack.Status.REGISTERED.value
    pack_ids = _new_ids(StarterPack, len(new_packs), copy=copy)
    pack_rows = []
    for pack, pack_id in zip(new_packs, pack_ids, strict=True):
        pack_rows.append(
            (pack_id, pack["msisdn"], pack["iccid"], pack["dealer_id"], pack["outlet_id"],
             registered, now_text, now_text)
        )  # fmt: skip
    created = _insert(StarterPack, PACK_COLUMNS, pack_rows, copy=copy)
    for pack, pack_id in zip(new_packs, created, strict=True):
        pack["id"] = pack_id

    registration_ids = _new_ids(Registration, len(accepted), copy=copy)
    numbers = _registration_numbers([entry.row.local_day for entry in accepted])
    statuses = [_FLAGGED if entry.review_reasons else _REGISTERED for entry in accepted]
    registration_rows = []
    for entry, registration_id, number, status in zip(
        accepted, registration_ids, numbers, statuses, strict=True
    ):
        c = entry.row
        registration_rows.append(
            (
                registration_id, number, entry.outlet_id, None, entry.pack["id"], c.msisdn,
                entry.iccid, book.policies[c.policy].pk, c.id_type, c.id_encrypted, c.id_digest,
                c.id_masked, c.kk_encrypted, c.kk_digest, c.kk_masked, c.full_name,
                c.birth_place, c.birth_date, c.sex, c.address, c.nationality, "", "", "", "",
                _NO_PHOTOS,
                c.registered_at,  # consent_at: a legacy record, consent was taken at the sale
                True, status, entry.review_reasons, _IMPORT,
                c.registered_at, now_text, now_text,
            )
        )  # fmt: skip
    registration_ids = _insert(Registration, REGISTRATION_COLUMNS, registration_rows, copy=copy)

    target_type = Registration._meta.label_lower
    audit_rows = []
    for entry, registration_id, number, status in zip(
        accepted, registration_ids, numbers, statuses, strict=True
    ):
        c = entry.row
        after = {
            "msisdn": c.msisdn,
            "outlet": c.roid,
            "id_type": c.id_type,
            "id_number": c.id_masked,
            "policy": book.policies[c.policy].code,
            "status": status,
            "source": _IMPORT,
            "registered_at": c.registered_at,
            "file": audit.source_label,
            "line": c.line,
        }
        audit_rows.append(
            (None, audit.actor_label, AUDIT_ACTION, target_type, str(registration_id),
             f"{number} {c.msisdn}", audit.run_id, None, after, now_text)
        )  # fmt: skip
    _insert(AuditEvent, AUDIT_COLUMNS, audit_rows, copy=copy)


def _registration_numbers(local_days: list[str]) -> list[str]:
    """``SP`` + local date of the sale + 8 random symbols, as ``services`` makes them; one
    call to the OS's random source per chunk instead of eight per number."""
    symbols = (
        base64.b32encode(secrets.token_bytes(5 * len(local_days)))
        .translate(_TO_NUMBER_ALPHABET)
        .decode()
    )
    return [f"SP{day}{symbols[i * 8 : i * 8 + 8]}" for i, day in enumerate(local_days)]


def _new_ids(model, count: int, *, copy: bool) -> list:
    """Primary keys for ``count`` new rows: reserved from the table's sequence for COPY (which
    returns none), None (assigned on insert) otherwise."""
    if not copy:
        return [None] * count
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _insert(model, columns, rows: list[tuple], *, copy: bool) -> list:
    """Insert ``rows`` (tuples in ``columns`` order) and return the "id" column, filled in."""
    if not rows:
        return []
    if not copy:
        created = model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows]
        )
        return [obj.pk for obj in created]
    buffer = io.StringIO()
    buffer.writelines([_copy_line(row) for row in rows])
    buffer.seek(0)
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(model._meta.db_table), ", ".join(quote(name) for name in columns)
    )
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.cursor.copy_expert(sql, buffer)
    return [row[0] for row in rows] if columns[0] == "id" else []


def _copy_line(row: tuple) -> str:
    """One line of COPY's text format. Most values are plain strings with nothing to escape,
    and go through as they are; a line with a stray tab or newline is escaped in full."""
    line = "\t".join([v if type(v) is str and "\\" not in v else _copy_text(v) for v in row])
    if line.count("\t") != len(row) - 1 or "\n" in line or "\r" in line:
        line = "\t".join([_copy_text(v) for v in row])
    return line + "\n"


def _copy_text(value) -> str:
    """``value`` in COPY's text format: \\N for NULL, backslash escapes, ISO dates, JSON."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is datetime or kind is date:
        return value.isoformat()
    if kind is list and not value:
        return "[]"
    text = json.dumps(value, ensure_ascii=False) if kind is dict or kind is list else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        text = text.replace("\r", "\\r")
    return text
