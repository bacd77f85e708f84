"""The SMS boundary: the portal says what to send, a backend sends it.

``SMS_BACKEND`` names the backend like Django's ``EMAIL_BACKEND``:

- ``holders.sms.DatabaseBackend`` (default): stores each message in the database (``StoredSms``);
  ``manage.py sms_outbox --to 62… [--last]`` prints them. For development, demonstrations and
  tests — the phone's stand-in.
- ``holders.sms.ConsoleBackend``: prints each message to standard output.
- a real gateway: a class with ``send(*, to, body)`` that raises when the gateway did not take
  the message.

Sending is a task: ``sms_queue`` writes the message (``SmsMessage``, its text encrypted while it
waits) in the caller's transaction and queues ``holders.tasks.deliver_sms`` after the commit
(``core.queue``). The task retries a failing gateway; a message whose task was lost (the broker
down) is still ``pending`` and the sweep (``sms_sweep_pending``, every minute) queues it again —
a message is never lost. Once the backend took it, its text is cleared.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core import pii
from core.queue import enqueue, send

from .models import SmsMessage, StoredSms

logger = logging.getLogger(__name__)
DEFAULT_BACKEND = "holders.sms.DatabaseBackend"
SWEEP_BATCH = 500


class DatabaseBackend:
    """Stores the message: what the phone would show (``sms_outbox`` prints it)."""

    def send(self, *, to: str, body: str) -> None:
        StoredSms.objects.create(to=to, body=body)


class ConsoleBackend:
    """Prints the message (``make run`` without a gateway)."""

    def send(self, *, to: str, body: str) -> None:
        sys.stdout.write(f"SMS to {to}:\n{body}\n\n")
        sys.stdout.flush()


def get_backend():
    path = getattr(settings, "SMS_BACKEND", DEFAULT_BACKEND) or DEFAULT_BACKEND
    return import_string(path)()


def sms_queue(
    *, to: str, body: str, deliver: bool = True, now: datetime | None = None
) -> SmsMessage:
    """Write a message and queue its delivery after the commit. ``deliver=False`` writes and
    queues it all the same, but it is never sent and its text never stored (the holder's
    door: the same work whether or not the facts agree)."""
    message = SmsMessage.objects.create(
        to=to,
        body_encrypted=pii.encrypt(body) if deliver else "",
        status=SmsMessage.Status.PENDING if deliver else SmsMessage.Status.SUPPRESSED,
        created_at=now or timezone.now(),
    )
    from .tasks import deliver_sms

    enqueue(deliver_sms, message.pk)
    return message


class DeliveryFailed(Exception):
    pass


def sms_deliver(*, message_id: int) -> bool:
    """Hand one pending message to the backend; True when it was sent now. Raises
    ``DeliveryFailed`` when the backend refused it (the task retries; the sweep too)."""
    with transaction.atomic():
        message = (
            SmsMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=SmsMessage.Status.PENDING)
            .first()
        )
        if message is None:
            return False
        try:
            get_backend().send(to=message.to, body=pii.decrypt(message.body_encrypted))
        except Exception as exc:
            logger.warning("SMS %s not sent: %r", message.pk, exc)
            failed = repr(exc)[:2000]
        else:
            SmsMessage.objects.filter(pk=message.pk).update(
                status=SmsMessage.Status.SENT,
                body_encrypted="",
                sent_at=timezone.now(),
                attempts=message.attempts + 1,
                last_error="",
            )
            return True
    SmsMessage.objects.filter(pk=message_id).update(
        attempts=message.attempts + 1, last_error=failed
    )
    raise DeliveryFailed(failed)


def sms_sweep_pending(*, older_than_seconds: int = 60) -> int:
    """Queue again the messages still pending (their task lost or failed for good)."""
    from .tasks import deliver_sms

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        SmsMessage.objects.filter(status=SmsMessage.Status.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return sum(send(deliver_sms, pk) for pk in ids)
