"""Celery tasks of reconciliation: thin wrappers around the ``engine`` services.

Each takes ids, calls one service and is safe to run twice (the services compare-and-set).
``acks_late``: a task whose worker dies is given back by the broker; a worker that restarts
also releases its predecessor's chunk claims at once (``worker_ready`` below).
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError, InterfaceError
from django.utils import timezone

from . import engine

logger = logging.getLogger(__name__)
_BOOTED_AT = timezone.now()


@shared_task(acks_late=True)
def plan_run(run_id: int) -> bool:
    return engine.reconciliation_plan(run_id=run_id)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(DatabaseError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=engine.max_attempts(),
)
def work_chunk(self, run_id: int, chunk_id: int) -> str:
    return engine.reconciliation_chunk_work(
        chunk_id=chunk_id, worker=self.request.hostname or "worker", task_id=self.request.id or ""
    )


@shared_task(acks_late=True)
def finish_run(run_id: int) -> bool:
    return engine.reconciliation_finish(run_id=run_id)


@shared_task
def reconciliation_tick(mode: str = "incremental") -> int | None:
    """Beat's periodic run (CELERY_BEAT_SCHEDULE): recover, then start ``mode`` if idle."""
    run = engine.reconciliation_tick(mode=mode)
    return run.pk if run else None


@worker_ready.connect
def _recover_after_restart(sender=None, **kwargs) -> None:
    """A worker starting under a name releases the chunks its dead predecessor had claimed."""
    node = getattr(sender, "hostname", None)
    if not node:
        return
    try:
        queued = engine.reconciliation_recover(node=node, booted_at=_BOOTED_AT)
    except DatabaseError:  # the database may not be migrated yet (first `make run`)
        logger.warning("reconciliation recovery skipped: database not ready", exc_info=True)
        return
    if queued:
        logger.warning("reconciliation: %s task(s) queued again after restart of %s", queued, node)
