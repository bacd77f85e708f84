"""Responsibility-transfer agreements: terms, the signed document, and who is accountable."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import AuditEvent
from outlets import services
from outlets.models import ResponsibleParty, TransferAgreement
from outlets.stockfiles import parse_range
from subscribers import services as registration_services
from subscribers.accountability import (
    AccountableParty,
    accountable_parties_for_msisdns,
    accountable_parties_on_days,
    accountable_party_for_msisdn,
)
from tests.conftest import buyer_data, photo_upload

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 1), date(2026, 12, 31)


def _minimal_pdf() -> bytes:
    """A one-page PDF without metadata: what the portal stores is the same bytes rewritten."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(72, 72)
    writer.metadata = None
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


MINIMAL_PDF = _minimal_pdf()


def pdf(name="agreement.pdf", content=MINIMAL_PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture
def party(dealer_user, dealer_org):
    return services.responsible_party_create(
        actor=dealer_user, dealer=dealer_org, name="CV Sub Reseller", registration_number="01.234"
    )


def agree(dealer_user, dealer_org, party, packs, *, signed=True, **overrides):
    terms = {
        "starts_on": START,
        "ends_on": END,
        "ranges": [parse_range(packs[0].msisdn, packs[-1].msisdn)],
        "reference": "PKS-001",
        "document": pdf() if signed else None,
    }
    return services.agreement_create(
        actor=dealer_user, dealer=dealer_org, party=party, **{**terms, **overrides}
    )


def test_an_agreement_changes_who_is_accountable(dealer_user, dealer_org, party, dealer_stock):
    msisdn = dealer_stock[1].msisdn
    in_period = datetime(2026, 6, 1, 9, tzinfo=ZoneInfo("Asia/Jakarta"))

    before = accountable_party_for_msisdn(msisdn=msisdn, at=in_period)
    agreement = agree(dealer_user, dealer_org, party, dealer_stock[:3])
    during = accountable_party_for_msisdn(msisdn=msisdn, at=in_period)
    after_it_ends = accountable_party_for_msisdn(msisdn=msisdn, at=END + timedelta(days=1))

    assert before == AccountableParty("dealer", dealer_org.pk, "AD0001")
    assert during == AccountableParty(
        "party", dealer_org.pk, "CV Sub Reseller", party_id=party.pk, agreement_id=agreement.pk
    )
    assert after_it_ends.kind == "dealer"
    # A pack outside the ranges stays the dealer's.
    assert (
        accountable_party_for_msisdn(msisdn=dealer_stock[4].msisdn, at=in_period).kind == "dealer"
    )
    assert agreement.status == "active" and agreement.pack_count == 3


def test_the_registering_outlet_answers_for_its_registration(
    dealer_user, dealer_org, party, clerk, outlet, pack, photos
):
    agree(dealer_user, dealer_org, party, [pack])
    registration_services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)

    answer = accountable_party_for_msisdn(msisdn=pack.msisdn, at=date(2026, 6, 1))

    assert answer == AccountableParty("outlet", dealer_org.pk, outlet.roid, outlet_id=outlet.pk)


def test_unknown_msisdns_have_no_answer_and_bulk_answers_many(dealer_stock, dealer_org):
    answers = accountable_parties_for_msisdns(
        msisdns=[p.msisdn for p in dealer_stock] + ["6289999999999"], at=date(2026, 6, 1)
    )
    assert len(answers) == 5 and {a.kind for a in answers.values()} == {"dealer"}
    assert accountable_party_for_msisdn(msisdn="6289999999999", at=date(2026, 6, 1)) is None


