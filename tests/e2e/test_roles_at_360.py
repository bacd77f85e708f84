"""Every role's main pages on a 360-px phone, in Indonesian, as its demo user sees them.

The demo organisation (``seed_demo``, reconciled, with a review queue: tests/i18n) is served by
the live server; each demo user logs in through the form and opens their main pages. A page
fails on a server error, a raw code or an English sentence (tests/i18n/walk.py), a page wider
than the phone, or an accessibility violation of impact serious or critical found by axe-core
(axe-playwright-python, which bundles it). A screenshot of each page is kept in
``test-results/roles/`` (not committed; CI keeps it as an artifact).
"""

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from accounts.management.commands.seed_demo import DEMO_PASSWORD
from compliance.models import ReviewItem
from tests.i18n.test_role_walk import demo as demo  # the fixture
from tests.i18n.walk import problems

from .conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "roles"
SERIOUS = {"serious", "critical"}

# Each role's main pages ("{item}": the first open review item).
MAIN_PAGES = {
    "clerk": ["/", "/registrations/new/", "/registrations/", "/compliance/inbox/"],
    "clerk2": ["/", "/registrations/", "/compliance/inbox/"],
    "dealer": ["/", "/outlets/dashboard/", "/outlets/stock/", "/reports/"],
    "grapari": ["/", "/compliance/review/", "/compliance/review/{item}/", "/compliance/discrepancies/"],
    "regulator": ["/", "/reports/", "/reports/exports/", "/compliance/review/"],
    "admin": ["/", "/compliance/runs/", "/outlets/applications/", "/privacy/"],
}  # fmt: skip


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/")


def _check(page, role: str, path: str, index: int, axe: Axe) -> list[str]:
    found = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{role}-{index}.png"), full_page=True)
    found += problems(page.content(), path)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        found.append(f"{width} px wide: scrolls sideways")
    violations = axe.run(page).response["violations"]
    for violation in violations:
        if violation["impact"] in SERIOUS:
            targets = [node["target"] for node in violation["nodes"][:3]]
            found.append(f"axe {violation['impact']} {violation['id']}: {targets}")
    return found


def test_every_role_reads_its_main_pages_on_a_phone(
    demo, live_server, browser, browser_context_args, settings
):
    base = live_server.url
    item = ReviewItem.objects.filter(status="open").order_by("pk").first()
    axe = Axe()
    failures = {}
    for role, paths in MAIN_PAGES.items():
        context = browser.new_context(**browser_context_args)
        page = context.new_page()
        try:
            _log_in(page, base, role)
            for index, path in enumerate(paths):
                path = path.format(item=item.pk)
                response = page.goto(f"{base}{path}")
                if response is None or response.status >= 500:
                    failures[f"{role} {path}"] = [f"status {response and response.status}"]
                    continue
                if found := _check(page, role, path, index, axe):
                    failures[f"{role} {path}"] = found
        finally:
            context.close()
    assert not failures, "\n".join(f"{where}: {notes}" for where, notes in failures.items())


def test_a_failed_submit_moves_the_focus_to_a_summary_that_links_each_field(
    demo, live_server, browser, browser_context_args
):
    base = live_server.url
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    try:
        _log_in(page, base, "clerk2")
        page.goto(f"{base}/registrations/new/")
        page.fill("#id_full_name", "Agus")
        page.evaluate("document.getElementById('registration-form').noValidate = true")
        page.click("#submit-registration")
        page.wait_for_selector("#error-summary")

        assert page.evaluate("document.activeElement.id") == "error-summary"
        links = page.locator("#error-summary a")
        assert links.count() >= 3
        first = links.first.get_attribute("href")
        links.first.click()
        assert page.evaluate("'#' + document.activeElement.id") == first
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "clerk2-error-summary.png"))
    finally:
        context.close()


def test_after_a_reveal_the_address_is_the_registration_page_again(
    demo, live_server, browser, browser_context_args
):
    from subscribers.models import Registration

    base = live_server.url
    registration = Registration.objects.order_by("pk").first()
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    try:
        _log_in(page, base, "admin")
        page.goto(f"{base}/registrations/{registration.pk}/")
        page.click("form[action$='/reveal/'] button")
        page.wait_for_selector("#revealed-id-number")

        # The number is shown once; a reload would not repeat the (audited) disclosure.
        assert page.url == f"{base}/registrations/{registration.pk}/"
    finally:
        context.close()
