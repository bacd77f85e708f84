"""The dealer's path in a real browser on a phone-sized screen.

The dealer applies for an outlet; the operator admin approves it (a ROID is issued); the dealer
invites a clerk; the operator allocates starter packs to the dealer (a CSV file) and the dealer
allocates two of them to the new outlet; the clerk opens the invitation link, chooses a
password and registers one of those packs (2026 rules: KK, ID photo, face photo). The dealer's
dashboard then shows it, at 360 px.
"""

from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from identity.idgen import make_iccid, make_kk, make_nik
from operatordb.registry import face_hash
from outlets.models import Outlet, StarterPack
from subscribers.models import Registration
from tests.conftest import BUYER_BIRTH, PASSWORD, register_person

from .conftest import PHONE

pytestmark = [
    pytest.mark.browser,
    # The live server reads committed data from another thread; ``policies`` re-seeds the rule
    # sets a transactional test's flush removes.
    pytest.mark.django_db(transaction=True),
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"
CLERK_PASSWORD = "Konter-Baru-2026"
PACKS = [(f"62813555000{n:02d}", make_iccid(555_000 + n)) for n in range(1, 4)]


def _photo(path: Path, size, colour, text: str) -> Path:
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle([20, 20, size[0] - 20, size[1] - 20], outline=(0, 0, 0), width=6)
    draw.text((40, 40), text, fill=(0, 0, 0))
    image.save(path, "JPEG", quality=85)
    return path


def _log_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/")


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_dealer_journey_from_application_to_a_registered_pack(
    live_server, browser, browser_context_args, policies, dealer_user, operator, tmp_path
):
    base = live_server.url
    SCREENSHOTS.mkdir(exist_ok=True)
    dealer_ctx = browser.new_context(**browser_context_args)
    operator_ctx = browser.new_context(**browser_context_args)
    clerk_ctx = browser.new_context(**browser_context_args)
    try:
        dealer, admin, clerk = (ctx.new_page() for ctx in (dealer_ctx, operator_ctx, clerk_ctx))

        # --- the dealer applies for an outlet --------------------------------------------------
        _log_in(dealer, base, "dealer")
        dealer.goto(f"{base}/outlets/applications/new/")
        _fits_the_phone(dealer)
        dealer.fill("#id_name", "Konter Harapan")
        dealer.fill("#id_owner_name", "Hj. Nurhayati")
        dealer.fill("#id_owner_phone", "081298765432")
        dealer.fill("#id_owner_id_number", "3173054107720009")
        dealer.fill("#id_address", "Jl. Kebon Jeruk No. 3")
        dealer.fill("#id_region", "Kota Jakarta Barat")
        dealer.select_option("#id_province", "31")
        dealer.fill("#id_staff_note", "Rudi Hartono")
        dealer.click("#submit-application")
        expect(dealer.locator("#application-status")).to_have_text(
            "Menunggu operator", ignore_case=True
        )

        # --- the operator admin approves it: a ROID is issued --------------------------------
        _log_in(admin, base, "admin")
        admin.goto(f"{base}/outlets/applications/")
        admin.click("#applications a >> text=Konter Harapan")
        admin.click("#approve")
        expect(admin.locator("#roid-preview")).to_have_text("RO31000001")
        admin.click("#confirm-approve")
        roid = admin.locator("#issued-roid")
        expect(roid).to_have_text("RO31000001")
        outlet = Outlet.objects.get(roid="RO31000001")
        assert outlet.dealer == dealer_user.dealer_admin.dealer and outlet.status == "active"

        # --- the dealer invites a clerk -------------------------------------------------------
        dealer.goto(f"{base}/outlets/dashboard/")
        dealer.click(f"[data-roid='{outlet.roid}'] a")
        dealer.click("#invite-clerk")
        dealer.fill("#id_full_name", "Rudi Hartono")
        dealer.fill("#id_username", "rudi")
        dealer.fill("#id_id_number", make_nik(birth_date=date(1996, 7, 1), sex="M", serial=12))
        dealer.fill("#id_kk_number", make_kk(recorded=date(2018, 1, 9), serial=4))
        dealer.click("#submit-invite")
        invitation = dealer.locator("#invitation-link").input_value()
        assert invitation.startswith(f"{base}/outlets/invitation/")
        _fits_the_phone(dealer)

        # --- the operator allocates packs to the dealer (CSV) ---------------------------------
        csv_file = tmp_path / "kiriman.csv"
        csv_file.write_text("msisdn,iccid\n" + "".join(f"{m},{i}\n" for m, i in PACKS))
        admin.goto(f"{base}/outlets/stock/to-dealer/")
        admin.select_option("#id_dealer", "AD0001")
        admin.set_input_files("#id_file", str(csv_file))
        admin.click("#submit-allocation")
        expect(admin.locator("#allocation-count")).to_have_text("3")

        # --- ... and the dealer allocates two of them to the new outlet ------------------------
        dealer.goto(f"{base}/outlets/stock/to-outlet/")
        dealer.select_option("#id_outlet", str(outlet.pk))
        dealer.fill("#id_msisdns", f"0{PACKS[0][0][2:]}\n{PACKS[1][0]}")
        dealer.click("#submit-allocation")
        expect(dealer.locator("#allocation-count")).to_have_text("2")
        assert StarterPack.objects.filter(outlet=outlet).count() == 2

        # --- the clerk chooses a password and registers one of them ---------------------------
        clerk.goto(invitation)
        _fits_the_phone(clerk)
        clerk.fill("#id_new_password1", CLERK_PASSWORD)
        clerk.fill("#id_new_password2", CLERK_PASSWORD)
        clerk.click("#set-password")
        clerk.wait_for_url(f"{base}/")
        clerk.click("#register-buyer")
        clerk.wait_for_url(f"{base}/registrations/new/")
        msisdn, iccid = PACKS[0]
        # The buyer is in the (mock) population registry with this selfie as her reference
        # face: the rules in force today have the registry verify it.
        face_photo = _photo(tmp_path / "face.jpg", (600, 800), (240, 200, 170), "face")
        register_person(
            {
                "id_number": make_nik(birth_date=BUYER_BIRTH, sex="F", serial=42),
                "kk_number": make_kk(recorded=date(2015, 8, 17), serial=7),
                "birth_date": BUYER_BIRTH.isoformat(),
                "full_name": "Siti Nur'aini",
            },
            face_hash=face_hash(face_photo.read_bytes()),
        )
        clerk.fill("#id_msisdn", "0" + msisdn[2:])
        clerk.fill("#id_iccid", iccid)
        clerk.select_option("#id_id_type", "ktp")
        clerk.fill("#id_id_number", make_nik(birth_date=BUYER_BIRTH, sex="F", serial=42))
        clerk.fill("#id_kk_number", make_kk(recorded=date(2015, 8, 17), serial=7))
        clerk.fill("#id_full_name", "Siti Nur'aini")
        clerk.fill("#id_birth_place", "Bandung")
        clerk.fill("#id_birth_date", BUYER_BIRTH.isoformat())
        clerk.check("input[name=sex][value=F]")
        clerk.fill("#id_address", "Jl. Kenanga No. 5, Bandung")
        clerk.set_input_files(
            "#id_id_photo", str(_photo(tmp_path / "ktp.jpg", (1200, 760), (220, 230, 250), "KTP"))
        )
        clerk.set_input_files("#id_face_photo", str(face_photo))
        clerk.check("#id_consent")
        clerk.check("#id_document_checked")
        clerk.click("#submit-registration")
        clerk.wait_for_url(f"{base}/registrations/*/receipt/")

        registration = Registration.objects.get()
        expect(clerk.locator("#registration-number")).to_have_text(registration.registration_number)
        assert registration.outlet == outlet and registration.clerk.username == "rudi"
        assert StarterPack.objects.get(msisdn=msisdn).status == "registered"

        # --- the dealer's dashboard shows it, on a phone --------------------------------------
        dealer.goto(f"{base}/outlets/dashboard/?sort=-registrations")
        row = dealer.locator(f"[data-roid='{outlet.roid}']")
        expect(row.locator("[data-figure=registrations]")).to_have_text("1")
        expect(row.locator("[data-figure=stock_on_hand]")).to_have_text("1")
        _fits_the_phone(dealer)
        dealer.screenshot(path=str(SCREENSHOTS / "e2e-dealer-dashboard-360.png"), full_page=True)
        dealer.click(f"[data-roid='{outlet.roid}'] a")
        expect(dealer.locator("#staff [data-username=rudi]")).to_be_visible()
        _fits_the_phone(dealer)
        dealer.screenshot(path=str(SCREENSHOTS / "e2e-dealer-outlet-360.png"), full_page=True)
        dealer.go_back()
        csv_link = dealer.locator("#csv-export").get_attribute("href")
        export = dealer.request.get(base + csv_link)
        assert export.status == 200 and outlet.roid in export.text()
    finally:
        for ctx in (dealer_ctx, operator_ctx, clerk_ctx):
            ctx.close()
