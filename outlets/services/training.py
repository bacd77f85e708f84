"""Training and socialisation: sessions and who attended them."""

from collections.abc import Iterable
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.audit import AuditAction, audit_record
from core.roles import is_operator, is_signed_in

from ..models import Attendance, TrainingSession
from ._common import admin_dealer_id, require_manages_dealer

DEALER_AUDIENCES = {TrainingSession.Audience.OUTLET, TrainingSession.Audience.DISTRIBUTOR}


def training_session_create(
    *,
    actor,
    held_on: date,
    trainer: str,
    audience: str,
    topic: str,
    location: str = "",
) -> TrainingSession:
    """Record a session. A dealer admin records its dealer's sessions (for outlets or
    distributors); the operator records its own, for any audience (GraPARI staff included)."""
    dealer_id = None if is_operator(actor) else admin_dealer_id(actor)
    if not is_operator(actor) and dealer_id is None:
        raise PermissionDenied(_("Only the operator or a dealer's admins record training."))
    errors = {}
    if audience not in TrainingSession.Audience.values:
        errors["audience"] = [_("Choose the audience.")]
    elif dealer_id is not None and audience not in DEALER_AUDIENCES:
        errors["audience"] = [_("A dealer trains its outlets and distributors.")]
    for name, value in (("trainer", trainer), ("topic", topic)):
        if not (value or "").strip():
            errors[name] = [_("This field is required.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        session = TrainingSession.objects.create(
            held_on=held_on,
            trainer=trainer.strip()[:150],
            audience=audience,
            topic=topic.strip()[:200],
            location=(location or "").strip()[:200],
            dealer_id=dealer_id,
            created_by=actor if is_signed_in(actor) else None,
        )
        audit_record(
            actor=actor,
            action=AuditAction.TRAINING_SESSION_CREATE,
            target=session,
            after={"held_on": held_on.isoformat(), "audience": audience, "topic": session.topic},
        )
    return session


def trainees_for(*, actor, session: TrainingSession):
    """Whose attendance ``actor`` may record at ``session``: for a dealer admin, the active
    staff of its outlets and its own admins; for the operator, any active user."""
    users = User.objects.filter(is_active=True)
    if is_operator(actor):
        return users
    dealer_id = admin_dealer_id(actor)
    return users.filter(
        Q(outlet_staff__outlet__dealer_id=dealer_id, outlet_staff__is_active=True)
        | Q(dealer_admin__dealer_id=dealer_id)
    )


def training_attendance_record(
    *, actor, session: TrainingSession, users: Iterable, today: date | None = None
) -> int:
    """Record that ``users`` attended ``session`` (once each: recording again adds nothing);
    returns how many were added. Only after the session took place; a dealer records its own
    sessions and the operator's, for its own people only (``trainees_for``)."""
    if session.dealer_id is None:
        if not (is_operator(actor) or admin_dealer_id(actor) is not None):
            raise PermissionDenied(_("Only the operator or a dealer's admins record attendance."))
    else:
        require_manages_dealer(actor, session.dealer_id)
    today = today or timezone.localdate()
    if session.held_on > today:
        raise ValidationError(
            {"users": [_("The session has not taken place yet: record attendance afterwards.")]}
        )
    wanted = {user.pk for user in users}
    if not wanted:
        raise ValidationError({"users": [_("Choose who attended.")]})
    allowed = set(
        trainees_for(actor=actor, session=session)
        .filter(pk__in=wanted)
        .values_list("pk", flat=True)
    )
    if wanted - allowed:
        raise ValidationError({"users": [_("You can only record attendance for your own staff.")]})
    with transaction.atomic():
        already = set(
            Attendance.objects.filter(session=session, user_id__in=wanted).values_list(
                "user_id", flat=True
            )
        )
        added = [
            Attendance(
                session=session, user_id=pk, recorded_by=actor if is_signed_in(actor) else None
            )
            for pk in sorted(wanted - already)
        ]
        Attendance.objects.bulk_create(added, ignore_conflicts=True)
        if added:
            audit_record(
                actor=actor,
                action=AuditAction.TRAINING_ATTENDANCE_RECORD,
                target=session,
                after={"users": [a.user_id for a in added]},
            )
    return len(added)
