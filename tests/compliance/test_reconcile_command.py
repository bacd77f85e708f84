"""``manage.py reconcile``: inline with --sync, counts by kind, JSON, refusal while running."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from compliance.reconciliation.engine import reconciliation_start

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


def test_refuses_while_a_run_is_in_progress(db):
    active = reconciliation_start(mode="full", trigger="api", dispatch=False)
    with pytest.raises(CommandError, match=f"run {active.pk}"):
        call_command("reconcile", "--full", "--sync", stdout=io.StringIO())
