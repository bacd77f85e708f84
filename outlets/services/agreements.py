"""Responsibility-transfer agreements: a dealer hands responsibility for registering a set of
packs (MSISDN ranges) to a party outside its outlets, for a period, on a signed document.

While an agreement is in force, ``subscribers.accountability.accountable_party_for_msisdn``
names its party, instead of the dealer, for the unregistered packs it covers.
"""

import hashlib
import io
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Length
from django.utils.translation import gettext as _

from core.audit import AuditAction, audit_record
from core.roles import is_operator, is_signed_in
from identity import photos
from identity.messages import photo_message

from ..models import AgreementRange, Dealer, ResponsibleParty, StarterPack, TransferAgreement
from ..stockfiles import MsisdnRange
from ._common import NON_FIELD, admin_dealer_id, require_manages_dealer

PDF_MAGIC = b"%PDF-"


def document_max_bytes() -> int:
    return getattr(settings, "AGREEMENT_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)


# --- parties -----------------------------------------------------------------------------------


def responsible_party_create(
    *,
    actor,
    dealer: Dealer,
    name: str,
    registration_number: str = "",
    contact_name: str = "",
    phone: str = "",
    address: str = "",
) -> ResponsibleParty:
    """Record a party (sub-reseller) the dealer hands packs to; its name is unique per dealer."""
    require_manages_dealer(actor, dealer.pk)
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": [_("Give the party's name.")]})
    if ResponsibleParty.objects.filter(dealer=dealer, name__iexact=name).exists():
        raise ValidationError({"name": [_("Your dealer already has a party with this name.")]})
    with transaction.atomic():
        party = ResponsibleParty.objects.create(
            dealer=dealer,
            name=name[:150],
            registration_number=(registration_number or "").strip()[:40],
            contact_name=(contact_name or "").strip()[:150],
            phone=(phone or "").strip()[:20],
            address=(address or "").strip()[:300],
        )
        audit_record(
            actor=actor,
            action=AuditAction.PARTY_CREATE,
            target=party,
            after={"dealer": dealer.code},
        )
    return party


# --- the signed document -----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedDocument:
    content_type: str
    extension: str
    size: int
    # What is stored: the upload cleaned of its metadata (clean_pdf, or the photo re-encoded).
    content: bytes = b""


# A photographed agreement stays legible: re-encoded up to this size, not a registration's 1600.
DOCUMENT_PHOTO_MAX_SIDE = 3200


def clean_pdf(data: bytes) -> bytes:
    """The PDF rewritten without its document information (author, creator, producer, title,
    dates: a scanner's or a phone's name, sometimes a place) and without XMP metadata streams
    (the document's and each page's). Raises ``ValueError`` for a PDF that cannot be read or is
    encrypted."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError
    from pypdf.generic import NameObject

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ValueError("encrypted PDF")
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None
        for holder in (writer._root_object, *writer.pages):
            for key in ("/Metadata", "/PieceInfo"):
                holder.pop(NameObject(key), None)
        # The objects no longer referenced (the XMP streams, the old information) are not
        # written at all.
        writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
        buffer = io.BytesIO()
        writer.write(buffer)
    except (
        PyPdfError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OSError,
    ) as exc:
        raise ValueError(str(exc)) from exc
    except RecursionError as exc:
        raise ValueError("PDF nested too deeply") from exc
    return buffer.getvalue()


def check_document(upload) -> CheckedDocument:
    """A signed agreement is a PDF (``%PDF-`` at the start, ``%%EOF`` near the end, so a
    cut-off upload is caught) or a photo (JPEG, PNG, WebP: ``identity.photos``), within
    ``AGREEMENT_DOCUMENT_MAX_BYTES``. Raises ValidationError at ``document``."""
    limit = document_max_bytes()
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(
            {
                "document": [
                    _("The document is too large: at most %(mb)d MB.")
                    % {"mb": limit // (1024 * 1024)}
                ]
            }
        )
    upload.seek(0)
    head = upload.read(len(PDF_MAGIC))
    upload.seek(0)
    if head == PDF_MAGIC:
        data = upload.read(limit + 1)
        upload.seek(0)
        if len(data) > limit:
            raise ValidationError({"document": [_("The document is too large.")]})
        if b"%%EOF" not in data[-2048:]:
            raise ValidationError(
                {"document": [_("The PDF is incomplete or damaged. Send it again.")]}
            )
        try:
            cleaned = clean_pdf(data)
        except ValueError as exc:
            raise ValidationError(
                {"document": [_("The PDF is incomplete or damaged. Send it again.")]}
            ) from exc
        return CheckedDocument("application/pdf", "pdf", len(cleaned), cleaned)
    try:
        photos.inspect_photo(upload, max_bytes=limit, thorough=True)
    except photos.PhotoError as exc:
        if exc.code in ("photo_not_image", "photo_format"):
            message = _("The signed document must be a PDF or a photo (JPEG, PNG or WebP).")
        else:
            message = photo_message(exc, max_bytes=limit)
        raise ValidationError({"document": [message]}) from exc
    # Re-encoded: upright, without EXIF, GPS, camera, ICC, XMP or comment (identity.photos).
    upload.seek(0)
    try:
        clean = photos.normalize_photo(
            upload.read(limit + 1), max_side=DOCUMENT_PHOTO_MAX_SIDE, thumb_side=64, quality=90
        )
    except photos.PhotoError as exc:
        raise ValidationError({"document": [photo_message(exc, max_bytes=limit)]}) from exc
    finally:
        upload.seek(0)
    return CheckedDocument(clean.content_type, "jpg", len(clean.content), clean.content)


def _store_document(agreement: TransferAgreement, upload, checked: CheckedDocument) -> None:
    agreement.document.save(
        f"agreement.{checked.extension}", ContentFile(checked.content), save=False
    )
    agreement.document_content_type = checked.content_type
    agreement.document_size = checked.size


# --- agreements --------------------------------------------------------------------------------


def _overlapping(dealer: Dealer, spans, starts_on: date, ends_on: date, exclude_pk=None):
    """Active agreements of ``dealer`` whose period and ranges overlap these."""
    condition = Q()
    for span in spans:
        condition |= Q(
            ranges__msisdn_length=len(span.first),
            ranges__msisdn_from__lte=span.last,
            ranges__msisdn_to__gte=span.first,
        )
    qs = TransferAgreement.objects.filter(
        condition,
        dealer=dealer,
        status=TransferAgreement.Status.ACTIVE,
        starts_on__lte=ends_on,
        ends_on__gte=starts_on,
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.distinct()


def _lock_agreements_of(dealer_id: int) -> None:
    """Inside a transaction: wait for any other transaction bringing an agreement of this
    dealer into force, so its overlap check sees that agreement. The dealer's row is the lock
    (``FOR NO KEY UPDATE``: rows pointing at the dealer, its stock moves, are still written
    meanwhile); every path that brings an agreement into force takes it before the check."""
    Dealer.objects.select_for_update(no_key=True).only("pk").get(pk=dealer_id)


def _packs_in(span: MsisdnRange):
    return StarterPack.objects.annotate(msisdn_length=Length("msisdn")).filter(
        msisdn_length=len(span.first), msisdn__range=(span.first, span.last)
    )


def agreement_create(
    *,
    actor,
    dealer: Dealer,
    party: ResponsibleParty,
    starts_on: date,
    ends_on: date,
    ranges: list[MsisdnRange],
    reference: str = "",
    document=None,
) -> TransferAgreement:
    """Record an agreement of ``dealer`` with ``party`` over MSISDN ``ranges`` for
    ``starts_on``–``ends_on`` (both included).

    Rules: the period ends on or after its start; the ranges do not overlap each other; at
    least one of the dealer's packs is in them (numbers the portal does not know and another
    dealer's packs get the same answer: they are simply not covered); no other agreement in
    force covers the same packs in an overlapping period. With ``document`` (a PDF or a
    photo, ``check_document``) the agreement is in force at once; without, it is a draft until
    ``agreement_attach_document``.
    """
    require_manages_dealer(actor, dealer.pk)
    errors: dict[str, list[str]] = {}
    if party.dealer_id != dealer.pk:
        errors["party"] = [_("Choose one of your dealer's parties.")]
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = [_("The agreement cannot end before it starts.")]
    range_errors = []
    ordered = sorted(ranges, key=lambda s: (len(s.first), s.first))
    for previous, current in pairwise(ordered):
        if len(previous.first) == len(current.first) and current.first <= previous.last:
            range_errors.append(
                _("The ranges %(a)s and %(b)s overlap.")
                % {"a": f"{previous.first}–{previous.last}", "b": f"{current.first}–{current.last}"}
            )
    if not ranges:
        range_errors.append(_("Give at least one MSISDN range."))
    # Another dealer's packs in a range are answered like numbers the portal does not know
    # (as stock allocation does): not counted, not covered (an agreement covers only its own
    # dealer's packs), and nothing tells whether, or how many, are there.
    pack_count = sum(_packs_in(span).filter(dealer=dealer).count() for span in ranges)
    if ranges and not range_errors and pack_count == 0:
        range_errors.append(_("None of your dealer's starter packs is in these ranges."))
    if range_errors:
        errors["ranges"] = range_errors
    checked = None
    if document is not None:
        try:
            checked = check_document(document)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        if checked is not None:  # in force at once: checked under the dealer's lock
            _lock_agreements_of(dealer.pk)
            clash = _overlapping(dealer, ranges, starts_on, ends_on).first()
            if clash is not None:
                raise ValidationError({NON_FIELD: [_clash_message(clash)]})
        agreement = TransferAgreement(
            dealer=dealer,
            party=party,
            reference=(reference or "").strip()[:60],
            starts_on=starts_on,
            ends_on=ends_on,
            pack_count=pack_count,
            created_by=actor if is_signed_in(actor) else None,
        )
        if checked is not None:
            _store_document(agreement, document, checked)
            agreement.status = TransferAgreement.Status.ACTIVE
        agreement.save()
        AgreementRange.objects.bulk_create(
            [
                AgreementRange(
                    agreement=agreement,
                    msisdn_from=span.first,
                    msisdn_to=span.last,
                    msisdn_length=len(span.first),
                )
                for span in ranges
            ]
        )
        audit_record(
            actor=actor,
            action=AuditAction.AGREEMENT_CREATE,
            target=agreement,
            after={
                "dealer": dealer.code,
                "party": party.name,
                "from": starts_on.isoformat(),
                "until": ends_on.isoformat(),
                "ranges": [f"{s.first}-{s.last}" for s in ranges],
                "packs": pack_count,
                "status": agreement.status,
            },
        )
    return agreement


def _clash_message(clash: TransferAgreement) -> str:
    return _(
        "Another agreement in force (with %(party)s, %(start)s to %(end)s) already covers some "
        "of these starter packs in this period."
    ) % {
        "party": clash.party.name,
        "start": clash.starts_on.isoformat(),
        "end": clash.ends_on.isoformat(),
    }


def agreement_attach_document(
    *, actor, agreement: TransferAgreement, document
) -> TransferAgreement:
    """Put the signed document (PDF or photo) on record; a draft comes into force with it (if
    no other agreement in force covers the same packs meanwhile). Replacing the document of an
    agreement in force keeps it in force."""
    require_manages_dealer(actor, agreement.dealer_id)
    checked = check_document(document)
    with transaction.atomic():
        _lock_agreements_of(agreement.dealer_id)
        locked = TransferAgreement.objects.select_for_update().get(pk=agreement.pk)
        if locked.status == TransferAgreement.Status.DRAFT:
            spans = [MsisdnRange(r.msisdn_from, r.msisdn_to) for r in locked.ranges.all()]
            clash = _overlapping(
                locked.dealer, spans, locked.starts_on, locked.ends_on, exclude_pk=locked.pk
            ).first()
            if clash is not None:
                raise ValidationError({NON_FIELD: [_clash_message(clash)]})
        old_name = locked.document.name if locked.document else ""
        _store_document(locked, document, checked)
        before_status = locked.status
        locked.status = TransferAgreement.Status.ACTIVE
        locked.save()
        audit_record(
            actor=actor,
            action=AuditAction.AGREEMENT_ATTACH_DOCUMENT,
            target=locked,
            before={"status": before_status, "document": bool(old_name)},
            after={
                "status": locked.status,
                "content_type": checked.content_type,
                "size": checked.size,
                "sha256": _sha256(locked),
            },
        )
    if old_name:
        transaction.on_commit(lambda: locked.document.storage.delete(old_name))
    agreement.refresh_from_db()
    return agreement


def _sha256(agreement: TransferAgreement) -> str:
    digest = hashlib.sha256()
    with agreement.document.open("rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def may_read_agreement_document(user, agreement: TransferAgreement) -> bool:
    """The signed contract names and signs real people: its dealer's admins, the operator and
    GraPARI (who handle the discrepancies it decides) may read it; the regulator sees the
    agreement's terms, not the document (docs/decisions.md)."""
    if not is_signed_in(user):
        return False
    return (
        is_operator(user)
        or user.role == user.Role.GRAPARI
        or admin_dealer_id(user) == agreement.dealer_id
    )


def agreement_document_open(*, actor, agreement: TransferAgreement):
    """The signed document as an open file, for those allowed (``may_read_agreement_document``);
    each reading is audited. Raises PermissionError or FileNotFoundError."""
    if not may_read_agreement_document(actor, agreement):
        raise PermissionError("agreement document")
    if not agreement.document:
        raise FileNotFoundError("no document")
    handle = agreement.document.open("rb")
    with transaction.atomic():
        audit_record(actor=actor, action=AuditAction.AGREEMENT_DOCUMENT_VIEW, target=agreement)
    return handle
