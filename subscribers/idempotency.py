"""``Idempotency-Key``: a retried POST gets the first answer back and creates nothing.

The first request carrying a key claims ``(user, key)`` by inserting its ``IdempotencyRecord``
inside the transaction that does the work, and fills in the answer before committing. So the
record and the registration commit together or not at all: a crash cannot leave one without the
other. A concurrent duplicate blocks on the unique ``(user, key)`` index until the first commits,
gets an ``IntegrityError`` and replays the stored answer — a client that timed out and retried
while its first request is still running gets that request's answer. The wait is bounded
(``IN_FLIGHT_WAIT_SECONDS``, PostgreSQL's ``lock_timeout``): past it the retry is told the
first is still in progress (``IdempotencyKeyInProgress``, a 409 with ``Retry-After``).

"The first answer" is whatever the work produced, a 201 or a 400: a retry of a refused body is
refused the same way without running the rules again. The same key with another body is a
client bug, answered 422. Keys live ``IDEMPOTENCY_KEY_TTL_HOURS``; after that the key is free.
"""

import hashlib
import json
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEY_MAX_LENGTH = IdempotencyRecord._meta.get_field("key").max_length
# Visible ASCII only: a key is a token (a UUID, typically), not text.
KEY_PATTERN = rf"^[!-~]{{1,{KEY_MAX_LENGTH}}}$"
_KEY_RE = re.compile(KEY_PATTERN)


class IdempotencyKeyInvalid(ValueError):
    """The header is empty, too long, or holds other than visible ASCII characters."""


class IdempotencyKeyReused(Exception):
    """The key was first used with a different request body."""


class IdempotencyKeyInProgress(Exception):
    """A request with this key is still running after ``IN_FLIGHT_WAIT_SECONDS``."""


# How long a duplicate waits for the first request with its key to finish (a registration
# takes well under a second; a client's timeout is typically 10-30 s).
IN_FLIGHT_WAIT_SECONDS = 10
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_timeout expired


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    replayed: bool = False


def clean_key(raw: str) -> str:
    key = raw.strip()
    if not _KEY_RE.match(key):
        raise IdempotencyKeyInvalid(key)
    return key


def _canonical(value):
    """A JSON-able, order-independent picture of a parsed body (JSON or multipart)."""
    if hasattr(value, "lists"):  # QueryDict: multipart fields, files included
        return {str(k): [_canonical(v) for v in values] for k, values in value.lists()}
    if isinstance(value, UploadedFile):
        sha = hashlib.sha256()
        for chunk in value.chunks():
            sha.update(chunk)
        value.seek(0)
        return {"file_sha256": sha.hexdigest(), "size": value.size}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def request_fingerprint(*, method: str, path: str, data) -> str:
    """What makes two requests "the same": method, path and the parsed body.

    Keyed (HMAC) because the body holds personal data: the stored fingerprint must not let
    anyone confirm a guessed ID number.
    """
    canonical = json.dumps(
        {"method": method.upper(), "path": path, "data": _canonical(data)},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return salted_hmac("subscribers.idempotency", canonical, algorithm="sha256").hexdigest()


def _cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def _stored(*, user, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(user=user, key=key, created_at__gte=_cutoff()).first()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Answer:
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(record.key)
    return Answer(record.response_status, record.response_body, replayed=True)


def run_idempotent(
    *,
    user,
    key: str,
    fingerprint: str,
    produce: Callable[..., tuple[int, Any]],
    prepare: Callable[[], Any] | None = None,
) -> Answer:
    """Run ``produce`` once per ``(user, key)`` and return its ``(status, body)``; replay it on
    a retry with the same fingerprint, raise ``IdempotencyKeyReused`` for another one.

    ``prepare`` (optional) runs first, outside any transaction, unless the key already has its
    answer: the slow, read-only part of the work (the registration's checks, the population
    registry asked over the network) holds no connection in a transaction and no lock while it
    waits. ``produce`` then gets what it returned (``produce(prepared)``; without ``prepare``,
    ``produce()``). A concurrent duplicate may prepare too — reads only — and then replays the
    first's answer. ``produce`` runs inside this function's transaction and must turn the
    refusals it wants remembered (validation errors) into answers; any exception it lets out
    rolls everything back, the claim included, so the next try runs afresh.
    """
    record = _stored(user=user, key=key)
    if record is not None:
        return _replay(record, fingerprint)
    if prepare is not None:
        prepared = prepare()
        work = lambda: produce(prepared)  # noqa: E731
    else:
        work = produce
    try:
        with transaction.atomic():
            with _bounded_lock_wait():
                # An expired answer frees its key.
                IdempotencyRecord.objects.filter(
                    user=user, key=key, created_at__lt=_cutoff()
                ).delete()
                # The claim: until this transaction ends, a duplicate waits on the unique
                # index. The placeholder answer is never visible: replaced before the commit.
                record = IdempotencyRecord.objects.create(
                    user=user,
                    key=key,
                    request_fingerprint=fingerprint,
                    response_status=0,
                    response_body={},
                )
            status, body = work()
            # Stored and returned in the same JSON form, so the replay is identical.
            body = json.loads(json.dumps(body))
            record.response_status, record.response_body = status, body
            record.save(update_fields=["response_status", "response_body"])
    except IntegrityError:
        # Lost the race for the claim: the winner has committed its answer by now.
        record = _stored(user=user, key=key)
        if record is None:
            raise
        return _replay(record, fingerprint)
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) == _LOCK_NOT_AVAILABLE:
            raise IdempotencyKeyInProgress(key) from exc
        raise
    return Answer(status, body)


@contextmanager
def _bounded_lock_wait():
    """Within the current transaction, wait at most ``IN_FLIGHT_WAIT_SECONDS`` for a lock
    (PostgreSQL), then back to the server's default for the rest of the transaction."""
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)",
                [f"{int(IN_FLIGHT_WAIT_SECONDS * 1000)}ms"],
            )
    yield
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")


def idempotency_records_purge(*, now: datetime | None = None) -> int:
    """Delete answers older than the TTL (a periodic job's work); returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=_cutoff(now)).delete()
    return deleted
