"""Celery tasks of the reports app: thin wrappers around ``services``, safe to run twice."""

from dataclasses import asdict

from celery import shared_task
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError

from core.queue import enqueue

from . import services

REFRESH_QUEUED_KEY = "reports:summary-refresh-queued"


@shared_task(
    acks_late=True,
    autoretry_for=(DatabaseError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=3,
)
def run_export_job(job_id: int) -> str:
    return services.export_job_run(job_id=job_id).status


@shared_task(acks_late=True)
def refresh_summaries(full: bool = False) -> dict:
    try:
        outcome = services.report_summaries_refresh(full=full)
    finally:
        cache.delete(REFRESH_QUEUED_KEY)
    result = asdict(outcome)
    result["as_of"] = outcome.as_of.isoformat()
    return result


@shared_task(acks_late=True)
def sweep_exports() -> dict:
    return services.export_jobs_sweep()


def request_refresh() -> bool:
    """Queue one refresh (after the commit) unless one is already queued; True if queued."""
    if not cache.add(REFRESH_QUEUED_KEY, "1", timeout=300):
        return False
    enqueue(refresh_summaries)
    return True
