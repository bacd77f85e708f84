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


@shared_task(acks_late=True)
def verify_registration(registration_id: int) -> str:
    """Ask the population registry about a registration kept awaiting verification."""
    return services.registration_verify(registration_id=registration_id)


@shared_task
def sweep_awaiting_verifications(older_than_seconds: int = 60) -> int:
    """Ask the registry again about every registration still awaiting it (it was down, or the
    broker was): each is verified, refused, or left for the next sweep."""
    awaiting = services.registrations_awaiting(older_than_seconds=older_than_seconds)
    for registration_id in awaiting:
        services.registration_verify(registration_id=registration_id)
    return len(awaiting)


@shared_task
def purge_face_photos() -> int:
    """Delete face photos past their need (docs/rules.md, "Face photos")."""
    return services.face_photos_purge()


@shared_task(acks_late=True)
def activate_at_operator(registration_id: int) -> str:
    """The operator's side of a sale: the (mock) network activates the registered pack."""
    from .activation import registration_activate_at_operator

    return registration_activate_at_operator(registration_id=registration_id)
