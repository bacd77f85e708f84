"""The per-month figures (``MonthlyOutletRisk``): each month's row says what the registrations
and the signal rows of its days say, after a full refresh and after an incremental one; and the
figures of any period — months whole, months in part, a single day — are those of its days."""

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from reports.periods import Period
from reports.scope import ReportFilter, ReportScope
from risk.figures import outlet_risks, period_plan
from risk.models import MonthlyOutletRisk, RegistrationSignal, RiskState
from risk.services import risk_refresh
from risk.signals import CODES
from subscribers.models import Registration
from tests.factories import OutletFactory

from .conftest import WIB, age_everything, nik, pre_activate, register


def local(day: date, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=WIB)


def first_of_month(months_back: int) -> date:
    month = timezone.localdate().replace(day=1)
    for _ in range(months_back):
        month = (month - timedelta(days=1)).replace(day=1)
    return month


def from_registrations(first: date, last: date) -> tuple[Counter, dict]:
    """What the figures of [first, last] must be, counted from the registrations and the signal
    rows themselves: per outlet its registrations (not refused, local day) and, per signal, the
    registrations carrying it."""
    registrations: Counter = Counter()
    for registration in Registration.objects.exclude(status=Registration.Status.REFUSED):
        if first <= timezone.localtime(registration.registered_at).date() <= last:
            registrations[registration.outlet_id] += 1
    carrying: dict = defaultdict(lambda: defaultdict(set))
    for row in RegistrationSignal.objects.filter(day__gte=first, day__lte=last):
        carrying[row.outlet_id][row.signal].add(row.registration_id)
    counts = {
        outlet_id: {code: len(ids) for code, ids in per_signal.items()}
        for outlet_id, per_signal in carrying.items()
    }
    return registrations, counts


def monthly_rows() -> set[tuple]:
    return set(MonthlyOutletRisk.objects.values_list("outlet_id", "month", "registrations", *CODES))


