"""Writes of the compliance app. The audit row is written by the service that acts, in its
transaction, so a change without its audit row cannot be committed."""

from typing import Any

from django.db import models

from . import context
from .models import AuditEvent


def audit_record(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record that ``actor`` did ``action`` to ``target``; never store unmasked ID numbers here."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)[:200]
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_label=actor.get_username() if is_user else (str(actor) if actor else "system"),
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:200],
        request_id=context.request_id.get(),
        before=before,
        after=after,
    )
