"""Hooks a higher layer fills in: the subscribers app never imports it (docs/architecture.md).

- **A registration refused after the fact.** When the population registry's late answer refuses
  a registration that was kept awaiting verification, the handlers registered here are called
  in the transaction that refuses it, with the refused registrations. The compliance workflow
  registers one (``ComplianceConfig.ready``) that puts them in GraPARI's review queue and tells
  the outlet's staff; with none registered the refusal is still recorded on the registration
  (status ``refused``, ``refusal_reason``), shown to the clerk and on the buyer's receipt.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

RefusedHandler = Callable[..., None]  # handler(*, registrations: list, now: datetime)

_refused_handlers: list[RefusedHandler] = []


def register_refused_handler(handler: RefusedHandler) -> None:
    """Call ``handler(registrations=[...], now=...)`` for registrations refused after the fact
    (idempotent: registering the same handler twice keeps one)."""
    if handler not in _refused_handlers:
        _refused_handlers.append(handler)


def registrations_refused(*, registrations: list, now: datetime) -> None:
    """Tell every registered handler (in the caller's transaction)."""
    for handler in list(_refused_handlers):
        handler(registrations=registrations, now=now)
