"""Incremental runs select their work by the change sequence, not by the clock: a change
committed late (its transaction open across a run's start) is never missed, and the rows changed
long ago are not read again. Ground truth stays exact on dirty data (~40 % of the registrations
with a finding), full and incremental."""

from datetime import timedelta

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from compliance.models import RunChunk
from compliance.reconciliation.engine import reconciliation_plan, reconciliation_start
from compliance.reconciliation.generator import (
    DIRTY_RATES,
    build_registrations,
    generate_operator_data,
)
from identity.idrules import normalize_name_for_comparison
from operatordb.models import InjectedDiscrepancy, OperatorSubscriber
from subscribers.models import Registration

from .conftest import CASE_COUNTS, open_set, run_inline, truth_set


def _second_connection():
    db = connection.settings_dict
    return psycopg2.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
    )


def _examined(run) -> int:
    return sum(
        counts["msisdns"]
        for counts in run.chunks.filter(phase=RunChunk.Phase.MSISDN).values_list(
            "counts", flat=True
        )
    )


def _clean_registration() -> Registration:
    planted = set(InjectedDiscrepancy.objects.values_list("msisdn", flat=True))
    return next(r for r in Registration.objects.order_by("pk") if r.msisdn not in planted)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_committed_after_a_run_started_is_found_by_the_next_incremental_run(
    require_postgres, policies, small_chunks
):
    build_registrations(200, outlets=4, seed=3)
    generate_operator_data(counts=CASE_COUNTS, seed=11)
    run_inline("full")
    registration = _clean_registration()

    # Another session renames the buyer (the operator still has the old name) and stays open:
    # its row's updated_at is its transaction's start, before the next run starts.
    other = _second_connection()
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "UPDATE subscribers_registration SET full_name = 'Ayu Terlambat',"
                " updated_at = now() WHERE id = %s",
                [registration.pk],
            )
        first = run_inline("incremental")  # cannot see the uncommitted change
        assert first.status == "succeeded", first.error
        assert ("name_mismatch" not in first.opened) or not first.opened["name_mismatch"]
        other.commit()
    finally:
        other.close()
    committed_at = Registration.objects.get(pk=registration.pk).updated_at
    assert committed_at < first.started_at  # the clock alone would have skipped it

    second = run_inline("incremental")

    assert second.status == "succeeded", second.error
    assert (registration.msisdn, "name_mismatch") in open_set()
    assert second.opened.get("name_mismatch") == 1
    assert _examined(second) == 1  # that row, nothing else
    assert second.rows_total == second.rows_done == 1  # planned by the change sequence too

    # Nothing changed since: the next incremental run reads nothing, however recent the rest.
    third = run_inline("incremental")
    assert _examined(third) == 0 and sum(third.opened.values()) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_incremental_run_reads_the_changed_rows_only_however_recent_the_rest(
    require_postgres, policies, small_chunks, settings
):
    # A five-minute margin would re-read everything written minutes ago; the change sequence
    # does not look at the clock.
    settings.RECONCILIATION_WATERMARK_MARGIN = 300
    build_registrations(200, outlets=4, seed=3)
    generate_operator_data(counts=CASE_COUNTS, seed=11)
    run_inline("full")
    registration = _clean_registration()
    Registration.objects.filter(pk=registration.pk).update(
        address="Jl. Baru 2", updated_at=timezone.now()
    )

    run = run_inline("incremental")

    assert run.changes_after and _examined(run) == 1
    assert sum(run.opened.values()) == 0 and sum(run.resolved.values()) == 0

    # The Python engine has no change sequence, even after a set-based run: it reads what
    # changed since that run started, less the margin (transactions still open then).
    settings.RECONCILIATION_ENGINE = "python"
    python_run = reconciliation_start(mode="incremental", trigger="command", dispatch=False)
    assert reconciliation_plan(run_id=python_run.pk, dispatch=False)
    python_run.refresh_from_db()
    assert (python_run.engine, python_run.changes_after) == ("python", "")
    assert python_run.since == run.started_at - timedelta(minutes=5)


@pytest.fixture
def dirty(policies, small_chunks):
    """400 registrations, ~40 % of them with a finding."""
    build_registrations(400, outlets=6, seed=17)
    return generate_operator_data(rates=DIRTY_RATES, seed=19)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ground_truth_is_exact_on_dirty_data_full_and_incremental(require_postgres, dirty):
    truth = truth_set()
    registrations_with_a_finding = Registration.objects.filter(
        msisdn__in={m for m, _ in truth}
    ).count()
    assert registrations_with_a_finding >= 0.3 * Registration.objects.count()

    full = run_inline("full")
    assert full.status == "succeeded", full.error
    assert open_set() == truth  # recall and precision 1.0

    # 1 % of the registrations changed: two fixed to match the operator, one broken.
    now = timezone.now()
    wrong = InjectedDiscrepancy.objects.filter(case="name_one_letter").order_by("msisdn")[:2]
    for finding in wrong:
        name = Registration.objects.get(msisdn=finding.msisdn).full_name
        OperatorSubscriber.objects.filter(msisdn=finding.msisdn).update(
            full_name=name, name_key=normalize_name_for_comparison(name), updated_at=now
        )
    broken = _clean_registration()
    Registration.objects.filter(pk=broken.pk).update(full_name="Ayu Lain", updated_at=now)
    expected = (truth - {(f.msisdn, "name_mismatch") for f in wrong}) | {
        (broken.msisdn, "name_mismatch")
    }

    incremental = run_inline("incremental")

    assert incremental.status == "succeeded", incremental.error
    assert incremental.changes_after and _examined(incremental) == 3
    assert open_set() == expected
    check = run_inline("full")
    assert sum(check.opened.values()) == 0 and sum(check.resolved.values()) == 0
    assert open_set() == expected
