"""Blocked numbers: the operator is told.

A reviewer's block decision blocks the number on the portal's side in its transaction
(``subscribers.services.registration_block``) and records it here (``number_block``); the
operator's adapter is told after the commit, through the broker, and again by a periodic retry
until it has accepted (``operator_told_at``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.audit import AuditAction, audit_record
from core.operator import get_adapter
from core.queue import enqueue
from core.roles import is_signed_in

from ..models import NumberBlock
from .support import SYSTEM_ACTOR

logger = logging.getLogger(__name__)
RETRY_BATCH = 1000


def number_block(*, actor, msisdn: str, registration, review_item, reason: str) -> NumberBlock:
    """Record that ``msisdn`` is blocked (once: a number blocked before keeps its record) and
    tell the operator after the commit. Call inside the decision's transaction."""
    block, created = NumberBlock.objects.get_or_create(
        msisdn=msisdn,
        defaults={
            "registration": registration,
            "review_item": review_item,
            "reason": reason,
            # None when the system blocks (a holder's dispute left unanswered).
            "blocked_by": actor if is_signed_in(actor) else None,
        },
    )
    if created:
        audit_record(
            actor=actor, action=AuditAction.NUMBER_BLOCK, target=block, after={"msisdn": msisdn}
        )
        transaction.on_commit(lambda: _queue_tell_operator(block.pk))
    return block


def number_block_tell_operator(*, block_id: int) -> bool:
    """Tell the operator's adapter that a number is blocked; recorded when it accepted, kept
    for the periodic retry when it did not. Safe to run twice (an acknowledged block is left)."""
    block = NumberBlock.objects.filter(pk=block_id, operator_told_at__isnull=True).first()
    if block is None:
        return False
    try:
        get_adapter().block_msisdn(msisdn=block.msisdn, reason=block.reason)
    except Exception as exc:
        logger.warning("operator not told of blocked number %s: %r", block.msisdn, exc)
        NumberBlock.objects.filter(pk=block.pk).update(
            attempts=block.attempts + 1, last_error=repr(exc)[:2000]
        )
        return False
    with transaction.atomic():
        told = NumberBlock.objects.filter(pk=block.pk, operator_told_at__isnull=True).update(
            operator_told_at=timezone.now(), attempts=block.attempts + 1, last_error=""
        )
        if told:
            audit_record(
                actor=SYSTEM_ACTOR,
                action=AuditAction.NUMBER_BLOCK_TOLD_OPERATOR,
                target=block,
                after={"msisdn": block.msisdn},
            )
    return bool(told)


def _queue_tell_operator(block_id: int) -> None:
    # Through the broker (a real operator feed may be slow); when the broker is down the
    # periodic retry (number_blocks_retry) tells the operator later. The tasks module wraps
    # this one's services: it is imported when a task is sent.
    from .tasks import tell_operator_number_blocked

    enqueue(tell_operator_number_blocked, block_id)


def number_blocks_retry(*, older_than_seconds: int = 60) -> int:
    """The periodic retry of blocks the operator has not acknowledged yet."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        NumberBlock.objects.filter(operator_told_at__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:RETRY_BATCH]
    )
    return sum(number_block_tell_operator(block_id=pk) for pk in ids)
