"""The holder's door in a real browser at phone width.

A person whose NIK carries three numbers opens the door from the portal's front page, enters
NIK, KK and their own number, types the code the SMS brought, sees their numbers (their own in
full, the others masked) and reports one as not theirs. GraPARI's reviewer finds the dispute in
the review queue; the registering outlet's clerk finds the clarification request in the inbox.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from compliance.models import Clarification, ReviewItem
from core.masking import display_msisdn
from holders.models import HolderDispute, StoredSms
from tests.holders.conftest import add_number, make_person

from .conftest import PHONE
from .test_compliance_journey import _fits_the_phone, _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture
def contexts(browser, browser_context_args):
    made = []

    def new_page():
        context = browser.new_context(**browser_context_args)
        made.append(context)
        return context.new_page()

    yield new_page
    for context in made:
        context.close()


def test_a_person_disputes_a_number_and_grapari_and_the_outlet_see_it(
    live_server, contexts, policies, clerk, grapari, outlet, other_outlet
):
    base = live_server.url
    SCREENSHOTS.mkdir(exist_ok=True)
    person = make_person(outlet, numbers=2, clerk=clerk)
    disputed = add_number(person, outlet, clerk=clerk)
    own = person.msisdns[0]

    page = contexts()
    page.goto(f"{base}/")
    page.click("#my-numbers-card a")
    page.fill("#id_id_number", person.nik)
    page.fill("#id_kk_number", person.kk)
    page.fill("#id_msisdn", "0" + own[2:])
    _fits_the_phone(page)
    page.click("#holder-start")
    page.wait_for_url(f"{base}/nomor-saya/kode/")
    body = StoredSms.objects.get(to=own).body
    code = body.split("kode Anda ")[1].split()[0]
    page.fill("#id_code", code)
    page.click("#holder-verify")
    page.wait_for_url(f"{base}/nomor-saya/nomor/")
    numbers = page.locator("#holder-numbers > li")
    expect(numbers).to_have_count(3)
    expect(numbers.nth(0)).to_contain_text("0" + own[2:])
    local = "0" + disputed.msisdn[2:]
    masked = f"{local[:4]}-****-{local[-4:]}"
    expect(numbers.nth(2)).to_contain_text(masked)
    assert local not in page.content()
    _fits_the_phone(page)
    page.screenshot(path=str(SCREENSHOTS / "e2e-holder-numbers-360.png"), full_page=True)

    numbers.nth(2).locator("summary").click()
    numbers.nth(2).locator("textarea").fill("Saya tidak pernah membeli nomor ini.")
    numbers.nth(2).locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/nomor-saya/nomor/")
    expect(page.locator(".notice-success")).to_be_visible()
    expect(page.locator("#holder-disputes")).to_contain_text(masked)
    _fits_the_phone(page)
    page.screenshot(path=str(SCREENSHOTS / "e2e-holder-dispute-360.png"), full_page=True)
    dispute = HolderDispute.objects.get()
    assert dispute.msisdn == disputed.msisdn and dispute.status == "notice"
    assert StoredSms.objects.filter(to=disputed.msisdn).exists()

    # --- GraPARI's reviewer finds it in the queue ----------------------------------------------
    reviewer = contexts()
    _log_in(reviewer, base, "grapari")
    reviewer.click("#review-queue-link")
    reviewer.click(f"#review-queue [data-item] a >> text={display_msisdn(disputed.msisdn)}")
    expect(reviewer.locator("#holder-dispute-link")).to_be_visible()
    item = ReviewItem.objects.get(msisdn=disputed.msisdn)
    assert item.kind == "holder_dispute"
    reviewer.click("#holder-dispute-link")
    expect(reviewer.locator("#dispute-status")).to_be_visible()
    _fits_the_phone(reviewer)

    # --- the outlet's clerk finds the clarification request -----------------------------------
    clerk_page = contexts()
    _log_in(clerk_page, base, "clerk")
    clerk_page.click("#inbox-link")
    clerk_page.click(f"#inbox a[data-msisdn='{disputed.msisdn}']")
    request = Clarification.objects.get(msisdn=disputed.msisdn)
    expect(clerk_page.locator("body")).to_contain_text(request.question[:40])
    _fits_the_phone(clerk_page)
    clerk_page.screenshot(
        path=str(SCREENSHOTS / "e2e-holder-clarification-360.png"), full_page=True
    )
    assert PHONE["width"] == 360
