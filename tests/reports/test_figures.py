"""The figures on a known data set, each computed independently here from what was written."""

from collections import Counter, defaultdict
from datetime import date

import pytest
from django.utils import timezone

from privacy.models import RegistrationPrivacy
from reports.figures import report_figures
from reports.periods import Period
from reports.scope import ReportFilter, ReportScope
from reports.summary import summaries_refresh
from subscribers.models import Registration

from .conftest import PERIOD, make_discrepancy, make_registration, nik, wib

ACCOUNTABLE = {
    "id_number_mismatch",
    "name_mismatch",
    "birth_date_mismatch",
    "unregistered_activation",
    "id_over_limit",
}
EVERYTHING = ReportScope.everything()


def flt(**kwargs) -> ReportFilter:
    return ReportFilter(Period(*PERIOD), **kwargs)


def in_period(data):
    return [row for row in data.rows if data.in_period(row[1])]


def expected_with_discrepancy(data, rows):
    open_accountable = {
        d.registration_id
        for d, _day in data.discrepancies
        if d.status == "open" and d.kind in ACCOUNTABLE and d.registration_id
    }
    return sum(1 for r, *_ in rows if r.pk in open_accountable)


def expected_over_cap(data):
    """ID numbers with more than 3 active numbers (not blocked, not deactivated), among those
    with a registration in the period."""
    active = Counter(
        number
        for r, _day, _t, status, number in data.rows
        if status != "blocked" and r.pk not in data.deactivated
    )
    over = {number for number, n in active.items() if n > 3}
    return {
        number
        for r, day, _t, status, number in in_period(data)
        if number in over and status != "blocked" and r.pk not in data.deactivated
    }


@pytest.mark.django_db
def test_totals_id_types_statuses_and_discrepancies(dataset):
    figures = report_figures(flt(), EVERYTHING)
    rows = in_period(dataset)
    assert figures.totals.registrations == len(rows) == 22
    assert dict((k, n) for k, _label, n in figures.by_id_type if n) == dict(
        Counter(t for _r, _d, t, _s, _n in rows)
    )
    assert figures.totals.blocked == sum(1 for *_x, s, _n in rows if s == "blocked")
    assert figures.totals.flagged == sum(1 for *_x, s, _n in rows if s == "flagged")
    assert figures.totals.with_discrepancy == expected_with_discrepancy(dataset, rows)

    detected = Counter(d.kind for d, day in dataset.discrepancies if dataset.in_period(day))
    still_open = Counter(
        d.kind for d, day in dataset.discrepancies if dataset.in_period(day) and d.status == "open"
    )
    assert {k.kind: k.detected for k in figures.discrepancies_by_kind if k.detected} == detected
    assert {k.kind: k.still_open for k in figures.discrepancies_by_kind if k.still_open} == (
        still_open
    )
    assert figures.discrepancies_detected == sum(detected.values())


@pytest.mark.django_db
def test_id_figures(dataset):
    figures = report_figures(flt(), EVERYTHING)
    assert figures.totals.over_cap_ids == len(expected_over_cap(dataset)) == 2
    # Repeated: an outlet with >= 4 registrations of one ID number in the period.
    per_pair = Counter((r.outlet_id, number) for r, _d, _t, _s, number in in_period(dataset))
    expected = {outlet_id for (outlet_id, _n), count in per_pair.items() if count >= 4}
    assert {item.outlet.id for item in figures.repeated} == expected == {dataset.outlets["jbr"].pk}
    assert figures.repeated[0].ids == 1 and figures.repeated[0].most == 4
    # A shorter period cuts the repeated registrations below the threshold.
    short = report_figures(
        flt().with_(period=Period(date(2026, 3, 4), date(2026, 3, 31))), EVERYTHING
    )
    assert short.repeated == []


@pytest.mark.django_db
def test_groups_by_province_dealer_and_outlet(dataset):
    rows = in_period(dataset)
    by_province = Counter(r.outlet.province for r, *_ in rows)
    figures = report_figures(flt(grouping="province"), EVERYTHING)
    assert {g.key: g.counts.registrations for g in figures.groups} == by_province
    assert [g.key for g in figures.groups] == [k for k, _ in by_province.most_common()]
    assert figures.groups[0].label in ("DKI Jakarta", "Jawa Barat", "Jawa Timur")
    # IDs over the cap per province: counted once in each province where one of its numbers
    # was registered in the period.
    over = expected_over_cap(dataset)
    expected_over = defaultdict(set)
    for r, _day, _t, status, number in rows:
        if number in over and status != "blocked" and r.pk not in dataset.deactivated:
            expected_over[r.outlet.province].add(number)
    assert {g.key: g.counts.over_cap_ids for g in figures.groups if g.counts.over_cap_ids} == {
        k: len(v) for k, v in expected_over.items()
    }

    by_dealer = Counter(r.outlet.dealer.code for r, *_ in rows)
    figures = report_figures(flt(grouping="dealer"), EVERYTHING)
    assert {g.key: g.counts.registrations for g in figures.groups} == by_dealer

    by_outlet = Counter(r.outlet.roid for r, *_ in rows)
    figures = report_figures(flt(grouping="outlet"), EVERYTHING)
    assert {g.key: g.counts.registrations for g in figures.groups} == by_outlet
    assert sum(g.counts.discrepancies for g in figures.groups) == figures.discrepancies_detected


