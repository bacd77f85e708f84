"""Reads of the privacy app: what is due for anonymisation, what is restricted, and everything
held on one person. Pages, commands and tasks use the same functions."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from compliance.models import Discrepancy
from core.models import AuditEvent
from core.roles import is_operator
from holders.models import HolderDispute, HolderKeepChoice, HolderSession
from outlets.models import OutletStaff
from subscribers.models import Registration
from subscribers.selectors import exclude_restricted

from .models import DataSubjectRequest, PrivacyJob, RegistrationPrivacy
from .subjects import (
    GUARDIAN_ACTIONS,
    Holding,
    PersonClaim,
    PersonRecords,
    disagreements,
    guardian_registrations,
    person_records,
)

PHOTO_FIELDS = ("id_photo", "id_photo_thumb", "face_photo", "face_photo_thumb")
REGISTRATION_TARGET = "subscribers.registration"
STAFF_TARGET = "outlets.outletstaff"
HOLDER_SESSION_TARGET = "holders.holdersession"
HOLDER_DISPUTE_TARGET = "holders.holderdispute"


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
class HolderRecords:
    """What the holder's door (``/nomor-saya/``) keeps under the person's NIK: the sessions
    opened with it, the numbers disputed ("not mine") and the numbers not kept over the cap.
    Keyed by the NIK's digest alone (the door asks no name). A statement keeps only its code and
    the file's hash: nothing in it leads to the person, so none is listed."""

    sessions: list[HolderSession] = field(default_factory=list)
    disputes: list[HolderDispute] = field(default_factory=list)
    keep_choices: list[HolderKeepChoice] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sessions or self.disputes or self.keep_choices)


def holder_records(digests: list[str]) -> HolderRecords:
    """The holder's-door records under these digests, oldest first."""
    digests = [d for d in digests if d]
    if not digests:
        return HolderRecords()
    return HolderRecords(
        sessions=list(HolderSession.objects.filter(nik_digest__in=digests).order_by("created_at")),
        disputes=list(
            HolderDispute.objects.filter(nik_digest__in=digests).order_by("created_at", "pk")
        ),
        keep_choices=list(
            HolderKeepChoice.objects.filter(nik_digest__in=digests).order_by("flagged_at", "pk")
        ),
    )


@dataclass
class SubjectRecords:
    """What the portal holds on one person (registrant or outlet staff member): the
    registrations where they hold, or held, the registered identity (``person`` says which
    values are theirs), their outlet-staff records, the discrepancies with a side that is
    theirs, and the audit events about their records while they were theirs."""

    registrations: list[Registration]
    states: dict[int, RegistrationPrivacy]
    outlet_staff: list[OutletStaff]
    discrepancies: list[Discrepancy]
    audit_events: QuerySet[AuditEvent]
    person: PersonRecords = field(default_factory=PersonRecords)
    # Minors' registrations made through this person as head of family (guardian): the
    # minor's, with the guardian's NIK and face in them (``privacy.subjects``).
    guarded: list[Registration] = field(default_factory=list)
    # What the holder's door keeps under their NIK (sessions, disputes, numbers not kept).
    holder: HolderRecords = field(default_factory=HolderRecords)

    @property
    def registration_ids(self) -> list[int]:
        return [registration.pk for registration in self.registrations]

    @property
    def guarded_ids(self) -> list[int]:
        return [registration.pk for registration in self.guarded]

    @property
    def staff_ids(self) -> list[int]:
        return [staff.pk for staff in self.outlet_staff]

    @property
    def ambiguous(self) -> list[Holding]:
        return self.person.ambiguous

    def state(self, registration: Registration) -> RegistrationPrivacy | None:
        return self.states.get(registration.pk)

    def holds_now(self, registration: Registration) -> bool:
        return registration.pk in self.person.current_ids


def data_subject_records(
    *, digests: list[str], person: dict | None = None, decisions: dict | None = None
) -> SubjectRecords:
    """Every record holding the data of the person these keyed digests (and, where given, name
    and birth date: ``person``) name — by holding, not by row (``privacy.subjects``).

    A registration whose ID number was corrected away from the person is found by the old
    number: its earlier version holds their data, and only that version is theirs; one
    corrected *to* the person is theirs from the correction on. Anonymised registrations carry
    no digest any more, nor do their versions: nothing personal is left to find.
    """
    digests = [value for value in digests if value]
    person = person or {}
    claim = PersonClaim(tuple(digests), person.get("name_key", ""), person.get("birth_date", ""))
    held = person_records(claim, decisions or {})
    registration_ids = [
        pk for pk, hs in held.holdings.items() if any(h.status == "mine" for h in hs)
    ]
    registrations = [
        hs[-1].registration for pk, hs in held.holdings.items() if pk in registration_ids
    ]
    staff = (
        list(
            OutletStaff.objects.filter(id_number_digest__in=digests)
            .select_related("user", "outlet")
            .order_by("pk")
        )
        if digests
        else []
    )
    states = {
        state.registration_id: state
        for state in RegistrationPrivacy.objects.filter(registration_id__in=registration_ids)
    }
    discrepancies = [d for d in held.discrepancies if held.discrepancy_sides(d)]
    windows = Q(pk__in=[])
    for pk in registration_ids:
        first = held.holdings[pk][0]
        for holding in held.mine(pk):
            window = Q(target_type=REGISTRATION_TARGET, target_id=str(pk))
            if holding is not first:
                window &= Q(created_at__gte=holding.since)
            if holding.until is not None:
                window &= Q(created_at__lte=holding.until)
            windows |= window
    if staff:
        windows |= Q(target_type=STAFF_TARGET, target_id__in=[str(s.pk) for s in staff])
    guarded = guardian_registrations(digests, exclude=registration_ids)
    if guarded:
        windows |= Q(
            target_type=REGISTRATION_TARGET,
            target_id__in=[str(r.pk) for r in guarded],
            action__in=GUARDIAN_ACTIONS,
        )
    states.update(
        {
            state.registration_id: state
            for state in RegistrationPrivacy.objects.filter(
                registration_id__in=[r.pk for r in guarded]
            )
        }
    )
    holder = holder_records(digests)
    if holder.sessions:
        windows |= Q(
            target_type=HOLDER_SESSION_TARGET,
            target_id__in=[str(session.pk) for session in holder.sessions],
        )
    if holder.disputes:
        windows |= Q(
            target_type=HOLDER_DISPUTE_TARGET,
            target_id__in=[str(dispute.pk) for dispute in holder.disputes],
        )
    events = AuditEvent.objects.filter(windows).order_by("created_at", "pk")
    return SubjectRecords(
        registrations, states, staff, discrepancies, events, held, guarded, holder
    )


def request_disagreements(*, request: DataSubjectRequest, records: SubjectRecords) -> list[dict]:
    """The records a request's number matched ambiguously, as an operator admin decides them:
    masked (``Holding.describe``), with what disagrees (``differs``: ``full_name``,
    ``birth_date``)."""
    return [
        {**holding.describe(), "differs": fields}
        for holding, fields in disagreements(records.person, PersonClaim.from_request(request))
    ]


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
