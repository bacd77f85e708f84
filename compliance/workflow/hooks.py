"""Hooks a higher layer fills in: the workflow never imports it (docs/architecture.md).

- **A review decision.** The handlers registered here are called, in the decision's
  transaction, after each decision on a review item has taken effect: ``handler(actor=…,
  item=…, decision=…, blocked=…, reason=…, now=…)`` — ``blocked`` is True when the decision
  blocked the number (``block``, or a confirmed violation with the number blocked). The
  holder's door registers one (``HoldersConfig.ready``): GraPARI's decision settles the
  holder's dispute about the number (docs/holders.md).
"""

from __future__ import annotations

from collections.abc import Callable

DecisionHandler = Callable[..., None]

_decision_handlers: list[DecisionHandler] = []


def register_decision_handler(handler: DecisionHandler) -> None:
    """Call ``handler`` after every review decision (idempotent: registering the same handler
    twice keeps one)."""
    if handler not in _decision_handlers:
        _decision_handlers.append(handler)


def review_decided(*, actor, item, decision: str, blocked: bool, reason: str, now) -> None:
    """Tell every registered handler (in the caller's transaction)."""
    for handler in list(_decision_handlers):
        handler(actor=actor, item=item, decision=decision, blocked=blocked, reason=reason, now=now)
