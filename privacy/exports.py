"""The copy of their data handed to a data subject (UU PDP: the right of access): JSON for
machines, CSV (section, record, field, value) for people and spreadsheets.

The copy is the person's own, so it carries their full ID and KK numbers and every personal
field, restricted registrations included. It names who processed the data by role, never by
the staff member's account.

What the holder's door (``/nomor-saya/``) keeps under the person's NIK is theirs too: the
numbers they disputed with their note and what became of each dispute, the sessions opened with
their NIK (when, how, whether opened — the login number masked: someone else may have typed
it), and the numbers they chose not to keep over the cap. Never the door's hashes or codes.

A head of family also finds the minors' registrations made through them (``as_head_of_family``):
their own NIK in full, whether the face photo (their face) is still held and the registry's
check of it — and of the minor only what names the registration (name, masked NIK), which the
guardian gave at the counter. The minor's other data is the minor's: a guardian acting for the
minor makes a request under the minor's NIK (docs/privacy.md).
"""

import csv
import io
import json
from datetime import date, datetime

from core import pii
from core.csvsafe import defuse
from core.masking import mask_msisdn

from .models import DataSubjectRequest
from .selectors import PHOTO_FIELDS, SubjectRecords

FORMATS = {"json": "application/json", "csv": "text/csv"}


def _iso(value) -> str | None:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class ExportUndecryptable(Exception):
    """A value of the person's copy cannot be decrypted with the configured keys: the export is
    refused rather than handed over with a placeholder (restore the missing key first)."""


def _plain(token: str) -> str:
    try:
        return pii.decrypt(token)
    except ValueError as exc:
        raise ExportUndecryptable(str(exc)) from exc


def _actor(event) -> str:
    """The role that acted (``outlet_staff``, ``grapari``...), or the system's label."""
    if event.actor is not None:
        return event.actor.role or ("operator" if event.actor.is_operator else "user")
    return event.actor_label or "system"


def _registration_entry(records: SubjectRecords, registration) -> dict:
    """The registration's own facts, then the values that are the person's: its current values
    only while they hold it, each earlier version only where it was theirs."""
    state = records.state(registration)
    entry = {
        "registration_number": registration.registration_number,
        "msisdn": registration.msisdn,
        "iccid": registration.iccid,
        "outlet": {"roid": registration.outlet.roid, "name": registration.outlet.name},
        "registered_at": _iso(registration.registered_at),
        "channel": registration.source,
        "rules_applied": registration.policy.code,
        "status": registration.status,
        "held_by_you_now": records.holds_now(registration),
    }
    if records.holds_now(registration):
        entry.update(
            {
                "id_type": registration.id_type,
                "id_number": _plain(registration.id_number_encrypted),
                "kk_number": _plain(registration.kk_number_encrypted),
                "full_name": registration.full_name,
                "birth_place": registration.birth_place,
                "birth_date": _iso(registration.birth_date),
                "sex": registration.sex,
                "address": registration.address,
                "nationality": registration.nationality,
                "consent_at": _iso(registration.consent_at),
                "photos_held": [name for name in PHOTO_FIELDS if getattr(registration, name)],
                "number_deactivated_at": _iso(state.deactivated_at) if state else None,
                "processing_restricted_since": _iso(state.restricted_at) if state else None,
                "erasure_requested_at": _iso(state.erasure_requested_at) if state else None,
            }
        )
    entry["earlier_values"] = [
        {
            **{k: v for k, v in (h.version.values or {}).items() if not k.endswith("_masked")},
            "id_number": _plain(h.version.id_number_encrypted),
            "kk_number": _plain(h.version.kk_number_encrypted),
            "replaced_at": _iso(h.version.replaced_at),
        }
        for h in records.person.mine(registration.pk)
        if not h.is_current
    ]
    return entry


def _guardian_entry(records: SubjectRecords, registration) -> dict:
    state = records.state(registration)
    return {
        "registration_number": registration.registration_number,
        "msisdn": registration.msisdn,
        "outlet": {"roid": registration.outlet.roid, "name": registration.outlet.name},
        "registered_at": _iso(registration.registered_at),
        "status": registration.status,
        "minor": {
            "full_name": registration.full_name,
            "id_number": registration.id_number_masked,
        },
        "your_id_number": _plain(registration.guardian_id_number_encrypted),
        "your_face_photo_held": bool(registration.face_photo),
        "face_checked_by_registry_at": _iso(registration.registry_checked_at),
        "face_verdict": registration.face_verdict,
        "number_deactivated_at": _iso(state.deactivated_at) if state else None,
    }


