"""What the start buttons (page, API and ``manage.py reconcile``) do when a run is already active.

A run that is still *queued* — recorded, its planning task never taken by a worker, typically
because the broker was down when it was asked for (``core.queue`` logs and moves on), or because
no worker consumes the ``reconcile`` queue — is not a reason to refuse: the caller is given that
run. Through Celery its planning is sent again (a duplicate is harmless, planning is a
compare-and-set); ``reconcile --sync`` works it inline instead (``waiting_run``), as it would a
run of its own (a worker that plans it meanwhile only shares the chunks). Only a run that is
really running makes a start wait (409, or the command's refusal pointing at ``--take-over``).
So neither a broker outage nor a missing worker leaves a slot that blocks every start until the
periodic recovery gives the run up.
"""

from ..models import ReconciliationRun
from . import engine


def waiting_run(run: ReconciliationRun | None) -> ReconciliationRun | None:
    """``run`` (fresh from the database) when it is still waiting to start; else None."""
    if run is None:
        return None
    run.refresh_from_db()
    if run.status != ReconciliationRun.Status.QUEUED:
        return None
    return run


def waiting_run_sent_again(run: ReconciliationRun | None) -> ReconciliationRun | None:
    """``run`` when it is still waiting to start, its planning sent again; else None."""
    run = waiting_run(run)
    if run is None:
        return None
    engine.reconciliation_dispatch(run_id=run.pk)
    return run