@pytest.mark.django_db
def test_trend_buckets_add_up(dataset):
    rows = in_period(dataset)
    daily = report_figures(flt(bucket="day"), EVERYTHING)
    assert len(daily.trend) == 31
    assert {p.bucket.start: p.registrations for p in daily.trend if p.registrations} == Counter(
        day for _r, day, *_ in rows
    )
    weekly = report_figures(flt(bucket="week"), EVERYTHING)
    assert weekly.trend[0].bucket.start == date(2026, 3, 1)  # clipped to the period
    assert sum(p.registrations for p in weekly.trend) == len(rows)
    assert sum(p.discrepancies for p in weekly.trend) == weekly.discrepancies_detected


@pytest.mark.django_db
def test_top_outlets_by_violation_rate(dataset, settings):
    settings.REPORTS_TOP_OUTLETS_MIN_REGISTRATIONS = 2
    figures = report_figures(flt(), EVERYTHING)
    rows = in_period(dataset)
    per_outlet = Counter(r.outlet.roid for r, *_ in rows)
    flagged = Counter()
    open_accountable = {
        d.registration_id
        for d, _ in dataset.discrepancies
        if d.status == "open" and d.kind in ACCOUNTABLE and d.registration_id
    }
    for r, *_ in rows:
        if r.pk in open_accountable:
            flagged[r.outlet.roid] += 1
    rates = {roid: flagged[roid] / n for roid, n in per_outlet.items() if flagged[roid] and n >= 2}
    assert [g.key for g in figures.top_outlets] == sorted(rates, key=lambda k: -rates[k])
    assert {g.key: g.counts.violation_rate for g in figures.top_outlets} == pytest.approx(rates)


@pytest.mark.django_db
def test_a_dealer_sees_its_own_outlets_only(dataset, dealer_user):
    scope = ReportScope.for_user(dealer_user)
    figures = report_figures(flt(), scope)
    rows = [r for r, *_ in in_period(dataset) if r.outlet.dealer.code == "AD0001"]
    assert figures.totals.registrations == len(rows)
    assert "35" not in {g.key for g in figures.groups}
    # Asking for the other dealer's outlet yields nothing, not its figures.
    other = report_figures(flt(outlet="ROJTM000001"), scope)
    assert other.totals.registrations == 0


@pytest.mark.django_db
def test_filters_narrow_every_figure(dataset):
    figures = report_figures(flt(province="32"), EVERYTHING)
    rows = [r for r, *_ in in_period(dataset) if r.outlet.province == "32"]
    assert figures.totals.registrations == len(rows)
    assert [g.key for g in figures.groups] == ["32"]
    assert figures.totals.over_cap_ids == 1  # NIK 100 at jbr


@pytest.mark.django_db
def test_incremental_refresh_matches_a_full_rebuild(dataset, settings):
    settings.REPORTS_WATERMARK_MARGIN_SECONDS = 0
    jkt1, jbr = dataset.outlets["jkt1"], dataset.outlets["jbr"]
    before = report_figures(flt(), EVERYTHING)
    # New registrations, a status change, a discrepancy opened and one resolved, a number
    # deactivated (NIK 100 drops to the cap), a registration anonymised.
    make_registration(outlet=jkt1, at=wib(date(2026, 3, 17)), id_number=nik(600))
    make_registration(outlet=jbr, at=wib(date(2026, 3, 18)), id_number=nik(100))
    changed = Registration.objects.get(registration_number=dataset.rows[5][0].registration_number)
    changed.status = Registration.Status.BLOCKED
    changed.save()
    make_discrepancy(registration=dataset.rows[7][0], kind="name_mismatch", at=timezone.now())
    d, _ = dataset.discrepancies[0]
    d.status, d.resolved_at = "resolved", timezone.now()
    d.save()
    for r, *_rest in dataset.rows[10:12]:
        RegistrationPrivacy.objects.create(registration=r, deactivated_at=timezone.now())
    anonymised = dataset.rows[16][0]
    Registration.objects.filter(pk=anonymised.pk).update(
        id_number_digest="", updated_at=timezone.now()
    )

    outcome = summaries_refresh()
    assert outcome.mode == "incremental" and outcome.registration_days > 0
    incremental = report_figures(flt(), EVERYTHING)
    assert incremental.totals.registrations == before.totals.registrations + 2
    assert incremental.totals.blocked == before.totals.blocked + 1
    summaries_refresh(full=True)
    full = report_figures(flt(), EVERYTHING)
    for name in ("totals", "by_id_type", "discrepancies_by_kind", "trend", "repeated"):
        assert getattr(incremental, name) == getattr(full, name), name
    assert [(g.key, g.counts) for g in incremental.groups] == [
        (g.key, g.counts) for g in full.groups
    ]


