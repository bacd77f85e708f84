"""Reads of the subscribers app. One user-scoped queryset serves the pages and the API."""

from datetime import date, datetime

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from core.audit import AuditAction, audit_record
from outlets.selectors import scope_to_user, staff_membership_for_user
from outlets.selectors.dashboard import count_per_outlet

from .models import Registration, RegistrationPolicy


def exclude_restricted(queryset: QuerySet[Registration]) -> QuerySet[Registration]:
    """``queryset`` without the registrations whose processing a data subject restricted.

    The restriction is recorded by the privacy operations on the registration's privacy state
    (``privacy.RegistrationPrivacy.restricted_at``, reached through its one-to-one relation
    ``privacy``), so every layer can hide restricted records without importing them. Every
    registration list, detail, API answer and export for a role other than the operator admin
    passes through this.
    """
    return queryset.exclude(privacy__restricted_at__isnull=False)


# A data subject restricted the processing, asked for erasure, or the record was anonymised
# (``privacy.RegistrationPrivacy``, reached by field name as in ``exclude_restricted``).
WITHDRAWN_FROM_PROCESSING = (
    Q(privacy__restricted_at__isnull=False)
    | Q(privacy__erasure_requested_at__isnull=False)
    | Q(privacy__anonymised_at__isnull=False)
)


def is_withdrawn_from_processing(registration: Registration) -> bool:
    """Whether a data subject's restriction or erasure (done or pending) covers
    ``registration``: what an account-less link (the shared receipt) must no longer show."""
    return (
        Registration.objects.filter(pk=registration.pk).filter(WITHDRAWN_FROM_PROCESSING).exists()
    )


class NoPolicyInForce(LookupError):
    pass


def policy_in_force(*, at: datetime | date | None = None) -> RegistrationPolicy:
    """The rule set in force on the (local) date of ``at``: the latest published one that started
    by then (``RegistrationPolicy.objects`` leaves drafts out, whatever their date)."""
    at = at or timezone.now()
    day = timezone.localdate(at) if isinstance(at, datetime) else at
    policy = RegistrationPolicy.objects.filter(effective_from__lte=day).first()
    if policy is None:
        raise NoPolicyInForce(f"No registration policy is in force on {day:%Y-%m-%d}.")
    return policy


def registrations_for_user(*, user, filters: dict | None = None) -> QuerySet[Registration]:
    """Registrations ``user`` may see: everything for operator roles, the dealer's outlets' for
    a dealer admin, the own outlet's for outlet staff, nothing otherwise; registrations whose
    processing a data subject restricted are left out for everyone but the operator admin.

    ``filters``: ``q`` (MSISDN or registration number, partial), ``status``, ``outlet`` (ROID).
    """
    qs = Registration.objects.select_related("outlet", "outlet__dealer")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if not user.is_operator:
        # A data subject's restriction hides the record from every role but the operator admin.
        qs = exclude_restricted(qs)
    qs = scope_to_user(qs, user=user, dealer_field="outlet__dealer_id")
    filters = filters or {}
    query = (filters.get("q") or "").strip()
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        if digits.startswith("0"):
            digits = "62" + digits[1:]
        condition = Q(registration_number__iexact=query)
        if len(digits) >= 4:
            condition |= Q(msisdn__contains=digits)
        qs = qs.filter(condition)
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("outlet"):
        qs = qs.filter(outlet__roid=filters["outlet"])
    return qs


def registration_get_for_user(*, user, pk) -> Registration:
    """One registration, or 404 when it does not exist *or* the user may not see it."""
    return get_object_or_404(registrations_for_user(user=user), pk=pk)


def registration_read_audit(*, user, registration: Registration | None, page: str) -> None:
    """Record who looked at whose record (UU PDP): one ``registration.view`` audit row naming
    where (``page``: ``detail``, ``receipt``, ``api``, ``clarification``…). Every page and API
    answer that shows one registration's personal data passes through here. The registering
    outlet's own staff, working on their outlet's registrations, are not logged read by read."""
    if registration is None:
        return
    membership = staff_membership_for_user(user=user)
    if membership is not None and membership.outlet_id == registration.outlet_id:
        return
    audit_record(
        actor=user, action=AuditAction.REGISTRATION_VIEW, target=registration, after={"page": page}
    )


def registration_read_for_user(*, user, pk, page: str) -> Registration:
    """One registration read for its personal data, by a page or the API alike: a 404 as
    ``registration_get_for_user``, and audited (``registration_read_audit``)."""
    registration = registration_get_for_user(user=user, pk=pk)
    registration_read_audit(user=user, registration=registration, page=page)
    return registration


def outlet_registration_figures(recent_since: datetime) -> dict:
    """The dealer dashboard's registration figures per outlet (``OuterRef("pk")``): all of its
    registrations, and those since ``recent_since``."""
    # Not "registrations": that name is the reverse relation from Registration.
    return {
        "registration_count": count_per_outlet(Registration.objects.all()),
        "recent_registration_count": count_per_outlet(
            Registration.objects.filter(registered_at__gte=recent_since)
        ),
    }
