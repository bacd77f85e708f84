"""The compliance loop in a real browser on phone-sized screens.

1. Reconciliation (the engine's inline run) finds that the operator holds another name for a
   registration of ``clerk``'s outlet and opens a clarification request; ``clerk`` sees it in
   the inbox, side by side with the operator's data, and answers with a correction and a photo
   of the KTP; ``grapari`` claims the item in the review queue and accepts the correction; the
   registration is verified, its old values kept as a version.
2. Three more registrations of the outlet are flagged and their requests expire unanswered;
   ``grapari`` confirms a violation on one (a written warning), then on the two others with one
   bulk decision: the third violation suspends the outlet, and ``clerk``'s registration form
   says why it cannot register any more.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone, translation
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from compliance.models import Clarification, RegistrationVersion, ReviewItem, Sanction
from compliance.reconciliation.engine import reconciliation_run_inline, reconciliation_start
from compliance.reconciliation.generator import generate_operator_data
from compliance.workflow.clarifications import clarifications_expire_overdue
from core.audit import AuditAction
from core.masking import display_msisdn
from operatordb.models import OperatorSubscriber
from outlets.models import Outlet
from subscribers.models import Registration
from tests.conftest import PASSWORD
from tests.workflow.conftest import in_registry, make_registration

from .conftest import PHONE

pytestmark = [
    pytest.mark.browser,
    # The live server reads committed data from another thread; ``policies`` re-seeds the rule
    # sets a transactional test's flush removes.
    pytest.mark.django_db(transaction=True),
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


def _photo(path: Path) -> Path:
    image = Image.new("RGB", (1000, 640), (225, 235, 250))
    ImageDraw.Draw(image).rectangle([40, 40, 960, 600], outline=(0, 0, 0), width=8)
    image.save(path, "JPEG", quality=85)
    return path


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/")


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _reconcile() -> None:
    run = reconciliation_start(mode="full", trigger="command", dispatch=False)
    reconciliation_run_inline(run_id=run.pk)


def _flag_names(registrations) -> dict[str, str]:
    """Operator data for these registrations with one letter of each name changed."""
    generate_operator_data(
        counts={"name_one_letter": len(registrations)},
        registrations=Registration.objects.filter(pk__in=[r.pk for r in registrations]),
        seed=4,
    )
    return dict(
        OperatorSubscriber.objects.filter(msisdn__in=[r.msisdn for r in registrations]).values_list(
            "msisdn", "full_name"
        )
    )


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


def test_clerk_corrects_and_grapari_accepts(
    live_server, contexts, policies, clerk, grapari, outlet, tmp_path
):
    base = live_server.url
    SCREENSHOTS.mkdir(exist_ok=True)
    registration = make_registration(outlet, clerk=clerk, status="registered")
    operator_name = _flag_names([registration])[registration.msisdn]
    assert operator_name != registration.full_name
    # Dukcapil records the buyer by the name the operator holds: the correction is confirmed.
    in_registry(registration, full_name=operator_name)

    _reconcile()

    request = Clarification.objects.get(msisdn=registration.msisdn)
    assert request.status == "open" and request.outlet == outlet

    # --- the clerk answers with a correction, on a phone ------------------------------------
    clerk_page = contexts()
    _log_in(clerk_page, base, "clerk")
    expect(clerk_page.locator("#inbox-count")).to_have_text("1")
    clerk_page.click("#inbox-link")
    clerk_page.click(f"#inbox a[data-msisdn='{registration.msisdn}']")
    finding = clerk_page.locator(".finding[data-kind=name_mismatch]")
    expect(finding).to_contain_text(registration.full_name)
    expect(finding).to_contain_text(operator_name)
    _fits_the_phone(clerk_page)
    clerk_page.fill("#id_explanation", "Salah ketik nama. KTP pembeli sudah dicek ulang.")
    clerk_page.click("#correction summary")
    clerk_page.fill("#id_full_name", operator_name)
    clerk_page.set_input_files("#id_evidence_photo", str(_photo(tmp_path / "ktp.jpg")))
    clerk_page.screenshot(
        path=str(SCREENSHOTS / "e2e-clarification-answer-360.png"), full_page=True
    )
    clerk_page.click("#answer-submit")
    expect(clerk_page.locator("#clarification-status")).to_have_attribute("data-status", "answered")
    registration.refresh_from_db()
    assert registration.full_name != operator_name  # applied only once GraPARI accepts

    # --- GraPARI claims the item and accepts the correction -----------------------------------
    reviewer = contexts()
    _log_in(reviewer, base, "grapari")
    reviewer.click("#review-queue-link")
    reviewer.click(f"#review-queue [data-item] a >> text={display_msisdn(registration.msisdn)}")
    expect(reviewer.locator(".answer")).to_contain_text("Salah ketik nama")
    reviewer.click("#claim")
    expect(reviewer.locator("#claimed-by-me")).to_be_visible()
    _fits_the_phone(reviewer)
    reviewer.screenshot(path=str(SCREENSHOTS / "e2e-review-item-360.png"), full_page=True)
    reviewer.check("input[name=decision][value=accept]")
    reviewer.click("#decide-submit")
    reviewer.wait_for_url(f"{base}/compliance/review/")

    registration.refresh_from_db()
    assert registration.status == "verified"
    assert registration.full_name == operator_name
    assert RegistrationVersion.objects.get(registration=registration).values["full_name"] != (
        operator_name
    )
    request.refresh_from_db()
    assert request.status == "accepted"

    # The history page tells the story.
    reviewer.goto(f"{base}/compliance/registrations/{registration.pk}/history/")
    expect(reviewer.locator("#registration-status")).to_have_class("badge badge-verified")
    history = reviewer.locator("#history")
    with translation.override("id"):  # the reviewer's page, in the product's language
        for action in ("clarification.open", "clarification.answered", "registration.correct"):
            expect(history).to_contain_text(str(AuditAction(action).label))


def test_violations_until_the_outlet_is_suspended(
    live_server, contexts, policies, clerk, grapari, outlet
):
    base = live_server.url
    registrations = [make_registration(outlet, clerk=clerk, status="registered") for _ in range(3)]
    _flag_names(registrations)
    _reconcile()
    assert Clarification.objects.filter(status="open").count() == 3
    # Nobody answers: the deadline passes and the sweep escalates them to the queue.
    Clarification.objects.update(due_at=timezone.now() - timedelta(hours=1))
    assert clarifications_expire_overdue() == 3
    first, *rest = ReviewItem.objects.order_by("due_at", "pk")

    reviewer = contexts()
    _log_in(reviewer, base, "grapari")
    expect(reviewer.locator("#review-open-count")).to_have_text("(3)")

    # --- one violation from the review page: a written warning ------------------------------
    reviewer.goto(f"{base}/compliance/review/{first.pk}/")
    reviewer.check("input[name=decision][value=confirm_violation]")
    reviewer.click("#decide-submit")  # no reason: refused, nothing decided
    expect(reviewer.locator("#decide-form .errorlist")).to_be_visible()
    first.refresh_from_db()
    assert first.status == "open"
    reviewer.check("input[name=decision][value=confirm_violation]")
    reviewer.fill("#id_reason", "Data pembeli tidak sesuai KTP, tidak ada jawaban.")
    reviewer.click("#decide-submit")
    reviewer.wait_for_url(f"{base}/compliance/review/")
    assert list(Sanction.objects.values_list("level", flat=True)) == ["warning"]

    # --- the two others in one bulk decision: the third violation suspends the outlet --------
    for item in rest:
        reviewer.check(f"#pick-{item.pk}")
    reviewer.click("#bulk summary")
    reviewer.check("#bulk input[name=decision][value=confirm_violation]")
    reviewer.fill("#bulk textarea[name=reason]", "Tiga pelanggaran dalam 180 hari.")
    reviewer.click("#bulk-submit")
    reviewer.wait_for_url(f"{base}/compliance/review/*")
    _fits_the_phone(reviewer)

    outlet.refresh_from_db()
    assert outlet.status == Outlet.Status.SUSPENDED
    assert list(Sanction.objects.order_by("pk").values_list("level", flat=True)) == [
        "warning",
        "suspension",
    ]

    # --- the clerk can no longer register, and the form says why -----------------------------
    clerk_page = contexts()
    _log_in(clerk_page, base, "clerk")
    clerk_page.goto(f"{base}/registrations/new/")
    blocked = clerk_page.locator("#outlet-blocked")
    expect(blocked).to_be_visible()
    expect(blocked).to_contain_text(outlet.roid)
    expect(blocked).to_contain_text(outlet.status_reason[:40])
    expect(clerk_page.locator("#submit-registration")).to_have_count(0)
    _fits_the_phone(clerk_page)
    clerk_page.screenshot(path=str(SCREENSHOTS / "e2e-outlet-suspended-360.png"), full_page=True)
