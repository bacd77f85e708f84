"""Report periods and trend buckets, as plain functions (of Django only the translation of
their messages, which reach the reader: forms, the API, the export page).

A period is a range of *local* (Asia/Jakarta) calendar days, both ends included: a
registration belongs to the day of its ``registered_at`` on a wall clock in Indonesia, a
discrepancy to the day of its ``detected_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext as _

MAX_PERIOD_DAYS = 3 * 366 + 365  # four years: longer asks are a full extract, not a report
DEFAULT_PERIOD_DAYS = 30

DAY, WEEK, MONTH = "day", "week", "month"
BUCKETS = (DAY, WEEK, MONTH)


class PeriodError(ValueError):
    """Bad period input; ``errors`` maps each field at fault to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Period:
    date_from: date
    date_to: date  # included

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def __str__(self) -> str:
        return f"{self.date_from:%Y-%m-%d} – {self.date_to:%Y-%m-%d}"


def _parse_day(value, field: str, errors: dict) -> date | None:
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = _("Enter a date as YYYY-MM-DD.")
        return None


def parse_period(date_from, date_to, *, today: date, required: bool = False) -> Period:
    """A period from two ISO dates (either may be missing unless ``required``): the last 30
    days up to ``today`` by default; a missing end is ``today``, a missing start is 29 days
    before the end. Raises ``PeriodError`` naming the field at fault."""
    errors: dict[str, str] = {}
    start = _parse_day(date_from, "date_from", errors)
    end = _parse_day(date_to, "date_to", errors)
    if required:
        for field, value in (("date_from", start), ("date_to", end)):
            if value is None and field not in errors:
                errors[field] = _("This field is required.")
    if errors:
        raise PeriodError(errors)
    end = end or today
    start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise PeriodError({"date_to": _("The end of the period is before its start.")})
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise PeriodError(
            {
                "date_to": _("A period is at most %(days)d days; ask for several.")
                % {"days": MAX_PERIOD_DAYS}
            }
        )
    return Period(start, end)


def auto_bucket(period: Period) -> str:
    """Days up to two months, weeks up to about a year, months beyond: 30 to 60 bars."""
    if period.days <= 62:
        return DAY
    if period.days <= 371:
        return WEEK
    return MONTH


def bucket_start(day: date, bucket: str) -> date:
    if bucket == DAY:
        return day
    if bucket == WEEK:  # ISO weeks start on Monday
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_bucket(start: date, bucket: str) -> date:
    if bucket == DAY:
        return start + timedelta(days=1)
    if bucket == WEEK:
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Bucket:
    """One bar of a trend chart: the days of ``period`` from ``start`` to ``end`` (included)."""

    start: date
    end: date

    def label(self, bucket: str) -> str:
        if bucket == MONTH:
            return f"{self.start:%Y-%m}"
        if bucket == WEEK:
            iso = self.start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        return f"{self.start:%Y-%m-%d}"


def buckets(period: Period, bucket: str) -> list[Bucket]:
    """The period cut into buckets; the first and last are clipped to the period."""
    out = []
    start = bucket_start(period.date_from, bucket)
    while start <= period.date_to:
        following = next_bucket(start, bucket)
        out.append(
            Bucket(max(start, period.date_from), min(following - timedelta(days=1), period.date_to))
        )
        start = following
    return out


def day_ranges(days) -> list[tuple[date, date]]:
    """Sorted days merged into runs of consecutive days: ``[(first, last), ...]``."""
    ranges: list[list[date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(a, b) for a, b in ranges]
