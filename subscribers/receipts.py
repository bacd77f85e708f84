"""The buyer's receipt: what it shows, the signed link that shares it, and its PDF.

A receipt tells the buyer what was registered on their ID (masked), the rules, and how to check
or dispute numbers registered under their ID. It is shown in three ways: the page the clerk
prints, a link the buyer can open without an account (signed, valid ``RECEIPT_LINK_MAX_AGE``,
masked data only) and a PDF (bilingual: Bahasa Indonesia first, English second).
"""

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from django.core import signing
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation

from core import vocabulary
from core.audit import AuditAction
from core.disclosure import Kind, disclose, sees_in_full
from core.masking import display_msisdn
from core.models import AuditEvent
from core.pdffonts import pdf_fonts
from core.publicurl import public_url

from .models import Registration, RegistrationNote
from .selectors import is_withdrawn_from_processing

RECEIPT_SALT = "subscribers.receipt"
RECEIPT_LINK_MAX_AGE = timedelta(days=30)

# --- masking for the receipt ------------------------------------------------------------------


# --- the signed link --------------------------------------------------------------------------


def receipt_token(registration: Registration) -> str:
    """A token naming the registration, signed and timestamped (expires after 30 days)."""
    return signing.TimestampSigner(salt=RECEIPT_SALT).sign(registration.registration_number)


