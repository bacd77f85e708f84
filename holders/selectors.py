"""What the door shows a verified holder: the current numbers on their NIK, and nothing about
anyone else. Every read is keyed on the session's NIK digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from compliance.models import Clarification, ReviewItem
from core.masking import local_msisdn
from subscribers.models import Category, Registration
from subscribers.selectors import NoPolicyInForce, policy_in_force

from .hashing import secret_hash
from .models import HolderDispute, HolderKeepChoice, HolderSession


def current_registrations(nik_digest: str) -> QuerySet[Registration]:
    """The registrations that are *currently* the holder's: on this NIK, not refused, and not
    an ended life of the number (``Registration.objects.current_lives``: deactivated or
    reissued at the operator, docs/number-lives.md) — nor one a later registration of the same
    number has replaced before reconciliation said so.

    The one place that says what "current" means for the door: every read and check of the
    door goes through it."""
    newer = Registration.objects.filter(
        msisdn=OuterRef("msisdn"), registered_at__gt=OuterRef("registered_at")
    )
    return (
        Registration.objects.current_lives()
        .filter(id_number_digest=nik_digest)
        .exclude(status=Registration.Status.REFUSED)
        .exclude(privacy__anonymised_at__isnull=False)
        .exclude(Exists(newer))
    )


def holder_mask_msisdn(msisdn: str) -> str:
    """``6281112341234`` → ``0811-****-1234``: enough to recognise one's own number, too little
    to call it."""
    local = local_msisdn(msisdn)
    return f"{local[:4]}-****-{local[-4:]}"


def number_ref(session: HolderSession, msisdn: str) -> str:
    """An opaque reference to one of the session's numbers: forms and the API act on a masked
    number through it, so the full number never reaches the page."""
    return secret_hash("ref", f"{session.pk}:{msisdn}")[:20]


class NumberStatus:
    ACTIVE = "active"
    INACTIVE = "inactive"
    BLOCKED = "blocked"
    AWAITING = "awaiting"
    LABELS = {
        ACTIVE: _("Active"),
        INACTIVE: _("Inactive"),
        BLOCKED: _("Blocked"),
        AWAITING: _("Awaiting verification"),
    }


@dataclass
class HolderNumber:
    ref: str
    msisdn: str  # the stored form: used only to act on it, never shown unless it is the login
    shown: str
    is_login_number: bool
    registered_at: datetime
    outlet_name: str
    city: str
    status: str
    over_cap: bool
    counts_against_cap: bool
    flagged_for_deactivation: bool
    dispute: HolderDispute | None

    @property
    def status_label(self) -> str:
        return str(NumberStatus.LABELS[self.status])

    @property
    def disputable(self) -> bool:
        return (
            not self.is_login_number
            and self.status != NumberStatus.BLOCKED
            and (self.dispute is None or self.dispute.status == HolderDispute.Status.REVERSED)
        )


def _status(registration: Registration, flagged: bool) -> str:
    if registration.status == Registration.Status.BLOCKED:
        return NumberStatus.BLOCKED
    if registration.status == Registration.Status.AWAITING:
        return NumberStatus.AWAITING
    if flagged or registration.deactivated_at is not None:
        return NumberStatus.INACTIVE
    return NumberStatus.ACTIVE


def holder_cap() -> tuple[int | None, bool]:
    """The cap of the rule set in force, and whether the holder chooses which to keep."""
    try:
        policy = policy_in_force()
    except NoPolicyInForce:
        return None, False
    return policy.max_numbers_per_id, bool(policy.holder_chooses_over_cap)


def holder_numbers(session: HolderSession) -> list[HolderNumber]:
    """The current numbers on the session's NIK, oldest first, shown as the holder may see
    them: the login number in full, the others masked; which are over the cap."""
    registrations = list(
        current_registrations(session.nik_digest)
        .select_related("outlet", "privacy")
        .order_by("registered_at", "pk")
    )
    flagged = set(
        HolderKeepChoice.objects.filter(
            registration_id__in=[r.pk for r in registrations]
        ).values_list("registration_id", flat=True)
    )
    disputes: dict[str, HolderDispute] = {}
    for dispute in HolderDispute.objects.filter(nik_digest=session.nik_digest).order_by(
        "created_at", "pk"
    ):
        disputes[dispute.msisdn] = dispute  # the latest per number
    cap, _chooses = holder_cap()
    counted = 0
    numbers = []
    for registration in registrations:
        privacy = getattr(registration, "privacy", None)
        registration.deactivated_at = getattr(privacy, "deactivated_at", None)
        status = _status(registration, registration.pk in flagged)
        counts = registration.category == Category.PERSONAL and status in (
            NumberStatus.ACTIVE,
            NumberStatus.AWAITING,
        )
        if counts:
            counted += 1
        is_login = session.method == HolderSession.Method.SMS and registration.msisdn == (
            session.msisdn
        )
        numbers.append(
            HolderNumber(
                ref=number_ref(session, registration.msisdn),
                msisdn=registration.msisdn,
                shown=local_msisdn(registration.msisdn)
                if is_login
                else holder_mask_msisdn(registration.msisdn),
                is_login_number=is_login,
                registered_at=registration.registered_at,
                outlet_name=registration.outlet.name,
                city=registration.outlet.region,
                status=status,
                over_cap=bool(counts and cap is not None and counted > cap),
                counts_against_cap=counts,
                flagged_for_deactivation=registration.pk in flagged,
                dispute=disputes.get(registration.msisdn),
            )
        )
    return numbers


@dataclass
class DisputeProgress:
    dispute: HolderDispute
    shown: str
    steps: list[str]


def dispute_progress(dispute: HolderDispute) -> list[str]:
    """What the holder is told of a dispute's progress, in order."""
    steps = [str(HolderDispute.Status(dispute.status).label)]
    already_blocked = (
        dispute.status == HolderDispute.Status.NOTICE
        and Registration.objects.filter(
            pk=dispute.registration_id, status=Registration.Status.BLOCKED
        ).exists()
    )
    if already_blocked:
        # Blocked meanwhile by GraPARI's decision: no "will be blocked after" for it.
        steps.append(str(_("The number is blocked.")))
    elif dispute.status == HolderDispute.Status.NOTICE:
        # The local wall clock, as the SMS to the number and GraPARI's page give it.
        steps.append(
            str(_("Blocked after %(when)s unless the number's user answers."))
            % {"when": timezone.localtime(dispute.notice_until).strftime("%d-%m-%Y %H:%M")}
        )
    clarification = (
        Clarification.objects.filter(pk=dispute.clarification_id).only("status").first()
        if dispute.clarification_id
        else None
    )
    if clarification is not None:
        steps.append(
            str(_("The registering outlet was asked to explain: %(status)s."))
            % {"status": clarification.get_status_display().lower()}
        )
    item = (
        ReviewItem.objects.filter(pk=dispute.review_item_id).only("status", "decision").first()
        if dispute.review_item_id
        else None
    )
    if item is not None:
        if item.status == ReviewItem.Status.OPEN:
            steps.append(str(_("GraPARI is reviewing it.")))
        elif item.decision == ReviewItem.Decision.CONFIRM_VIOLATION:
            steps.append(str(_("GraPARI confirmed it: the outlet is held to account.")))
        elif item.decision == ReviewItem.Decision.BLOCK:
            steps.append(str(_("GraPARI confirmed it and blocked the number.")))
        elif item.decision == ReviewItem.Decision.DISMISS:
            steps.append(str(_("GraPARI found the registration in order: the dispute is closed.")))
        else:
            steps.append(str(_("GraPARI closed the review.")))
    return steps


def holder_disputes(session: HolderSession) -> list[DisputeProgress]:
    """The disputes on the session's NIK (from this visit and earlier ones), newest first."""
    return [
        DisputeProgress(dispute=d, shown=holder_mask_msisdn(d.msisdn), steps=dispute_progress(d))
        for d in HolderDispute.objects.filter(nik_digest=session.nik_digest).order_by(
            "-created_at", "-pk"
        )
    ]
