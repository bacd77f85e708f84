"""The hand-over of what a run newly found to whoever acts on it.

Reconciliation finds discrepancies; it does not decide who is asked about them. When a run
finishes, ``engine.reconciliation_finish`` calls ``hand_over`` once per batch (up to
``engine.HANDOVER_BATCH`` ids) of every discrepancy the run newly opened, whatever its kind;
each receiver takes the ones it acts on. ``hand_over`` calls every receiver registered here, in
the order registered, as ``receiver(discrepancy_ids=[...])``.

The contract of a receiver:
- it runs inside the transaction that marks the run succeeded: what it writes and the run's
  success commit together or not at all;
- an exception it raises propagates and fails the finish (nothing of it commits, the run stays
  running and the finish is queued again by the periodic recovery), so it must be safe to call
  again with the same ids;
- anything leaving the database (mail, a task) waits for ``transaction.on_commit``;
- it is set-based: a fixed number of queries per batch, never one per discrepancy.

The compliance workflow registers two receivers from ``ComplianceConfig.ready()``: its intake
(``compliance.workflow.intake.discrepancies_opened``: clarification requests to the accountable
parties, for the kinds an outlet answers for) and its review queue
(``compliance.workflow.queue.unknown_to_operator_opened``: the "unknown to the operator"
findings, queued for GraPARI). A reviewer thus sees a run's findings as soon as the run ends;
the periodic review-queue sync stays as the safety net. With no receiver registered the
findings simply stay open discrepancies.

``receivers`` is the registry itself: a benchmark or a test that measures the engine alone
empties it (or puts a recorder in it) and restores it afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

Receiver = Callable[..., object]

receivers: list[Receiver] = []


def register_handover(receiver: Receiver) -> Receiver:
    """Add ``receiver`` to those a finishing run hands its new findings to (once, however often
    it is registered). Returns it, so this can decorate a function."""
    if receiver not in receivers:
        receivers.append(receiver)
    return receiver


def hand_over(*, discrepancy_ids: list[int]) -> None:
    """Give one batch of newly opened discrepancies to every registered receiver."""
    for receiver in list(receivers):
        receiver(discrepancy_ids=list(discrepancy_ids))
