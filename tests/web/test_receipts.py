"""The receipt: the page, the signed link readable without login, the PDF."""

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client

from core import pii
from core.masking import display_msisdn, local_msisdn, mask_msisdn, mask_name
from core.models import AuditEvent
from subscribers import receipts
from tests.pdftext import NON_LATIN1_NAMES, pdf_fonts, pdf_text

pytestmark = pytest.mark.django_db


def _url(registration, suffix="receipt/"):
    return f"/registrations/{registration.pk}/{suffix}"


def test_clerk_sees_the_receipt_with_the_number_and_the_rules(client, clerk, registration):
    client.force_login(clerk)
    response = client.get(_url(registration))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="registration-number">{registration.registration_number}<' in html
    # the buyer's number as they read it aloud: 0812-0001-0142
    assert display_msisdn(registration.msisdn) in html
    assert display_msisdn(registration.msisdn).startswith("0" + registration.msisdn[2:5] + "-")
    assert registration.id_number_masked in html
    assert "3171015708900042" not in html  # never the full NIK
    assert "Siti Nur" in html
    assert "ROJKT000001" in html
    assert "at most 3 prepaid numbers" in html  # the cap of the policy in force
    assert "authorised in writing" in html  # ... and where more may be registered
    assert "staff" in html and "GraPARI" in html
    assert "/registrations/receipt/" in html  # the link to share
    assert response["Cache-Control"] == "private, no-store"
    # the clerk's own outlet working on its receipts is not an audited "look"
    assert not AuditEvent.objects.filter(action="registration.view").exists()


def test_receipt_print_css_and_no_inline_code(client, clerk, registration):
    client.force_login(clerk)
    html = client.get(_url(registration)).content.decode()
    assert "data-print" in html
    assert "<script>" not in html and "style=" not in html and "onclick" not in html


@pytest.mark.parametrize("suffix", ["receipt/", "receipt.pdf"])
def test_clerk_of_another_outlet_gets_404(client, clerk2, registration, suffix):
    client.force_login(clerk2)
    assert client.get(_url(registration, suffix)).status_code == 404


@pytest.mark.parametrize("suffix", ["receipt/", "receipt.pdf"])
def test_anonymous_is_sent_to_login(client, registration, suffix):
    response = client.get(_url(registration, suffix))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_other_dealer_gets_404_and_own_dealer_sees_it(
    client, dealer_user, other_dealer_user, registration
):
    client.force_login(other_dealer_user)
    assert client.get(_url(registration)).status_code == 404
    client.force_login(dealer_user)
    assert client.get(_url(registration)).status_code == 200
    assert AuditEvent.objects.filter(
        action="registration.view", actor=dealer_user, target_id=str(registration.pk)
    ).exists()


def test_regulator_sees_a_masked_receipt(client, regulator, registration):
    client.force_login(regulator)
    html = client.get(_url(registration)).content.decode()
    assert "Siti Nur" not in html
    assert "S*** N*******" in html
    # The number as the regulator sees it everywhere (lists, search): core.disclosure.
    assert display_msisdn(registration.msisdn) in html
    assert "share-link" not in html  # sharing is the outlet's job


