"""Writing a judged chunk: packs, registrations and one audit row per registration, with
``COPY`` on PostgreSQL (ids drawn from the sequences first) and ``bulk_create`` elsewhere."""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from json.encoder import encode_basestring as _json_string  # what json.dumps uses for a str
from typing import NamedTuple

from django.db import IntegrityError, connection
from django.utils import timezone

from core.audit import AuditAction
from core.models import AuditEvent
from outlets.models import StarterPack

from ..models import Registration
from ..services import _NUMBER_ALPHABET
from .prepare import Candidate

AUDIT_ACTION = AuditAction.REGISTRATION_IMPORT.value
_REGISTERED, _FLAGGED = Registration.Status.REGISTERED.value, Registration.Status.FLAGGED.value
_AWAITING = Registration.Status.AWAITING.value
_IMPORT, _NO_PHOTOS = Registration.Source.IMPORT.value, Registration.PhotoStatus.NONE.value
_PACK_REGISTERED = StarterPack.Status.REGISTERED.value
# RFC 4648 base32 symbols -> the registration numbers' alphabet (Crockford's, as the form's).
_TO_NUMBER_ALPHABET = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _NUMBER_ALPHABET.encode()
)


class Accepted(NamedTuple):
    row: Candidate
    pack: dict  # the looked-up pack, or the new one (its "id" is known once it is written)
    outlet_id: int
    iccid: str
    review_reasons: list[dict]
    warnings: list[dict] = []  # a NamedTuple default: never mutated
    awaiting: bool = False  # the registry was away: imported awaiting verification
    checked: bool = False  # the registry answered for it

    @property
    def status(self) -> str:
        if self.awaiting:
            return _AWAITING
        return _FLAGGED if self.review_reasons else _REGISTERED


REGISTRATION_COLUMNS = (
    "id", "registration_number", "outlet_id", "clerk_id", "starter_pack_id", "msisdn", "iccid",
    "policy_id", "id_type", "id_number_encrypted", "id_number_digest", "id_number_masked",
    "kk_number_encrypted", "kk_number_digest", "kk_number_masked", "full_name", "birth_place",
    "birth_date", "sex", "address", "nationality", "id_photo", "id_photo_thumb", "face_photo",
    "face_photo_thumb", "photo_status", "consent_at", "document_checked", "status",
    "review_reasons", "source", "registered_at", "created_at", "updated_at", "category",
    "company_name", "warnings", "registry_checked_at", "guardian_id_number_encrypted",
    "guardian_id_number_digest", "guardian_id_number_masked", "declared_purpose",
    "statement_signed", "face_verdict", "face_score", "face_sha256", "refusal_reason",
    "life_ended_at",
)  # fmt: skip
# A file has no column for these: a minor's head of family, a declared purpose, a signed
# statement (not known), a face verdict, a refusal, the end of the number's life.
_NOT_IN_A_FILE = ("", "", "", "", None, "", None, "", "", None)
PACK_COLUMNS = (
    "id", "msisdn", "iccid", "dealer_id", "outlet_id", "status", "created_at", "updated_at",
    "life_ended_at",
)  # fmt: skip
AUDIT_COLUMNS = (
    "actor_id", "actor_label", "action", "target_type", "target_id", "target_repr", "request_id",
    "before", "after", "created_at",
)  # fmt: skip


@dataclass
class _Chunk:
    """What is written for a chunk's accepted rows (one entry each in the lists)."""

    accepted: list[Accepted]
    ids: list  # registration ids: drawn before COPY; None for bulk_create until it returns
    numbers: list[str]
    statuses: list[str]
    policies: list  # the PolicyBook's policies, by index
    now_text: str


