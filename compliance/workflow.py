"""The compliance workflow's way in: reconciliation hands over what an outlet must clarify.

Issue 4 (clarifications, review queue, sanctions) fills this in. Reconciliation calls it once
per batch of newly opened discrepancies of the kinds an outlet is accountable for
(``reconcile_rules.OUTLET_ACCOUNTABLE_KINDS``) that have an outlet, inside the transaction that
marks the run succeeded: the hand-over and the run's success commit together or not at all.
Anything leaving the database (mail, push) belongs in ``transaction.on_commit``.
"""


def discrepancies_opened(*, discrepancy_ids: list[int]) -> None:
    """Start the clarification workflow for these newly opened discrepancies (not yet built)."""
    return None
