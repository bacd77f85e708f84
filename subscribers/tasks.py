"""Celery tasks of the subscribers app: thin wrappers around services, safe to run twice."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def process_registration_photos(registration_id: int) -> str:
    return services.registration_photos_process(registration_id=registration_id)
