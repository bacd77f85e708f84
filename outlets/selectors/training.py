"""Reads of training: sessions, attendance, and who counts as trained."""

from datetime import date

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from ..models import Attendance, TrainingSession
from .scope import dealer_id_for_user


def user_has_attended_training(*, user, on: date | None = None) -> bool:
    """Whether ``user`` attended a training session held on or before ``on`` (today): what the
    policy's ``training_required`` asks of a clerk before they register buyers."""
    on = on or timezone.localdate()
    return Attendance.objects.filter(user=user, session__held_on__lte=on).exists()


def outlet_trained_expression(on: date | None = None) -> Exists:
    """Annotation for outlets: at least one *active* staff member attended a training."""
    on = on or timezone.localdate()
    return Exists(
        Attendance.objects.filter(
            user__outlet_staff__outlet=OuterRef("pk"),
            user__outlet_staff__is_active=True,
            session__held_on__lte=on,
        )
    )


def training_sessions_for_user(*, user) -> QuerySet[TrainingSession]:
    """All sessions for operator roles; for a dealer admin, its own and the operator's (its
    people may attend those); for a clerk, the sessions they attended."""
    qs = TrainingSession.objects.select_related("dealer")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.sees_all_outlets:
        return qs
    dealer_id = dealer_id_for_user(user=user)
    if dealer_id is not None:
        return qs.filter(Q(dealer_id=dealer_id) | Q(dealer__isnull=True))
    return qs.filter(attendances__user=user)


def training_session_get_for_user(*, user, pk) -> TrainingSession:
    return get_object_or_404(training_sessions_for_user(user=user), pk=pk)


def attendances_for_user(*, user, session: TrainingSession) -> QuerySet[Attendance]:
    """Who attended ``session``, as far as ``user`` may know: everyone for operator roles, the
    dealer's own people for a dealer admin, themselves for a clerk."""
    qs = (
        Attendance.objects.filter(session=session)
        .select_related("user", "user__outlet_staff__outlet")
        .order_by("user__username")
    )
    if user.sees_all_outlets:
        return qs
    dealer_id = dealer_id_for_user(user=user)
    if dealer_id is not None:
        return qs.filter(
            Q(user__outlet_staff__outlet__dealer_id=dealer_id)
            | Q(user__dealer_admin__dealer_id=dealer_id)
        )
    return qs.filter(user=user)
