"""Browser tests: a phone-sized Chromium (Debian's, see tests/conftest.py)."""

import pytest

PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A cheap Android phone: 360 px wide, touch, Indonesian first."""
    return {
        **browser_context_args,
        "viewport": PHONE,
        "is_mobile": True,
        "has_touch": True,
        "locale": "id-ID",
        "timezone_id": "Asia/Jakarta",
    }
