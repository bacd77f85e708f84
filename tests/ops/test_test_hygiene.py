"""The suite's own rules (docs/testing.md), checked over the test sources: no skip on a missing
module of ours, no date arithmetic that raises on 29 February, no test flushing a Redis database
it did not claim."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = (
    "core",
    "identity",
    "operatordb",
    "accounts",
    "outlets",
    "subscribers",
    "compliance",
    "privacy",
    "reports",
    "registration_portal",
)


def sources():
    for path in sorted(TESTS.rglob("*.py")):
        if path.name != Path(__file__).name:
            yield path, path.read_text()


def offending(pattern: str) -> list[str]:
    found = []
    for path, text in sources():
        for number, line in enumerate(text.splitlines(), start=1):
            if re.search(pattern, line):
                found.append(f"{path.relative_to(TESTS.parent)}:{number}: {line.strip()}")
    return found


def test_no_importorskip_of_the_project():
    packages = "|".join(PROJECT_PACKAGES)
    assert offending(rf"importorskip\(\s*[\"']({packages})\b") == []


def test_no_year_arithmetic_that_breaks_on_a_leap_day():
    """``day.replace(year=day.year + 1)`` raises when ``day`` is 29 February."""
    found = [
        line for line in offending(r"\.replace\(year=[^)]*[+-]") if "tests/clock.py" not in line
    ]
    assert found == [], "use tests.clock.shift_years"


def test_only_the_claimed_redis_database_is_flushed():
    flushes = [line for line in offending(r"\.flush(db|all)\(") if "celery_support.py" not in line]
    assert flushes == [], "use the redis_broker fixture"