def assert_months_agree() -> None:
    """Every month's row is what its days say, and no month with nothing has one."""
    seen = set()
    for row in MonthlyOutletRisk.objects.all():
        last = (row.month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        registrations, counts = from_registrations(row.month, last)
        expected = {code: counts.get(row.outlet_id, {}).get(code, 0) for code in CODES}
        assert row.registrations == registrations[row.outlet_id], row
        assert {code: getattr(row, code) for code in CODES} == expected, row
        seen.add((row.outlet_id, row.month))
    for registration in Registration.objects.exclude(status=Registration.Status.REFUSED):
        month = timezone.localtime(registration.registered_at).date().replace(day=1)
        assert (registration.outlet_id, month) in seen
    for signal_row in RegistrationSignal.objects.all():
        assert (signal_row.outlet_id, signal_row.day.replace(day=1)) in seen


@pytest.fixture
def months(require_postgres, policies, dealer_org, preactivation_kind):
    """Three outlets registering over four months: ordinary registrations every few days, a
    night shift, a NIK reused across a month's end, refusals and pre-activated numbers."""
    outlets = [OutletFactory(dealer=dealer_org, roid=f"ROMON00000{n}") for n in (1, 2, 3)]
    start = first_of_month(3)
    today = timezone.localdate()
    day = start
    while day <= today:
        for index, outlet in enumerate(outlets):
            register(outlet, local(day, 9 + index))
        day += timedelta(days=3)
    # The night shift of the second outlet, in the month before last and in this one.
    for day in (first_of_month(2) + timedelta(days=9), today):
        for minute in range(4):
            register(outlets[1], local(day, 2, minute * 10))
    # A NIK on three numbers at three outlets within a day, and one on two at the end of last
    # month (not yet a signal).
    reused, twice = nik(), nik()
    for outlet, hour in zip(outlets, (8, 13, 20), strict=True):
        register(outlet, local(first_of_month(2) + timedelta(days=14), hour), id_number=reused)
    end_of_last = first_of_month(0) - timedelta(days=1)
    for outlet, hour in zip(outlets, (20, 23), strict=False):
        register(outlet, local(end_of_last, hour), id_number=twice)
    # Refusals: not registrations, but a signal.
    for day in (start + timedelta(days=4), first_of_month(1) + timedelta(days=5)):
        register(outlets[2], local(day, 11), status=Registration.Status.REFUSED)
    for registration in Registration.objects.filter(outlet=outlets[0]).order_by("pk")[:3]:
        pre_activate(registration)
    risk_refresh(full=True)
    return outlets, twice


@pytest.mark.django_db
def test_each_month_row_is_what_its_registrations_and_signal_rows_say(months):
    assert RegistrationSignal.objects.filter(signal="nik_reuse").count() == 3
    assert MonthlyOutletRisk.objects.values("month").distinct().count() == 4
    assert_months_agree()
    # A registration whose NIK and KK both spread counts once in its month, as in the figures.
    assert set(CODES) <= {f.name for f in MonthlyOutletRisk._meta.get_fields()}


@pytest.mark.django_db
def test_the_figures_of_any_period_are_those_of_its_days(months, regulator):
    today = timezone.localdate()
    scope = ReportScope.for_user(regulator)
    periods = [
        Period(today - timedelta(days=29), today),  # the default: a month in part, less its rest
        Period(first_of_month(3), today),  # whole months and this one in part
        Period(first_of_month(2), first_of_month(1) - timedelta(days=1)),  # one whole month
        Period(first_of_month(2) + timedelta(days=3), first_of_month(2) + timedelta(days=12)),
        Period(first_of_month(1) - timedelta(days=2), first_of_month(1) + timedelta(days=27)),
        Period(today, today),
        Period(today - timedelta(days=365), today),
    ]
    # The plans exercise every way of summing: months whole, days added, days taken away.
    plans = [period_plan(period) for period in periods]
    assert any(p.months and p.taken for p in plans) and any(p.added for p in plans)
    for period in periods:
        registrations, counts = from_registrations(period.date_from, period.date_to)
        risks = outlet_risks(ReportFilter(period), scope)
        assert risks, period
        for risk in risks:
            mine = counts.get(risk.outlet.id, {})
            assert risk.registrations == registrations[risk.outlet.id], (period, risk.outlet)
            assert {f.code: f.count for f in risk.signals if f.count} == mine, (period, risk.outlet)
    # Summed from days alone (before the monthly rows are built), the same figures.
    default = ReportFilter(periods[0])
    with_months = [
        (r.outlet.id, r.rank, r.score, r.peer_level) for r in outlet_risks(default, scope)
    ]
    RiskState.objects.update(months_built=False)
    days_only = [(r.outlet.id, r.rank, r.score, r.peer_level) for r in outlet_risks(default, scope)]
    assert with_months == days_only and any(rank for _, rank, _, _ in with_months)


@pytest.mark.django_db
def test_an_incremental_refresh_after_new_registrations_updates_the_months(months):
    outlets, twice = months
    age_everything()
    before = monthly_rows()
    last_month = first_of_month(1)
    assert not MonthlyOutletRisk.objects.get(outlet=outlets[0], month=last_month).nik_reuse
    today = timezone.localdate()
    # New registrations: a night burst today, and a third number on the NIK registered twice
    # at the end of last month (its rows of last month change with it); a registration moved
    # back by two months; an old one refused now.
    for second in range(0, 150, 30):
        register(outlets[2], local(today, 3) + timedelta(seconds=second))
    register(outlets[2], local(first_of_month(0), 8), id_number=twice)
    moved = Registration.objects.filter(outlet=outlets[1]).order_by("-registered_at").first()
    Registration.objects.filter(pk=moved.pk).update(
        registered_at=local(first_of_month(2) + timedelta(days=1), 12), updated_at=timezone.now()
    )
    refused = Registration.objects.filter(outlet=outlets[0]).order_by("registered_at").first()
    Registration.objects.filter(pk=refused.pk).update(
        status=Registration.Status.REFUSED, updated_at=timezone.now()
    )

    outcome = risk_refresh()

    assert outcome.mode == "incremental"
    incremental = monthly_rows()
    assert incremental != before
    assert MonthlyOutletRisk.objects.get(outlet=outlets[0], month=last_month).nik_reuse == 1
    assert_months_agree()
    risk_refresh(full=True)
    assert monthly_rows() == incremental
