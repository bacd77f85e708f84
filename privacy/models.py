"""Personal-data duties (UU PDP No. 27/2022): each registration's privacy state, the long jobs
that act on millions of rows (retention purge, key rotation, deactivation sync) and the
data-subject requests an operator admin handles.

The state lives here rather than on ``subscribers.Registration``: only registrations whose
number was deactivated, or that a data subject asked about, have a row, so the daily retention
scan reads this small table through a partial index instead of the whole registrations table.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import vocabulary


class RegistrationPrivacy(models.Model):
    """What the personal-data rules need to know about one registration.

    - ``deactivated_at``: when the operator's database was first seen saying the number is
      inactive (``number_deactivations_sync``); the retention period counts from here.
    - ``restricted_at``: a data subject asked to restrict processing. The registration's personal
      data is then shown to operator admins only and left out of exports
      (``subscribers.selectors.exclude_restricted``).
    - ``erasure_requested_at``: erasure was asked for while the number was still in service (or
      under a legal hold); the next purge anonymises it as soon as that ends.
    - ``anonymised_at``: the personal fields are gone; the row stays for statistics.
    - ``guardian_erasure_requested_at``: the head of family through whom a minor registered
      asked to erase their own part (their NIK and face) while the number was in service or a
      case was open; it is erased as soon as that ends (``guardian_erasures_due``), never the
      minor's data.
    """

    registration = models.OneToOneField(
        "subscribers.Registration",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="privacy",
    )
    deactivated_at = models.DateTimeField(_("number deactivated at"), null=True, blank=True)
    restricted_at = models.DateTimeField(_("processing restricted since"), null=True, blank=True)
    erasure_requested_at = models.DateTimeField(_("erasure requested at"), null=True, blank=True)
    anonymised_at = models.DateTimeField(_("anonymised at"), null=True, blank=True)
    # Which request restricted or asked to erase it, and which job/request anonymised it.
    request = models.ForeignKey(
        "DataSubjectRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    anonymised_by_job = models.ForeignKey(
        "PrivacyJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    guardian_erasure_requested_at = models.DateTimeField(
        _("head of family's erasure requested at"), null=True, blank=True
    )
    # The head of family's request (not the minor's): the erasure, when it happens, is audited
    # under it.
    guardian_request = models.ForeignKey(
        "DataSubjectRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("registration privacy state")
        verbose_name_plural = _("registration privacy states")
        indexes = [
            # The retention purge: "deactivated before the cut-off, not yet anonymised", read in
            # (deactivated_at, registration) keyset order; anonymised rows leave the index.
            models.Index(
                fields=["deactivated_at", "registration"],
                name="privacy_retention_due_idx",
                condition=models.Q(anonymised_at__isnull=True, deactivated_at__isnull=False),
            ),
            # The purge's second pass: erasures waiting for the number to leave service.
            models.Index(
                fields=["registration"],
                name="privacy_erasure_pending_idx",
                condition=models.Q(anonymised_at__isnull=True, erasure_requested_at__isnull=False),
            ),
            # Heads of family's erasures waiting for the number to leave service.
            models.Index(
                fields=["registration"],
                name="privacy_guardian_pending_idx",
                condition=models.Q(guardian_erasure_requested_at__isnull=False),
            ),
            # exclude_restricted(): "registrations restricted" is a tiny set, read on every list.
            models.Index(
                fields=["registration"],
                name="privacy_restricted_idx",
                condition=models.Q(restricted_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"registration {self.registration_id}"


class PrivacyJob(models.Model):
    """One run of a long personal-data job, with its progress where a person can see it.

    At most one job of a kind is queued or running (a partial unique constraint). The worker
    that runs it holds ``claim_token``; every chunk commits its writes together with the job's
    cursor and counts, fenced by that token, so a job whose worker died is taken over (after
    ``PRIVACY_JOB_STALE_SECONDS`` without a heartbeat) and resumes where it stopped.
    """

    class Kind(models.TextChoices):
        RETENTION_PURGE = "retention_purge", _("Retention purge")
        KEY_ROTATION = "key_rotation", _("Encryption key rotation")
        DEACTIVATION_SYNC = "deactivation_sync", _("Number deactivation sync")
        DIGEST_ROTATION = "digest_rotation", _("Digest key rotation")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        PAGE = "page", _("Web page")
        COMMAND = "command", _("Command")
        SCHEDULE = "schedule", _("Schedule")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    trigger = models.CharField(_("started from"), max_length=10, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the job was asked to do (retention cut-off, chunk size...), fixed when it is created.
    parameters = models.JSONField(default=dict, blank=True)
    # Where a resumed job goes on: {"phase": ..., "last": ...} per kind.
    cursor = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("personal-data job")
        verbose_name_plural = _("personal-data jobs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(status__in=["queued", "running"]),
                name="privacy_job_one_active_per_kind",
            ),
            models.CheckConstraint(
                name="privacy_job_status_known",
                condition=models.Q(status__in=["queued", "running", "succeeded", "failed"]),
            ),
            models.CheckConstraint(
                name="privacy_job_kind_known",
                condition=models.Q(
                    kind__in=[
                        "retention_purge",
                        "key_rotation",
                        "deactivation_sync",
                        "digest_rotation",
                    ]
                ),
            ),
        ]
        indexes = [
            # The deactivation sync's watermark: the latest succeeded job of a kind.
            models.Index(fields=["kind", "status", "-started_at"], name="privacy_job_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class DataSubjectRequest(models.Model):
    """A person's request about the data held on their ID number, as an operator admin handled it.

    The number itself is never stored: its keyed digests (every stored form, see
    ``privacy.identity``) find the records again, its masked form names it on pages and in the
    audit trail. ``actions`` lists what was done, when and by whom; each action also writes an
    audit row.
    """

    class Action(models.TextChoices):
        """What ``actions`` records (the request's page names each in words)."""

        DECIDE = "decide", _("Decided whether the records are the person's")
        EXPORT = "export", _("Copy of the data handed over")
        ERASE = "erase", _("Erasure")
        ERASE_HEAD_OF_FAMILY_DATA = (
            "erase_head_of_family_data",
            _("Head of family's data erased once the number left service"),
        )
        RESTRICT = "restrict", _("Processing restricted")
        LIFT_RESTRICTION = "lift_restriction", _("Restriction lifted")

    class Channel(models.TextChoices):
        GRAPARI = "grapari", _("In person at a GraPARI")
        LETTER = "letter", _("Letter")
        EMAIL = "email", _("E-mail")
        CONTACT_CENTRE = "contact_centre", _("Contact centre")
        OTHER = "other", _("Other")

    id_number_masked = models.CharField(_("ID number"), max_length=40)
    # The digest of the most likely stored form ("earlier requests on this number"), and of
    # every form the look-up tries.
    id_number_digest = models.CharField(max_length=64, db_index=True)
    id_number_digests = models.JSONField(default=list)
    channel = models.CharField(_("received through"), max_length=16, choices=Channel.choices)
    reference = models.CharField(
        _("reference (letter or ticket number)"), max_length=100, blank=True
    )
    notes = models.TextField(_("notes (how the identity was checked, on whose behalf)"), blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_by_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    # The person the request names beyond the number, where given: the comparison key of the
    # name and the birth date (``privacy.subjects``), and the operator admin's decision on each
    # record the number matched ambiguously ({"registration:40": "include"|"exclude"}).
    person = models.JSONField(default=dict, blank=True)
    decisions = models.JSONField(default=dict, blank=True)
    # What the first look-up found, so the list shows it without decrypting anything.
    found = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="dsr_channel_known",
                condition=models.Q(
                    channel__in=["grapari", "letter", "email", "contact_centre", "other"]
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"DSR #{self.pk} {self.id_number_masked}"

    def done(self, action: str) -> bool:
        return any(entry.get("action") == action for entry in self.actions)


class ErasureLedger(models.Model):
    """One erasure, recorded so that restoring an older backup cannot bring the person back.

    Who erased, when, the keyed digests of the person's ID number (re-digested by a digest-key
    rotation from the encrypted number kept with them) and the records acted on, by key. A
    restore re-applies every live entry (``privacy.services.erasure_ledger_reapply``). The
    entry is itself personal data: it is deleted once no backup taken before it can be
    restored (``expires_at``, ``BACKUP_RETENTION_DAYS`` after the erasure).
    """

    created_at = models.DateTimeField(_("erased at"))
    erased_by = models.CharField(_("erased by"), max_length=150)
    request = models.ForeignKey(
        DataSubjectRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    digests = models.JSONField(default=list)
    # The person's number under FIELD_ENCRYPTION_KEYS: the digest-key rotation re-digests the
    # entry from it (no other copy of the number is left once the person is erased).
    id_number_encrypted = models.TextField(blank=True)
    # {"anonymised": [...], "deferred": [...], "versions": [...], "staff": [...], "users": [...],
    #  "answers": [...], "discrepancy_sides": {"<id>": ["portal", ...]}}
    records = models.JSONField(default=dict)
    expires_at = models.DateTimeField(_("kept until"), db_index=True)
    reapplied_at = models.DateTimeField(_("last re-applied"), null=True, blank=True)

    class Meta:
        verbose_name = _("erasure ledger entry")
        verbose_name_plural = _("erasure ledger")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"erasure {self.pk} {self.created_at:%Y-%m-%d}"


class ExportFile(models.Model):
    """A file of a person's data the portal wrote outside its own storage (a data-subject
    export written by the command), tracked so that it has a retention period
    (``PRIVACY_EXPORT_RETENTION_DAYS``, enforced by the retention purge) and so that the
    person's erasure deletes it. Downloads from the page are streamed, never stored."""

    request = models.ForeignKey(
        DataSubjectRequest, on_delete=models.CASCADE, related_name="export_files"
    )
    path = models.CharField(_("file"), max_length=1000)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("written at"))
    expires_at = models.DateTimeField(_("kept until"))
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    # "retention" or "erasure" (or "missing": already gone when its time came).
    deleted_because = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name = _("export file")
        verbose_name_plural = _("export files")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["expires_at"],
                name="privacy_exportfile_live_idx",
                condition=models.Q(deleted_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.path


# The vocabularies of this module, with their labels for pages and exports (core.vocabulary).
vocabulary.register("privacy_job_kind", PrivacyJob.Kind)
vocabulary.register("privacy_job_status", PrivacyJob.Status)
vocabulary.register("privacy_job_trigger", PrivacyJob.Trigger)
vocabulary.register("request_channel", DataSubjectRequest.Channel)
vocabulary.register("request_action", DataSubjectRequest.Action)
