"""``manage.py reconcile``: inline with --sync, counts by kind, JSON, refusal while running, a
run still waiting to start got back (worked inline with --sync), the hint when no worker takes
the run."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from compliance.models import ReconciliationRun
from compliance.reconciliation import engine
from compliance.reconciliation.engine import reconciliation_plan, reconciliation_start

from .conftest import truth_set


def test_sync_json_prints_counts_by_kind(generated):
    out = io.StringIO()
    call_command("reconcile", "--full", "--sync", "--json", stdout=out)

    summary = json.loads(out.getvalue())
    assert summary["status"] == "succeeded" and summary["mode"] == "full"
    assert sum(summary["counts"].values()) == len(truth_set())
    assert summary["counts"] == summary["open_now"] == summary["opened"]


def test_text_summary_lists_every_kind(generated):
    out = io.StringIO()
    call_command("reconcile", "--sync", stdout=out)  # incremental; the first examines everything

    text = out.getvalue()
    assert "succeeded" in text
    for kind in ("missing_in_operator", "id_over_limit", "unregistered_activation"):
        assert kind in text


def test_refuses_while_a_run_is_running(db):
    active = reconciliation_start(mode="full", trigger="api", dispatch=False)
    reconciliation_plan(run_id=active.pk, dispatch=False)  # a worker has it: running
    for sync in (["--sync"], []):
        with pytest.raises(CommandError, match=rf"run {active.pk}, full, running\).*--take-over"):
            call_command("reconcile", "--full", *sync, stdout=io.StringIO(), stderr=io.StringIO())
    assert ReconciliationRun.objects.count() == 1


def test_sync_works_a_run_still_waiting_to_start_here(generated):
    """A run queued with no worker to take it (a plain ``reconcile`` interrupted, the broker
    down) is no reason to refuse ``--sync``: the command gets that run back and works it inline
    — one run, the waiting one, its counts those of a run of its own."""
    waiting = reconciliation_start(mode="full", trigger="command", dispatch=False)
    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile", "--sync", "--json", stdout=out, stderr=err)

    summary = json.loads(out.getvalue())
    assert summary["id"] == waiting.pk
    assert summary["status"] == "succeeded" and summary["mode"] == "full"  # the waiting run's
    assert sum(summary["counts"].values()) == len(truth_set())
    assert summary["counts"] == summary["open_now"] == summary["opened"]
    assert list(ReconciliationRun.objects.values_list("pk", "status")) == [
        (waiting.pk, "succeeded")
    ]
    assert f"Run {waiting.pk} (full) was still waiting to start" in err.getvalue()
    assert "working it here" in err.getvalue()


@pytest.fixture
def no_worker(monkeypatch):
    """The run's tasks are sent to nobody: what ``engine`` sends is only recorded."""
    sent = []
    monkeypatch.setattr(engine, "_send", lambda task, *args: sent.append((task, *args)))
    return sent


def test_waiting_for_a_worker_that_never_comes_says_how_to_work_inline(db, no_worker):
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"still queued after 0\.6 s"):
        call_command(
            "reconcile", "--timeout", "0.6", "--patience", "0.2", stdout=io.StringIO(), stderr=err
        )

    run = ReconciliationRun.objects.get()
    assert run.status == "queued" and no_worker == [("plan_run", run.pk)]
    text = err.getvalue()
    assert f"Run {run.pk} is still queued" in text
    assert "no Celery worker seems to be taking it" in text
    assert "reconcile --sync" in text
    assert text.count("no Celery worker") == 1  # said once, not at every poll


def test_no_hint_before_the_patience_runs_out(db, no_worker):
    err = io.StringIO()
    with pytest.raises(CommandError, match="still queued"):
        call_command("reconcile", "--timeout", "0.3", stdout=io.StringIO(), stderr=err)
    assert "no Celery worker" not in err.getvalue()  # the default patience is 30 s


def test_without_sync_a_waiting_run_is_sent_again_and_waited_for(db, no_worker):
    waiting = reconciliation_start(mode="incremental", trigger="api", dispatch=False)
    err = io.StringIO()
    with pytest.raises(CommandError, match=f"Run {waiting.pk} is still queued"):
        call_command(
            "reconcile", "--full", "--timeout", "0.2", "--json", stdout=io.StringIO(), stderr=err
        )
    assert no_worker == [("plan_run", waiting.pk)]
    assert ReconciliationRun.objects.count() == 1
    assert "its planning sent again" in err.getvalue()
