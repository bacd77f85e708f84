"""Signed agreement documents are stored without what their files say about the signer:
photos re-encoded (no EXIF, GPS, camera, comment, XMP), PDFs rewritten without their
document information and XMP metadata."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, StreamObject

from outlets import services
from tests.subscribers.test_photos import jpeg_with_gps_and_orientation

from .test_agreements import agree

pytestmark = pytest.mark.django_db


@pytest.fixture
def party(dealer_user, dealer_org):
    return services.responsible_party_create(
        actor=dealer_user, dealer=dealer_org, name="CV Sub Reseller", registration_number="01.234"
    )


def stored_document(dealer_user, dealer_org, party, dealer_stock, upload) -> bytes:
    agreement = agree(dealer_user, dealer_org, party, dealer_stock, document=upload)
    with services.agreement_document_open(actor=dealer_user, agreement=agreement) as handle:
        return handle.read()


def pdf_with_metadata() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata(
        {"/Author": "Budi Hartono", "/Creator": "Scanner GPS -6.175,106.827", "/Title": "PKS"}
    )
    xmp = StreamObject()
    xmp.set_data(b"<x:xmpmeta><dc:creator>Budi Hartono</dc:creator></x:xmpmeta>")
    writer._root_object[NameObject("/Metadata")] = writer._add_object(xmp)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_a_photo_of_the_agreement_loses_gps_camera_and_comment(
    dealer_user, dealer_org, party, dealer_stock
):
    source = jpeg_with_gps_and_orientation((1200, 800))
    assert b"Cheap Phone Co." in source and b"outlet 42" in source

    stored = stored_document(
        dealer_user, dealer_org, party, dealer_stock, SimpleUploadedFile("pks.jpg", source)
    )

    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert not {"exif", "comment", "xmp", "icc_profile"} & set(image.info)
    assert b"Cheap Phone Co." not in stored and b"outlet 42" not in stored
    # Upright and legible: not shrunk to a thumbnail.
    assert max(image.size) >= 1200


def test_a_png_loses_its_text_chunks(dealer_user, dealer_org, party, dealer_stock):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "signed at -6.175,106.827")
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), (250, 250, 250)).save(buffer, "PNG", pnginfo=info)

    stored = stored_document(
        dealer_user,
        dealer_org,
        party,
        dealer_stock,
        SimpleUploadedFile("pks.png", buffer.getvalue()),
    )

    assert b"106.827" not in stored
    assert Image.open(io.BytesIO(stored)).format == "JPEG"


def test_a_pdf_loses_its_document_information_and_xmp(dealer_user, dealer_org, party, dealer_stock):
    source = pdf_with_metadata()
    assert b"Budi Hartono" in source

    stored = stored_document(
        dealer_user, dealer_org, party, dealer_stock, SimpleUploadedFile("pks.pdf", source)
    )

    assert stored.startswith(b"%PDF-")
    assert b"Budi Hartono" not in stored and b"106.827" not in stored
    reader = PdfReader(io.BytesIO(stored))
    assert len(reader.pages) == 1
    assert not reader.metadata
    assert "/Metadata" not in reader.trailer["/Root"]


def test_a_pdf_that_cannot_be_read_is_refused(dealer_user, dealer_org, party, dealer_stock):
    broken = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    with pytest.raises(ValidationError) as exc:
        agree(
            dealer_user,
            dealer_org,
            party,
            dealer_stock,
            document=SimpleUploadedFile("pks.pdf", broken),
        )
    assert "document" in exc.value.message_dict
