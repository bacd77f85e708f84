"""Celery tasks of the compliance workflow: the periodic sweeps (``CELERY_BEAT_SCHEDULE``) and
telling the operator of a blocked number. Thin wrappers around one service each, safe to run
twice."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .clarifications import clarifications_expire_overdue, clarifications_settle_agreeing
from .number_blocks import number_block_tell_operator, number_blocks_retry
from .queue import review_queue_sync
from .review import review_claims_release_idle


@shared_task
def expire_overdue_clarifications() -> int:
    """Requests unanswered past their deadline: expired and escalated to the review queue."""
    return clarifications_expire_overdue()


@shared_task
def settle_agreeing_clarifications() -> int:
    """Requests whose findings reconciliation no longer finds: withdrawn."""
    return clarifications_settle_agreeing()


@shared_task
def sync_review_queue(full: bool = False) -> dict:
    """Queue flagged registrations nobody is asked about (recent changes; everything when
    ``full``, which also hands over discrepancies never asked about)."""
    since = None
    if not full:
        minutes = int(getattr(settings, "REVIEW_QUEUE_SYNC_LOOKBACK_MINUTES", 60))
        since = timezone.now() - timedelta(minutes=minutes)
    return review_queue_sync(since=since)


@shared_task
def release_idle_review_claims() -> int:
    return review_claims_release_idle()


@shared_task(acks_late=True)
def tell_operator_number_blocked(block_id: int) -> bool:
    return number_block_tell_operator(block_id=block_id)


@shared_task
def retry_number_blocks() -> int:
    """Blocks the operator's adapter has not acknowledged yet, tried again."""
    return number_blocks_retry()