def write_chunk(accepted: list[Accepted], new_packs, claimed, *, book, audit, ids=None) -> None:
    """Claim the known packs (``claimed``: as the rows were judged on them), then write new
    packs, registrations and audit rows: ``COPY`` on PostgreSQL (ids drawn from the sequences
    first, the registrations' given as ``ids`` when drawn already), ``bulk_create`` elsewhere."""
    copy = _use_copy()
    now = timezone.now()
    # Dates and times go in as ISO text: COPY reads it, and so do the model fields.
    now_text = now.isoformat()
    if claimed:
        _claim(claimed, now)

    if copy:
        pack_ids = new_ids(StarterPack, len(new_packs))
        _copy(StarterPack, PACK_COLUMNS, _pack_lines(new_packs, pack_ids, now_text))
    else:
        pack_ids = _bulk_create(StarterPack, PACK_COLUMNS, _pack_rows(new_packs, now_text))
    for pack, pack_id in zip(new_packs, pack_ids, strict=True):
        pack["id"] = pack_id

    if not copy:
        ids = [None] * len(accepted)
    elif ids is None:
        ids = new_ids(Registration, len(accepted))
    chunk = _Chunk(
        accepted=accepted,
        ids=ids,
        numbers=registration_numbers([_local_day(entry.row.registered_at) for entry in accepted]),
        statuses=[entry.status for entry in accepted],
        policies=book.policies,
        now_text=now_text,
    )
    if copy:
        _copy(Registration, REGISTRATION_COLUMNS, _registration_lines(chunk))
        _copy(AuditEvent, AUDIT_COLUMNS, _audit_lines(chunk, audit))
    else:
        chunk.ids = _bulk_create(Registration, REGISTRATION_COLUMNS, _registration_rows(chunk))
        _bulk_create(AuditEvent, AUDIT_COLUMNS, _audit_rows(chunk, audit))


# The packs in stock the rows take, still as they were judged: in stock, at the same outlet,
# with the same ICCID (judged on another connection, their rows were not locked meanwhile).
_CLAIM_SQL = """
    UPDATE outlets_starterpack p SET status = %s, updated_at = %s
    FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS judged (id, outlet_id, iccid)
    WHERE p.id = judged.id AND p.status = %s AND p.outlet_id = judged.outlet_id
      AND p.iccid IS NOT DISTINCT FROM judged.iccid AND p.life_ended_at IS NULL
"""


def _claim(claimed: list[dict], now) -> None:
    """The known packs become registered; IntegrityError if one is no longer as judged (the
    chunk is judged again)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _CLAIM_SQL,
                [
                    _PACK_REGISTERED,
                    now,
                    [pack["id"] for pack in claimed],
                    [pack["outlet_id"] for pack in claimed],
                    [pack["iccid"] for pack in claimed],
                    StarterPack.Status.IN_STOCK.value,
                ],
            )
            count = cursor.rowcount
    else:
        count = StarterPack.objects.filter(
            pk__in=[pack["id"] for pack in claimed], status=StarterPack.Status.IN_STOCK
        ).update(status=StarterPack.Status.REGISTERED, updated_at=now)
    if count != len(claimed):
        raise IntegrityError("a starter pack was registered or moved meanwhile")


def _use_copy() -> bool:
    return connection.vendor == "postgresql"


def _local_day(registered_at: str) -> str:
    """YYMMDD of an ISO 8601 time (the candidate's, in the portal's time zone)."""
    return registered_at[2:4] + registered_at[5:7] + registered_at[8:10]


def registration_numbers(local_days: list[str]) -> list[str]:
    """``SP`` + local date of the sale + 8 random symbols, as ``services`` makes them; one
    call to the OS's random source per chunk instead of eight per number."""
    symbols = (
        base64.b32encode(secrets.token_bytes(5 * len(local_days)))
        .translate(_TO_NUMBER_ALPHABET)
        .decode()
    )
    return [f"SP{day}{symbols[i * 8 : i * 8 + 8]}" for i, day in enumerate(local_days)]


# --- the rows as values, for bulk_create (any database) -----------------------------------------


def _pack_rows(new_packs, now_text: str) -> list[tuple]:
    return [
        (None, pack["msisdn"], pack["iccid"], pack["dealer_id"], pack["outlet_id"],
         _PACK_REGISTERED, now_text, now_text, None)
        for pack in new_packs
    ]  # fmt: skip


