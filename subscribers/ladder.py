"""The sanction ladder of a registration policy, as plain functions (no Django).

A ladder is a list of rungs ``{"violations": N, "action": "warning" | "suspension" |
"revocation"}``: when an outlet's confirmed violations within the policy's window *reach* a
rung's N, that rung's action is taken. Reaching, not exceeding: a suspended outlet that an
operator admin reinstates is not suspended again by its next violation, only by falling back
below the threshold (old violations leaving the window) and reaching it again — or it moves on
to the next rung.
"""

from __future__ import annotations

from collections.abc import Iterable

ACTIONS = ("warning", "suspension", "revocation")
DEFAULT_LADDER = (
    {"violations": 1, "action": "warning"},
    {"violations": 3, "action": "suspension"},
    {"violations": 5, "action": "revocation"},
)


def default_ladder() -> list[dict]:
    """A fresh copy of the default ladder (a model field's default must not be shared)."""
    return [dict(rung) for rung in DEFAULT_LADDER]


def ladder_problems(ladder: object) -> list[str]:
    """Everything wrong with ``ladder`` (plain English; empty when it is usable).

    Rules: a list of rungs, each with a positive whole ``violations`` and a known ``action``;
    thresholds strictly increasing; actions in order of severity (a warning never after a
    suspension), each at most once.
    """
    if not isinstance(ladder, list):
        return ["The sanction ladder must be a list of rungs."]
    problems: list[str] = []
    previous_threshold = 0
    previous_rank = -1
    seen: set[str] = set()
    for position, rung in enumerate(ladder, start=1):
        if not isinstance(rung, dict) or set(rung) != {"violations", "action"}:
            problems.append(f'Rung {position}: use {{"violations": N, "action": "..."}}.')
            continue
        threshold, action = rung["violations"], rung["action"]
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            problems.append(f"Rung {position}: violations must be a whole number of at least 1.")
            continue
        if action not in ACTIONS:
            problems.append(f"Rung {position}: the action must be one of {', '.join(ACTIONS)}.")
            continue
        if threshold <= previous_threshold:
            problems.append(f"Rung {position}: thresholds must increase from rung to rung.")
        rank = ACTIONS.index(action)
        if action in seen or rank < previous_rank:
            problems.append(f"Rung {position}: actions must go warning → suspension → revocation.")
        seen.add(action)
        previous_threshold, previous_rank = max(previous_threshold, threshold), rank
    return problems


def action_reached(ladder: Iterable[dict], violations: int) -> str | None:
    """The action of the rung whose threshold ``violations`` equals, or None."""
    for rung in ladder or ():
        if rung.get("violations") == violations:
            return rung.get("action")
    return None


def next_rung(ladder: Iterable[dict], violations: int) -> dict | None:
    """The first rung not yet reached with ``violations`` (for "2 more before suspension")."""
    for rung in ladder or ():
        if rung.get("violations", 0) > violations:
            return rung
    return None
