"""The one way to queue background work.

``enqueue(task, *args)`` sends the Celery task once the current transaction commits (at once when
there is none), so a worker never looks for a row that is not committed yet, and a broker outage
never fails the request or the step that asked: the row that needs the work is already committed
in a state a periodic sweep recognises (a pending photo, a queued export, a pending chunk), and
the sweep queues it again once the broker is back.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def send(task, *args) -> bool:
    """Send ``task`` now; False (logged) when the broker cannot be reached."""
    try:
        task.apply_async(args=args, retry=False)
        return True
    except Exception:
        logger.warning("broker unavailable: %s%r left for the periodic sweep", task.name, args)
        return False


def enqueue(task, *args, using: str | None = None) -> None:
    """Send ``task`` with ``args`` after the current transaction on ``using`` commits."""
    transaction.on_commit(lambda: send(task, *args), using=using)
