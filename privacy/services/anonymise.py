"""Anonymisation of registrations: what the retention purge and an erasure both do."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models.functions import TruncYear
from django.utils import timezone

from compliance.models import Discrepancy
from compliance.workflow.erasure import workflow_personal_data_erase
from core.audit import AuditAction, audit_record
from subscribers.models import Registration

from .. import selectors
from ..models import DataSubjectRequest, PrivacyJob, RegistrationPrivacy
from .common import ensure_states
from .holder_records import holder_records_of_registrations_erase

# What anonymisation leaves of a registration. Kept for statistics and accountability: the
# registration and pack numbers, outlet, clerk, dates, status, ID *type*, sex, nationality and
# the birth *year*. The keyed digest goes too: it still singles out one person for whoever
# holds ID_DIGEST_KEY, so keeping it would not be anonymisation (docs/privacy.md).
ANONYMISED_VALUES = {
    "full_name": "",
    "birth_place": "",
    "address": "",
    "id_number_encrypted": "",
    "id_number_digest": "",
    "id_number_masked": "",
    "kk_number_encrypted": "",
    "kk_number_digest": "",
    "kk_number_masked": "",
    "id_photo": "",
    "id_photo_thumb": "",
    "face_photo": "",
    "face_photo_thumb": "",
    "photo_status": Registration.PhotoStatus.NONE,
    # The head of family's NIK (a minor's registration), the face photo's hash, and the
    # free-text notes, which may quote the person's data.
    "guardian_id_number_encrypted": "",
    "guardian_id_number_digest": "",
    "guardian_id_number_masked": "",
    "face_sha256": "",
    "declared_purpose": "",
    "warnings": [],
    "refusal_reason": "",
}


@dataclass
class AnonymiseResult:
    anonymised: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    photos_deleted: int = 0


def registrations_anonymise(
    *,
    registration_ids,
    actor,
    reason: str,
    job: PrivacyJob | None = None,
    request: DataSubjectRequest | None = None,
    now: datetime | None = None,
    keep_version_ids=(),
    keep_answer_ids=(),
) -> AnonymiseResult:
    """Anonymise these registrations, photos first, in one transaction with one audit row.

    Rules: the photo files are deleted from the private storage before anything else (a crash
    in between leaves rows pointing at missing files, which the rerun clears — never files no
    row knows about); then name, birth place, address, ID and KK numbers (ciphertext, digest and
    masked copy) are blanked and the birth date reduced to its year; the discrepancies of the
    registration lose their side-by-side values. A registration already anonymised is skipped
    (safe to run twice); one with an open discrepancy is held (``held``): it is evidence in a
    case not yet settled. ``reason`` is ``retention`` or ``erasure``.
    """
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in registration_ids})
    result = AnonymiseResult()
    if not ids:
        return result
    with transaction.atomic():
        ensure_states(ids)
        # Locked in id order (here and below), so a purge and an erasure touching the same
        # rows queue behind each other instead of deadlocking.
        pending = (
            RegistrationPrivacy.objects.select_for_update()
            .filter(registration_id__in=ids, anonymised_at__isnull=True)
            .order_by("registration_id")
        )
        pending_ids = list(pending.values_list("registration_id", flat=True))
        free = set(
            selectors._without_legal_hold(
                RegistrationPrivacy.objects.filter(registration_id__in=pending_ids)
            ).values_list("registration_id", flat=True)
        )
        result.held = sorted(set(pending_ids) - free)
        todo = sorted(free)
        if not todo:
            return result
        storage = Registration._meta.get_field("id_photo").storage
        rows = (
            Registration.objects.select_for_update()
            .filter(pk__in=todo)
            .order_by("pk")
            .values_list(*selectors.PHOTO_FIELDS)
        )
        for name in {name for row in rows for name in row if name}:
            storage.delete(name)
            result.photos_deleted += 1
        Registration.objects.filter(pk__in=todo).update(
            **ANONYMISED_VALUES, birth_date=TruncYear("birth_date"), updated_at=now
        )
        RegistrationPrivacy.objects.filter(registration_id__in=todo).update(
            anonymised_at=now, anonymised_by_job=job, updated_at=now
        )
        Discrepancy.objects.filter(registration_id__in=todo).exclude(
            status=Discrepancy.Status.OPEN
        ).update(details={"anonymised": True}, id_digest="", id_group=[])
        # The workflow's copies: earlier versions, proposed corrections, evidence photos.
        workflow_personal_data_erase(
            registration_ids=todo,
            keep_version_ids=keep_version_ids,
            keep_answer_ids=keep_answer_ids,
        )
        # The holder's door's records about them: the disputes' NIK digest and note.
        holder_records_of_registrations_erase(todo)
        result.anonymised = todo
        target = job or request
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_REGISTRATIONS_ANONYMISED,
            target=target,
            target_type="" if target else selectors.REGISTRATION_TARGET,
            target_id="" if target else f"{todo[0]}-{todo[-1]}",
            after={
                "reason": reason,
                "count": len(todo),
                "first_id": todo[0],
                "last_id": todo[-1],
                "registration_ids": todo,
                "photo_files_deleted": result.photos_deleted,
                "held": result.held,
            },
        )
    return result
