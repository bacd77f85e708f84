"""The outlet journey in a real browser on a phone-sized screen.

``clerk`` logs in, registers a buyer with an ID photo and a face photo taken "with the camera"
(files made with Pillow), and gets the receipt; ``clerk2`` of another outlet cannot see that
registration — not its page, its receipt, its photos, nor through the API.
"""

from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from identity.idgen import make_kk, make_nik
from operatordb.registry import face_hash
from outlets.models import StarterPack
from subscribers.models import Registration
from tests.conftest import BUYER_BIRTH, PASSWORD, register_person

from .conftest import PHONE

pytestmark = [
    pytest.mark.browser,
    # The live server reads committed data from another thread. (The personas' ``policies``
    # fixture re-seeds the rule sets an earlier transactional test may have flushed.)
    pytest.mark.django_db(transaction=True),
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


def _photo(path: Path, size, colour, text: str) -> Path:
    # Sensor-like noise, so the file weighs what a phone camera's does.
    image = Image.blend(
        Image.new("RGB", size, colour), Image.effect_noise(size, 60).convert("RGB"), 0.25
    )
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        [size[0] // 10, size[1] // 10, size[0] * 9 // 10, size[1] * 9 // 10],
        outline=(0, 0, 0),
        width=8,
    )
    draw.text((size[0] // 8, size[1] // 8), text, fill=(0, 0, 0))
    image.save(path, "JPEG", quality=90)
    return path


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base_url}/")


def test_clerk_registers_a_buyer_on_a_phone_and_clerk2_cannot_see_it(
    live_server, page, browser, browser_context_args, playwright, clerk, clerk2, pack, tmp_path
):
    base = live_server.url
    SCREENSHOTS.mkdir(exist_ok=True)
    # A big "camera" picture (scaled down in the browser before upload) and a selfie.
    id_photo = _photo(tmp_path / "ktp.jpg", (2000, 1260), (225, 235, 250), "KTP 3171015708900042")
    face_photo = _photo(tmp_path / "face.jpg", (720, 960), (240, 200, 170), "face")
    # The buyer is in the (mock) population registry, the selfie as her reference face: the
    # rules in force (2026-07) have the registry verify it.
    buyer = {"id_number": make_nik(birth_date=BUYER_BIRTH, sex="F", serial=42),
             "birth_date": BUYER_BIRTH.isoformat(), "full_name": "Siti Nur'aini"}  # fmt: skip
    register_person(buyer, face_hash=face_hash(face_photo.read_bytes()))

    # --- clerk: log in, open the form from the home page --------------------------------------
    _log_in(page, base, "clerk")
    expect(page.locator("#today-count")).to_have_text("0")
    page.click("#register-buyer")
    page.wait_for_url(f"{base}/registrations/new/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Validation as the clerk leaves a field (app.js -> /api/v1/registrations/validate/).
    page.fill("#id_id_number", "12345")
    page.press("#id_id_number", "Tab")
    id_number_errors = page.locator('[data-errors-for="id_number"]')
    expect(id_number_errors).to_contain_text("16", timeout=5000)
    expect(page.locator("#id_id_number")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(SCREENSHOTS / "e2e-form-inline-error-360.png"))

    page.fill("#id_msisdn", "0" + pack.msisdn[2:])
    page.fill("#id_iccid", pack.iccid)
    page.select_option("#id_id_type", "ktp")
    page.fill("#id_id_number", make_nik(birth_date=BUYER_BIRTH, sex="F", serial=42))
    page.fill("#id_kk_number", make_kk(recorded=BUYER_BIRTH.replace(year=2015), serial=7))
    page.fill("#id_full_name", "Siti Nur'aini")
    page.fill("#id_birth_place", "Bandung")
    page.fill("#id_birth_date", BUYER_BIRTH.isoformat())
    page.check("input[name=sex][value=F]")
    page.fill("#id_address", "Jl. Kenanga No. 5, RT 01/RW 02, Bandung")
    expect(id_number_errors).to_be_empty(timeout=5000)  # fixed, so the message went away
    assert page.get_attribute("#id_id_photo", "capture") == "environment"
    assert page.get_attribute("#id_face_photo", "capture") == "user"
    page.set_input_files("#id_id_photo", str(id_photo))
    # app.js scales the 2000 px "camera" picture down to 1600 px before it is uploaded.
    page.wait_for_function(
        "limit => document.querySelector('#id_id_photo').files[0].size < limit",
        arg=id_photo.stat().st_size,
    )
    page.set_input_files("#id_face_photo", str(face_photo))
    page.check("#id_consent")
    page.check("#id_document_checked")
    page.screenshot(path=str(SCREENSHOTS / "e2e-form-360.png"), full_page=True)

    page.click("#submit-registration")
    page.wait_for_url(f"{base}/registrations/*/receipt/")

    registration = Registration.objects.get()
    expect(page.locator("#registration-number")).to_have_text(registration.registration_number)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SCREENSHOTS / "e2e-receipt-360.png"), full_page=True)

    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.REGISTERED
    assert registration.document_checked and registration.source == "web"
    assert registration.photo_status == Registration.PhotoStatus.READY  # eager task, on commit
    with registration.id_photo.open("rb") as handle, Image.open(handle) as stored:
        assert max(stored.size) <= 1600

    assert registration.face_verdict == "match"  # verified by the population registry
    # The detail page shows the thumbnails, which load (private, streamed).
    page.goto(f"{base}/registrations/{registration.pk}/")
    thumbnails = page.locator(".photos img")
    expect(thumbnails).to_have_count(2)
    for index in range(2):
        expect(thumbnails.nth(index)).to_have_js_property("complete", True)
        assert thumbnails.nth(index).evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(SCREENSHOTS / "e2e-detail-360.png"), full_page=True)
    own_api = page.request.get(f"{base}/api/v1/registrations/{registration.pk}/")
    assert own_api.status == 200
    assert own_api.json()["registration_number"] == registration.registration_number

    # --- clerk2, another outlet: 404 everywhere -----------------------------------------------
    context2 = browser.new_context(**browser_context_args)
    try:
        page2 = context2.new_page()
        _log_in(page2, base, "clerk2")
        for path in (
            f"/registrations/{registration.pk}/",
            f"/registrations/{registration.pk}/receipt/",
            f"/registrations/{registration.pk}/receipt.pdf",
            f"/registrations/{registration.pk}/photos/face_photo/",
        ):
            response = page2.request.get(base + path)
            assert response.status == 404, path
        response = page2.goto(f"{base}/registrations/{registration.pk}/")
        assert response.status == 404
        expect(page2.locator("h1")).to_be_visible()
        assert registration.registration_number not in page2.content()
        page2.goto(f"{base}/registrations/")
        assert registration.registration_number not in page2.content()

        # ... and through the API, with the browser session and with a token.
        api = page2.request.get(f"{base}/api/v1/registrations/{registration.pk}/")
        assert api.status == 404
    finally:
        context2.close()
    integrator = playwright.request.new_context(base_url=base)  # no cookies: the token only
    try:
        token = integrator.post(
            "/api/v1/auth/token/", data={"username": "clerk2", "password": PASSWORD}
        )
        assert token.status == 200, token.text()
        headers = {"Authorization": f"Token {token.json()['token']}"}
        assert integrator.get("/api/v1/registrations/", headers=headers).status == 200
        with_token = integrator.get(f"/api/v1/registrations/{registration.pk}/", headers=headers)
        assert with_token.status == 404
    finally:
        integrator.dispose()


def test_receipt_link_opens_on_a_phone_without_login(live_server, page, clerk, pack):
    from subscribers import receipts, services
    from tests.conftest import buyer_data, photo_upload

    registration = services.registration_create(
        clerk=clerk,
        data=buyer_data(pack),
        id_photo=photo_upload(),
        face_photo=photo_upload(),
    )
    token = receipts.receipt_token(registration)
    response = page.goto(f"{live_server.url}/registrations/receipt/{token}/")
    assert response.status == 200
    expect(page.locator("#registration-number")).to_have_text(registration.registration_number)
    assert "Siti Nur" not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SCREENSHOTS / "e2e-shared-receipt-360.png"), full_page=True)
