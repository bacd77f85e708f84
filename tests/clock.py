"""Dates in tests that hold on any day of the year, 29 February included.

``date.replace(year=...)`` raises on 29 February of a year without one; these helpers fall back
to 28 February instead. Tests where the day matters freeze the clock (``time_machine``) on the
days that catch mistakes — a leap day among them — instead of depending on the day they run.
"""

from datetime import date

# The days a date-dependent test is run on: a leap day, the day after, a year's last day and
# first day.
EDGE_DAYS = [date(2028, 2, 29), date(2028, 3, 1), date(2027, 12, 31), date(2027, 1, 1)]


def shift_years(day: date, years: int) -> date:
    """``day`` moved by ``years`` (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