def _registration_rows(chunk: _Chunk) -> list[tuple]:
    rows = []
    for entry, registration_id, number, status in zip(
        chunk.accepted, chunk.ids, chunk.numbers, chunk.statuses, strict=True
    ):
        c = entry.row
        rows.append(
            (
                registration_id, number, entry.outlet_id, None, entry.pack["id"], c.msisdn,
                entry.iccid, chunk.policies[c.policy].pk, c.id_type, c.id_encrypted, c.id_digest,
                c.id_masked, c.kk_encrypted, c.kk_digest, c.kk_masked, c.full_name,
                c.birth_place, c.birth_date, c.sex, c.address, c.nationality, "", "", "", "",
                _NO_PHOTOS,
                c.registered_at,  # consent_at: a legacy record, consent was taken at the sale
                c.document_checked, status, entry.review_reasons, _IMPORT,
                c.registered_at, chunk.now_text, chunk.now_text, c.category, c.company_name,
                entry.warnings, chunk.now_text if entry.checked else None, *_NOT_IN_A_FILE,
            )
        )  # fmt: skip
    return rows


def _audit_rows(chunk: _Chunk, audit) -> list[tuple]:
    target_type = Registration._meta.label_lower
    rows = []
    for entry, registration_id, number, status in zip(
        chunk.accepted, chunk.ids, chunk.numbers, chunk.statuses, strict=True
    ):
        c = entry.row
        after = {
            "msisdn": c.msisdn,
            "outlet": c.roid,
            "id_type": c.id_type,
            "id_number": c.id_masked,
            "policy": chunk.policies[c.policy].code,
            "status": status,
            "source": _IMPORT,
            "registered_at": c.registered_at,
            "file": audit.source_label,
            "line": c.line,
        }
        rows.append(
            (None, audit.actor_label, AUDIT_ACTION, target_type, str(registration_id),
             f"{number} {c.msisdn}", audit.run_id, None, after, chunk.now_text)
        )  # fmt: skip
    return rows


def _bulk_create(model, columns, rows: list[tuple]) -> list:
    """Insert ``rows`` (tuples in ``columns`` order) and return their primary keys."""
    if not rows:
        return []
    created = model.objects.bulk_create(
        [model(**dict(zip(columns, row, strict=True))) for row in rows]
    )
    return [obj.pk for obj in created]


# --- the same rows as lines of COPY's text format (PostgreSQL) ----------------------------------
#
# The same values in the same order as above (a test compares what both paths store), written
# as f-strings rather than value by value: this is the import's inner loop. A row's values are
# the rules' output — digits, ISO dates, base64 and hex, masks, names and addresses without tabs
# or line breaks — and go in as they are. A row where any of them holds a character COPY would
# read as a delimiter or an escape (a backslash in an address, say) takes the general escaping
# instead, and so does whatever the rules do not control (file name, actor, request id, policy
# code: escaped once per chunk).

_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_NULL = "\\N"
_BOOL_TEXT = {True: "t", False: "f", None: _NULL}
_NOT_IN_A_FILE_TEXT = "".join(
    "\t" + (_NULL if value is None else value) for value in _NOT_IN_A_FILE
)


def _pack_lines(new_packs, pack_ids, now_text: str) -> list[str]:
    lines = []
    for pack, pack_id in zip(new_packs, pack_ids, strict=True):
        msisdn, iccid = pack["msisdn"], pack["iccid"]
        if _COPY_SPECIAL.search(f"{msisdn}{iccid}"):
            lines.append(
                _copy_line((pack_id, msisdn, iccid, pack["dealer_id"], pack["outlet_id"],
                            _PACK_REGISTERED, now_text, now_text, None))
            )  # fmt: skip
            continue
        lines.append(
            f"{pack_id}\t{msisdn}\t{_NULL if iccid is None else iccid}\t{pack['dealer_id']}\t"
            f"{pack['outlet_id']}\t{_PACK_REGISTERED}\t{now_text}\t{now_text}\t{_NULL}\n"
        )
    return lines


