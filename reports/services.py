"""Writes of the reports app: request an export, run it, download it, sweep, refresh.

The web page, the API, ``export_report`` and the Celery task all go through these functions:
one implementation of every export. Each export is an ``ExportJob`` row: its parameters and
scope are fixed when it is requested, the file is written by ``export_job_run`` (claimed with
a compare-and-set, so running it twice writes it once) and stored in the private storage with
its SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import jobs, vocabulary
from core.audit import AuditAction, audit_record, command_line_actor
from core.queue import enqueue

from . import exporters
from .expressions import local_text
from .figures import GROUP_LABELS, report_figures
from .models import ExportJob
from .periods import PeriodError
from .scope import ReportFilter, ReportScope, may_export_unmasked, report_filter_from
from .summary import RefreshOutcome, summaries_refresh
from .tables import row_source

logger = logging.getLogger(__name__)
PROGRESS_SECONDS = 1.0
# A queued job nobody picked up for this long (broker outage, lost message) is queued again.
QUEUED_GRACE = timedelta(minutes=10)


# Claims, heartbeats and stale detection of exports: the one resumable-job implementation.
LEASE = jobs.Lease(
    model=ExportJob,
    stale_after=jobs.seconds_setting("REPORTS_EXPORT_STALE_SECONDS", 600),
    worker_field=None,
)
# Another worker took the job over; this one stops without writing anything.
ClaimLost = jobs.ClaimLost


# --- request -----------------------------------------------------------------------------------


def export_job_create(
    *,
    user,
    kind: str,
    format: str,
    data: Mapping,
    trigger: str,
    masked: bool = True,
    language: str = "",
    dispatch: bool = True,
) -> ExportJob:
    """Record an export of ``kind`` in ``format`` for the period and filters in ``data`` (as
    the reader ``user`` sees it; ``None`` is the command line, which sees every outlet), audit
    it, and queue its task after the commit (unless ``dispatch`` is off: the command runs it
    inline).

    Rules: the reader may read reports (else ``PermissionDenied``); the period is required and
    valid (else ``ValidationError`` naming the field); an unmasked export needs
    ``reports.export_unmasked`` and is never the regulator's, and is audited as
    ``reports.export_unmasked`` besides the request's own row.
    """
    errors: dict[str, list[str]] = {}
    if kind not in ExportJob.Kind.values:
        errors["kind"] = [_("Choose one of: %s.") % ", ".join(ExportJob.Kind.values)]
    if format not in ExportJob.Format.values:
        errors["format"] = [_("Choose one of: %s.") % ", ".join(ExportJob.Format.values)]
    try:
        flt = report_filter_from(data, today=timezone.localdate(), required=True)
    except PeriodError as exc:
        errors.update({field: [message] for field, message in exc.errors.items()})
        flt = None
    if user is None:
        scope = ReportScope.everything(command_line_actor())
        actor, label, role = command_line_actor(), command_line_actor(), "operator"
    else:
        scope = ReportScope.for_user(user)  # PermissionDenied for outlet staff and strangers
        actor, label = user, user.get_username()
        role = "operator" if user.is_operator else user.role
        if not masked and not may_export_unmasked(user):
            raise PermissionDenied(_("Unmasked exports need the 'export unmasked' permission."))
    if errors:
        raise ValidationError(errors)
    parameters = {
        **flt.as_params(),
        "scope": {
            "dealer_id": scope.dealer_id,
            "sees_restricted": scope.sees_restricted,
            "sees_purpose": scope.sees_purpose,
        },
        "language": language or settings.LANGUAGE_CODE,
    }
    with transaction.atomic():
        job = ExportJob.objects.create(
            kind=kind,
            format=format,
            trigger=trigger,
            parameters=parameters,
            masked=masked,
            requested_by=user,
            requested_by_label=label[:150],
            requested_by_role=role or "",
        )
        audit_record(
            actor=actor,
            action=AuditAction.REPORTS_EXPORT_REQUEST,
            target=job,
            after={"kind": kind, "format": format, "masked": masked, **flt.as_params()},
        )
        if not masked:
            audit_record(
                actor=actor,
                action=AuditAction.REPORTS_EXPORT_UNMASKED,
                target=job,
                after={"kind": kind, "format": format, **flt.as_params()},
            )
    if dispatch:
        _dispatch(job.pk)
    return job


def _dispatch(job_id: int) -> None:
    from .tasks import run_export_job

    enqueue(run_export_job, job_id)


# --- run ---------------------------------------------------------------------------------------


def job_filter(job: ExportJob) -> ReportFilter:
    return report_filter_from(job.parameters, today=timezone.localdate(), required=True)


def job_scope(job: ExportJob) -> ReportScope:
    scope = job.parameters.get("scope") or {}
    return ReportScope(
        scope.get("dealer_id"),
        bool(scope.get("sees_restricted")),
        job.requested_by_label,
        sees_purpose=bool(scope.get("sees_purpose")),
    )


def file_name(job: ExportJob) -> str:
    p = job.parameters
    return f"satupintu-{job.kind}-{p['date_from']}-{p['date_to']}-{job.pk}.{job.format}"


def about(job: ExportJob, *, figures_as_of=None) -> list[tuple[str, object]]:
    """What the file is, written into XLSX ("About" sheet) and PDF files, and shown by the
    verify page: the hash itself cannot be inside the file it hashes."""
    p = job.parameters
    filters = ", ".join(
        f"{GROUP_LABELS[k]}: {vocabulary.label('province', p[k]) if k == 'province' else p[k]}"
        for k in ("province", "dealer", "outlet")
        if p.get(k)
    )
    scope = p.get("scope") or {}
    grouping = p.get("grouping", "")
    return [
        (
            _("Export"),
            f"#{job.pk} {vocabulary.label('export_kind', job.kind)} "
            f"({vocabulary.label('export_format', job.format)})",
        ),
        (_("Period (local days, both included)"), f"{p['date_from']} – {p['date_to']}"),
        (_("Filters"), filters or _("none")),
        (
            _("Outlets covered"),
            _("every outlet") if scope.get("dealer_id") is None else _("the dealer's outlets"),
        ),
        (_("Grouping"), str(GROUP_LABELS.get(grouping, grouping))),
        (_("Personal data"), _("masked") if job.masked else _("NOT masked")),
        (
            _("Requested by"),
            f"{job.requested_by_label} ({vocabulary.label('role', job.requested_by_role)})",
        ),
        (_("Requested at"), local_text(job.created_at)),
        (_("Figures as of"), local_text(figures_as_of) if figures_as_of else "—"),
        (_("Times"), settings.TIME_ZONE),
        (_("Check"), _("Compare the file's SHA-256 on the portal's 'Verify a file' page.")),
    ]


def export_job_run(*, job_id: int) -> ExportJob:
    """Claim the job (``queued``, or ``running`` without progress for
    ``REPORTS_EXPORT_STALE_SECONDS``), write its file, store it, record its SHA-256.

    Safe to run twice or concurrently: only the claim's holder writes the outcome; a worker
    whose claim was taken over discards its file. A failure is recorded on the job.
    """
    now = timezone.now()
    token = jobs.claim(
        LEASE, job_id, now=now, started_at=now, rows_done=0, attempts=F("attempts") + 1
    )
    job = ExportJob.objects.get(pk=job_id)
    if token is None:
        logger.info("reports: export %s is %s; not claimed", job_id, job.status)
        return job
    fenced = LEASE.fenced(job_id, token)
    storage = job.file.storage
    work_dir = _work_dir(storage)
    # A predecessor whose claim this one took over died (or hangs, and will find its claim
    # lost): its half-written file is nobody's now.
    _work_files_delete(work_dir, job_id=job_id, keep_token=token)
    handle, temp_name = tempfile.mkstemp(
        prefix=_work_prefix(job_id, token), suffix=f".{job.format}", dir=work_dir
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        with translation.override(job.parameters.get("language") or settings.LANGUAGE_CODE):
            rows, total, withheld = _write(job, temp, token)
        digest, size = _sha256(temp)
        with temp.open("rb") as fh:
            stored = storage.save(
                job.file.field.generate_filename(job, file_name(job)), _WrittenFile(fh, temp)
            )
        finished = fenced.update(
            status=ExportJob.Status.SUCCEEDED,
            file=stored,
            file_name=file_name(job),
            content_type=exporters.CONTENT_TYPES[job.format],
            sha256=digest,
            size=size,
            rows_done=rows,
            rows_total=total,
            rows_withheld=withheld,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            error="",
        )
        if not finished:
            job.file.storage.delete(stored)
    except ClaimLost:
        logger.warning("reports: export %s was taken over by another worker", job_id)
    except Exception as exc:
        logger.exception("reports: export %s failed", job_id)
        fenced.update(
            status=ExportJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
    finally:
        temp.unlink(missing_ok=True)
    job.refresh_from_db()
    return job


class _WrittenFile(File):
    """The finished file, which a file-system storage moves into place rather than copies
    (Django's storage moves content that has a ``temporary_file_path``)."""

    def __init__(self, fh, path: Path):
        super().__init__(fh)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def _work_dir(storage) -> str | None:
    """Where the file is written while it is made: inside the private storage when it is on
    this machine (no copy at the end, and personal data never in a shared /tmp), else the
    system's temporary folder."""
    try:
        folder = Path(storage.path("exports/.work"))
    except NotImplementedError:
        return None
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(folder)


def _work_prefix(job_id: int, token: str) -> str:
    # The file names its job and claim, so that a sweep can tell a live writer's file from
    # the leftover of a worker that died (SIGKILL, OOM) before its ``finally`` ran.
    return f"export-{job_id}-{token}-"


def _work_file_owner(name: str) -> tuple[int, str] | None:
    parts = name.split("-")
    if len(parts) >= 4 and parts[0] == "export" and parts[1].isdigit():
        return int(parts[1]), parts[2]
    return None


def _work_files_delete(work_dir: str | None, *, job_id: int, keep_token: str) -> int:
    """Delete the work files of ``job_id`` that are not the claim ``keep_token``'s."""
    if work_dir is None:
        return 0
    deleted = 0
    for path in Path(work_dir).glob(f"export-{job_id}-*"):
        owner = _work_file_owner(path.name)
        if owner and owner[0] == job_id and owner[1] != keep_token:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def export_work_files_purge(*, now=None) -> int:
    """Delete half-written export files left by dead workers: older than
    ``REPORTS_EXPORT_STALE_SECONDS`` and not the file of a live claim (a running job with
    that claim token and a fresh heartbeat). Returns how many were deleted."""
    now = now or timezone.now()
    stale = now - LEASE.stale_after()
    work_dir = _work_dir(ExportJob._meta.get_field("file").storage)
    if work_dir is None:
        return 0
    live = set(ExportJob.objects.filter(LEASE.live(now)).values_list("pk", "claim_token"))
    deleted = 0
    for path in Path(work_dir).iterdir():
        try:
            modified = path.stat().st_mtime
        except FileNotFoundError:  # its writer just finished and moved it into place
            continue
        if modified >= stale.timestamp() or _work_file_owner(path.name) in live:
            continue
        path.unlink(missing_ok=True)
        deleted += 1
    return deleted


def _write(job: ExportJob, path: Path, token: str) -> tuple[int, int, int]:
    """Write the job's file at ``path``, while ``token`` holds its claim: (rows written, rows in
    scope, rows withheld)."""
    flt, scope = job_filter(job), job_scope(job)
    last = [0.0]

    def progress(done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - last[0] < PROGRESS_SECONDS:
            return
        last[0] = now
        jobs.heartbeat(LEASE, job.pk, token, rows_done=done)

    figures = None
    if job.kind in (ExportJob.Kind.SUMMARY, ExportJob.Kind.OUTLETS) or job.format == "pdf":
        summaries_refresh()  # figures as of this export, not as of the last scheduled refresh
    # Only a CSV is defused (a leading ' before formula-like text): XLSX cells are typed.
    source = row_source(
        job.kind, flt, scope, masked=job.masked, defused=job.format == ExportJob.Format.CSV
    )
    # A PDF without a table of rows (the summary) prints figures: it writes none of the
    # source's rows, so it counts none (its progress ends at 0 of 0, not at 0 of the lines).
    total = source.total
    if job.format == ExportJob.Format.PDF and job.kind not in exporters.PDF_ROW_COLUMNS:
        total = 0
    LEASE.fenced(job.pk, token).update(rows_total=total, rows_withheld=source.withheld)
    title = _("Satu Pintu — %(kind)s, %(period)s") % {
        "kind": job.get_kind_display(),
        "period": str(flt.period),
    }
    from .summary import summary_state

    state = summary_state()
    info = about(job, figures_as_of=state.refreshed_at if state else None)
    if job.format == ExportJob.Format.CSV:
        rows = exporters.write_csv(source, path, progress=progress)
    elif job.format == ExportJob.Format.XLSX:
        rows = exporters.write_xlsx(source, path, progress=progress, title=job.kind, about=info)
    else:
        figures = report_figures(flt, scope)
        rows = exporters.write_pdf(
            figures, path, title=title, about=info, rows=source, kind=job.kind, progress=progress
        )
    progress(rows, force=True)
    return rows, total, source.withheld


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- download, sweep, refresh ------------------------------------------------------------------


def export_job_open(*, user, job: ExportJob):
    """The file of a finished export, opened for reading; the download is audited.

    ``job`` must come from ``selectors.export_job_get_for_user`` (the reader's own). Raises
    ``FileNotFoundError`` when it is not ready or its file has expired.
    """
    if not job.is_downloadable:
        raise FileNotFoundError(job.pk)
    handle = job.file.storage.open(job.file.name, "rb")
    audit_record(
        actor=user,
        action=AuditAction.REPORTS_EXPORT_DOWNLOAD,
        target=job,
        after={"sha256": job.sha256, "masked": job.masked},
    )
    return handle


def export_jobs_sweep(*, now=None) -> dict[str, int]:
    """Re-queue exports whose worker went quiet or whose task was lost, delete the
    half-written files of dead workers, and delete files older than
    ``REPORTS_EXPORT_RETENTION_DAYS`` (the job and its hash stay, for checks)."""
    now = now or timezone.now()
    requeue = list(
        ExportJob.objects.filter(
            LEASE.stale(now) | Q(status=ExportJob.Status.QUEUED, created_at__lt=now - QUEUED_GRACE)
        ).values_list("pk", flat=True)[:500]
    )
    for pk in requeue:
        _dispatch(pk)
    expired = 0
    cutoff = now - timedelta(days=settings.REPORTS_EXPORT_RETENTION_DAYS)
    for job in ExportJob.objects.filter(
        status=ExportJob.Status.SUCCEEDED, finished_at__lt=cutoff, file_deleted_at__isnull=True
    ).exclude(file="")[:1000]:
        job.file.storage.delete(job.file.name)
        ExportJob.objects.filter(pk=job.pk).update(file="", file_deleted_at=now)
        expired += 1
    return {
        "requeued": len(requeue),
        "files_deleted": expired,
        "work_files_deleted": export_work_files_purge(now=now),
    }


def report_summaries_refresh(*, full: bool = False) -> RefreshOutcome:
    """Bring the dashboard's summary tables up to date (``reports.summary``)."""
    return summaries_refresh(full=full)


# Export kinds whose files hold personal data of registrations (names, masked or full IDs).
PERSONAL_EXPORT_KINDS = (
    ExportJob.Kind.REGISTRATIONS,
    ExportJob.Kind.DISCREPANCIES,
    ExportJob.Kind.CLARIFICATIONS,
)


def export_files_holding_erase(registration_ids: list[int], before) -> list[str]:
    """``privacy.hooks`` eraser: delete the export files written before ``before`` (and after
    the earliest of the registrations existed) of a kind that lists registrations' personal
    data — any of them may hold the erased person. The job and its hash stay, as after the
    files' retention period; the user can export again (the person is then absent)."""
    from subscribers.models import Registration

    first = Registration.objects.filter(pk__in=registration_ids).aggregate(
        first=Min("registered_at")
    )["first"]
    if first is None:
        return []
    now = timezone.now()
    deleted = []
    for job in ExportJob.objects.filter(
        kind__in=PERSONAL_EXPORT_KINDS,
        status=ExportJob.Status.SUCCEEDED,
        file_deleted_at__isnull=True,
        finished_at__gte=first,
        finished_at__lt=before,
    ).exclude(file=""):
        job.file.storage.delete(job.file.name)
        ExportJob.objects.filter(pk=job.pk).update(file="", file_deleted_at=now)
        deleted.append(f"reports.exportjob:{job.pk}")
    return deleted
