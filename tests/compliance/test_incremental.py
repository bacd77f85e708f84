"""Incremental runs: change a few rows on each side; the next incremental run examines only
those and reaches the state a full run reaches."""

import pytest
from django.utils import timezone

from compliance.models import Discrepancy, RunChunk
from compliance.reconciliation.generator import SELF_REGISTERED_PREFIX
from identity.idrules import normalize_name_for_comparison
from operatordb.models import InjectedDiscrepancy, OperatorSubscriber
from outlets.models import StarterPack
from subscribers.models import Registration
from tests.clock import shift_years

from .conftest import open_set, run_inline


@pytest.fixture(params=["auto", "python"])
def engine(request, settings):
    settings.RECONCILIATION_ENGINE = request.param
    return request.param


def _clean_registrations(n: int) -> list[Registration]:
    planted = set(InjectedDiscrepancy.objects.values_list("msisdn", flat=True))
    return [r for r in Registration.objects.order_by("pk") if r.msisdn not in planted][:n]


def _change_both_sides() -> set[str]:
    """A few changes on each side; returns the MSISDNs touched."""
    now = timezone.now()
    touched = set()
    # Operator side: a wrong name corrected...
    wrong_name = InjectedDiscrepancy.objects.filter(case="name_one_letter").first().msisdn
    portal_name = Registration.objects.get(msisdn=wrong_name).full_name
    OperatorSubscriber.objects.filter(msisdn=wrong_name).update(
        full_name=portal_name, name_key=normalize_name_for_comparison(portal_name), updated_at=now
    )
    touched.add(wrong_name)
    # ...a birth date changed on a clean number...
    clean_op, clean_portal, template = _clean_registrations(3)
    operator = OperatorSubscriber.objects.get(msisdn=clean_op.msisdn)
    OperatorSubscriber.objects.filter(pk=operator.pk).update(
        birth_date=shift_years(operator.birth_date, -1), updated_at=now
    )
    touched.add(clean_op.msisdn)
    # ...a self-registered number of an over-cap ID deactivated (the ID is now at the cap)...
    over_cap = Registration.objects.get(
        msisdn=InjectedDiscrepancy.objects.filter(case="over_cap").first().msisdn
    )
    extra = OperatorSubscriber.objects.filter(
        id_number_digest=over_cap.id_number_digest, msisdn__startswith=SELF_REGISTERED_PREFIX
    ).first()
    OperatorSubscriber.objects.filter(pk=extra.pk).update(status="inactive", updated_at=now)
    touched.add(extra.msisdn)
    # ...and a new activation through one of our outlets, never registered.
    OperatorSubscriber.objects.create(
        msisdn="6285977770001",
        status="active",
        activated_at=now,
        outlet_roid=clean_op.outlet.roid,
        updated_at=now,
    )
    touched.add("6285977770001")
    # Portal side: a name corrected by a reviewer (it now differs from the operator's)...
    Registration.objects.filter(pk=clean_portal.pk).update(full_name="Ayu Lain", updated_at=now)
    touched.add(clean_portal.msisdn)
    # ...and a number the operator saw activated is registered at last.
    late = InjectedDiscrepancy.objects.filter(case="never_registered").first().msisdn
    pack = StarterPack.objects.create(
        msisdn=late, dealer=template.outlet.dealer, outlet=template.outlet, status="registered"
    )
    template.pk = None
    template.registration_number = "SGLATE0001"
    template.msisdn = late
    template.starter_pack = pack
    template.save()
    touched.add(late)
    return touched


def test_incremental_run_examines_only_the_changes_and_reaches_the_full_state(generated, engine):
    full = run_inline("full")
    touched = _change_both_sides()

    incremental = run_inline("incremental")

    assert incremental.status == "succeeded", incremental.error
    assert incremental.since == full.started_at
    examined = sum(
        counts["msisdns"]
        for counts in incremental.chunks.filter(phase=RunChunk.Phase.MSISDN).values_list(
            "counts", flat=True
        )
    )
    assert examined == len(touched) == 6  # the touched MSISDNs, nothing else
    # The cap did not change: the ID groups too are examined where the operator's records
    # changed (three changed, one new), not in full.
    groups = incremental.chunks.filter(phase=RunChunk.Phase.ID_GROUP)
    assert set(groups.values_list("scope", flat=True)) == {RunChunk.Scope.CHANGED}
    assert sum(groups.values_list("rows_planned", flat=True)) == 4
    # Its MSISDN chunks were planned for those records and the two registrations changed.
    msisdn_chunks = incremental.chunks.filter(phase=RunChunk.Phase.MSISDN)
    assert sum(msisdn_chunks.values_list("rows_planned", flat=True)) == 6
    # Untouched discrepancies were not even looked at.
    untouched = Discrepancy.objects.exclude(msisdn__in=touched).exclude(kind="id_over_limit")
    assert set(untouched.values_list("last_seen_run", flat=True)) == {full.pk}
    assert sum(incremental.resolved.values()) == 3  # name fixed, at cap now, registered
    assert sum(incremental.opened.values()) >= 3  # birth date, portal name, new activation

    state = open_set()
    check = run_inline("full")
    assert sum(check.opened.values()) == 0 and sum(check.resolved.values()) == 0
    assert open_set() == state


def test_an_incremental_run_without_a_previous_success_examines_everything(generated):
    run = run_inline("incremental")
    assert run.since is None
    assert set(run.chunks.values_list("scope", flat=True)) == {RunChunk.Scope.ALL}
    assert open_set() == set(
        InjectedDiscrepancy.objects.filter(expected=True).values_list("msisdn", "kind")
    )


def test_a_new_cap_makes_the_incremental_run_examine_every_id_group(generated):
    from subscribers.models import RegistrationPolicy

    run_inline("full")
    policy = RegistrationPolicy.objects.order_by("-effective_from").first()
    RegistrationPolicy.objects.filter(pk=policy.pk).update(max_numbers_per_id=2)

    run = run_inline("incremental")

    groups = run.chunks.filter(phase=RunChunk.Phase.ID_GROUP)
    assert set(groups.values_list("scope", flat=True)) == {RunChunk.Scope.ALL}
    assert run.id_cap == 2
    # The "at cap" IDs (3 numbers) are now over a cap of 2.
    at_cap = InjectedDiscrepancy.objects.filter(case="at_cap").values_list("msisdn", flat=True)
    assert Discrepancy.objects.filter(
        msisdn__in=list(at_cap), kind="id_over_limit", status="open"
    ).count() == len(at_cap)
