"""The compliance workflow's way in: reconciliation hands over what an outlet must clarify.

Reconciliation calls ``discrepancies_opened`` once per batch (up to 1 000) of newly opened
discrepancies of the kinds an outlet is accountable for (``reconcile_rules.
OUTLET_ACCOUNTABLE_KINDS``) that have an outlet, inside the transaction that marks the run
succeeded: the hand-over and the run's success commit together or not at all. Anything leaving
the database (mail) waits for ``transaction.on_commit``.

The work is ``clarifications.clarifications_open_for_discrepancies``: set-based, a fixed number
of queries per batch (no query per discrepancy).
"""


def discrepancies_opened(*, discrepancy_ids: list[int]) -> None:
    """Open or extend the clarification requests of these newly opened discrepancies: one
    request per number, to the party accountable for it, with the deadline of the policy in
    force; a finding a reviewer dismissed before is settled without asking anyone."""
    from .clarifications import clarifications_open_for_discrepancies

    clarifications_open_for_discrepancies(discrepancy_ids=list(discrepancy_ids))
