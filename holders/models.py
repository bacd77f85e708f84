"""The holder's door: what a person proving they hold a number on their NIK leaves behind.

Every secret is stored as a keyed hash only (``holders.secrets``): the one-time code, the
session's bearer token, the link a disputed number's user answers with. NIK and KK are kept as
``core.pii`` digests (a masked NIK for the statement), never in clear. Sessions and codes are
short-lived and purged (``holders.services.holder_records_purge``).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.masking import mask_msisdn


class HolderSession(models.Model):
    """One attempt to open the door: NIK + KK + one number, a code sent to that number (when
    the three agree), then — once the code is entered — a bearer token for 15 minutes.

    Written the same way whether or not the three agree (``matched`` is never shown to anyone):
    the caller cannot tell the difference."""

    class Method(models.TextChoices):
        SMS = "sms", _("Code by SMS")
        FACE = "face", _("Face verified by the population registry")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    method = models.CharField(max_length=4, choices=Method.choices, default=Method.SMS)
    nik_digest = models.CharField(max_length=64)
    nik_masked = models.CharField(max_length=40)
    # The login number (62…) as typed and normalised; digest for the throttle.
    msisdn = models.CharField(max_length=15, blank=True)
    msisdn_digest = models.CharField(max_length=64, blank=True)
    client_digest = models.CharField(max_length=64)
    matched = models.BooleanField(default=False)
    code_hash = models.CharField(max_length=64)
    code_expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    # Numbers typed in full to report that could not be (a guess at a masked number, or not):
    # too many end the session (holders.services.holder_dispute_open).
    dispute_misses = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("holder session")
        verbose_name_plural = _("holder sessions")
        indexes = [
            # The throttles: recent attempts per NIK, per number, per client address.
            models.Index(fields=["nik_digest", "created_at"], name="holder_sess_nik_idx"),
            models.Index(fields=["msisdn_digest", "created_at"], name="holder_sess_msisdn_idx"),
            models.Index(fields=["client_digest", "created_at"], name="holder_sess_client_idx"),
            models.Index(fields=["created_at"], name="holder_sess_created_idx"),
            models.Index(
                fields=["token_hash"],
                condition=~models.Q(token_hash=""),
                name="holder_sess_token_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"holder session {self.pk}"


class HolderDispute(models.Model):
    """ "This number is not mine": the number's user is told at once and has the notice window
    to answer; unanswered, the number is blocked. GraPARI reviews it in its queue (a review item
    of kind ``holder_dispute``) and the registering outlet is asked to clarify."""

    class Status(models.TextChoices):
        NOTICE = "notice", _("Reported: the number's user has been told")
        ANSWERED = "answered", _("The number's user says it is theirs: GraPARI decides")
        BLOCKED = "blocked", _("Blocked")
        REVERSED = "reversed", _("Block reversed by GraPARI")
        DISMISSED = "dismissed", _("Dismissed by GraPARI: the number is not blocked")

    session = models.ForeignKey(
        HolderSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="disputes"
    )
    nik_digest = models.CharField(max_length=64)
    registration = models.ForeignKey(
        "subscribers.Registration", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    msisdn = models.CharField(_("MSISDN"), max_length=15)
    note = models.TextField(_("note"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NOTICE
    )
    notice_until = models.DateTimeField(_("blocked after"))
    answer_token_hash = models.CharField(max_length=64)
    answered_at = models.DateTimeField(null=True, blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    # The registration's status before the block (restored when GraPARI reverses it).
    status_before_block = models.CharField(max_length=12, blank=True)
    # The block is the dispute's own (its notice window ran out and the sweep blocked the
    # number): a reversal undoes it. False when another block stands — GraPARI's decision —
    # which a reversal of the dispute leaves in place.
    own_block = models.BooleanField(default=False)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reverse_reason = models.TextField(blank=True)
    review_item = models.ForeignKey(
        "compliance.ReviewItem", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    clarification = models.ForeignKey(
        "compliance.Clarification", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("reported at"))

    class Meta:
        verbose_name = _("holder dispute")
        verbose_name_plural = _("holder disputes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="holder_dispute_status_known",
                condition=models.Q(
                    status__in=["notice", "answered", "blocked", "reversed", "dismissed"]
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["nik_digest", "-created_at"], name="holder_dispute_nik_idx"),
            # The block sweep: disputes whose notice window has passed unanswered.
            models.Index(
                fields=["notice_until"],
                condition=models.Q(status="notice"),
                name="holder_dispute_due_idx",
            ),
            models.Index(fields=["answer_token_hash"], name="holder_dispute_answer_idx"),
        ]

    def __str__(self) -> str:
        return f"dispute {self.pk} ({self.status})"


class HolderKeepChoice(models.Model):
    """Where the rule set lets the holder choose which numbers to keep over the cap: a number
    they did not keep, flagged for deactivation (the operator is told)."""

    nik_digest = models.CharField(max_length=64)
    registration = models.OneToOneField(
        "subscribers.Registration", on_delete=models.CASCADE, related_name="+"
    )
    msisdn = models.CharField(max_length=15)
    session = models.ForeignKey(
        HolderSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flagged_at = models.DateTimeField()

    class Meta:
        verbose_name = _("number flagged for deactivation by its holder")
        verbose_name_plural = _("numbers flagged for deactivation by their holder")
        indexes = [models.Index(fields=["nik_digest"], name="holder_keep_nik_idx")]

    def __str__(self) -> str:
        return f"{mask_msisdn(self.msisdn)} flagged for deactivation"


class OperatorNotice(models.Model):
    """What the operator must hear from the door (a block reversed, a number to deactivate):
    told after the commit and again by a periodic retry until its adapter accepted it."""

    class Action(models.TextChoices):
        UNBLOCK = "unblock", _("Block reversed")
        DEACTIVATE = "deactivate", _("Flagged for deactivation")

    action = models.CharField(max_length=10, choices=Action.choices)
    msisdn = models.CharField(max_length=15)
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    told_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(told_at__isnull=True),
                name="holder_opnotice_untold_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {mask_msisdn(self.msisdn)}"


class HolderStatement(models.Model):
    """A statement "numbers registered on your NIK" issued as a PDF: its short code and the
    SHA-256 of the file, so anyone can check a copy; nothing else about it is kept."""

    code = models.CharField(max_length=12, unique=True)
    sha256 = models.CharField(max_length=64)
    issued_at = models.DateTimeField()

    class Meta:
        verbose_name = _("holder statement")
        verbose_name_plural = _("holder statements")

    def __str__(self) -> str:
        return self.code


class SmsMessage(models.Model):
    """An SMS as the portal sends it: the queue (``pending`` until the backend took it, retried)
    and, with the database backend, the phone's stand-in (``sms_outbox`` prints it).

    A message written for a session whose facts did not agree is ``suppressed``: written and
    queued like the others, never sent, its text never stored."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        SUPPRESSED = "suppressed", _("Not sent")

    to = models.CharField(max_length=15)
    # Encrypted (core.pii) while waiting: it may carry a code. Cleared once sent.
    body_encrypted = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("SMS")
        verbose_name_plural = _("SMS")
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending"),
                name="holder_sms_pending_idx",
            ),
            models.Index(fields=["created_at"], name="holder_sms_created_idx"),
        ]

    def __str__(self) -> str:
        return f"SMS {self.pk} ({self.status})"


class StoredSms(models.Model):
    """The database backend's store: the SMS the portal "delivered" (development, tests and
    demonstrations: ``manage.py sms_outbox --to 62…`` prints them). Purged like the sessions."""

    to = models.CharField(max_length=15, db_index=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("delivered SMS (database backend)")
        verbose_name_plural = _("delivered SMS (database backend)")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"SMS to {self.to}"
