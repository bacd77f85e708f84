"""Celery tasks of the compliance app: thin wrappers around ``reconciliation`` services.

Each takes ids, calls one service and is safe to run twice (the services compare-and-set).
``acks_late``: a task whose worker dies is given back by the broker; a worker that restarts
also releases its predecessor's chunk claims at once (``worker_ready`` below).
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError, InterfaceError
from django.utils import timezone

from . import reconciliation

logger = logging.getLogger(__name__)
_BOOTED_AT = timezone.now()


@shared_task(acks_late=True)
def plan_run(run_id: int) -> bool:
    return reconciliation.reconciliation_plan(run_id=run_id)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(DatabaseError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=reconciliation.max_attempts(),
)
def work_chunk(self, run_id: int, chunk_id: int) -> str:
    return reconciliation.reconciliation_chunk_work(
        chunk_id=chunk_id, worker=self.request.hostname or "worker", task_id=self.request.id or ""
    )


@shared_task(acks_late=True)
def finish_run(run_id: int) -> bool:
    return reconciliation.reconciliation_finish(run_id=run_id)


@shared_task
def reconciliation_tick(mode: str = "incremental") -> int | None:
    """Beat's periodic run (CELERY_BEAT_SCHEDULE): recover, then start ``mode`` if idle."""
    run = reconciliation.reconciliation_tick(mode=mode)
    return run.pk if run else None


@worker_ready.connect
def _recover_after_restart(sender=None, **kwargs) -> None:
    """A worker starting under a name releases the chunks its dead predecessor had claimed."""
    node = getattr(sender, "hostname", None)
    if not node:
        return
    try:
        queued = reconciliation.reconciliation_recover(node=node, booted_at=_BOOTED_AT)
    except DatabaseError:  # the database may not be migrated yet (first `make run`)
        logger.warning("reconciliation recovery skipped: database not ready", exc_info=True)
        return
    if queued:
        logger.warning("reconciliation: %s task(s) queued again after restart of %s", queued, node)


# --- The compliance workflow (issue 4): periodic sweeps, the operator told of blocks ----------


@shared_task
def expire_overdue_clarifications() -> int:
    """Requests unanswered past their deadline: expired and escalated to the review queue."""
    from .clarifications import clarifications_expire_overdue

    return clarifications_expire_overdue()


@shared_task
def settle_agreeing_clarifications() -> int:
    """Requests whose findings reconciliation no longer finds: withdrawn."""
    from .clarifications import clarifications_settle_agreeing

    return clarifications_settle_agreeing()


@shared_task
def sync_review_queue(full: bool = False) -> dict:
    """Queue flagged registrations nobody is asked about (recent changes; everything when
    ``full``, which also hands over discrepancies never asked about)."""
    from datetime import timedelta

    from django.conf import settings

    from .review import review_queue_sync

    since = None
    if not full:
        minutes = int(getattr(settings, "REVIEW_QUEUE_SYNC_LOOKBACK_MINUTES", 60))
        since = timezone.now() - timedelta(minutes=minutes)
    return review_queue_sync(since=since)


@shared_task
def release_idle_review_claims() -> int:
    from .review import review_claims_release_idle

    return review_claims_release_idle()


@shared_task(acks_late=True)
def tell_operator_number_blocked(block_id: int) -> bool:
    from .review import number_block_tell_operator

    return number_block_tell_operator(block_id=block_id)


@shared_task
def retry_number_blocks() -> int:
    """Blocks the operator's adapter has not acknowledged yet, tried again."""
    from .review import number_blocks_retry

    return number_blocks_retry()