@pytest.mark.django_db
def test_a_change_of_the_cap_rebuilds_everything(dataset):
    from subscribers.models import RegistrationPolicy

    # The rule set in force (2026-07 since 1 Jul 2026) and the dataset's own.
    RegistrationPolicy.objects.filter(code__in=["2026", "2026-07"]).update(max_numbers_per_id=4)
    assert summaries_refresh().mode == "full"
    assert report_figures(flt(), EVERYTHING).totals.over_cap_ids == 0


@pytest.mark.django_db
def test_a_dismissed_finding_found_again_is_not_a_new_discrepancy(dataset, grapari):
    """A reviewer dismissed a finding (the portal's data was right); the operator never fixes
    its record, so every later full run finds it again and the workflow settles it at once as
    ``dismissed_before``. The regulator's "discrepancies detected" counts it once, not once a
    night — in the figures, the rows behind them and the export alike."""
    from compliance.models import DiscrepancyOutcome
    from compliance.workflow.intake import discrepancies_opened
    from compliance.workflow.support import finding_fingerprint
    from reports.rows import discrepancy_rows

    registration = dataset.rows[3][0]
    day = wib(date(2026, 3, 20))
    before = report_figures(flt(), EVERYTHING).discrepancies_detected
    rows_before = discrepancy_rows(flt(), EVERYTHING).count()

    first = make_discrepancy(registration=registration, kind="name_mismatch", at=day)
    DiscrepancyOutcome.objects.create(
        discrepancy=first,
        msisdn=first.msisdn,
        kind=first.kind,
        fingerprint=finding_fingerprint(first.kind, first.details),
        outcome=DiscrepancyOutcome.Outcome.DISMISSED,
        decided_by=grapari,
    )
    first.status, first.resolved_at = "resolved", day
    first.save()
    # Three later nights find the same finding again; the workflow settles each at once.
    for night in (21, 22, 23):
        again = make_discrepancy(
            registration=registration, kind="name_mismatch", at=wib(date(2026, 3, night))
        )
        discrepancies_opened(discrepancy_ids=[again.pk])
        again.refresh_from_db()
        assert again.status == "resolved"

    summaries_refresh(full=True)  # these rows were detected "in March", before the watermark
    assert report_figures(flt(), EVERYTHING).discrepancies_detected == before + 1
    assert discrepancy_rows(flt(), EVERYTHING).count() == rows_before + 1


@pytest.mark.django_db
def test_refused_registrations_are_not_counted_and_awaiting_ones_are_shown_apart(dataset):
    from reports.tables import summary_lines

    jkt1 = dataset.outlets["jkt1"]
    before = report_figures(flt(), EVERYTHING)
    assert before.totals.awaiting == 0
    day = wib(date(2026, 3, 17))
    # The registry refused one (its late verification failed); another still waits for it.
    make_registration(outlet=jkt1, at=day, id_number=nik(700), status="refused")
    make_registration(outlet=jkt1, at=day, id_number=nik(701), status="awaiting")
    # An ID at the cap (3 active numbers) plus a refused one is not over the cap.
    for _ in range(3):
        make_registration(outlet=jkt1, at=day, id_number=nik(702))
    make_registration(outlet=jkt1, at=day, id_number=nik(702), status="refused")
    summaries_refresh(full=True)
    figures = report_figures(flt(), EVERYTHING)
    assert figures.totals.registrations == before.totals.registrations + 1 + 3
    assert figures.totals.awaiting == 1
    assert figures.totals.over_cap_ids == before.totals.over_cap_ids
    outlet_row = next(g for g in figures.groups if g.counts.awaiting)
    assert outlet_row.counts.awaiting == 1
    lines = {(figure, dim): value for figure, dim, _k, _l, value in summary_lines(figures)}
    assert lines[("registrations_awaiting_registry", "total")] == 1
    assert lines[("registrations", "total")] == figures.totals.registrations