def subject_export(
    records: SubjectRecords, *, request: DataSubjectRequest, generated_at: datetime
) -> dict:
    """Everything in ``records`` that is the person's, as plain values, newest last. Raises
    ``ExportUndecryptable`` when a number of theirs cannot be decrypted."""
    numbers = {
        registration.pk: registration.registration_number for registration in records.registrations
    }
    answers = [
        answer
        for answer in records.person.answers
        if answer.clarification.registration_id in numbers and records.person.answer_is_mine(answer)
    ]
    return {
        "generated_at": _iso(generated_at),
        "request": {
            "id": request.pk,
            "id_number": request.id_number_masked,
            "reference": request.reference,
            "received_at": _iso(request.created_at),
        },
        "registrations": [_registration_entry(records, r) for r in records.registrations],
        "as_head_of_family": [_guardian_entry(records, r) for r in records.guarded],
        "corrections_proposed": [
            {
                "registration_number": numbers[answer.clarification.registration_id],
                "answered_at": _iso(answer.created_at),
                "correction": {
                    k: v for k, v in (answer.correction or {}).items() if k != "id_number"
                },
                "id_number": _plain(answer.correction_id_number_encrypted),
                "evidence_photo_held": bool(answer.evidence_photo),
                "outcome": answer.outcome,
            }
            for answer in answers
        ],
        "outlet_staff": [
            {
                "outlet": {"roid": staff.outlet.roid, "name": staff.outlet.name},
                "username": staff.user.get_username(),
                "name": staff.user.get_full_name(),
                "email": staff.user.email,
                "active": staff.is_active,
                "joined_at": _iso(staff.joined_at),
                "id_number": _plain(staff.id_number_encrypted),
                "kk_number": _plain(staff.kk_number_encrypted),
            }
            for staff in records.outlet_staff
        ],
        "discrepancies": [
            {
                "registration_number": numbers.get(discrepancy.registration_id),
                "kind": discrepancy.kind,
                "status": discrepancy.status,
                "detected_at": _iso(discrepancy.detected_at),
                "resolved_at": _iso(discrepancy.resolved_at),
                # Only the sides that show the person's own values (the operator's record of
                # the number may be someone else's).
                "details": records.person.discrepancy_sides(discrepancy),
            }
            for discrepancy in records.discrepancies
        ],
        "holder_disputes": [
            {
                "msisdn": dispute.msisdn,
                "note": dispute.note,
                "status": dispute.status,
                "reported_at": _iso(dispute.created_at),
                "blocked_after": _iso(dispute.notice_until),
                "answered_by_the_number_at": _iso(dispute.answered_at),
                "blocked_at": _iso(dispute.blocked_at),
                "block_reversed_at": _iso(dispute.reversed_at),
            }
            for dispute in records.holder.disputes
        ],
        "holder_sessions": [
            {
                "started_at": _iso(session.created_at),
                "method": session.method,
                "login_number": mask_msisdn(session.msisdn) if session.msisdn else "",
                "opened_at": _iso(session.verified_at),
            }
            for session in records.holder.sessions
        ],
        "holder_numbers_not_kept": [
            {"msisdn": choice.msisdn, "flagged_at": _iso(choice.flagged_at)}
            for choice in records.holder.keep_choices
        ],
        "processing_log": [
            {
                "at": _iso(event.created_at),
                "action": event.action,
                "record": event.target_repr,
                "by": _actor(event),
            }
            for event in records.audit_events.select_related("actor")
        ],
    }


def render(data: dict, fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2).encode()
    if fmt == "csv":
        return _csv(data)
    raise ValueError(f"unknown export format {fmt!r}")


def _flatten(prefix: str, value, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, inner, out)
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        out.append((prefix, ", ".join(value)))
    elif isinstance(value, list):
        out.append((prefix, json.dumps(value, ensure_ascii=False)))
    else:
        out.append((prefix, "" if value is None else str(value)))


def _cell(value) -> str:
    """A spreadsheet must not run a typed address as a formula (CSV injection)."""
    return defuse("" if value is None else str(value))


def _csv(data: dict) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["section", "record", "field", "value"])
    writer.writerow(["export", "", "generated_at", data["generated_at"]])
    for name, value in _flat(data["request"]):
        writer.writerow(["request", "", name, _cell(value)])
    for section in (
        "registrations",
        "as_head_of_family",
        "corrections_proposed",
        "outlet_staff",
        "discrepancies",
        "holder_disputes",
        "holder_sessions",
        "holder_numbers_not_kept",
        "processing_log",
    ):
        for number, record in enumerate(data[section], start=1):
            for name, value in _flat(record):
                writer.writerow([section, number, name, _cell(value)])
    # A BOM so spreadsheet programs read the names' accents as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode()


def _flat(record: dict) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    _flatten("", record, out)
    return out