def receipt_token_expires(token: str) -> datetime | None:
    """When a (valid) token stops working."""
    signer = signing.TimestampSigner(salt=RECEIPT_SALT)
    try:
        signer.unsign(token, max_age=RECEIPT_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    signed_at = signing.b62_decode(token.rsplit(signer.sep, 2)[1])
    return datetime.fromtimestamp(signed_at, tz=UTC) + RECEIPT_LINK_MAX_AGE


class ReceiptWithdrawn(Exception):
    """The link is genuine, but the buyer restricted the processing of their data or asked for
    its erasure: the receipt is no longer shown (410)."""


def registration_for_receipt_token(token: str) -> Registration:
    """The registration a receipt link names. The link itself is the permission, so there is
    no user scope here; a tampered, foreign or expired token is a 404, like a missing record.
    A registration under a data subject's restriction or erasure raises ``ReceiptWithdrawn``."""
    try:
        number = signing.TimestampSigner(salt=RECEIPT_SALT).unsign(
            token, max_age=RECEIPT_LINK_MAX_AGE
        )
    except signing.BadSignature as exc:  # SignatureExpired is a BadSignature too
        raise Http404("invalid receipt link") from exc
    registration = (
        Registration.objects.select_related("outlet", "policy")
        .filter(registration_number=number)
        .first()
    )
    if registration is None:
        raise Http404("no such registration")
    if is_withdrawn_from_processing(registration):
        raise ReceiptWithdrawn(number)
    return registration


# --- what the receipt says --------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptFacts:
    registration_number: str
    msisdn: str
    id_type: str
    id_type_label: str
    id_number_masked: str
    full_name: str
    registered_at: datetime
    outlet_roid: str
    outlet_name: str
    status: str
    status_label: str
    max_numbers_per_id: int | None
    staff_own_id_forbidden: bool
    masked: bool
    cap_exceptions: str = "nobody"
    refusal_reason: str = ""
    # Registered beyond the cap of numbers per NIK, where this outlet may: flagged for review.
    beyond_cap: bool = False
    # When the number was blocked (local time; None when the trail does not say).
    blocked_at: datetime | None = None

    @property
    def awaiting(self) -> bool:
        return self.status == Registration.Status.AWAITING

    @property
    def refused(self) -> bool:
        return self.status == Registration.Status.REFUSED

    @property
    def blocked(self) -> bool:
        return self.status == Registration.Status.BLOCKED


def _blocked_at(registration: Registration) -> datetime | None:
    """When the registration was blocked: its latest block in the audit trail."""
    if registration.status != Registration.Status.BLOCKED:
        return None
    when = (
        AuditEvent.objects.filter(
            action=AuditAction.REGISTRATION_BLOCK,
            target_type=Registration._meta.label_lower,
            target_id=str(registration.pk),
        )
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    return timezone.localtime(when) if when else None


def receipt_facts(registration: Registration, *, viewer) -> ReceiptFacts:
    """The receipt's data as ``viewer`` may see it (``core.disclosure``); ``None`` for the shared
    link, which has no account: the name and the number partly hidden."""
    policy = registration.policy
    return ReceiptFacts(
        registration_number=registration.registration_number,
        msisdn=display_msisdn(disclose(viewer, Kind.MSISDN, registration.msisdn)),
        id_type=registration.id_type,
        id_type_label=str(registration.get_id_type_display()),
        id_number_masked=disclose(viewer, Kind.ID_NUMBER, registration.id_number_masked),
        full_name=disclose(viewer, Kind.NAME, registration.full_name),
        registered_at=timezone.localtime(registration.registered_at),
        outlet_roid=registration.outlet.roid,
        outlet_name=registration.outlet.name,
        status=registration.status,
        status_label=str(registration.get_status_display()),
        max_numbers_per_id=policy.max_numbers_per_id,
        staff_own_id_forbidden=policy.staff_own_id_forbidden,
        masked=not sees_in_full(viewer, Kind.NAME),
        cap_exceptions=policy.cap_exceptions,
        refusal_reason=registration.refusal_reason,
        blocked_at=_blocked_at(registration),
        beyond_cap=any(
            note.get("code") == RegistrationNote.OVER_CAP_PERMITTED
            for note in registration.review_reasons or []
        ),
    )


# --- the PDF (bilingual: the buyer may not read the clerk's language setting) ----------------


def _both_languages(vocabulary_name: str, code: str) -> str:
    """A code's label in Indonesian and English ("Paspor / Passport"), from its vocabulary."""
    labels = []
    for language in ("id", "en"):
        with translation.override(language):
            labels.append(vocabulary.label(vocabulary_name, code))
    return labels[0] if labels[0] == labels[1] else " / ".join(labels)


def _fonts() -> tuple[str, str]:
    """DejaVu Sans, shipped with the code (``core.pdffonts``): names in any script print."""
    return pdf_fonts()


def _rules(facts: ReceiptFacts) -> list[tuple[str, str]]:
    rules = [
        (
            "Kartu prabayar wajib didaftarkan dengan identitas pembeli sendiri. Mendaftarkan "
            "nomor dengan identitas orang lain melanggar hukum.",
            "A prepaid number must be registered with the buyer's own identity. Registering a "
            "number with someone else's identity is against the law.",
        )
    ]
    cap = facts.max_numbers_per_id
    if cap and facts.cap_exceptions == "operator":
        rules.append(
            (
                f"Satu NIK paling banyak {cap} nomor prabayar per operator; nomor berikutnya "
                "hanya di gerai milik operator (GraPARI).",
                f"One NIK may hold at most {cap} prepaid numbers per operator; more only at the "
                "operator's own outlets (GraPARI).",
            )
        )
    elif cap and facts.cap_exceptions == "authorised":
        rules.append(
            (
                f"Satu NIK paling banyak {cap} nomor prabayar per operator; nomor berikutnya "
                "hanya di gerai operator atau outlet yang diberi kewenangan tertulis oleh "
                "operator, tidak di outlet lain.",
                f"One NIK may hold at most {cap} prepaid numbers per operator; more only at the "
                "operator's own outlets or outlets it authorised in writing, never elsewhere.",
            )
        )
    elif cap:
        rules.append(
            (
                f"Satu NIK paling banyak {cap} nomor prabayar per operator.",
                f"One NIK may hold at most {cap} prepaid numbers per operator.",
            )
        )
    if facts.staff_own_id_forbidden:
        rules.append(
            (
                "Outlet hanya membantu registrasi: dilarang memakai NIK pemilik outlet, staf "
                "(sekarang atau dulu) atau admin dealer untuk mendaftarkan pembeli.",
                "An outlet only helps the buyer register: it must never use the NIK of the "
                "outlet owner, its staff (present or past) or the dealer's admins.",
            )
        )
    return rules


def receipt_statements(facts: ReceiptFacts) -> list[tuple[str, str]]:
    """What the receipt tells the buyer, (Bahasa Indonesia, English) pairs: whether the number
    is active, the rules, how to check or dispute."""
    return [*_status_lines(facts), *_rules(facts), *_CHECK_AND_DISPUTE]


def _status_lines(facts: ReceiptFacts) -> list[tuple[str, str]]:
    if facts.awaiting:
        return [
            (
                "Menunggu verifikasi Dukcapil: nomor ini BELUM AKTIF. Nomor diaktifkan setelah "
                "Dukcapil mencocokkan data Anda; jika data tidak cocok, outlet akan memberi tahu "
                "Anda.",
                "Awaiting verification by the population registry (Dukcapil): this number is "
                "NOT ACTIVE yet. It is activated once Dukcapil confirms your data; if it does "
                "not, the outlet will tell you.",
            )
        ]
    if facts.refused:
        return [
            (
                "Registrasi DITOLAK oleh Dukcapil; nomor ini tidak diaktifkan. Alasan: "
                f"{facts.refusal_reason}",
                "Registration REFUSED by the population registry; this number is not "
                "activated. See the reason above (in Indonesian).",
            )
        ]
    if facts.blocked:
        since_id = f" sejak {facts.blocked_at:%d-%m-%Y %H:%M %Z}" if facts.blocked_at else ""
        since_en = f" since {facts.blocked_at:%d-%m-%Y %H:%M %Z}" if facts.blocked_at else ""
        return [
            (
                f"Nomor ini DIBLOKIR{since_id}: registrasi ini tidak berlaku dan nomor ini tidak "
                "dapat dipakai. Jika nomor ini milik Anda, datang ke GraPARI dengan KTP asli dan "
                "nomor registrasi ini.",
                f"This number is BLOCKED{since_en}: this registration is no longer valid and the "
                "number cannot be used. If the number is yours, go to a GraPARI with your "
                "original KTP and this registration number.",
            )
        ]
    if facts.beyond_cap:
        return [
            (
                "Nomor ini melebihi batas jumlah nomor per NIK. Outlet ini boleh meregistrasinya, "
                "dan nomor ini DITANDAI UNTUK DITINJAU oleh operator.",
                "This number goes beyond the cap of numbers per NIK. This outlet may register "
                "it, and it has been FLAGGED FOR REVIEW by the operator.",
            )
        ]
    return []


_CHECK_AND_DISPUTE = [
    (
        "Cek nomor yang terdaftar atas NIK Anda melalui layanan cek operator (kode USSD atau "
        "situs web operator) atau di GraPARI mana pun.",
        "Check the numbers registered under your NIK through the operator's check service "
        "(a USSD code or the operator's website) or at any GraPARI.",
    ),
    (
        "Jika ada nomor yang tidak Anda kenal atau data di atas salah, datang ke GraPARI dengan "
        "KTP asli dan nomor registrasi ini untuk mengajukan keberatan.",
        "If a number you do not know is registered under your ID, or the data above is wrong, "
        "dispute it at a GraPARI with your original KTP and this registration number.",
    ),
]


def receipt_pdf(facts: ReceiptFacts, *, link: str = "") -> bytes:
    """The receipt as a one-page A4 PDF."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=12.5)
    english = ParagraphStyle("en", parent=base, textColor=colors.HexColor("#555555"), fontSize=8.5)
    title = ParagraphStyle("title", parent=base, fontName=bold, fontSize=15, leading=19)
    heading = ParagraphStyle(
        "h", parent=base, fontName=bold, fontSize=11, leading=15, spaceBefore=8
    )
    number = ParagraphStyle("num", parent=base, fontName=bold, fontSize=20, leading=26, alignment=1)

    def both(indonesian: str, english_text: str, style=base) -> list:
        return [Paragraph(escape(indonesian), style), Paragraph(escape(english_text), english)]

    story: list = [
        Paragraph("Tanda Terima Registrasi Kartu Prabayar", title),
        Paragraph("Prepaid SIM registration receipt", english),
        Spacer(1, 4 * mm),
        Paragraph("Nomor registrasi / Registration number", english),
        Paragraph(escape(facts.registration_number), number),
        Spacer(1, 3 * mm),
    ]
    rows = [
        ("Nomor HP / Mobile number", facts.msisdn),
        ("Nama / Name", facts.full_name),
        (
            "Jenis identitas / ID document",
            _both_languages("id_type", facts.id_type),
        ),
        ("Nomor identitas / ID number", facts.id_number_masked),
        ("Tanggal / Date", f"{facts.registered_at:%d-%m-%Y %H:%M %Z}"),
        ("Gerai (ROID) / Outlet", f"{facts.outlet_roid} — {facts.outlet_name}"),
    ]
    table = Table(
        [
            [Paragraph(escape(label), english), Paragraph(escape(value), base)]
            for label, value in rows
        ],
        colWidths=[55 * mm, 115 * mm],
    )
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
    story.append(table)
    for indonesian, english_text in _status_lines(facts):
        story.append(Spacer(1, 3 * mm))
        story += both(indonesian, english_text, heading)
    story += both("Aturan", "The rules", heading)
    for indonesian, english_text in _rules(facts):
        story += both("• " + indonesian, english_text)
        story.append(Spacer(1, 1.5 * mm))
    story += both("Cek dan keberatan", "Check or dispute", heading)
    for indonesian, english_text in _CHECK_AND_DISPUTE:
        story += both("• " + indonesian, english_text)
        story.append(Spacer(1, 1.5 * mm))
    # The holder's door, on the configured public address (never the request's host).
    story += both(
        "• Cek sendiri nomor atas NIK Anda, laporkan nomor yang bukan milik Anda dan unduh "
        "surat pernyataan di:",
        "Check them yourself, report a number that is not yours and download a statement at:",
    )
    story.append(Paragraph(escape(public_url(reverse("holders:start"))), base))
    story.append(Spacer(1, 1.5 * mm))
    if link:
        story.append(Spacer(1, 3 * mm))
        story += both(
            "Tanda terima ini juga dapat dibuka (data disamarkan) di:",
            "This receipt can also be opened (data masked) at:",
        )
        story.append(Paragraph(escape(link), english))

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"Tanda terima {facts.registration_number}",
        author="Satu Pintu",
    )
    document.build(story)
    return buffer.getvalue()