def test_one_statement_answers_each_number_on_its_own_day(
    dealer_user, dealer_org, party, clerk, outlet, pack, photos, dealer_stock
):
    """The hand-over's look-up: (number, day) pairs, each answered as the one-number rule
    answers it on that day — the outlet that registered it, the party of the agreement in
    force that day, else the dealer; nobody for a number the portal does not know."""
    agreement = agree(dealer_user, dealer_org, party, dealer_stock[:3])
    registration_services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    in_period, after_it = date(2026, 6, 1), END + timedelta(days=1)
    pairs = [
        (dealer_stock[1].msisdn, in_period),
        (dealer_stock[1].msisdn, after_it),
        (dealer_stock[4].msisdn, in_period),
        (pack.msisdn, in_period),
        ("6289999999999", in_period),
    ]

    answers = accountable_parties_on_days(pairs)

    assert answers == [accountable_party_for_msisdn(msisdn=m, at=day) for m, day in pairs]
    assert [a.kind if a else None for a in answers] == [
        "party",
        "dealer",
        "dealer",
        "outlet",
        None,
    ]
    assert answers[0].agreement_id == agreement.pk
    assert accountable_parties_on_days([]) == []


def test_a_draft_without_its_document_changes_nothing_until_it_comes(
    dealer_user, dealer_org, party, dealer_stock
):
    agreement = agree(dealer_user, dealer_org, party, dealer_stock[:2], signed=False)
    assert agreement.status == "draft"
    assert accountable_party_for_msisdn(msisdn=dealer_stock[0].msisdn, at=START).kind == "dealer"

    services.agreement_attach_document(
        actor=dealer_user, agreement=agreement, document=photo_upload()
    )

    assert agreement.status == "active"
    assert agreement.document_content_type == "image/jpeg"
    assert accountable_party_for_msisdn(msisdn=dealer_stock[0].msisdn, at=START).kind == "party"
    event = AuditEvent.objects.get(action="agreement.attach_document")
    assert len(event.after["sha256"]) == 64


def test_an_agreement_cannot_end_before_it_starts(dealer_user, dealer_org, party, dealer_stock):
    with pytest.raises(ValidationError) as exc:
        agree(dealer_user, dealer_org, party, dealer_stock, starts_on=END, ends_on=START)

    assert exc.value.message_dict == {"ends_on": ["The agreement cannot end before it starts."]}
    assert not TransferAgreement.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("contract.docx", b"PK\x03\x04 a word document", "must be a PDF or a photo"),
        ("contract.pdf", b"<html>not a pdf</html>", "must be a PDF or a photo"),
        ("contract.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "incomplete"),  # cut off
        ("contract.exe", b"MZ\x90\x00", "must be a PDF or a photo"),
    ],
)
def test_a_document_that_is_not_a_pdf_or_image_is_refused(
    dealer_user, dealer_org, party, dealer_stock, name, content, words, settings
):
    with pytest.raises(ValidationError) as exc:
        agree(
            dealer_user, dealer_org, party, dealer_stock, document=SimpleUploadedFile(name, content)
        )

    assert words in exc.value.message_dict["document"][0]
    assert not TransferAgreement.objects.exists()


def test_a_too_large_document_is_refused(dealer_user, dealer_org, party, dealer_stock, settings):
    settings.AGREEMENT_DOCUMENT_MAX_BYTES = 1024 * 1024
    big = pdf(content=MINIMAL_PDF[:-6] + b" " * (1024 * 1024) + b"%%EOF\n")
    with pytest.raises(ValidationError) as exc:
        agree(dealer_user, dealer_org, party, dealer_stock, document=big)
    assert "too large" in exc.value.message_dict["document"][0]


