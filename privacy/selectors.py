"""Reads of the privacy app: what is due for anonymisation, what is restricted, and everything
held on one person. Pages, commands and tasks use the same functions."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from compliance.models import Discrepancy, RegistrationVersion
from core.models import AuditEvent
from core.roles import is_operator
from outlets.models import OutletStaff
from subscribers.models import Registration
from subscribers.selectors import exclude_restricted

from .models import DataSubjectRequest, PrivacyJob, RegistrationPrivacy

PHOTO_FIELDS = ("id_photo", "id_photo_thumb", "face_photo", "face_photo_thumb")
REGISTRATION_TARGET = "subscribers.registration"
STAFF_TARGET = "outlets.outletstaff"


# --- restriction -------------------------------------------------------------------------------


def registrations_visible_to(*, user, queryset: QuerySet[Registration]) -> QuerySet[Registration]:
    """Restricted registrations stay visible to operator admins only."""
    return queryset if is_operator(user) else exclude_restricted(queryset)


def registration_is_restricted(registration: Registration) -> bool:
    return RegistrationPrivacy.objects.filter(
        registration_id=registration.pk, restricted_at__isnull=False
    ).exists()


# --- retention ---------------------------------------------------------------------------------


def retention_cutoff(*, now: datetime | None = None) -> datetime:
    """Numbers deactivated before this instant are past the retention period."""
    days = settings.RETENTION_DAYS_AFTER_DEACTIVATION
    return (now or timezone.now()) - timedelta(days=days)


def _without_legal_hold(queryset: QuerySet[RegistrationPrivacy]) -> QuerySet[RegistrationPrivacy]:
    """UU PDP lets data tied to settling a case outlive its retention: a registration with an
    open discrepancy (the outlet may still be asked to clarify, or sanctioned) waits."""
    open_case = Discrepancy.objects.filter(
        registration_id=OuterRef("registration_id"), status=Discrepancy.Status.OPEN
    )
    return queryset.filter(~Exists(open_case))


def registrations_past_retention(*, cutoff: datetime) -> QuerySet[RegistrationPrivacy]:
    """Deactivated before ``cutoff``, not yet anonymised, not under a legal hold."""
    return _without_legal_hold(
        RegistrationPrivacy.objects.filter(anonymised_at__isnull=True, deactivated_at__lt=cutoff)
    )


def erasures_due() -> QuerySet[RegistrationPrivacy]:
    """Erasure was requested and the number is now out of service (deactivated or blocked)."""
    return _without_legal_hold(
        RegistrationPrivacy.objects.filter(
            anonymised_at__isnull=True, erasure_requested_at__isnull=False
        ).filter(
            Q(deactivated_at__isnull=False) | Q(registration__status=Registration.Status.BLOCKED)
        )
    )


@dataclass(frozen=True)
class RetentionPreview:
    cutoff: datetime
    past_retention: int
    erasures_due: int
    photo_files: int
    oldest_deactivated_at: datetime | None


def retention_preview(*, now: datetime | None = None) -> RetentionPreview:
    """What a purge would do now (``purge_expired_data --dry-run``): nothing is written."""
    cutoff = retention_cutoff(now=now)
    past = registrations_past_retention(cutoff=cutoff)
    erasures = erasures_due()
    due = Q(pk__in=past.values("registration_id")) | Q(pk__in=erasures.values("registration_id"))
    photos = Registration.objects.filter(due).aggregate(
        **{name: Count("pk", filter=~Q(**{name: ""})) for name in PHOTO_FIELDS}
    )
    return RetentionPreview(
        cutoff=cutoff,
        past_retention=past.count(),
        erasures_due=erasures.count(),
        photo_files=sum(photos.values()),
        oldest_deactivated_at=past.aggregate(oldest=Min("deactivated_at"))["oldest"],
    )


# --- everything held on one person -------------------------------------------------------------


@dataclass
class SubjectRecords:
    """What the portal holds on one ID number (registrant or outlet staff member)."""

    registrations: list[Registration]
    states: dict[int, RegistrationPrivacy]
    outlet_staff: list[OutletStaff]
    discrepancies: list[Discrepancy]
    audit_events: QuerySet[AuditEvent]

    @property
    def registration_ids(self) -> list[int]:
        return [registration.pk for registration in self.registrations]

    @property
    def staff_ids(self) -> list[int]:
        return [staff.pk for staff in self.outlet_staff]

    def state(self, registration: Registration) -> RegistrationPrivacy | None:
        return self.states.get(registration.pk)


def data_subject_records(*, digests: list[str]) -> SubjectRecords:
    """Every record found through the keyed digests of one ID number.

    Registrations where it is the registrant's ID number, outlet-staff records where it is the
    staff member's own ID, the discrepancies reconciliation found on those registrations and the
    audit events about those records. A registration whose ID number was corrected is found by
    the old number too: its earlier version (compliance workflow) still holds that person's
    data. Anonymised registrations no longer carry a digest, nor do their versions, so they are
    not found: nothing personal is left in them.
    """
    digests = [value for value in digests if value]
    corrected = RegistrationVersion.objects.filter(id_number_digest__in=digests).values(
        "registration_id"
    )
    registrations = list(
        Registration.objects.filter(Q(id_number_digest__in=digests) | Q(pk__in=corrected))
        .select_related("outlet", "policy")
        .order_by("registered_at", "pk")
    )
    registration_ids = [registration.pk for registration in registrations]
    staff = list(
        OutletStaff.objects.filter(id_number_digest__in=digests)
        .select_related("user", "outlet")
        .order_by("pk")
    )
    states = {
        state.registration_id: state
        for state in RegistrationPrivacy.objects.filter(registration_id__in=registration_ids)
    }
    discrepancies = list(
        Discrepancy.objects.filter(registration_id__in=registration_ids).order_by("detected_at")
    )
    events = AuditEvent.objects.filter(
        Q(target_type=REGISTRATION_TARGET, target_id__in=[str(pk) for pk in registration_ids])
        | Q(target_type=STAFF_TARGET, target_id__in=[str(s.pk) for s in staff])
    ).order_by("created_at", "pk")
    if not registration_ids and not staff:
        events = events.none()
    return SubjectRecords(registrations, states, staff, discrepancies, events)


# --- requests and jobs, for the operator admin's pages ----------------------------------------


def requests_for_user(*, user) -> QuerySet[DataSubjectRequest]:
    qs = DataSubjectRequest.objects.select_related("handled_by")
    return qs if is_operator(user) else qs.none()


def request_get_for_user(*, user, pk) -> DataSubjectRequest:
    """One request, or 404 when it does not exist *or* the user is not an operator admin."""
    return get_object_or_404(requests_for_user(user=user), pk=pk)


def earlier_requests(request: DataSubjectRequest) -> QuerySet[DataSubjectRequest]:
    return DataSubjectRequest.objects.filter(id_number_digest=request.id_number_digest).exclude(
        pk=request.pk
    )


def jobs_for_user(*, user) -> QuerySet[PrivacyJob]:
    qs = PrivacyJob.objects.select_related("requested_by")
    return qs if is_operator(user) else qs.none()


def active_job(kind: str) -> PrivacyJob | None:
    return PrivacyJob.objects.filter(kind=kind, status__in=PrivacyJob.ACTIVE_STATUSES).first()


def last_succeeded_job(kind: str) -> PrivacyJob | None:
    return (
        PrivacyJob.objects.filter(kind=kind, status=PrivacyJob.Status.SUCCEEDED)
        .order_by("-started_at")
        .first()
    )
