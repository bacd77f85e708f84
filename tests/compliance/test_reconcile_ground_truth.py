"""The acceptance test of the engine: generated data with every kind planted, edge cases
included — a run finds exactly the planted set, no miss and no false alarm; a rerun doubles
nothing; what is fixed is resolved by the run that stops finding it."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from compliance.models import (
    Clarification,
    ClarificationItem,
    Discrepancy,
    ReconciliationRun,
    ReviewItem,
    RunChunk,
)
from compliance.reconciliation import engine as engine_module
from compliance.reconciliation import handover
from compliance.reconciliation.engine import (
    reconciliation_finish,
    reconciliation_run_inline,
    reconciliation_start,
)
from compliance.reconciliation.rules import KINDS, OUTLET_ACCOUNTABLE_KINDS
from core.models import AuditEvent
from operatordb.models import InjectedDiscrepancy, OperatorSubscriber
from subscribers.models import Registration, RegistrationPolicy

from .conftest import open_set, run_inline, truth_set

ENGINES = ["auto", "python"]


@pytest.fixture(params=ENGINES)
def engine(request, settings):
    """Both engines: set-based SQL (on PostgreSQL) and the generic adapter path."""
    settings.RECONCILIATION_ENGINE = request.param
    return request.param


def handed_over() -> set[int]:
    """The discrepancies the workflow was given: those a clarification request asks about
    (the real intake, registered by the compliance app, receives the hand-over)."""
    return set(ClarificationItem.objects.values_list("discrepancy_id", flat=True))


def finish_audit(run) -> dict:
    return AuditEvent.objects.get(action="reconciliation.finish", target_id=str(run.pk)).after


def test_full_run_finds_exactly_the_planted_discrepancies(generated, engine):
    run = run_inline("full")

    assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
    assert run.chunks_done == run.chunks_total > 5
    found, planted = open_set(), truth_set()
    assert found - planted == set(), "false alarms"
    assert planted - found == set(), "missed"
    assert {kind for _, kind in planted} == set(KINDS)
    # The edge cases a correct engine leaves alone were planted, and left alone.
    edge = truth_set(expected=False)
    assert {
        case
        for case in InjectedDiscrepancy.objects.filter(expected=False).values_list(
            "case", flat=True
        )
    } >= {"name_case_spacing", "at_cap", "registered_late", "inactive_unregistered"}
    assert edge & found == set()
    assert run.counts == generated.expected_kinds() == run.opened


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="threads on PostgreSQL only (SQLite: one writer)"
)
def test_an_inline_run_outside_a_transaction_works_its_chunks_on_threads(
    transactional_db, generated, settings
):
    # As two Celery workers would: each thread claims chunks on its own connection; the
    # outcome is the same exact set, each chunk worked once, the findings handed over.
    settings.RECONCILIATION_INLINE_THREADS = 2

    run = run_inline("full")

    assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
    assert open_set() == truth_set()
    assert run.counts == generated.expected_kinds() == run.opened
    chunks = RunChunk.objects.filter(run=run)
    assert chunks.count() == run.chunks_total > 5
    assert set(chunks.values_list("status", "attempts")) == {(RunChunk.Status.DONE, 1)}
    # Claimed by the run's threads (the serial path names the process alone).
    names = set(chunks.values_list("claimed_by", flat=True))
    assert {name.rpartition("/")[2] for name in names} <= {"0", "1"}, names
    asked = Discrepancy.objects.filter(kind__in=OUTLET_ACCOUNTABLE_KINDS, outlet__isnull=False)
    assert handed_over() == set(asked.values_list("pk", flat=True))


def test_an_interrupted_inline_run_on_threads_stops_claiming_and_stays_running(
    transactional_db, generated, settings, monkeypatch
):
    # Ctrl-C lands in one thread's chunk (here the second chunk worked): that chunk is left
    # as it was, the other thread finishes the chunk in hand and claims no other; the run
    # stays running with chunks pending, for the recovery or --take-over.
    settings.RECONCILIATION_INLINE_THREADS = 2
    process, calls = engine_module._process, []

    def interrupted(chunk, run, now):
        calls.append(chunk.pk)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return process(chunk, run, now)

    monkeypatch.setattr(engine_module, "_process", interrupted)
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    with pytest.raises(KeyboardInterrupt):
        reconciliation_run_inline(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == ReconciliationRun.Status.RUNNING
    chunks = RunChunk.objects.filter(run=run)
    assert chunks.count() > 5
    assert len(calls) <= 3  # the interrupted chunk, and at most one more per thread
    assert chunks.filter(status=RunChunk.Status.PENDING).count() >= chunks.count() - 3
    assert not AuditEvent.objects.filter(action="reconciliation.finish").exists()


def test_each_discrepancy_flags_its_registration_and_is_handed_over(generated):
    run = run_inline("full")

    with_registration = Discrepancy.objects.filter(registration__isnull=False)
    flagged = set(Registration.objects.filter(status="flagged").values_list("pk", flat=True))
    assert flagged == set(with_registration.values_list("registration_id", flat=True))
    assert AuditEvent.objects.filter(action="registration.flag").count() == len(flagged)
    accountable = set(
        Discrepancy.objects.filter(
            kind__in=OUTLET_ACCOUNTABLE_KINDS, outlet__isnull=False
        ).values_list("pk", flat=True)
    )
    assert handed_over() == accountable
    # Every new finding is handed over; those unknown to the operator went to the review
    # queue in the same transaction (no periodic sync has run).
    assert finish_audit(run)["handed_over"] == Discrepancy.objects.count()
    assert not Discrepancy.objects.filter(kind="missing_in_operator", pk__in=accountable)
    unknown = set(
        Discrepancy.objects.filter(kind="missing_in_operator").values_list("pk", flat=True)
    )
    assert unknown
    assert set(ReviewItem.objects.values_list("discrepancy_id", flat=True)) == unknown
    # Unregistered activations belong to the outlet whose ROID sold them.
    assert not Discrepancy.objects.filter(kind="unregistered_activation", outlet__isnull=True)
    assert AuditEvent.objects.filter(action="reconciliation.finish", target_id=str(run.pk))


def test_a_rerun_doubles_nothing(generated, engine):
    first = run_inline("full")
    rows = Discrepancy.objects.count()
    asked = handed_over()
    requests = Clarification.objects.count()
    workflow_audit = AuditEvent.objects.filter(action__startswith="clarification").count()

    second = run_inline("full")

    assert second.status == "succeeded"
    assert Discrepancy.objects.count() == rows
    assert sum(second.opened.values()) == 0 and sum(second.resolved.values()) == 0
    assert second.counts == first.counts
    assert set(Discrepancy.objects.values_list("last_seen_run", flat=True)) == {second.pk}
    assert set(Discrepancy.objects.values_list("first_detected_run", flat=True)) == {first.pk}
    # Killed mutant: the hand-over lost its "first detected by this run" filter and gave every
    # still-open finding to the workflow again on each run.
    assert asked and finish_audit(first)["handed_over"] == Discrepancy.objects.count()
    assert finish_audit(second)["handed_over"] == 0
    assert handed_over() == asked and Clarification.objects.count() == requests
    assert AuditEvent.objects.filter(action__startswith="clarification").count() == workflow_audit


def test_a_fixed_discrepancy_is_resolved_by_the_run_that_stops_finding_it(generated, engine):
    run_inline("full")
    name_case = InjectedDiscrepancy.objects.filter(case="name_one_letter").first()
    registration = Registration.objects.get(msisdn=name_case.msisdn)
    OperatorSubscriber.objects.filter(msisdn=name_case.msisdn).update(
        full_name=registration.full_name.upper(),
        name_key="".join(ch for ch in registration.full_name.casefold() if ch.isalnum()),
        updated_at=timezone.now(),
    )

    rerun = run_inline("full")

    fixed = Discrepancy.objects.get(msisdn=name_case.msisdn, kind="name_mismatch")
    assert fixed.status == "resolved" and fixed.resolved_by_run_id == rerun.pk
    assert fixed.resolved_at is not None
    assert rerun.resolved["name_mismatch"] == 1
    assert open_set() == truth_set() - {(name_case.msisdn, "name_mismatch")}


def test_verified_and_blocked_registrations_keep_their_status(generated):
    planted = InjectedDiscrepancy.objects.filter(case__in=["id_other", "birth_other"])
    msisdns = list(planted.values_list("msisdn", flat=True)[:2])
    Registration.objects.filter(msisdn=msisdns[0]).update(status="verified")
    Registration.objects.filter(msisdn=msisdns[1]).update(status="blocked")

    run_inline("full")

    assert Registration.objects.get(msisdn=msisdns[0]).status == "verified"
    assert Registration.objects.get(msisdn=msisdns[1]).status == "blocked"
    assert Discrepancy.objects.filter(msisdn__in=msisdns, status="open").count() == 2


def test_without_a_cap_in_force_no_id_is_over_it(generated):
    run_inline("full")
    assert Discrepancy.objects.filter(kind="id_over_limit", status="open").exists()
    RegistrationPolicy.objects.create(
        code="NOCAP",
        name="No cap",
        effective_from=timezone.localdate() - timedelta(days=1),
        accepted_id_types=["ktp"],
        max_numbers_per_id=None,
    )

    run = run_inline("full")

    assert run.id_cap is None
    assert not Discrepancy.objects.filter(kind="id_over_limit", status="open").exists()
    assert run.resolved["id_over_limit"] == len(
        [1 for _, kind in truth_set() if kind == "id_over_limit"]
    )


def test_a_failing_hand_over_fails_the_finish_and_commits_nothing_of_it(generated, monkeypatch):
    """Killed mutant: hand-over errors swallowed, so the run succeeded without its findings
    reaching the workflow. The run and its hand-over commit together or not at all."""

    def broken_receiver(*, discrepancy_ids):
        raise RuntimeError("workflow unavailable")

    monkeypatch.setattr(handover, "receivers", [*handover.receivers, broken_receiver])
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    with pytest.raises(RuntimeError, match="workflow unavailable"):
        reconciliation_run_inline(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == ReconciliationRun.Status.RUNNING and run.active_slot == "active"
    assert not Clarification.objects.exists()  # the real intake ran first: rolled back too
    assert not AuditEvent.objects.filter(action="reconciliation.finish").exists()

    monkeypatch.setattr(handover, "receivers", handover.receivers[:-1])
    assert reconciliation_finish(run_id=run.pk)  # the recovery's retry
    run.refresh_from_db()
    assert run.status == ReconciliationRun.Status.SUCCEEDED
    assert handed_over() and finish_audit(run)["handed_over"] == Discrepancy.objects.count()


def _workflow_rows() -> dict:
    """What the workflow wrote, without the keys and moments that differ between two runs:
    requests, their items, review items, the audit rows of opening, extending and queuing,
    and who was told what."""
    from compliance.models import Notification

    findings = {d.pk: (d.msisdn, d.kind) for d in Discrepancy.objects.only("pk", "msisdn", "kind")}
    requests = {c.pk: c.msisdn for c in Clarification.objects.only("pk", "msisdn")}

    def after(event):
        values = dict(event.after or {})
        if "discrepancy" in values:
            values["discrepancy"] = findings[values["discrepancy"]]
        if "due_at" in values:
            values["due_at"] = bool(values["due_at"])
        return tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in values.items()))

    return {
        "requests": sorted(
            (c.msisdn, c.registration_id, c.accountable, c.outlet_id, c.dealer_id, c.party_id,
             c.agreement_id, c.status, c.round, c.question, c.decision, c.due_at - c.opened_at)
            for c in Clarification.objects.all()
        ),
        "items": sorted(
            (requests[i.clarification_id], findings[i.discrepancy_id], i.kind, i.round)
            for i in ClarificationItem.objects.all()
        ),
        "review": sorted(
            (r.kind, r.msisdn, r.registration_id, findings.get(r.discrepancy_id), r.outlet_id,
             r.dealer_id, r.province, r.region, r.discrepancy_kinds, r.status,
             r.due_at - r.queued_at)
            for r in ReviewItem.objects.all()
        ),
        "audit": sorted(
            (e.action, e.actor_label, e.target_type, re.sub(r"^#\d+ ", "", e.target_repr),
             after(e))
            for e in AuditEvent.objects.filter(
                action__in=["clarification.open", "clarification.extend", "review_item.queue"]
            )
        ),
        "told": sorted(Notification.objects.values_list("user_id", "text", "link")),
    }  # fmt: skip


def test_the_generic_hand_over_writes_what_the_set_based_one_writes(generated, settings):
    """Without PostgreSQL's arrays (SQLite under ``make run``) the hand-over goes through the
    ORM; on PostgreSQL it is a few set-based statements. A first run opening requests and
    queuing review items, then a second run finding more on numbers already asked about
    (extending their requests), done both ways, leave the same rows."""

    from outlets.models import Dealer, Outlet
    from tests.factories import DealerAdminFactory, StaffFactory

    for outlet in Outlet.objects.all():
        StaffFactory(outlet=outlet)
    for dealer in Dealer.objects.all():
        DealerAdminFactory(dealer=dealer)

    # Both ways from the same moment (the clock running): the deadline the people are told
    # is written to the minute, and two passes straddling a minute's end would differ there.
    start = timezone.now().replace(second=0, microsecond=0)

    def both_runs(engine: str) -> dict:
        settings.RECONCILIATION_ENGINE = engine
        with time_machine.travel(start, tick=True), transaction.atomic():
            run_inline("full")
            asked = list(
                InjectedDiscrepancy.objects.filter(case="name_one_letter").values_list(
                    "msisdn", flat=True
                )[:2]
            )
            OperatorSubscriber.objects.filter(msisdn__in=asked).update(
                birth_date=F("birth_date") - timedelta(days=400), updated_at=timezone.now()
            )
            run_inline("full")
            rows = _workflow_rows()
            transaction.set_rollback(True)
        return rows

    set_based, generic = both_runs("auto"), both_runs("python")

    assert set_based["requests"] and set_based["review"] and set_based["told"]
    assert any(row[0] == "clarification.extend" for row in set_based["audit"])
    for part in set_based:
        assert generic[part] == set_based[part], part


def test_a_name_whose_key_is_longer_than_the_name_is_compared_whole(generated, engine):
    """A name of 10 U+FDFA (its key 150 letters, as the snapshot stores it): the same name on
    both sides matches; another long name differs, and only that is found."""
    from identity.idrules import normalize_name_for_comparison
    from operatordb.snapshot import name_key

    planted = set(InjectedDiscrepancy.objects.values_list("msisdn", flat=True))
    same, other = [
        r.msisdn for r in Registration.objects.order_by("pk") if r.msisdn not in planted
    ][:2]
    name = "\ufdfa" * 10
    Registration.objects.filter(msisdn__in=[same, other]).update(full_name=name)
    for msisdn, operators in ((same, name), (other, "\ufdfa" * 9 + "\ufdfb")):
        OperatorSubscriber.objects.filter(msisdn=msisdn).update(
            full_name=operators, name_key=name_key(operators), updated_at=timezone.now()
        )
    assert len(OperatorSubscriber.objects.get(msisdn=same).name_key) == 150
    assert name_key(name) == normalize_name_for_comparison(name)

    run = run_inline("full")

    assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
    assert open_set() == truth_set() | {(other, "name_mismatch")}