def _registration_lines(chunk: _Chunk) -> list[str]:
    now_text = chunk.now_text
    policy_ids = [policy.pk for policy in chunk.policies]
    lines = []
    for entry, registration_id, number, status in zip(
        chunk.accepted, chunk.ids, chunk.numbers, chunk.statuses, strict=True
    ):
        c = entry.row
        reasons = _review_reasons_json(entry.review_reasons)
        notes = _review_reasons_json(entry.warnings)
        if _COPY_SPECIAL.search(
            f"{c.msisdn}{entry.iccid}{c.id_type}{c.id_masked}{c.kk_masked}{c.full_name}"
            f"{c.birth_place}{c.birth_date}{c.sex}{c.address}{c.nationality}{c.registered_at}"
            f"{reasons}{c.company_name}{notes}"
        ):
            lines.append(_copy_line(_registration_rows(_Chunk(
                [entry], [registration_id], [number], [status], chunk.policies, now_text
            ))[0]))  # fmt: skip
            continue
        lines.append(
            f"{registration_id}\t{number}\t{entry.outlet_id}\t{_NULL}\t{entry.pack['id']}\t"
            f"{c.msisdn}\t{entry.iccid}\t{policy_ids[c.policy]}\t{c.id_type}\t"
            f"{c.id_encrypted}\t{c.id_digest}\t{c.id_masked}\t"
            f"{c.kk_encrypted}\t{c.kk_digest}\t{c.kk_masked}\t{c.full_name}\t"
            f"{c.birth_place}\t{c.birth_date}\t{c.sex}\t{c.address}\t{c.nationality}\t\t\t\t\t"
            f"{_NO_PHOTOS}\t{c.registered_at}\t{_BOOL_TEXT[c.document_checked]}\t{status}\t"
            f"{reasons}\t{_IMPORT}\t{c.registered_at}\t{now_text}\t{now_text}\t"
            f"{c.category}\t{c.company_name}\t{notes}\t{now_text if entry.checked else _NULL}"
            f"{_NOT_IN_A_FILE_TEXT}\n"
        )
    return lines


def _review_reasons_json(reasons: list[dict]) -> str:
    return json.dumps(reasons, ensure_ascii=False) if reasons else "[]"


def _audit_lines(chunk: _Chunk, audit) -> list[str]:
    """The audit rows; ``after`` is the JSON ``json.dumps`` gives for ``_audit_rows``'s dict
    (same keys, order and separators), its strings encoded by json's own encoder."""
    now_text = chunk.now_text
    head = "\t".join(
        [_NULL, _copy_text(audit.actor_label), AUDIT_ACTION, Registration._meta.label_lower]
    )
    request_id = _copy_text(audit.run_id)
    policy_codes = [_json_string(policy.code) for policy in chunk.policies]
    file_label = _json_string(audit.source_label)
    lines = []
    for entry, registration_id, number, status in zip(
        chunk.accepted, chunk.ids, chunk.numbers, chunk.statuses, strict=True
    ):
        c = entry.row
        after = (
            f'{{"msisdn": {_json_string(c.msisdn)}, "outlet": {_json_string(c.roid)}, '
            f'"id_type": {_json_string(c.id_type)}, "id_number": {_json_string(c.id_masked)}, '
            f'"policy": {policy_codes[c.policy]}, "status": "{status}", "source": "{_IMPORT}", '
            f'"registered_at": {_json_string(c.registered_at)}, "file": {file_label}, '
            f'"line": {c.line}}}'
        )
        lines.append(
            f"{head}\t{registration_id}\t{number} {c.msisdn}\t{request_id}\t{_NULL}\t"
            f"{_copy_text(after)}\t{now_text}\n"
        )
    return lines


def new_ids(model, count: int) -> list[int]:
    """Primary keys for ``count`` new rows, reserved from the table's sequence (COPY returns
    none)."""
    if not count:
        return []
    with connection.cursor() as cursor:
        # The sequence is named first: as the argument of nextval, pg_get_serial_sequence
        # would be evaluated (catalog look-ups) once per id.
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        sequence = cursor.fetchone()[0]
        cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count]
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(model, columns, lines: list[str]) -> None:
    if not lines:
        return
    buffer = io.StringIO()
    buffer.writelines(lines)
    buffer.seek(0)
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(model._meta.db_table), ", ".join(quote(name) for name in columns)
    )
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.cursor.copy_expert(sql, buffer)


def _copy_line(row: tuple) -> str:
    """One line of COPY's text format, every value escaped."""
    return "\t".join([_copy_text(v) for v in row]) + "\n"


def _copy_text(value) -> str:
    """``value`` in COPY's text format: \\N for NULL, backslash escapes, ISO dates, JSON."""
    if value is None:
        return _NULL
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
    if _COPY_SPECIAL.search(text):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        text = text.replace("\r", "\\r")
    return text
