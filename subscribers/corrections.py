"""Corrections of a registration after the fact: the party accountable for a number proposes new
values for the buyer's data (the compliance workflow's answer to a clarification request), and
they are applied once GraPARI accepts them.

- ``registration_correction_clean``: the fields a proposed correction really changes, checked by
  the same rules as a new registration under the registration's own policy — the population
  registry's check (``registry_check.check``) included, where that policy asks it;
- ``registration_versioned_values``: the values a correction replaces, as the registration's
  history keeps them (ID and KK numbers masked there; the numbers stay encrypted);
- ``registration_apply_correction``: the registration takes the new values, with its audit row.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import pii
from core.audit import AuditAction, audit_record
from core.masking import mask_id_number
from identity.idrules import IdRuleError

from . import registry_check
from .models import Registration, RegistrationNote
from .rules import FieldErrors, clean_registration_fields, nik_disagreements_of
from .services import NON_FIELD, _check_staff_and_cap, _delete_files, _stored_clean

# What a correction may change: the buyer's data, never the pack.
CORRECTABLE_FIELDS = (
    "id_type",
    "id_number",
    "kk_number",
    "full_name",
    "birth_place",
    "birth_date",
    "sex",
    "address",
    "nationality",
)
# What the population registry judges: a correction changing any of them is checked against it.
REGISTRY_FIELDS = ("id_type", "id_number", "kk_number", "full_name", "birth_date", "sex",
                   "nationality")  # fmt: skip
# What a registration's history keeps of the values a correction replaced.
VERSIONED_FIELDS = ("full_name", "birth_place", "birth_date", "sex", "address", "nationality",
                    "id_type", "id_number_masked", "kk_number_masked")  # fmt: skip


def identity_rests_on_face(registration: Registration) -> bool:
    """The registration's holder was identified by a face the registry judged against its NIK
    (its verdict or the photo's fingerprint kept as the evidence): the NIK cannot then be
    changed by a correction (docs/rules.md, "A correction never replaces a verified face")."""
    return bool(registration.face_verdict or registration.face_sha256)


def identity_change_refused_message() -> str:
    return _(
        "The NIK cannot be changed by a correction: this number's holder was identified by their "
        "face, verified by Dukcapil against the NIK registered, and a correction verifies no face. "
        "If the number is used by another person, that person registers it anew at the counter, "
        "with their own NIK and face; only the other data of this holder can be corrected here."
    )


def registration_values(registration: Registration) -> dict:
    """The correctable values of a registration, ID and KK numbers decrypted (never shown)."""
    return {
        "id_type": registration.id_type,
        "id_number": pii.decrypt(registration.id_number_encrypted),
        "kk_number": pii.decrypt(registration.kk_number_encrypted),
        "full_name": registration.full_name,
        "birth_place": registration.birth_place,
        "birth_date": registration.birth_date,
        "sex": registration.sex,
        "address": registration.address,
        "nationality": registration.nationality,
    }


def registry_unavailable_message() -> str:
    return _(
        "The population registry (Dukcapil) cannot be reached now, so the corrected data cannot "
        "be checked. Nothing was saved: send the answer again later, before the deadline (an "
        "explanation without a correction can be sent now)."
    )


def registration_correction_clean(
    *, registration: Registration, correction: dict, errors: FieldErrors, now: datetime
) -> dict:
    """The fields the correction really changes, validated like a new registration under the
    registration's own policy (the corrected values merged into the current ones, so that a
    NIK is checked against the birth date and sex it will stand with). Faults go to ``errors``
    at their fields; with any fault nothing is returned.

    Under a policy with ``registry_check`` a correction of a citizen's identity (any of
    ``REGISTRY_FIELDS``) is checked against the population registry by the registration's own
    check (``registry_check.check``): the NIK known, the KK its family card where the rule asks
    for a KK, the name, birth date and sex agreeing — asked last, once every other rule holds,
    outside any transaction. The correction carries no face photo (the evidence is a photo of
    the document), so no face is verified. The registry not answering refuses the correction
    at ``non_field_errors`` (docs/rules.md, "Corrections and the population registry")."""
    policy = registration.policy
    current = registration_values(registration)
    merged = {
        **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in current.items()},
        **correction,
        "msisdn": registration.msisdn,
        "iccid": "",
        # What the counter recorded and a correction does not change; the signed statement was
        # judged when the registration was made (refused at the counter, flagged on an import).
        "category": registration.category,
        "company_name": registration.company_name,
        "declared_purpose": registration.declared_purpose,
        "statement_signed": True,
    }
    own = FieldErrors()
    today = timezone.localdate(now)
    clean = clean_registration_fields(
        merged,
        policy=policy,
        today=today,
        errors=own,
        registry_arbiter=bool(policy.registry_check),
    )
    if clean is not None and (
        clean.id_number != current["id_number"] or clean.kk_number != current["kk_number"]
    ):
        # The 2018 rule (not the outlet's own staff's ID or KK) and the cap apply to a new
        # number as they do at the counter. Only the new ID counts against the cap.
        _check_staff_and_cap(clean, policy=policy, outlet_id=registration.outlet_id, errors=own)
    changes = (
        {}
        if clean is None
        else {
            name: getattr(clean, name)
            for name in CORRECTABLE_FIELDS
            if getattr(clean, name) != current[name]
        }
    )
    if "id_number" in changes and identity_rests_on_face(registration):
        own.add("id_number", identity_change_refused_message())
    # Asked last, once every other rule holds (the caller's too): a refusal costs it nothing.
    if changes and not own and not errors and any(name in changes for name in REGISTRY_FIELDS):
        outcome = registry_check.check(
            clean, policy=policy, face_image=None, today=today, errors=own, face_needed=False
        )
        if outcome.awaiting:
            own.add(NON_FIELD, registry_unavailable_message())
    for field_name, messages in own.errors.items():
        for message in messages:
            errors.add(field_name, message)
    if clean is None or own:
        return {}
    return changes


def correction_replaces_person(changes: dict) -> bool:
    """A correction changing the NIK together with the name or the birth date replaces the
    whole person, not a typo (the reviewer is told so)."""
    return "id_number" in changes and bool({"full_name", "birth_date"} & set(changes))


def correction_registry_comparison(
    *, registration: Registration, correction: dict, id_number_encrypted="", kk_number_encrypted=""
) -> tuple[dict, registry_check.RegistryComparison | None]:
    """What the population registry holds for a *proposed* correction (the registration's
    values with the correction's in their place), for the reviewer deciding it: the merged
    values (numbers decrypted, never shown) and the registry's comparison (None when the
    correction touches nothing the registry judges, or there is no citizen's NIK). Asks the
    registry (outside any transaction)."""
    clean = _stored_clean(registration, strict=False)
    values: dict = {}
    for name, value in correction.items():
        if name == "id_number":
            values[name] = pii.decrypt(id_number_encrypted)
        elif name == "kk_number":
            values[name] = pii.decrypt(kk_number_encrypted)
        elif name == "birth_date":
            values[name] = date.fromisoformat(value)
        elif name in CORRECTABLE_FIELDS:
            values[name] = value
    proposed = replace(clean, **values)
    if not any(name in values for name in REGISTRY_FIELDS):
        return values, None
    try:
        proposed.nik_disagreements = nik_disagreements_of(
            proposed.id_number,
            proposed.birth_date,
            proposed.sex,
            timezone.localdate(registration.registered_at),
        )
    except IdRuleError:
        proposed.nik_disagreements = {}
    return values, registry_check.compare(proposed)


def registration_versioned_values(registration: Registration) -> dict:
    """The values a correction is about to replace (``VERSIONED_FIELDS``), dates as ISO text."""
    return {
        name: (
            getattr(registration, name).isoformat()
            if isinstance(getattr(registration, name), date)
            else getattr(registration, name)
        )
        for name in VERSIONED_FIELDS
    }


def registration_apply_correction(
    *,
    actor,
    registration: Registration,
    correction: dict,
    id_number_encrypted: str = "",
    kk_number_encrypted: str = "",
    audit_before: dict | None = None,
    audit_after: dict | None = None,
) -> bool:
    """Apply an accepted correction to a registration (locked by the caller).

    ``correction`` maps each field to its new value as shown (ID and KK numbers masked there);
    the new numbers themselves come encrypted in ``id_number_encrypted`` / ``kk_number_encrypted``.
    The registration takes the new values (ID and KK re-encrypted, digest and masked copy
    renewed; ``updated_at`` moves, so the next incremental reconciliation compares it again).
    The audit row names the fields, never their values; ``audit_before``/``audit_after`` add
    what the caller records with it (the version kept, the request answered).

    A new NIK drops the face evidence of the old one (verdict, score, fingerprint, photo); where
    there was such evidence the registration is flagged ``identity_replaced`` and True is
    returned (the caller queues it for review).
    """
    replaced_id_number = registration.id_number_masked
    changed = []
    face_files: list = []
    identity_replaced = False
    if "id_number" in correction:
        # A verdict, score, fingerprint or photo is evidence about the previous NIK's holder,
        # never about the new one: it goes (kept in the registration's history and the audit).
        identity_replaced = identity_rests_on_face(registration)
        face_files = [
            (stored.storage, stored.name)
            for stored in (registration.face_photo, registration.face_photo_thumb)
            if stored
        ]
        registration.face_verdict = ""
        registration.face_score = None
        registration.face_sha256 = ""
        registration.face_photo = ""
        registration.face_photo_thumb = ""
        changed += ["face_verdict", "face_score", "face_sha256", "face_photo", "face_photo_thumb"]
        if identity_replaced:
            # Only a proposal made before the rule refused it reaches here: the new holder's
            # face was never verified, so the registration goes back to GraPARI's queue.
            registration.review_reasons = [
                *registration.review_reasons,
                {"code": RegistrationNote.IDENTITY_REPLACED.value, "message": ""},
            ]
            changed.append("review_reasons")
            if registration.status == Registration.Status.REGISTERED:
                registration.status = Registration.Status.FLAGGED
                changed.append("status")
    for name, value in correction.items():
        if name == "id_number":
            number = pii.decrypt(id_number_encrypted)
            registration.id_number_encrypted = pii.encrypt(number)
            registration.id_number_digest = pii.digest(number)
            registration.id_number_masked = mask_id_number(number)
            changed += ["id_number_encrypted", "id_number_digest", "id_number_masked"]
        elif name == "kk_number":
            number = pii.decrypt(kk_number_encrypted)
            registration.kk_number_encrypted = pii.encrypt(number)
            registration.kk_number_digest = pii.digest(number)
            registration.kk_number_masked = mask_id_number(number) if number else ""
            changed += ["kk_number_encrypted", "kk_number_digest", "kk_number_masked"]
        elif name == "birth_date":
            registration.birth_date = date.fromisoformat(value)
            changed.append(name)
        else:
            setattr(registration, name, value)
            changed.append(name)
    registration.save(update_fields=[*changed, "updated_at"])
    if face_files:
        transaction.on_commit(lambda: _delete_files(face_files))
    audit_record(
        actor=actor,
        action=AuditAction.REGISTRATION_CORRECT,
        target=registration,
        before={
            **(audit_before or {}),
            "fields": sorted(correction),
            "id_number": replaced_id_number,
        },
        after={
            **(audit_after or {}),
            "fields": sorted(correction),
            "id_number": registration.id_number_masked,
            **({"face_evidence_cleared": True} if "id_number" in correction else {}),
            **({"flagged": "identity_replaced"} if identity_replaced else {}),
        },
    )
    return identity_replaced
