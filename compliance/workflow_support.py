"""What the compliance workflow's services share: settings, audit rows in bulk, the finding
fingerprint, the conflict error, and settling a registration once nothing is left open."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from core.audit import audit_record

from .models import Clarification, Discrepancy, ReviewItem

NON_FIELD = "non_field_errors"
# The label the workflow's automated steps act under (outlets.services accepts a label).
SYSTEM_ACTOR = "compliance"


class WorkflowConflict(Exception):
    """Someone else got there first (another reviewer's claim, a decision already taken): the
    API answers 409 with ``detail`` and ``code``, the pages show the message."""

    def __init__(self, message: str, *, code: str = "conflict"):
        super().__init__(message)
        self.message = message
        self.code = code


def review_target() -> timedelta:
    """How long GraPARI has to decide an item after it was queued (its place in the queue)."""
    return timedelta(hours=int(getattr(settings, "REVIEW_TARGET_HOURS", 72)))


def claim_idle_timeout() -> timedelta:
    """A claim left idle this long is free for another reviewer."""
    return timedelta(seconds=int(getattr(settings, "REVIEW_CLAIM_IDLE_SECONDS", 900)))


def bulk_max_items() -> int:
    return int(getattr(settings, "REVIEW_BULK_MAX_ITEMS", 200))


def finding_fingerprint(kind: str, details: dict | None) -> str:
    """What a finding says, as a digest: the same kind with the same values on both sides is
    the same finding (a dismissal is remembered by it)."""
    payload = json.dumps([kind, details or {}], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def stored_text(message) -> str:
    """Text stored for others to read later (an outlet's status reason, a sanction's reason):
    in the portal's default language, whatever the acting user's language is."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(message)


def registration_settle(*, actor, registration_id: int | None, now=None) -> bool:
    """Mark a registration verified once nothing about it is left open: no open discrepancy,
    no clarification in progress, no open review item. A blocked one stays blocked. Returns
    True when it became verified (its audit row written)."""
    from subscribers.models import Registration

    if registration_id is None:
        return False
    now = now or timezone.now()
    with transaction.atomic():
        registration = (
            Registration.objects.select_for_update()
            .filter(pk=registration_id)
            .only("pk", "status", "registration_number", "msisdn")
            .first()
        )
        if registration is None or registration.status in (
            Registration.Status.BLOCKED,
            Registration.Status.VERIFIED,
        ):
            return False
        if (
            Discrepancy.objects.filter(
                registration_id=registration_id, status=Discrepancy.Status.OPEN
            ).exists()
            or Clarification.objects.filter(
                registration_id=registration_id, status__in=Clarification.ACTIVE
            ).exists()
            or ReviewItem.objects.filter(
                registration_id=registration_id, status=ReviewItem.Status.OPEN
            ).exists()
        ):
            return False
        # The status only: updated_at stays, so incremental reconciliation does not re-examine
        # a registration whose data did not change.
        changed = Registration.objects.filter(
            pk=registration_id, status=registration.status
        ).update(status=Registration.Status.VERIFIED)
        if changed:
            audit_record(
                actor=actor,
                action="registration.verify",
                target=registration,
                before={"status": registration.status},
                after={"status": Registration.Status.VERIFIED},
            )
    return bool(changed)
