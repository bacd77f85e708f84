"""Reconciliation with the operator's database: runs, their chunks, and the discrepancies found."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DiscrepancyKind(models.TextChoices):
    """What reconciliation finds (``compliance.reconciliation.rules`` states each kind). One
    registration can have several."""

    MISSING_IN_OPERATOR = "missing_in_operator", _("Unknown to the operator")
    ID_NUMBER_MISMATCH = "id_number_mismatch", _("ID number differs")
    NAME_MISMATCH = "name_mismatch", _("Name differs")
    BIRTH_DATE_MISMATCH = "birth_date_mismatch", _("Date of birth differs")
    UNREGISTERED_ACTIVATION = "unregistered_activation", _("Active but never registered")
    ACTIVATED_BEFORE_REGISTRATION = (
        "activated_before_registration",
        _("Activated before it was registered"),
    )
    ID_OVER_LIMIT = "id_over_limit", _("ID holds more numbers than allowed")


class ReconciliationRun(models.Model):
    """One comparison of the portal's registrations with the operator's database.

    A run is split into ``RunChunk``s that workers claim one at a time; its progress and counts
    are updated as chunks finish, so the page and the API show them while it runs.
    """

    class Mode(models.TextChoices):
        FULL = "full", _("Full")
        INCREMENTAL = "incremental", _("Incremental")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        WEB = "web", _("Web page")
        API = "api", _("API")
        COMMAND = "command", _("Command")
        SCHEDULE = "schedule", _("Schedule")
        ADMIN = "admin", _("Administration")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    mode = models.CharField(_("mode"), max_length=12, choices=Mode.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    trigger = models.CharField(_("started from"), max_length=10, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "sql" (set-based, same database) or "python" (through the adapter), chosen when planned.
    engine = models.CharField(max_length=8, blank=True)
    # Incremental runs re-examine what changed at or after this instant.
    since = models.DateTimeField(_("changes since"), null=True, blank=True)
    # The per-ID cap of the policy in force when the run was planned (None: no cap).
    id_cap = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(default=0)
    rows_done = models.PositiveBigIntegerField(default=0)
    # {kind: n}: discrepancies found by this run / newly opened / resolved.
    counts = models.JSONField(default=dict, blank=True)
    opened = models.JSONField(default=dict, blank=True)
    resolved = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # "active" while queued or running, NULL afterwards: the unique constraint lets at most one
    # run be in progress, so two full runs (or a full and an incremental) never overlap.
    active_slot = models.CharField(max_length=6, null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["active_slot"], name="recon_run_one_active"),
            models.CheckConstraint(
                name="recon_run_slot_matches_status",
                condition=(
                    models.Q(status__in=["queued", "running"], active_slot="active")
                    | models.Q(status__in=["succeeded", "failed"], active_slot__isnull=True)
                ),
            ),
            models.CheckConstraint(
                name="recon_run_mode_known", condition=models.Q(mode__in=["full", "incremental"])
            ),
        ]
        indexes = [
            # The watermark of the next incremental run: the latest succeeded run's start.
            models.Index(fields=["status", "-started_at"], name="recon_run_status_start_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.mode} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class RunChunk(models.Model):
    """A slice of a run's work that one worker does in one transaction.

    Claimed with a compare-and-set (``pending`` → ``claimed``); a claim whose worker died is
    taken over after ``RECONCILIATION_CLAIM_TIMEOUT`` or when that worker restarts. The chunk's
    writes and its ``done`` mark commit together, guarded by the claim token, so a chunk counts
    once even when two workers end up doing it.
    """

    class Phase(models.TextChoices):
        MSISDN = "msisdn", _("MSISDN range")
        ID_GROUP = "id_group", _("ID digest range")

    class Scope(models.TextChoices):
        ALL = "all", _("Everything in range")
        CHANGED = "changed", _("What changed since the watermark")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CLAIMED = "claimed", _("Claimed")
        DONE = "done", _("Done")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    phase = models.CharField(max_length=10, choices=Phase.choices)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    # Half-open key range [key_from, key_to) of MSISDNs or ID digests; NULL = unbounded.
    key_from = models.CharField(max_length=64, null=True, blank=True)
    key_to = models.CharField(max_length=64, null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    claimed_by = models.CharField(max_length=200, blank=True)
    claim_task_id = models.CharField(max_length=64, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Records (registrations + operator records) the planner expects in the chunk, and those
    # examined (the planned figure when counting them would cost a pass of its own).
    rows_planned = models.PositiveBigIntegerField(default=0)
    rows_examined = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("reconciliation chunk")
        verbose_name_plural = _("reconciliation chunks")
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="recon_chunk_run_seq_unique"),
            models.CheckConstraint(
                name="recon_chunk_status_known",
                condition=models.Q(status__in=["pending", "claimed", "done"]),
            ),
        ]
        indexes = [
            # "Next chunk to claim" and "chunks left" of a run.
            models.Index(fields=["run", "status"], name="recon_chunk_run_status_idx"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} chunk {self.seq} ({self.status})"


class Discrepancy(models.Model):
    """A difference between the portal and the operator's database, per (MSISDN, kind).

    At most one *open* discrepancy per (MSISDN, kind) — a rerun or a second worker refreshes it
    instead of adding one. The run that no longer finds it resolves it. ``details`` holds the
    portal's and the operator's values side by side, ID numbers masked.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    Kind = DiscrepancyKind

    msisdn = models.CharField(_("MSISDN"), max_length=15)
    kind = models.CharField(_("kind"), max_length=32, choices=DiscrepancyKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    registration = models.ForeignKey(
        "subscribers.Registration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="discrepancies",
    )
    # The outlet accountable: the registering outlet, or the ROID an unregistered pack was sold
    # through. (Indexed by disc_outlet_idx, which starts with it.)
    outlet = models.ForeignKey(
        "outlets.Outlet",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="discrepancies",
        db_index=False,
    )
    details = models.JSONField(default=dict, blank=True)
    # id_over_limit only, never shown: the ID group (keyed digest) and its MSISDNs when last
    # seen, so an incremental run knows which groups a changed number may have left.
    id_digest = models.CharField(max_length=64, blank=True)
    id_group = models.JSONField(default=list, blank=True)
    first_detected_run = models.ForeignKey(
        ReconciliationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Not indexed on purpose: every run rewrites last_seen_* of each open discrepancy it finds
    # again, and with no index on what changes PostgreSQL can do it as a HOT update (the table
    # keeps free room per page for that: fillfactor 80, migration 0003).
    last_seen_run = models.ForeignKey(
        ReconciliationRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    resolved_by_run = models.ForeignKey(
        ReconciliationRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    detected_at = models.DateTimeField(_("detected at"))
    last_seen_at = models.DateTimeField(_("last seen at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        ordering = ["-detected_at", "-id"]
        constraints = [
            # Also the index of "open discrepancies in this MSISDN range" (a chunk's resolve).
            models.UniqueConstraint(
                fields=["msisdn", "kind"],
                condition=models.Q(status="open"),
                name="discrepancy_open_unique",
            ),
            models.CheckConstraint(
                name="discrepancy_kind_known",
                condition=models.Q(kind__in=[k.value for k in DiscrepancyKind]),
            ),
            models.CheckConstraint(
                name="discrepancy_resolved_has_time",
                condition=(
                    models.Q(status="open", resolved_at__isnull=True)
                    | models.Q(status="resolved", resolved_at__isnull=False)
                ),
            ),
        ]
        indexes = [
            # id_over_limit chunks resolve the open ones of their ID digest range.
            models.Index(
                fields=["id_digest"],
                name="disc_open_idgroup_idx",
                condition=models.Q(status="open", kind="id_over_limit"),
            ),
            # An outlet's (or a dealer's outlets') list, newest first.
            models.Index(fields=["outlet", "status", "-detected_at"], name="disc_outlet_idx"),
            # The operator's and GraPARI's list, newest first, by status.
            models.Index(fields=["status", "-detected_at"], name="disc_status_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.msisdn} {self.kind} ({self.status})"
