"""The statement "numbers registered on your NIK" as a one-page A4 PDF (Indonesian first,
English second), in the portal's fonts (``core.pdffonts``). Numbers appear as on the holder's
page: the login number in full, the others masked."""

from __future__ import annotations

from datetime import datetime
from html import escape

from django.urls import reverse
from django.utils import timezone

from core.pdffonts import pdf_fonts
from core.publicurl import public_url

STATUS_ID = {
    "active": "Aktif",
    "inactive": "Tidak aktif",
    "blocked": "Diblokir",
    "awaiting": "Menunggu verifikasi",
}
STATUS_EN = {
    "active": "Active",
    "inactive": "Inactive",
    "blocked": "Blocked",
    "awaiting": "Awaiting verification",
}


def statement_pdf(*, session, numbers, code: str, issued_at: datetime) -> bytes:
    from io import BytesIO

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = pdf_fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=12.5)
    english = ParagraphStyle("en", parent=base, textColor=colors.HexColor("#555555"), fontSize=8.5)
    title = ParagraphStyle("title", parent=base, fontName=bold, fontSize=15, leading=19)
    big = ParagraphStyle("big", parent=base, fontName=bold, fontSize=16, leading=20)
    when = timezone.localtime(issued_at)
    story: list = [
        Paragraph("Nomor yang terdaftar dengan NIK Anda", title),
        Paragraph("Numbers registered on your NIK", english),
        Spacer(1, 4 * mm),
        Paragraph(escape(f"NIK: {session.nik_masked}"), base),
        Paragraph(escape(f"Tanggal / Date: {when:%d-%m-%Y %H:%M %Z}"), base),
        Spacer(1, 3 * mm),
        Paragraph("Kode verifikasi / Verification code", english),
        Paragraph(escape(code), big),
        Spacer(1, 4 * mm),
    ]
    rows = [
        [
            Paragraph("Nomor / Number", english),
            Paragraph("Didaftarkan / Registered", english),
            Paragraph("Gerai / Outlet", english),
            Paragraph("Status", english),
        ]
    ]
    for number in numbers:
        status = f"{STATUS_ID[number.status]} / {STATUS_EN[number.status]}"
        if number.over_cap:
            status += " — melebihi batas / over the cap"
        rows.append(
            [
                Paragraph(escape(number.shown), base),
                Paragraph(escape(f"{timezone.localtime(number.registered_at):%d-%m-%Y}"), base),
                Paragraph(escape(f"{number.outlet_name}, {number.city}"), base),
                Paragraph(escape(status), base),
            ]
        )
    if len(rows) == 1:
        rows.append([Paragraph("Tidak ada nomor / No number", base), "", "", ""])
    table = Table(rows, colWidths=[35 * mm, 28 * mm, 62 * mm, 45 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -2), 0.25, colors.HexColor("#cccccc")),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    # The full public address (never the request's Host): the reader may be a bank or an
    # employer holding the paper, who has no other way to find the page.
    check = escape(public_url(reverse("holders:statement_check")))
    story += [
        table,
        Spacer(1, 5 * mm),
        Paragraph(
            f"Keaslian pernyataan ini dapat diperiksa di halaman {check} dengan kode "
            "verifikasi dan berkas PDF ini.",
            base,
        ),
        Paragraph(
            f"Anyone can check this statement at {check} with the verification "
            "code and this PDF file.",
            english,
        ),
    ]
    buffer = BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title="Nomor yang terdaftar dengan NIK Anda",
        author="Satu Pintu",
        invariant=1,
    ).build(story)
    return buffer.getvalue()
