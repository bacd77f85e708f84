"""Generated portal registrations and operator data with every discrepancy kind planted."""

import pytest

from compliance.reconciliation.engine import reconciliation_run_inline, reconciliation_start
from compliance.reconciliation.generator import build_registrations, generate_operator_data

# Each case a few times: the discrepancy kinds and the edge cases that must not be flagged.
CASE_COUNTS = {
    "missing": 4,
    "id_other": 4,
    "name_one_letter": 4,
    "name_case_spacing": 6,
    "birth_other": 4,
    "over_cap": 3,
    "at_cap": 3,
    "registered_late": 3,
    "pre_activated": 3,
    "fresh_sale": 3,
    "awaiting_registry": 3,
    "recycled_new_owner": 3,
    "sim_replaced": 3,
    "deactivated_frees_cap": 3,
    "never_registered": 4,
    "inactive_unregistered": 2,
    "foreign_roid": 2,
}


@pytest.fixture
def small_chunks(settings):
    """Many chunks from little data, so chunking and ranges are exercised."""
    settings.RECONCILIATION_CHUNK_ROWS = 40
    settings.RECONCILIATION_PYTHON_CHUNK_ROWS = 40
    settings.RECONCILIATION_WATERMARK_MARGIN = 0


@pytest.fixture
def generated(policies, small_chunks):
    """200 registrations over 4 outlets, and the operator's data with every case planted."""
    build_registrations(200, outlets=4, seed=3)
    return generate_operator_data(counts=CASE_COUNTS, seed=11)


def open_set() -> set[tuple[str, str]]:
    from compliance.models import Discrepancy

    return set(
        Discrepancy.objects.filter(status=Discrepancy.Status.OPEN).values_list("msisdn", "kind")
    )


def truth_set(*, expected: bool = True) -> set[tuple[str, str]]:
    from operatordb.models import InjectedDiscrepancy

    return set(InjectedDiscrepancy.objects.filter(expected=expected).values_list("msisdn", "kind"))


def run_inline(mode: str = "full"):
    run = reconciliation_start(mode=mode, trigger="command", dispatch=False)
    return reconciliation_run_inline(run_id=run.pk)
