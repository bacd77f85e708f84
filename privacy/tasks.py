"""Celery tasks of the privacy app: thin wrappers around ``services``, safe to run twice.

``run_privacy_job`` works a job queued from the operator admin's page. The scheduled tasks
(``CELERY_BEAT_SCHEDULE`` in settings) start a job and work it in the same task; if one is
already queued or running they take over a queued or stale one instead, so a job whose worker
died is finished by the next tick.
"""

import logging

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from . import selectors, services
from .models import PrivacyJob

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(DatabaseError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def run_privacy_job(job_id: int) -> str:
    return services.privacy_job_run(job_id=job_id).status


def _tick(kind: str, start) -> int | None:
    try:
        job = start(trigger=PrivacyJob.Trigger.SCHEDULE, dispatch=False)
    except services.JobAlreadyActive as exc:
        job = exc.job or selectors.active_job(kind)
        if job is None:
            return None
        logger.info("privacy: %s job %s already active; taking it over if idle", kind, job.pk)
    return services.privacy_job_run(job_id=job.pk).pk


@shared_task(acks_late=True)
def sync_number_deactivations() -> int | None:
    return _tick(PrivacyJob.Kind.DEACTIVATION_SYNC, services.number_deactivations_sync_start)


@shared_task(acks_late=True)
def purge_expired_data() -> int | None:
    return _tick(PrivacyJob.Kind.RETENTION_PURGE, services.retention_purge_start)


@shared_task(acks_late=True)
def rotate_encryption_keys() -> int | None:
    return _tick(PrivacyJob.Kind.KEY_ROTATION, services.key_rotation_start)


@shared_task(acks_late=True)
def erase_due_guardian_parts() -> dict:
    """Heads of family's erasures that waited for the number to leave service (after the
    deactivation sync has learnt which did)."""
    return services.guardian_erasures_due()
