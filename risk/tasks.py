"""Celery tasks of the risk signals: thin wrappers, safe to run twice."""

from dataclasses import asdict

from celery import shared_task
from django.core.cache import cache

from core.queue import enqueue

from . import services

REFRESH_QUEUED_KEY = "risk:refresh-queued"


@shared_task(acks_late=True)
def refresh_risk_signals(full: bool = False) -> dict:
    try:
        outcome = services.risk_refresh(full=full)
    finally:
        cache.delete(REFRESH_QUEUED_KEY)
    result = asdict(outcome)
    result["as_of"] = outcome.as_of.isoformat()
    return result


def request_risk_refresh() -> bool:
    """Queue one refresh (after the commit) unless one is already queued; True if queued."""
    if not cache.add(REFRESH_QUEUED_KEY, "1", timeout=300):
        return False
    enqueue(refresh_risk_signals)
    return True
