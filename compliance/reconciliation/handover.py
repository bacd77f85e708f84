"""The hand-over of what a run newly found to whoever acts on it.

Reconciliation finds discrepancies; it does not decide who is asked about them. When a run
finishes, ``engine.reconciliation_finish`` calls ``hand_over`` once with the ids of every
discrepancy the run newly opened, whatever its kind (a sequence of ints: a packed
``array("q")``, 8 bytes an id); each receiver takes the ones it acts on, in batches of its
own. ``hand_over`` calls every receiver registered here, in the order registered, as
``receiver(discrepancy_ids=ids)``.

The contract of a receiver:
- it runs inside the transaction that marks the run succeeded: what it writes and the run's
  success commit together or not at all;
- an exception it raises propagates and fails the finish (nothing of it commits, the run stays
  running and the finish is queued again by the periodic recovery), so it must be safe to call
  again with the same ids;
- anything leaving the database (mail, a task) waits for ``transaction.on_commit``;
- it is set-based: a fixed number of queries per batch of its own, never one per discrepancy
  (nor one per outlet), and its memory is that of one batch;
- it tells people once per hand-over (one notification per person, however many batches).

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

from collections.abc import Callable, Sequence

Receiver = Callable[..., object]

receivers: list[Receiver] = []


def register_handover(receiver: Receiver) -> Receiver:
    """Add ``receiver`` to those a finishing run hands its new findings to (once, however often
    it is registered). Returns it, so this can decorate a function."""
    if receiver not in receivers:
        receivers.append(receiver)
    return receiver


def hand_over(*, discrepancy_ids: Sequence[int]) -> None:
    """Give a run's newly opened discrepancies to every registered receiver."""
    for receiver in list(receivers):
        receiver(discrepancy_ids=discrepancy_ids)
