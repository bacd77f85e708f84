"""The compliance workflow: who is asked, who decides, what it costs the outlet.

Clarification requests and their answers, GraPARI's review queue, the outcome of each settled
finding, confirmed violations, sanctions, blocked numbers, the registrations' earlier versions
and the notifications that tell people. The services are in ``compliance.workflow``; the states
and their transitions are declared on the models, and every change is a compare-and-set with its
audit row.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import vocabulary
from core.storage import get_private_storage

from .reconciliation import Discrepancy, DiscrepancyKind


def _evidence_path(instance, filename: str) -> str:
    # Random names: a path must not reveal whose document it is.
    return f"evidence/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.jpg"


def _private_storage():
    return get_private_storage()


class Notification(models.Model):
    """What one person is told in the portal (and by e-mail when they have an address): a
    request to answer, a decision on their outlet's answer, a sanction."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    text = models.CharField(_("text"), max_length=300)
    link = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            # A person's notifications, newest first; the unread count on their home.
            models.Index(fields=["user", "-created_at"], name="notification_user_time_idx"),
            models.Index(
                fields=["user"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.text[:60]}"


class Clarification(models.Model):
    """A request to the party accountable for a number to explain (or correct) what
    reconciliation found: one per number at a time, gathering all its open discrepancies.

    States (``TRANSITIONS``): ``open`` → ``answered`` (the outlet answers before the deadline)
    → ``accepted`` (GraPARI dismisses the finding or accepts the correction) or ``rejected``
    (a violation is confirmed or the number blocked); ``answered``/``expired``/``rejected`` →
    ``reopened`` (asked again, with a new deadline) → ``answered`` …; ``open``/``reopened`` →
    ``expired`` when the deadline passes unanswered (escalated to the review queue). Any
    active request is ``withdrawn`` once reconciliation finds the data agreeing again.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for the answer")
        ANSWERED = "answered", _("Answered, under review")
        REOPENED = "reopened", _("Asked again")
        EXPIRED = "expired", _("Deadline passed without an answer")
        ACCEPTED = "accepted", _("Settled: accepted")
        REJECTED = "rejected", _("Settled: rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn: the data agrees again")

    class Accountable(models.TextChoices):
        OUTLET = "outlet", _("The registering outlet")
        PARTY = "party", _("A party under a responsibility-transfer agreement")
        DEALER = "dealer", _("The dealer")

    ACTIVE = (Status.OPEN, Status.ANSWERED, Status.REOPENED, Status.EXPIRED)
    AWAITING_ANSWER = (Status.OPEN, Status.REOPENED)
    CLOSED = (Status.ACCEPTED, Status.REJECTED, Status.WITHDRAWN)
    TRANSITIONS = {
        Status.OPEN: {Status.ANSWERED, Status.EXPIRED, Status.WITHDRAWN},
        Status.REOPENED: {Status.ANSWERED, Status.EXPIRED, Status.WITHDRAWN},
        Status.ANSWERED: {Status.ACCEPTED, Status.REJECTED, Status.REOPENED, Status.WITHDRAWN},
        Status.EXPIRED: {Status.ACCEPTED, Status.REJECTED, Status.REOPENED, Status.WITHDRAWN},
        Status.REJECTED: {Status.REOPENED},
        Status.ACCEPTED: set(),
        Status.WITHDRAWN: set(),
    }

    msisdn = models.CharField(_("MSISDN"), max_length=15)
    registration = models.ForeignKey(
        "subscribers.Registration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clarifications",
    )
    accountable = models.CharField(
        _("accountable"), max_length=8, choices=Accountable.choices, default=Accountable.OUTLET
    )
    # The outlet asked (accountable = outlet); indexed by clar_outlet_idx.
    outlet = models.ForeignKey(
        "outlets.Outlet",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="clarifications",
        db_index=False,
    )
    # Always set: the outlet's dealer, or the dealer answering itself or for its party (they
    # have no accounts of their own: the dealer's admins answer in the dealer's inbox).
    dealer = models.ForeignKey(
        "outlets.Dealer", on_delete=models.PROTECT, related_name="clarifications", db_index=False
    )
    party = models.ForeignKey(
        "outlets.ResponsibleParty",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    agreement = models.ForeignKey(
        "outlets.TransferAgreement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    # The reviewer's words when the request was opened or reopened by a person.
    question = models.TextField(_("question"), blank=True)
    round = models.PositiveSmallIntegerField(_("round"), default=1)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    opened_at = models.DateTimeField(_("opened at"))
    due_at = models.DateTimeField(_("answer due by"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    # The review decision that settled it (ReviewItem.Decision), or "settled" by reconciliation.
    decision = models.CharField(_("decision"), max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("clarification request")
        verbose_name_plural = _("clarification requests")
        ordering = ["due_at", "id"]
        constraints = [
            # One request in progress per number: a later run adds to it, never a second one.
            models.UniqueConstraint(
                fields=["msisdn"],
                condition=models.Q(status__in=["open", "answered", "reopened", "expired"]),
                name="clarification_one_active_per_msisdn",
            ),
            models.CheckConstraint(
                name="clarification_status_known",
                condition=models.Q(
                    status__in=[
                        "open",
                        "answered",
                        "reopened",
                        "expired",
                        "accepted",
                        "rejected",
                        "withdrawn",
                    ]
                ),
            ),
            models.CheckConstraint(
                name="clarification_outlet_when_outlet_accountable",
                condition=(
                    models.Q(accountable="outlet", outlet__isnull=False)
                    | models.Q(accountable__in=["party", "dealer"])
                ),
            ),
            models.CheckConstraint(
                name="clarification_settled_has_time",
                condition=(
                    models.Q(
                        status__in=["accepted", "rejected", "withdrawn"],
                        resolved_at__isnull=False,
                    )
                    | models.Q(
                        status__in=["open", "answered", "reopened", "expired"],
                        resolved_at__isnull=True,
                    )
                ),
            ),
        ]
        indexes = [
            # The outlet's inbox: its requests by status, soonest deadline first.
            models.Index(fields=["outlet", "status", "due_at"], name="clar_outlet_idx"),
            # The dealer's inbox (its own and its parties' requests, and its outlets').
            models.Index(fields=["dealer", "status", "due_at"], name="clar_dealer_idx"),
            # The expiry sweep: awaiting an answer, past the deadline.
            models.Index(
                fields=["due_at"],
                condition=models.Q(status__in=["open", "reopened"]),
                name="clar_awaiting_due_idx",
            ),
            # Reports: requests opened in a period.
            models.Index(fields=["opened_at"], name="clar_opened_idx"),
            # The party, the agreement and the reviewer who opened it are set on few requests
            # (most go to an outlet, opened by reconciliation): partial indexes, which a
            # request without them does not enter.
            models.Index(
                fields=["party"],
                condition=models.Q(party__isnull=False),
                name="clar_party_idx",
            ),
            models.Index(
                fields=["agreement"],
                condition=models.Q(agreement__isnull=False),
                name="clar_agreement_idx",
            ),
            models.Index(
                fields=["opened_by"],
                condition=models.Q(opened_by__isnull=False),
                name="clar_opened_by_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.msisdn} ({self.get_status_display()})"

    @property
    def awaits_answer(self) -> bool:
        return self.status in self.AWAITING_ANSWER

    def may_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())


class ClarificationItem(models.Model):
    """One discrepancy a request asks about. A request gathers all the open discrepancies of
    its number; a later run finding the same discrepancy adds nothing (unique pair)."""

    # No index of their own: the unique pair leads with the request, and
    # ``clar_item_discrepancy_idx`` is the discrepancy's (a first run writes tens of thousands).
    clarification = models.ForeignKey(
        Clarification, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    discrepancy = models.ForeignKey(
        Discrepancy, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=32, choices=DiscrepancyKind.choices)
    round = models.PositiveSmallIntegerField(default=1)
    added_at = models.DateTimeField(_("added at"))

    class Meta:
        verbose_name = _("clarification item")
        verbose_name_plural = _("clarification items")
        ordering = ["clarification", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clarification", "discrepancy"], name="clar_item_unique"
            ),
        ]
        indexes = [
            # "Which request asks about this discrepancy" (settling, the discrepancy page).
            models.Index(fields=["discrepancy"], name="clar_item_discrepancy_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.clarification_id}: {vocabulary.label('discrepancy_kind', self.kind)}"


class ClarificationAnswer(models.Model):
    """An answer of the accountable party: an explanation, optionally a correction of the
    registration (validated like a new registration, applied only when GraPARI accepts it)
    and an evidence photo (private storage; never shown to the regulator)."""

    class Outcome(models.TextChoices):
        PENDING = "", _("Under review")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Not accepted")

    clarification = models.ForeignKey(
        Clarification, on_delete=models.CASCADE, related_name="answers"
    )
    round = models.PositiveSmallIntegerField(default=1)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_by_label = models.CharField(max_length=150, blank=True)
    explanation = models.TextField(_("explanation"))
    # The corrected values (field → new value, as validated); ID and KK numbers appear here
    # masked only: their values are in the *_encrypted columns below.
    correction = models.JSONField(_("proposed correction"), default=dict, blank=True)
    correction_id_number_encrypted = models.TextField(blank=True)
    correction_kk_number_encrypted = models.TextField(blank=True)
    evidence_photo = models.FileField(
        storage=_private_storage, upload_to=_evidence_path, blank=True
    )
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING, blank=True
    )
    created_at = models.DateTimeField(_("answered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("clarification answer")
        verbose_name_plural = _("clarification answers")
        ordering = ["clarification", "id"]

    def __str__(self) -> str:
        return f"answer {self.pk} to {self.clarification_id}"

    @property
    def has_correction(self) -> bool:
        return bool(self.correction)


class RegistrationVersion(models.Model):
    """The values a registration held before an accepted correction replaced them: the
    correction is a new version, the old one kept (version 1 = as first registered)."""

    registration = models.ForeignKey(
        "subscribers.Registration", on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    # full_name, birth_place, birth_date, sex, address, nationality, id_type and the masked
    # ID and KK numbers; the numbers themselves only encrypted, below.
    values = models.JSONField(default=dict)
    id_number_encrypted = models.TextField(blank=True)
    id_number_digest = models.CharField(max_length=64, blank=True)
    kk_number_encrypted = models.TextField(blank=True)
    kk_number_digest = models.CharField(max_length=64, blank=True)
    replaced_at = models.DateTimeField(_("replaced at"))
    replaced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answer = models.ForeignKey(
        ClarificationAnswer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("registration version")
        verbose_name_plural = _("registration versions")
        ordering = ["registration", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "version"], name="registration_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registration_id} v{self.version}"

    @property
    def labelled_values(self) -> list[tuple[str, str]]:
        """The values as a reader sees them: each field's name and each coded value's label."""
        from django.core.exceptions import FieldDoesNotExist
        from django.utils.text import capfirst

        from subscribers.models import Registration

        coded = {"id_type": "id_type", "sex": "sex", "category": "category"}
        rows = []
        for name, value in (self.values or {}).items():
            try:
                label = capfirst(Registration._meta.get_field(name).verbose_name)
            except FieldDoesNotExist:
                label = name.replace("_", " ")
            if name in coded:
                value = vocabulary.label(coded[name], value)
            rows.append((label, value))
        return rows


class ReviewItem(models.Model):
    """One entry of GraPARI's review queue: a flagged registration, or a clarification that
    was answered or expired. Claimed by one reviewer at a time (compare-and-set; a claim left
    idle past its expiry is free again), decided once."""

    class Kind(models.TextChoices):
        FLAGGED_REGISTRATION = "flagged_registration", _("Flagged registration")
        ANSWERED_CLARIFICATION = "answered_clarification", _("Answered clarification")
        EXPIRED_CLARIFICATION = "expired_clarification", _("Clarification not answered in time")
        # The holder of the NIK says the number is not theirs (the holder's door).
        HOLDER_DISPUTE = "holder_dispute", _("Disputed by the NIK's holder")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DECIDED = "decided", _("Decided")
        CLOSED = "closed", _("Closed without a decision")

    class Decision(models.TextChoices):
        DISMISS = "dismiss", _("Dismiss: the data was right")
        ACCEPT = "accept", _("Accept the correction")
        ASK_AGAIN = "ask_again", _("Ask the outlet again")
        CONFIRM_VIOLATION = "confirm_violation", _("Confirm a violation")
        BLOCK = "block", _("Block the number")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    msisdn = models.CharField(_("MSISDN"), max_length=15)
    registration = models.ForeignKey(
        "subscribers.Registration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="review_items",
    )
    # Indexed below, partially: the items of unknown-to-the-operator findings have none.
    clarification = models.ForeignKey(
        Clarification,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="review_items",
        db_index=False,
    )
    # A flagged registration's item raised by one discrepancy no outlet is asked about
    # (unknown to the operator): never queued twice for the same discrepancy (the unique
    # constraint is its index).
    discrepancy = models.ForeignKey(
        Discrepancy,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Copied from the outlet when queued, so the queue filters without joins (indexes below).
    outlet = models.ForeignKey(
        "outlets.Outlet",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    dealer = models.ForeignKey(
        "outlets.Dealer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    province = models.CharField(_("province"), max_length=2, blank=True)
    region = models.CharField(_("regency / city"), max_length=100, blank=True)
    # ",name_mismatch,birth_date_mismatch," — the discrepancy kinds, for the kind filter.
    discrepancy_kinds = models.CharField(max_length=200, blank=True)
    queued_at = models.DateTimeField(_("queued at"))
    # The queue's order: most overdue first. An expired clarification is due at its (passed)
    # answer deadline; anything else REVIEW_TARGET_HOURS after it was queued.
    due_at = models.DateTimeField(_("decide by"))
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    claim_expires_at = models.DateTimeField(_("claim expires at"), null=True, blank=True)
    decision = models.CharField(_("decision"), max_length=20, choices=Decision.choices, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("review item")
        verbose_name_plural = _("review items")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clarification"],
                condition=models.Q(status="open"),
                name="review_open_per_clarification",
            ),
            models.UniqueConstraint(
                fields=["registration"],
                condition=models.Q(status="open", kind="flagged_registration"),
                name="review_open_flagged_per_registration",
            ),
            models.UniqueConstraint(fields=["discrepancy"], name="review_item_discrepancy_unique"),
            models.CheckConstraint(
                name="review_item_kind_known",
                condition=models.Q(
                    kind__in=[
                        "flagged_registration",
                        "answered_clarification",
                        "expired_clarification",
                        "holder_dispute",
                    ]
                ),
            ),
            models.CheckConstraint(
                name="review_item_claim_whole",
                condition=(
                    models.Q(claimed_by__isnull=True, claim_expires_at__isnull=True)
                    | models.Q(claimed_by__isnull=False, claim_expires_at__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="review_item_decided_whole",
                condition=(
                    models.Q(status="open", decided_at__isnull=True)
                    | models.Q(status__in=["decided", "closed"], decided_at__isnull=False)
                ),
            ),
        ]
        indexes = [
            # The queue page, unfiltered and by each filter, keyset-paginated on (due_at, id).
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(status="open"),
                name="review_open_due_idx",
            ),
            models.Index(
                fields=["kind", "due_at", "id"],
                condition=models.Q(status="open"),
                name="review_open_kind_idx",
            ),
            models.Index(
                fields=["outlet", "due_at", "id"],
                condition=models.Q(status="open"),
                name="review_open_outlet_idx",
            ),
            models.Index(
                fields=["dealer", "due_at", "id"],
                condition=models.Q(status="open"),
                name="review_open_dealer_idx",
            ),
            models.Index(
                fields=["province", "due_at", "id"],
                condition=models.Q(status="open"),
                name="review_open_province_idx",
            ),
            # Reports and the registration's history: decisions in a period.
            models.Index(fields=["decision", "decided_at"], name="review_decided_idx"),
            # A request's items, whatever their status (those of unknown-to-the-operator
            # findings have no request and stay out).
            models.Index(
                fields=["clarification"],
                condition=models.Q(clarification__isnull=False),
                name="review_clarification_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.msisdn} ({self.get_status_display()})"

    @property
    def kinds(self) -> list[str]:
        return [k for k in self.discrepancy_kinds.split(",") if k]

    @property
    def kinds_text(self) -> str:
        """What the item is about, in words: the findings' kinds, and a holder's report by its
        own label (a report is kept among the kinds, not a reconciliation finding); the item's
        own kind, already said by its title, is not said again."""
        return ", ".join(
            vocabulary.label("discrepancy_kind", code)
            if vocabulary.is_known("discrepancy_kind", code)
            else vocabulary.label("review_kind", code)
            if vocabulary.is_known("review_kind", code)
            else code
            for code in self.kinds
            if code != self.kind
        )


class DiscrepancyOutcome(models.Model):
    """How the workflow settled a discrepancy (the engine's own resolutions are on the
    discrepancy). A dismissal is remembered by the finding's fingerprint, so when a later run
    opens exactly the same finding again (the operator has not corrected its record), it is
    settled at once instead of asking the outlet about it again."""

    class Outcome(models.TextChoices):
        DISMISSED = "dismissed", _("Dismissed: the portal's data was right")
        DISMISSED_BEFORE = "dismissed_before", _("Dismissed before: the same finding")
        CORRECTED = "corrected", _("Corrected: the outlet's correction was accepted")

    discrepancy = models.OneToOneField(Discrepancy, on_delete=models.CASCADE, related_name="+")
    msisdn = models.CharField(max_length=15)
    kind = models.CharField(max_length=32, choices=DiscrepancyKind.choices)
    fingerprint = models.CharField(max_length=64)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    review_item = models.ForeignKey(
        ReviewItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("discrepancy outcome")
        verbose_name_plural = _("discrepancy outcomes")
        indexes = [
            # "Was this finding dismissed before?" for a batch of newly opened discrepancies.
            models.Index(fields=["msisdn", "kind"], name="disc_outcome_msisdn_kind_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.msisdn} {vocabulary.label('discrepancy_kind', self.kind)}: "
            f"{self.get_outcome_display()}"
        )


class Violation(models.Model):
    """A breach of the registration rules that a reviewer confirmed against the accountable
    party. An outlet's violations within the policy's window drive the sanction ladder."""

    outlet = models.ForeignKey(
        "outlets.Outlet",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="violations",
        db_index=False,
    )
    dealer = models.ForeignKey("outlets.Dealer", on_delete=models.PROTECT, related_name="+")
    accountable = models.CharField(
        max_length=8, choices=Clarification.Accountable.choices, default="outlet"
    )
    msisdn = models.CharField(_("MSISDN"), max_length=15)
    registration = models.ForeignKey(
        "subscribers.Registration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="violations",
    )
    clarification = models.ForeignKey(
        Clarification, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_item = models.OneToOneField(
        ReviewItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="violation"
    )
    kinds = models.CharField(_("kinds"), max_length=200, blank=True)
    reason = models.TextField(_("reason"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("confirmed at"))

    class Meta:
        verbose_name = _("violation")
        verbose_name_plural = _("violations")
        ordering = ["-confirmed_at", "-id"]
        indexes = [
            # The ladder: an outlet's violations within the window; its compliance page.
            models.Index(fields=["outlet", "confirmed_at"], name="violation_outlet_time_idx"),
            # Reports: violations confirmed in a period.
            models.Index(fields=["confirmed_at"], name="violation_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.msisdn} {self.kind_labels} ({self.confirmed_at:%Y-%m-%d})"

    @property
    def kind_labels(self) -> str:
        """The kinds confirmed, in words (stored as codes separated by commas)."""
        return vocabulary.labels("discrepancy_kind", self.kinds.split(","))


class Sanction(models.Model):
    """A rung of the sanction ladder taken against an outlet: a written warning, a suspension
    (through ``outlets.services.outlet_suspend``) or a revocation. A suspension is lifted by
    an operator admin, with a reason (the outlet is reinstated)."""

    class Level(models.TextChoices):
        WARNING = "warning", _("Written warning")
        SUSPENSION = "suspension", _("Suspension")
        REVOCATION = "revocation", _("Revocation")

    outlet = models.ForeignKey(
        "outlets.Outlet", on_delete=models.PROTECT, related_name="sanctions", db_index=False
    )
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    reason = models.TextField(_("reason"))
    violations_counted = models.PositiveIntegerField(_("violations counted"))
    window_days = models.PositiveIntegerField(_("window (days)"))
    policy = models.ForeignKey(
        "subscribers.RegistrationPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    violation = models.ForeignKey(
        Violation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # False when the outlet already stood there (suspended by hand, say): recorded, not redone.
    status_changed = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(_("imposed at"))
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lift_reason = models.TextField(_("reason for lifting"), blank=True)

    class Meta:
        verbose_name = _("sanction")
        verbose_name_plural = _("sanctions")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="sanction_level_known",
                condition=models.Q(level__in=["warning", "suspension", "revocation"]),
            ),
            models.CheckConstraint(
                name="sanction_lifted_whole",
                condition=(
                    models.Q(lifted_at__isnull=True, lift_reason="")
                    | (models.Q(lifted_at__isnull=False) & ~models.Q(lift_reason=""))
                ),
            ),
        ]
        indexes = [
            # An outlet's sanctions, newest first (its compliance page, the ladder).
            models.Index(fields=["outlet", "-created_at"], name="sanction_outlet_time_idx"),
            # Reports: sanctions imposed in a period.
            models.Index(fields=["created_at"], name="sanction_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.outlet_id} {self.level} ({self.created_at:%Y-%m-%d})"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class NumberBlock(models.Model):
    """A number a reviewer blocked. The portal's side (registration and pack blocked) is done
    in the decision's transaction; the operator is told after the commit, and again by a
    periodic retry until its adapter has accepted it (``operator_told_at``)."""

    msisdn = models.CharField(_("MSISDN"), max_length=15, unique=True)
    registration = models.ForeignKey(
        "subscribers.Registration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    review_item = models.ForeignKey(
        ReviewItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(_("reason"))
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("blocked at"), auto_now_add=True)
    operator_told_at = models.DateTimeField(_("operator told at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("blocked number")
        verbose_name_plural = _("blocked numbers")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The retry: blocks the operator has not acknowledged yet.
            models.Index(
                fields=["created_at"],
                condition=models.Q(operator_told_at__isnull=True),
                name="number_block_untold_idx",
            ),
        ]

    def __str__(self) -> str:
        return _("%(msisdn)s blocked") % {"msisdn": self.msisdn}


# The vocabularies of this module, with their labels for pages and exports (core.vocabulary).
vocabulary.register("clarification_status", Clarification.Status)
vocabulary.register("accountable", Clarification.Accountable)
vocabulary.register("answer_outcome", ClarificationAnswer.Outcome)
vocabulary.register("review_kind", ReviewItem.Kind)
vocabulary.register("review_status", ReviewItem.Status)
vocabulary.register("review_decision", ReviewItem.Decision)
vocabulary.register("discrepancy_outcome", DiscrepancyOutcome.Outcome)
vocabulary.register("sanction_level", Sanction.Level)
