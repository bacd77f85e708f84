"""Celery tasks of the subscribers app: thin wrappers around services, safe to run twice."""

from celery import shared_task

from core.queue import send

from . import services


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def process_registration_photos(registration_id: int) -> str:
    return services.registration_photos_process(registration_id=registration_id)


@shared_task
def sweep_pending_photos(older_than_seconds: int = 120) -> int:
    """Queue photo processing that never reached a worker (e.g. the broker was down)."""
    pending = services.registration_photos_pending(older_than_seconds=older_than_seconds)
    for registration_id in pending:
        send(process_registration_photos, registration_id)
    return len(pending)


@shared_task
def purge_orphaned_photo_files() -> int:
    """Delete photo files no registration points at (a web or photo worker killed mid-way)."""
    return services.photo_files_orphaned_purge()


@shared_task
def purge_idempotency_records() -> int:
    """Forget Idempotency-Key answers older than IDEMPOTENCY_KEY_TTL_HOURS."""
    from .idempotency import idempotency_records_purge

    return idempotency_records_purge()