def test_another_dealers_packs_in_a_range_are_answered_like_unknown_numbers(
    dealer_user, dealer_org, party, dealer_stock, another_dealers_pack
):
    """Nothing tells a dealer whether, or how many, packs of another dealer a range holds."""
    theirs = parse_range(another_dealers_pack.msisdn, another_dealers_pack.msisdn)
    unknown = parse_range("081388800000", "081388800009")
    refusals = []
    for span in (theirs, unknown):
        with pytest.raises(ValidationError) as exc:
            agree(dealer_user, dealer_org, party, dealer_stock, ranges=[span], signed=False)
        refusals.append(exc.value.message_dict)

    span = parse_range(dealer_stock[0].msisdn, another_dealers_pack.msisdn)
    agreement = agree(dealer_user, dealer_org, party, dealer_stock, ranges=[span])

    assert (
        refusals[0]
        == refusals[1]
        == {"ranges": ["None of your dealer's starter packs is in these ranges."]}
    )
    assert agreement.pack_count == len(dealer_stock)
    day = datetime(2026, 6, 1, 9, tzinfo=ZoneInfo("Asia/Jakarta"))
    theirs_party = accountable_party_for_msisdn(msisdn=another_dealers_pack.msisdn, at=day)
    mine_party = accountable_party_for_msisdn(msisdn=dealer_stock[0].msisdn, at=day)
    assert (theirs_party.kind, theirs_party.dealer_id) == ("dealer", another_dealers_pack.dealer_id)
    assert (mine_party.kind, mine_party.agreement_id) == ("party", agreement.pk)


def test_ranges_without_any_of_the_dealers_packs_or_overlapping_are_refused(
    dealer_user, dealer_org, party, dealer_stock
):
    with pytest.raises(ValidationError) as exc:
        agree(
            dealer_user,
            dealer_org,
            party,
            dealer_stock,
            ranges=[parse_range("081388800000", "081388800009")],
        )
    assert "None of your dealer's starter packs" in exc.value.message_dict["ranges"][0]

    a = parse_range(dealer_stock[0].msisdn, dealer_stock[2].msisdn)
    b = parse_range(dealer_stock[2].msisdn, dealer_stock[4].msisdn)
    with pytest.raises(ValidationError) as exc:
        agree(dealer_user, dealer_org, party, dealer_stock, ranges=[a, b])
    assert "overlap" in exc.value.message_dict["ranges"][0]


def test_two_agreements_in_force_cannot_cover_the_same_packs(
    dealer_user, dealer_org, party, dealer_stock
):
    agree(dealer_user, dealer_org, party, dealer_stock[:3])
    other = services.responsible_party_create(
        actor=dealer_user, dealer=dealer_org, name="Toko Lain"
    )

    with pytest.raises(ValidationError) as exc:
        agree(dealer_user, dealer_org, other, dealer_stock[2:], starts_on=date(2026, 6, 1))
    assert "already covers" in exc.value.messages[0]

    # After the first one ends, another may take over.
    later = agree(
        dealer_user,
        dealer_org,
        other,
        dealer_stock[2:],
        starts_on=date(2027, 1, 1),
        ends_on=date(2027, 12, 31),
    )
    assert later.status == "active"


def test_parties_belong_to_their_dealer(
    dealer_user, other_dealer_user, other_dealer, party, dealer_stock
):
    with pytest.raises(PermissionDenied):
        services.responsible_party_create(actor=dealer_user, dealer=other_dealer, name="X")
    with pytest.raises(ValidationError) as exc:
        services.responsible_party_create(
            actor=dealer_user, dealer=party.dealer, name="cv sub reseller"
        )
    assert "already has a party" in exc.value.message_dict["name"][0]
    theirs = ResponsibleParty.objects.create(dealer=other_dealer, name="Theirs")
    with pytest.raises(ValidationError) as exc:
        agree(dealer_user, party.dealer, theirs, dealer_stock)
    assert "party" in exc.value.message_dict


def test_who_may_read_the_signed_document(
    dealer_user,
    dealer_org,
    party,
    dealer_stock,
    operator,
    grapari,
    regulator,
    other_dealer_user,
    clerk,
):
    agreement = agree(dealer_user, dealer_org, party, dealer_stock)

    for reader in (dealer_user, operator, grapari):
        with services.agreement_document_open(actor=reader, agreement=agreement) as handle:
            assert handle.read().startswith(b"%PDF-")
    for refused in (regulator, other_dealer_user, clerk):
        with pytest.raises(PermissionError):
            services.agreement_document_open(actor=refused, agreement=agreement)
    assert AuditEvent.objects.filter(action="agreement.document_view").count() == 3