def test_pdf_is_a_real_pdf(client, clerk, registration):
    client.force_login(clerk)
    response = client.get(_url(registration, "receipt.pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert registration.registration_number in response["Content-Disposition"]
    assert "Siti Nur'aini" in pdf_text(response.content)
    assert response["Cache-Control"] == "private, no-store"


def test_pdf_carries_the_holders_door_on_the_public_address(client, clerk, registration, settings):
    settings.PUBLIC_BASE_URL = "https://satupintu.example.id"
    client.force_login(clerk)
    response = client.get(_url(registration, "receipt.pdf"), HTTP_HOST="phish.example.com")
    text = pdf_text(response.content)
    assert "https://satupintu.example.id/nomor-saya/" in text
    assert "Cek sendiri nomor atas NIK Anda" in text
    assert "phish.example.com" not in text


def test_the_page_links_the_holders_door_on_the_public_address(
    client, clerk, registration, settings
):
    """Never the request's Host header (docs/holders.md, "Links that leave the portal")."""
    settings.PUBLIC_BASE_URL = "https://satupintu.example.id"
    client.force_login(clerk)
    html = client.get(_url(registration), HTTP_HOST="phish.example.com").content.decode()
    assert (
        'href="https://satupintu.example.id/nomor-saya/" id="receipt-my-numbers">'
        "https://satupintu.example.id/nomor-saya/</a>"
    ) in html
    assert "phish.example.com" not in html
    shared = Client().get(
        f"/registrations/receipt/{receipts.receipt_token(registration)}/",
        HTTP_HOST="phish.example.com",
    )
    assert "https://satupintu.example.id/nomor-saya/" in shared.content.decode()
    assert "phish.example.com" not in shared.content.decode()


@pytest.mark.parametrize("name", NON_LATIN1_NAMES)
def test_pdf_prints_names_outside_latin_1(client, clerk, registration, name):
    """The receipt is drawn in the DejaVu font shipped with the code: a name Helvetica cannot
    draw (it covers Latin-1 only) is printed, and read back, as typed."""
    registration.full_name = name
    registration.save()
    client.force_login(clerk)
    response = client.get(_url(registration, "receipt.pdf"))

    text = pdf_text(response.content)
    assert name in text
    assert registration.registration_number in text
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= pdf_fonts(response.content)


# --- the signed link ---------------------------------------------------------------------------


def test_signed_link_works_without_login_and_shows_masked_data_only(registration):
    token = receipts.receipt_token(registration)
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = anonymous.get(f"/registrations/receipt/{token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert registration.registration_number in html
    assert registration.id_number_masked in html
    assert "S*** N*******" in html and "Siti Nur" not in html
    assert registration.msisdn[2:] not in html  # the number, partly hidden
    assert mask_msisdn(registration.msisdn) in html
    assert "Jl. Kenanga" not in html
    assert "Log out" not in html  # nobody is logged in
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Cache-Control"] == "private, no-store"
    assert AuditEvent.objects.filter(
        action="registration.receipt_link_view", target_id=str(registration.pk)
    ).exists()

    pdf = anonymous.get(f"/registrations/receipt/{token}.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    printed = pdf_text(pdf.content)
    assert "S*** N*******" in printed and "Siti Nur" not in printed
    assert registration.registration_number in printed


def test_tampered_token_is_404(registration):
    token = receipts.receipt_token(registration)
    anonymous = Client()
    value, timestamp, signature = token.split(":")
    forged = f"{value[:-1]}{'X' if value[-1] != 'X' else 'Y'}:{timestamp}:{signature}"
    assert anonymous.get(f"/registrations/receipt/{forged}/").status_code == 404
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert anonymous.get(f"/registrations/receipt/{flipped}/").status_code == 404
    assert anonymous.get(f"/registrations/receipt/{flipped}.pdf").status_code == 404
    assert anonymous.get("/registrations/receipt/garbage/").status_code == 404


def test_token_signed_for_something_else_is_404(registration):
    # same secret, another salt: not a receipt token
    token = signing.TimestampSigner(salt="other").sign(registration.registration_number)
    assert Client().get(f"/registrations/receipt/{token}/").status_code == 404


def test_expired_link_is_404(registration, monkeypatch):
    token = receipts.receipt_token(registration)
    monkeypatch.setattr(receipts, "RECEIPT_LINK_MAX_AGE", timedelta(seconds=-1))
    assert Client().get(f"/registrations/receipt/{token}/").status_code == 404


def test_masking_helpers():
    assert local_msisdn("6281234567890") == "081234567890"
    assert mask_msisdn("6281234567890") == "0812****7890"
    assert mask_name("Siti Nur'aini") == "S*** N*******"
    assert mask_name("Sukarno") == "S******"


@pytest.mark.parametrize("operation", ["restrict", "erase"])
def test_a_shared_link_honours_the_buyers_restriction_and_erasure(
    registration, operator, operation
):
    """The buyer asked the operator to restrict or erase their data (the data-subject request
    service, as the privacy pages run it): the link they were given — page and PDF — answers
    410 with a page saying why, and shows nothing of the registration."""
    from privacy.services.subject_requests import (
        data_subject_request_erase,
        data_subject_request_open,
        data_subject_request_restrict,
    )

    token = receipts.receipt_token(registration)
    page, pdf = f"/registrations/receipt/{token}/", f"/registrations/receipt/{token}.pdf"
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert anonymous.get(page).status_code == 200
    number = pii.decrypt(registration.id_number_encrypted)
    request = data_subject_request_open(actor=operator, id_number=number, channel="letter")
    if operation == "restrict":
        data_subject_request_restrict(actor=operator, request=request)
    else:
        data_subject_request_erase(actor=operator, request=request)

    for url in (page, pdf):
        response = anonymous.get(url)
        assert response.status_code == 410
        html = response.content.decode()
        assert "Receipt no longer available" in html
        assert "stop using or to delete their personal data" in html
        assert registration.registration_number not in html
        assert mask_name(registration.full_name) not in html
        assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_a_blocked_registrations_receipt_says_it_is_blocked_and_since_when(
    client, clerk, registration, settings
):
    from datetime import UTC, datetime

    from subscribers.services import registration_block

    settings.TIME_ZONE = "Asia/Jakarta"
    registration_block(
        actor=clerk,
        msisdn=registration.msisdn,
        registration_id=registration.pk,
        reason="Nomor dipakai penipu.",
        now=datetime(2026, 12, 9, 0, 11, tzinfo=UTC),
    )
    AuditEvent.objects.filter(action="registration.block").update(
        created_at=datetime(2026, 12, 9, 0, 11, tzinfo=UTC)
    )
    client.force_login(clerk)
    html = client.get(_url(registration), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="receipt-blocked"' in html
    assert "This number is blocked since 9 December 2026, 07:11 WIB" in html
    assert "penipu" not in html  # the reviewer's reason is not the buyer's to read
    shared = Client(HTTP_ACCEPT_LANGUAGE="id").get(
        f"/registrations/receipt/{receipts.receipt_token(registration)}/"
    )
    assert "Nomor ini diblokir sejak 9 Desember 2026, 07:11 WIB" in shared.content.decode()
    text = pdf_text(client.get(_url(registration, "receipt.pdf")).content)
    assert "Nomor ini DIBLOKIR sejak 09-12-2026 07:11 WIB" in text
    assert "This number is BLOCKED since 09-12-2026 07:11 WIB" in text


def test_a_receipt_of_a_registration_in_force_says_nothing_of_a_block(client, clerk, registration):
    client.force_login(clerk)
    assert 'id="receipt-blocked"' not in client.get(_url(registration)).content.decode()
    assert "DIBLOKIR" not in pdf_text(client.get(_url(registration, "receipt.pdf")).content)
