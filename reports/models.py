"""Reporting: summary tables the dashboard reads (kept up to date by ``reports.summary``) and
the export jobs (one file each, with its parameters, who asked, and its SHA-256).

The summary tables are derived data: they can be dropped and rebuilt at any time
(``python manage.py refresh_report_summaries --full``). Figures read them, never the
registrations table, so a one-year dashboard costs the same at 1 or 100 million registrations.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import vocabulary
from core.storage import get_private_storage


class SummaryState(models.Model):
    """The one row saying how fresh the summary tables are, and where the next refresh starts.

    A refresh holds this row's lock (``select_for_update``) for its whole transaction, so two
    refreshes never interleave.
    """

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON)
    # Every row a refresh writes carries its generation; rows of a recomputed day left with an
    # older one describe something that no longer exists and are deleted.
    generation = models.PositiveBigIntegerField(default=0)
    # The next incremental refresh re-examines what changed at or after this instant.
    watermark = models.DateTimeField(null=True, blank=True)
    # "Figures as of": when the last refresh started (it saw everything committed by then).
    refreshed_at = models.DateTimeField(_("figures as of"), null=True, blank=True)
    full_refreshed_at = models.DateTimeField(null=True, blank=True)
    # What the derived flags depend on (cap in force, repeated-ID threshold...): when it
    # changes, the next refresh rebuilds everything.
    parameters = models.JSONField(default=dict, blank=True)
    # The definition of the figures the tables were built under (``summary.DEFINITION_VERSION``);
    # summaries built under another are rebuilt in full by the next refresh. 0: built before
    # the version was recorded.
    definition_version = models.PositiveIntegerField(default=0)
    last_mode = models.CharField(max_length=12, blank=True)
    last_days = models.PositiveIntegerField(default=0)
    last_duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("report summary state")
        verbose_name_plural = _("report summary state")
        constraints = [
            models.CheckConstraint(name="report_summary_state_singleton", condition=models.Q(id=1))
        ]

    def __str__(self) -> str:
        return f"summaries as of {self.refreshed_at}"


class DailyOutletStats(models.Model):
    """Registrations per local day × outlet × ID type (by ``registered_at``)."""

    day = models.DateField()
    outlet = models.ForeignKey(
        "outlets.Outlet", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    id_type = models.CharField(max_length=12)
    registrations = models.PositiveIntegerField(default=0)
    # Of those, by their status now.
    blocked = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0)
    # Of those, awaiting verification by the population registry now (counted, shown apart).
    # Registrations the registry refused are not registrations: never counted here.
    awaiting = models.PositiveIntegerField(default=0)
    # Of those, how many have an open discrepancy of a kind the outlet is accountable for.
    with_discrepancy = models.PositiveIntegerField(default=0)
    generation = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("daily registrations per outlet")
        verbose_name_plural = _("daily registrations per outlet")
        constraints = [
            # The refresh's ON CONFLICT target, and the dashboard's "days of the period" scan.
            models.UniqueConstraint(
                fields=["day", "outlet", "id_type"], name="report_reg_day_outlet_type_uniq"
            )
        ]
        indexes = [
            # A dealer's (or one outlet's) dashboard: its outlets' rows for the period.
            models.Index(fields=["outlet", "day"], name="report_reg_outlet_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} outlet {self.outlet_id} {self.id_type}: {self.registrations}"


class DailyDiscrepancyStats(models.Model):
    """Discrepancies per local day of ``detected_at`` × accountable outlet × kind."""

    day = models.DateField()
    outlet = models.ForeignKey(
        "outlets.Outlet", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=32)
    detected = models.PositiveIntegerField(default=0)
    still_open = models.PositiveIntegerField(default=0)
    generation = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("daily discrepancies per outlet")
        verbose_name_plural = _("daily discrepancies per outlet")
        constraints = [
            # The refresh's ON CONFLICT target, and the dashboard's "days of the period" scan.
            models.UniqueConstraint(
                fields=["day", "outlet", "kind"], name="report_disc_day_outlet_kind_uniq"
            )
        ]
        indexes = [
            # A dealer's (or one outlet's) dashboard.
            models.Index(fields=["outlet", "day"], name="report_disc_outlet_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} outlet {self.outlet_id} {self.kind}: {self.detected}"


class FlaggedIdRegistration(models.Model):
    """A registration whose ID number is over the cap, or registered unusually often at its
    outlet — only those (a small set), so the two ID figures never scan every registration.

    ``id_digest`` is the registration's keyed digest (pseudonymous, never shown); a refresh
    drops the row when the registration is anonymised (its digest is then empty).
    """

    registration = models.OneToOneField(
        "subscribers.Registration", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    outlet = models.ForeignKey(
        "outlets.Outlet", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    id_digest = models.CharField(max_length=64)
    # Active (not blocked, not deactivated) and its ID holds more active numbers than the cap.
    over_cap = models.BooleanField(default=False)
    # Its ID was registered at this outlet at least REPORTS_REPEATED_ID_MIN times (all time;
    # the figure then counts within the period).
    repeated_at_outlet = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("flagged ID registration")
        verbose_name_plural = _("flagged ID registrations")
        indexes = [
            # The figures: "flagged rows of the period", by outlet.
            models.Index(fields=["day", "outlet"], name="report_flag_day_outlet_idx"),
            # The incremental refresh replaces the rows of the ID digests that changed.
            models.Index(fields=["id_digest"], name="report_flag_digest_idx"),
        ]

    def __str__(self) -> str:
        return f"registration {self.registration_id}"


def _export_path(instance, filename: str) -> str:
    # Random names: the path must not reveal what the file holds or for whom.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"exports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{extension}"


class ExportJob(models.Model):
    """One export file: what was asked (kind, format, parameters), by whom, its progress, and
    once done the file in the private storage with its SHA-256, so a regulator handed a file
    can check it is genuine and see how it was made (``/reports/verify/``).

    Run by a Celery task (or inline by ``export_report``) that claims it with a
    compare-and-set (``queued`` → ``running``); progress and the final state are written
    fenced by the claim token, so running the task twice does the work once.
    """

    class Kind(models.TextChoices):
        REGISTRATIONS = "registrations", _("Registrations")
        DISCREPANCIES = "discrepancies", _("Discrepancies")
        CLARIFICATIONS = "clarifications", _("Clarification requests")
        OUTLETS = "outlets", _("Outlets")
        SUMMARY = "summary", _("Summary")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX (Excel)"
        PDF = "pdf", "PDF"

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Ready")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        WEB = "web", _("Web page")
        API = "api", _("API")
        COMMAND = "command", _("Command")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    trigger = models.CharField(_("requested from"), max_length=8, choices=Trigger.choices)
    # date_from, date_to, province, dealer, outlet, grouping — fixed when the job is created.
    parameters = models.JSONField(_("parameters"), default=dict)
    # False only for an unmasked export (permission reports.export_unmasked, audited).
    masked = models.BooleanField(_("personal data masked"), default=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept when the account is later removed: the file still says who made it, and as what.
    requested_by_label = models.CharField(_("requested by"), max_length=150)
    requested_by_role = models.CharField(_("role"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    rows_total = models.PositiveBigIntegerField(default=0)
    rows_done = models.PositiveBigIntegerField(default=0)
    # Rows in scope left out because a data subject restricted their processing.
    rows_withheld = models.PositiveBigIntegerField(default=0)
    file = models.FileField(storage=get_private_storage, upload_to=_export_path, blank=True)
    file_name = models.CharField(_("file name"), max_length=120, blank=True)
    content_type = models.CharField(max_length=80, blank=True)
    size = models.PositiveBigIntegerField(_("size in bytes"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    # Files are kept REPORTS_EXPORT_RETENTION_DAYS; the row (and its hash) stays for checks.
    file_deleted_at = models.DateTimeField(_("file deleted at"), null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        permissions = [
            (
                "export_unmasked",
                _("Can export full ID numbers and personal data (audited)"),
            )
        ]
        constraints = [
            models.CheckConstraint(
                name="export_job_status_known",
                condition=models.Q(status__in=["queued", "running", "succeeded", "failed"]),
            ),
            models.CheckConstraint(
                name="export_job_kind_known",
                condition=models.Q(
                    kind__in=[
                        "registrations",
                        "discrepancies",
                        "clarifications",
                        "outlets",
                        "summary",
                    ]
                ),
            ),
            models.CheckConstraint(
                name="export_job_format_known",
                condition=models.Q(format__in=["csv", "xlsx", "pdf"]),
            ),
            # A finished export always carries the hash of its file.
            models.CheckConstraint(
                name="export_job_succeeded_has_hash",
                condition=~models.Q(status="succeeded") | ~models.Q(sha256=""),
            ),
        ]
        indexes = [
            # "My exports", newest first (the exports page and GET /api/v1/reports/).
            models.Index(fields=["requested_by", "-created_at"], name="export_job_user_idx"),
            # The verify page: which export has this SHA-256?
            models.Index(fields=["sha256"], name="export_job_sha256_idx"),
            # The sweep: queued or running jobs whose worker went quiet.
            models.Index(fields=["status", "heartbeat_at"], name="export_job_status_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}.{self.format} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_downloadable(self) -> bool:
        return self.status == self.Status.SUCCEEDED and bool(self.file) and not self.file_deleted_at

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_total))


class RowFlag(models.TextChoices):
    """The flags a figure's rows are filtered by (``reports.rows.registration_rows``)."""

    DISCREPANCY = "discrepancy", _("With an open discrepancy")
    OVER_CAP = "over_cap", _("Its NIK is over the cap")
    REPEATED = "repeated", _("Its NIK registered repeatedly at the outlet")


# The vocabularies of this module, with their labels for pages and exports (core.vocabulary).
vocabulary.register("export_kind", ExportJob.Kind)
vocabulary.register("export_format", ExportJob.Format)
vocabulary.register("export_status", ExportJob.Status)
vocabulary.register("report_flag", RowFlag)
