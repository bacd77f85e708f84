"""Each signal, at its edges: which registrations carry it after a refresh (full or
incremental — both give the same rows)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import ReviewItem
from privacy.models import RegistrationPrivacy
from risk.models import RegistrationSignal
from risk.services import risk_refresh
from subscribers.models import Registration
from tests.factories import OutletFactory, StaffFactory, UserFactory

from .conftest import age_everything, days_ago, nik, pre_activate, register


def carrying(signal: str) -> set[int]:
    return set(
        RegistrationSignal.objects.filter(signal=signal).values_list("registration_id", flat=True)
    )


def rows() -> set[tuple]:
    return set(RegistrationSignal.objects.values_list("registration_id", "signal", "via", "day"))


@pytest.fixture
def three(require_postgres, policies, dealer_org):
    return [OutletFactory(dealer=dealer_org, roid=f"ROSIG00000{n}") for n in (1, 2, 3)]


@pytest.mark.django_db
def test_kk_equals_the_nik(three):
    number = nik()
    same = register(three[0], days_ago(3), id_number=number, kk_number=number)
    other = register(three[0], days_ago(4), kk_number=nik())
    risk_refresh(full=True)
    assert same.pk in carrying("kk_equals_nik") and other.pk not in carrying("kk_equals_nik")


@pytest.mark.django_db
def test_a_kk_with_more_nik_than_a_family_card_holds(three, settings):
    settings.RISK_KK_MAX_NIKS = 4
    crowded, family = nik(), nik()
    five = [register(three[0], days_ago(2 + 5 * i), kk_number=crowded) for i in range(5)]
    niks = [nik() for _ in range(4)]
    four = [register(three[1], days_ago(2 + 5 * i), kk_number=family, id_number=n)
            for i, n in enumerate(niks)]  # fmt: skip
    # The same NIK twice on the family card is one person, not two.
    again = register(three[1], days_ago(1), kk_number=family, id_number=niks[0])
    risk_refresh(full=True)
    assert carrying("kk_crowded") == {r.pk for r in five}
    assert not ({r.pk for r in four} | {again.pk}) & carrying("kk_crowded")


@pytest.mark.django_db
def test_one_nik_or_kk_at_many_outlets_within_the_window(three, settings):
    settings.RISK_WINDOW_HOURS = 72
    close, apart, kk = nik(), nik(), nik()
    near = [register(o, days_ago(10, 9) + timedelta(hours=30 * i), id_number=close) for o, i in
            zip(three, range(3), strict=True)]  # fmt: skip
    far = [register(o, days_ago(20, 9) + timedelta(hours=80 * i), id_number=apart) for o, i in
           zip(three, range(3), strict=True)]  # fmt: skip
    by_kk = [register(o, days_ago(5, 9 + i), kk_number=kk) for i, o in enumerate(three)]
    risk_refresh(full=True)
    spread = carrying("id_spread")
    assert {r.pk for r in near} <= spread and {r.pk for r in by_kk} <= spread
    assert not {r.pk for r in far} & spread
    # Three registrations of one NIK within 72 hours is also one NIK on many numbers.
    assert {r.pk for r in near} <= carrying("nik_reuse")
    assert not {r.pk for r in far} & carrying("nik_reuse")


@pytest.mark.django_db
def test_one_nik_on_many_numbers_needs_the_minimum_within_the_window(three, settings):
    settings.RISK_NIK_REUSE_MIN = 3
    twice, thrice = nik(), nik()
    two = [register(three[0], days_ago(6, 9 + i), id_number=twice) for i in range(2)]
    three_times = [register(three[0], days_ago(7, 9 + i), id_number=thrice) for i in range(3)]
    risk_refresh(full=True)
    assert carrying("nik_reuse") == {r.pk for r in three_times}
    assert not {r.pk for r in two} & carrying("id_spread")


@pytest.mark.django_db
def test_odd_hours_are_local_time(three):
    late = register(three[0], days_ago(3, 4, 59))
    dawn = register(three[0], days_ago(4, 5, 0))
    night = register(three[0], days_ago(5, 23, 59))
    midnight = register(three[0], days_ago(6, 0, 0))
    risk_refresh(full=True)
    assert carrying("odd_hours") == {late.pk, midnight.pk}
    assert dawn.pk not in carrying("odd_hours") and night.pk not in carrying("odd_hours")


@pytest.mark.django_db
def test_odd_hours_may_run_across_midnight(three, settings):
    settings.RISK_ODD_HOUR_FROM, settings.RISK_ODD_HOUR_TO = 22, 5
    evening = register(three[0], days_ago(3, 21, 59))
    late = register(three[0], days_ago(4, 22, 0))
    small_hours = register(three[0], days_ago(5, 4, 59))
    dawn = register(three[0], days_ago(6, 5, 0))
    noon = register(three[0], days_ago(7, 12, 0))
    risk_refresh(full=True)
    assert carrying("odd_hours") == {late.pk, small_hours.pk}
    assert not {evening.pk, dawn.pk, noon.pk} & carrying("odd_hours")


@pytest.mark.django_db
def test_faster_than_a_person_can_type_is_per_clerk(three, settings):
    settings.RISK_MIN_SECONDS_BETWEEN = 60
    outlet = three[0]
    ani, budi = (
        StaffFactory(user=UserFactory(username=name), outlet=outlet).user
        for name in ("ani", "budi")
    )
    start = days_ago(3, 11)
    first = register(outlet, start, clerk=ani)
    quick = register(outlet, start + timedelta(seconds=59), clerk=ani)
    paced = register(outlet, start + timedelta(seconds=119), clerk=ani)
    colleague = register(outlet, start + timedelta(seconds=10), clerk=budi)
    risk_refresh(full=True)
    assert carrying("too_fast") == {quick.pk}
    assert not {first.pk, paced.pk, colleague.pk} & carrying("too_fast")


@pytest.mark.django_db
def test_refusals_disputes_and_birth_dates_contradicting_the_registry(three, dealer_org):
    outlet = three[0]
    refused = register(outlet, days_ago(3), status=Registration.Status.REFUSED)
    corrected = register(
        outlet,
        days_ago(4),
        warnings=[{"code": "nik_birth_date_corrected", "message": "…"}],
    )
    sex_only = register(outlet, days_ago(5), warnings=[{"code": "nik_sex_corrected"}])
    disputed = register(outlet, days_ago(6))
    dismissed = register(outlet, days_ago(7))
    now = timezone.now()
    for registration, decided in ((disputed, False), (dismissed, True)):
        ReviewItem.objects.create(
            kind=ReviewItem.Kind.FLAGGED_REGISTRATION,
            msisdn=registration.msisdn,
            registration=registration,
            outlet=outlet,
            dealer=dealer_org,
            discrepancy_kinds=",holder_dispute,",
            queued_at=now,
            due_at=now,
            status=ReviewItem.Status.DECIDED if decided else ReviewItem.Status.OPEN,
            decision=ReviewItem.Decision.DISMISS if decided else "",
            decided_at=now if decided else None,
        )
    risk_refresh(full=True)
    assert carrying("registry_refused") == {refused.pk}
    assert carrying("birth_date_contradiction") == {corrected.pk}
    assert sex_only.pk not in carrying("birth_date_contradiction")
    assert carrying("holder_dispute") == {disputed.pk}


@pytest.mark.django_db
def test_the_incremental_refresh_gives_the_rows_of_a_full_one(three, preactivation_kind):
    reused = nik()
    for outlet, hours in ((three[0], 0), (three[1], 5)):
        register(outlet, days_ago(9, 8) + timedelta(hours=hours), id_number=reused)
    kept = register(three[1], days_ago(20))
    age_everything()
    risk_refresh(full=True)
    assert not carrying("nik_reuse")
    # Later: a third number on the same NIK at another outlet, a night burst, a refusal and a
    # pre-activation finding about an older registration.
    third = register(three[2], days_ago(8, 8), id_number=reused)
    burst = [register(three[1], days_ago(2, 2) + timedelta(seconds=5 * i)) for i in range(3)]
    Registration.objects.filter(pk=burst[0].pk).update(
        status=Registration.Status.REFUSED, updated_at=timezone.now()
    )
    pre_activate(kept, at=timezone.now())

    outcome = risk_refresh()

    assert outcome.mode == "incremental"
    incremental = rows()
    assert third.pk in carrying("nik_reuse") and third.pk in carrying("id_spread")
    assert {b.pk for b in burst} <= carrying("odd_hours")
    assert kept.pk in carrying("pre_activation")
    risk_refresh(full=True)
    assert rows() == incremental


@pytest.mark.django_db
def test_an_anonymised_registration_takes_its_numbers_signals_with_it(three):
    reused = nik()
    regs = [register(three[0], days_ago(9, 8 + i), id_number=reused) for i in range(3)]
    age_everything()
    risk_refresh(full=True)
    assert carrying("nik_reuse") == {r.pk for r in regs}
    Registration.objects.filter(pk=regs[0].pk).update(
        id_number_digest="", id_number_masked="", updated_at=timezone.now()
    )
    risk_refresh()
    assert not carrying("nik_reuse")  # two left: under the minimum, for both of them


@pytest.mark.django_db
def test_a_changed_setting_rebuilds_every_row(three, settings):
    first = register(three[0], days_ago(3, 5, 30))
    risk_refresh(full=True)
    assert first.pk not in carrying("odd_hours")
    settings.RISK_ODD_HOUR_TO = 6
    assert risk_refresh().mode == "full"
    assert first.pk in carrying("odd_hours")


@pytest.mark.django_db
def test_restricted_registrations_behind_a_signal_are_the_operator_admins_only(
    three, regulator, operator, client
):
    from django.urls import reverse

    from .conftest import params

    night = [register(three[0], days_ago(3, 2, i)) for i in range(3)]
    RegistrationPrivacy.objects.create(registration=night[0], restricted_at=timezone.now())
    risk_refresh(full=True)
    url = reverse("risk:records", args=[three[0].roid, "odd_hours"])
    for user, expected in ((regulator, 2), (operator, 3)):
        client.force_login(user)
        assert len(client.get(url, params()).context["lines"]) == expected


@pytest.mark.django_db
def test_a_registration_moved_to_another_day_keeps_one_row_on_its_new_day(three):
    night = register(three[0], days_ago(3, 2))
    age_everything()
    risk_refresh(full=True)
    Registration.objects.filter(pk=night.pk).update(
        registered_at=days_ago(5, 3), updated_at=timezone.now()
    )
    risk_refresh()
    row = RegistrationSignal.objects.get(registration=night, signal="odd_hours")
    assert row.day == days_ago(5).date()
