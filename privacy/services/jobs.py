"""Long personal-data jobs: start, claim, run in fenced chunks, resume.

A ``PrivacyJob`` is claimed with a compare-and-set (queued, or running without a heartbeat for
``PRIVACY_JOB_STALE_SECONDS``); each chunk commits its writes with the job's cursor and counts,
fenced by the claim token (``checkpoint``), so a job whose worker died is taken over and goes on
where it stopped without repeating a chunk. The claim, the heartbeat and the operator's
take-over of a crashed job (``take_over_by``) are ``core.jobs``'.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import jobs
from core.audit import AuditAction, audit_record
from core.queue import enqueue

from .. import selectors
from ..models import PrivacyJob
from .common import chunk_size, require_operator

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
# Transactions still open when the last sync started may commit changes stamped before it.
SYNC_WATERMARK_MARGIN = timedelta(minutes=10)


LEASE = jobs.Lease(
    model=PrivacyJob, stale_after=jobs.seconds_setting("PRIVACY_JOB_STALE_SECONDS", 900)
)
ClaimLost = jobs.ClaimLost
NotRunning = jobs.NotRunning


class JobAlreadyActive(Exception):
    """A job of this kind is queued or running; ``job`` is that job (or None if it just ended)."""

    def __init__(self, job: PrivacyJob | None):
        super().__init__("A job of this kind is already queued or running.")
        self.job = job


def privacy_job_start(
    *,
    kind: str,
    trigger: str,
    requested_by=None,
    parameters: dict | None = None,
    dispatch: bool = True,
) -> PrivacyJob:
    """Queue a job of ``kind`` and, after the commit, the task that runs it (unless
    ``dispatch`` is off: the commands and the scheduled tasks run it inline).

    Raises ``JobAlreadyActive`` while another job of the kind is queued or running.
    """
    if kind not in PrivacyJob.Kind.values:
        raise ValueError(f"unknown job kind {kind!r}")
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    if user is not None:
        require_operator(user)
    parameters = {**_default_parameters(kind), **(parameters or {})}
    try:
        with transaction.atomic():
            job = PrivacyJob.objects.create(
                kind=kind, trigger=trigger, requested_by=user, parameters=parameters
            )
            audit_record(
                actor=user or f"privacy-{trigger}",
                action=AuditAction.PRIVACY_JOB_START,
                target=job,
                after={"kind": kind, "trigger": trigger, "parameters": parameters},
            )
    except IntegrityError as exc:
        raise JobAlreadyActive(selectors.active_job(kind)) from exc
    if dispatch:
        _dispatch(job.pk)
    return job


def _default_parameters(kind: str) -> dict:
    parameters: dict = {"chunk_size": chunk_size()}
    if kind == PrivacyJob.Kind.RETENTION_PURGE:
        parameters["retention_days"] = settings.RETENTION_DAYS_AFTER_DEACTIVATION
        parameters["cutoff"] = selectors.retention_cutoff().isoformat()
    elif kind == PrivacyJob.Kind.DEACTIVATION_SYNC:
        last = selectors.last_succeeded_job(kind)
        since = last.started_at - SYNC_WATERMARK_MARGIN if last and last.started_at else None
        parameters["since"] = since.isoformat() if since else None
    elif kind == PrivacyJob.Kind.KEY_ROTATION:
        parameters["keys"] = len(settings.FIELD_ENCRYPTION_KEYS)
    return parameters


def privacy_job_resume(*, job_id: int, requested_by=None, dispatch: bool = True) -> PrivacyJob:
    """Put a failed job back in the queue (and its task, unless ``dispatch`` is off); it goes
    on from its cursor. Raises ``JobAlreadyActive`` when another job of its kind is active."""
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    if user is not None:
        require_operator(user)
    job = PrivacyJob.objects.get(pk=job_id)
    try:
        with transaction.atomic():
            changed = PrivacyJob.objects.filter(pk=job_id, status=PrivacyJob.Status.FAILED).update(
                status=PrivacyJob.Status.QUEUED, error="", finished_at=None, claim_token=""
            )
            if changed:
                audit_record(
                    actor=user or "privacy-command",
                    action=AuditAction.PRIVACY_JOB_RESUME,
                    target=job,
                )
    except IntegrityError as exc:
        raise JobAlreadyActive(selectors.active_job(job.kind)) from exc
    if changed and dispatch:
        _dispatch(job.pk)
    job.refresh_from_db()
    return job


def _dispatch(job_id: int) -> None:
    from ..tasks import run_privacy_job

    enqueue(run_privacy_job, job_id)


def privacy_job_run(
    *,
    job_id: int,
    worker: str | None = None,
    progress: Progress | None = None,
    take_over_by=None,
    reason: str = "",
) -> PrivacyJob:
    """Claim job ``job_id`` (queued, or running without a heartbeat for
    ``PRIVACY_JOB_STALE_SECONDS``) and run it to the end. Returns the job as it stands; a job
    another worker holds is left alone.

    With ``take_over_by`` (the operator, or the command line's label) a running job is taken
    over at once, however fresh its heartbeat: its worker is known to be gone. The take-over is
    audited; a worker that was still alive loses its claim at its next chunk. A job that is not
    running is claimed the ordinary way.
    """
    if take_over_by is not None and _is_running(job_id):
        user = take_over_by if getattr(take_over_by, "is_authenticated", False) else None
        if user is not None:
            require_operator(user)
        try:
            token = jobs.take_over(LEASE, job_id, actor=take_over_by, reason=reason, worker=worker)
        except jobs.NotRunning:  # it ended (or failed) a moment ago
            token = _claim(job_id, worker)
    else:
        token = _claim(job_id, worker)
    job = PrivacyJob.objects.get(pk=job_id)
    if token is None:
        return job
    progress = progress or (lambda message: logger.info("privacy job %s: %s", job_id, message))
    from .digest_rotation import run_digest_rotation
    from .retention import run_deactivation_sync, run_retention_purge
    from .rotation import run_key_rotation

    runner = {
        PrivacyJob.Kind.RETENTION_PURGE: run_retention_purge,
        PrivacyJob.Kind.KEY_ROTATION: run_key_rotation,
        PrivacyJob.Kind.DEACTIVATION_SYNC: run_deactivation_sync,
        PrivacyJob.Kind.DIGEST_ROTATION: run_digest_rotation,
    }[job.kind]
    try:
        runner(job, token, progress)
    except ClaimLost:
        logger.warning("privacy job %s: claim lost, another worker took it over", job_id)
        return PrivacyJob.objects.get(pk=job_id)
    except Exception as exc:
        with transaction.atomic():
            PrivacyJob.objects.filter(pk=job_id, claim_token=token).update(
                status=PrivacyJob.Status.FAILED, error=repr(exc)[:2000], finished_at=timezone.now()
            )
            audit_record(
                actor=job.requested_by or f"privacy-{job.trigger}",
                action=AuditAction.PRIVACY_JOB_FAILED,
                target=job,
                after={"error": repr(exc)[:500]},
            )
        raise
    with transaction.atomic():
        job.refresh_from_db()
        finished = PrivacyJob.objects.filter(pk=job_id, claim_token=token).update(
            status=PrivacyJob.Status.SUCCEEDED, finished_at=timezone.now()
        )
        if finished:
            audit_record(
                actor=job.requested_by or f"privacy-{job.trigger}",
                action=AuditAction.PRIVACY_JOB_FINISH,
                target=job,
                after={"kind": job.kind, "counts": job.counts},
            )
    job.refresh_from_db()
    progress(f"done: {job.counts}")
    return job


def _is_running(job_id: int) -> bool:
    return PrivacyJob.objects.filter(pk=job_id, status=PrivacyJob.Status.RUNNING).exists()


def _claim(job_id: int, worker: str | None) -> str | None:
    return jobs.claim(
        LEASE, job_id, worker=worker, started_at=Coalesce(F("started_at"), timezone.now())
    )


def checkpoint(job: PrivacyJob, token: str, *, cursor: dict, counts: dict) -> None:
    """Save progress in the chunk's transaction; a worker that lost its claim rolls back."""
    jobs.heartbeat(LEASE, job.pk, token, cursor=cursor, counts=counts)
    job.cursor, job.counts = cursor, counts
