"""What the start buttons (page and API) do when a run is already active.

A run that is still *queued* — recorded, its planning task never taken by a worker, typically
because the broker was down when it was asked for (``core.queue`` logs and moves on) — is not a
reason to refuse: its planning is sent again (a duplicate is harmless, planning is a
compare-and-set) and the caller is given that run. Only a run that is really running makes a
start wait (409). So a broker outage never leaves a slot that blocks every start until the
periodic recovery gives the run up.
"""

from ..models import ReconciliationRun
from . import engine


def waiting_run_sent_again(run: ReconciliationRun | None) -> ReconciliationRun | None:
    """``run`` when it is still waiting to start, its planning sent again; else None."""
    if run is None:
        return None
    run.refresh_from_db()
    if run.status != ReconciliationRun.Status.QUEUED:
        return None
    engine.reconciliation_dispatch(run_id=run.pk)
    return run
