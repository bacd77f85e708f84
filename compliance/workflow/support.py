"""What the compliance workflow's services share: settings, the policy's deadline, the finding
fingerprint, the conflict error, texts, and settling a registration once nothing is left open."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format

from core.audit import AuditAction, audit_record
from subscribers.models import Registration
from subscribers.selectors import NoPolicyInForce, policy_in_force

from ..models import Clarification, Discrepancy, ReviewItem

NON_FIELD = "non_field_errors"
# The label the workflow's automated steps act under (outlets.services accepts a label).
SYSTEM_ACTOR = "compliance"
DEFAULT_DEADLINE_DAYS = 7


class WorkflowConflict(Exception):
    """Someone else got there first (another reviewer's claim, a decision already taken): the
    API answers 409 with ``detail`` and ``code``, the pages show the message."""

    def __init__(self, message: str, *, code: str = "conflict"):
        super().__init__(message)
        self.message = message
        self.code = code


def set_based() -> bool:
    """Whether the workflow's bulk steps (a run's hand-over, the review queue's intake) run as
    set-based PostgreSQL statements (arrays, ``INSERT … RETURNING`` in a common table
    expression) or through the ORM, which every database has — SQLite under ``make run``. The
    reconciliation engine's generic path (``RECONCILIATION_ENGINE = "python"``) takes the ORM
    way on PostgreSQL too: the suite runs a reconciliation both ways and holds them to the same
    rows."""
    return (
        connection.vendor == "postgresql"
        and getattr(settings, "RECONCILIATION_ENGINE", "auto") != "python"
    )


def review_target() -> timedelta:
    """How long GraPARI has to decide an item after it was queued (its place in the queue)."""
    return timedelta(hours=int(getattr(settings, "REVIEW_TARGET_HOURS", 72)))


def claim_idle_timeout() -> timedelta:
    """A claim left idle this long is free for another reviewer."""
    return timedelta(seconds=int(getattr(settings, "REVIEW_CLAIM_IDLE_SECONDS", 900)))


def bulk_max_items() -> int:
    return int(getattr(settings, "REVIEW_BULK_MAX_ITEMS", 200))


def deadline_days(at: datetime) -> int:
    """Days to answer under the policy in force at ``at`` (7 when no policy is in force)."""
    try:
        return policy_in_force(at=at).clarification_deadline_days
    except NoPolicyInForce:
        return DEFAULT_DEADLINE_DAYS


def finding_fingerprint(kind: str, details: dict | None) -> str:
    """What a finding says, as a digest: the same kind with the same values on both sides is
    the same finding (a dismissal is remembered by it)."""
    payload = json.dumps([kind, details or {}], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def kinds_string(kinds) -> str:
    """Discrepancy kinds as a review item stores them (``,birth_date_mismatch,name_mismatch,``),
    so the queue filters on one kind with ``contains``."""
    ordered = sorted(set(kinds))
    return "," + ",".join(ordered) + "," if ordered else ""


def when_text(value: datetime) -> str:
    """A moment as the workflow's messages show it, in local time: ``5 Mar 2026 14:00``."""
    return date_format(timezone.localtime(value), "j M Y H:i")


def stored_text(message) -> str:
    """Text stored for others to read later (an outlet's status reason, a sanction's reason):
    in the portal's default language, whatever the acting user's language is."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(message)


def registration_settle(*, actor, registration_id: int | None, now=None) -> bool:
    """Mark a registration verified once nothing about it is left open: no open discrepancy,
    no clarification in progress, no open review item. A blocked one stays blocked. Returns
    True when it became verified (its audit row written)."""
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
                action=AuditAction.REGISTRATION_VERIFY,
                target=registration,
                before={"status": registration.status},
                after={"status": Registration.Status.VERIFIED},
            )
    return bool(changed)
