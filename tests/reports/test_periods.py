"""Periods and trend buckets: plain functions, many cases."""

from datetime import date

import pytest

from reports.periods import (
    MAX_PERIOD_DAYS,
    Period,
    PeriodError,
    auto_bucket,
    buckets,
    day_ranges,
    parse_period,
)
from reports.scope import report_filter_from

TODAY = date(2026, 11, 28)


def test_defaults_are_the_last_30_days():
    assert parse_period(None, None, today=TODAY) == Period(date(2026, 10, 30), TODAY)
    assert parse_period("", "2026-03-31", today=TODAY) == Period(
        date(2026, 3, 2), date(2026, 3, 31)
    )


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-03-05", "2026-03-01", "date_to"),
        ("5 March", "2026-03-01", "date_from"),
        ("2026-02-30", "2026-03-01", "date_from"),
        ("2020-01-01", "2026-03-01", "date_to"),
    ],
)
def test_bad_periods_name_the_field(start, end, field):
    with pytest.raises(PeriodError) as caught:
        parse_period(start, end, today=TODAY)
    assert field in caught.value.errors


def test_required_dates():
    with pytest.raises(PeriodError) as caught:
        parse_period(None, "", today=TODAY, required=True)
    assert set(caught.value.errors) == {"date_from", "date_to"}


def test_the_longest_period():
    start = date(2022, 1, 1)
    end = date.fromordinal(start.toordinal() + MAX_PERIOD_DAYS - 1)
    assert parse_period(start, end, today=TODAY).days == MAX_PERIOD_DAYS


@pytest.mark.parametrize(
    ("days", "bucket"), [(1, "day"), (62, "day"), (63, "week"), (366, "week"), (372, "month")]
)
def test_auto_bucket(days, bucket):
    start = date(2025, 1, 1)
    assert auto_bucket(Period(start, date.fromordinal(start.toordinal() + days - 1))) == bucket


def test_weeks_and_months_are_clipped_to_the_period():
    weeks = buckets(Period(date(2026, 3, 1), date(2026, 3, 31)), "week")  # 1 March is a Sunday
    assert (weeks[0].start, weeks[0].end) == (date(2026, 3, 1), date(2026, 3, 1))
    assert (weeks[1].start, weeks[1].end) == (date(2026, 3, 2), date(2026, 3, 8))
    assert weeks[-1].end == date(2026, 3, 31) and weeks[1].label("week") == "2026-W10"
    months = buckets(Period(date(2025, 12, 15), date(2026, 2, 10)), "month")
    assert [(m.start, m.end) for m in months] == [
        (date(2025, 12, 15), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 10)),
    ]
    assert months[1].label("month") == "2026-01"


def test_day_ranges_merge_consecutive_days():
    days = [date(2026, 3, d) for d in (5, 1, 2, 3, 9, 10, 3)]
    assert day_ranges(days) == [
        (date(2026, 3, 1), date(2026, 3, 3)),
        (date(2026, 3, 5), date(2026, 3, 5)),
        (date(2026, 3, 9), date(2026, 3, 10)),
    ]
    assert day_ranges([]) == []


def test_report_filters_check_every_field():
    flt = report_filter_from(
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "province": "31", "dealer": "ad0001",
         "outlet": " rojkt000001 ", "grouping": "outlet", "bucket": "week"},
        today=TODAY,
    )  # fmt: skip
    assert (flt.dealer, flt.outlet, flt.grouping, flt.trend_bucket) == (
        "AD0001",
        "ROJKT000001",
        "outlet",
        "week",
    )
    assert "province=31" in flt.query_string() and "bucket=week" in flt.query_string()
    with pytest.raises(PeriodError) as caught:
        report_filter_from({"province": "99", "grouping": "planet", "bucket": "year"}, today=TODAY)
    assert set(caught.value.errors) == {"province", "grouping", "bucket"}
