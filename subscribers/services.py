"""Writes of the subscribers app: one way in for every registration, whatever the channel.

The web form, the API and the import all reach ``registration_create`` (or, for the import, the
same ``rules`` in bulk); the photo task reaches ``registration_photos_process``; a registration
the population registry could not check at the counter reaches ``registration_verify``.
"""

import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import pii
from core.audit import AuditAction, audit_record
from core.locks import hold_keys
from core.masking import mask_id_number
from core.queue import enqueue
from identity import photos
from identity.idrules import IdRuleError
from identity.messages import photo_message
from outlets.models import Outlet, OutletStaff, StarterPack
from outlets.selectors import insider_match, staff_membership_for_user, user_has_attended_training

from . import registry_check, rulebook
from .activation import activation_schedule
from .hooks import registrations_refused
from .models import CapExceptions, Category, Registration, RegistrationPolicy
from .rules import (
    CleanRegistration,
    FieldErrors,
    clean_registration_fields,
    nik_disagreements_of,
    parse_bool,
)
from .selectors import NoPolicyInForce, policy_in_force

logger = logging.getLogger(__name__)

# Crockford's base32 without I, L, O, U: easy to read aloud and to type from a receipt.
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NON_FIELD = "non_field_errors"


@dataclass
class PreparedRegistration:
    """Everything checked, nothing written: what ``registration_create`` will store."""

    clean: CleanRegistration
    policy: RegistrationPolicy
    membership: OutletStaff
    pack: StarterPack
    now: datetime
    photos: dict[str, object] = field(default_factory=dict)
    registry: registry_check.RegistryOutcome = field(default_factory=registry_check.RegistryOutcome)

    @property
    def awaiting(self) -> bool:
        """The registry could not be asked: kept awaiting verification, pack not activated."""
        return self.registry.awaiting

    @property
    def warnings(self) -> list[dict]:
        notes = list(self.clean.warnings)
        if self.awaiting:
            notes.append(awaiting_warning())
        return notes


def awaiting_warning() -> dict:
    return {
        "code": "awaiting_verification",
        "message": _(
            "The population registry (Dukcapil) cannot be reached now. The registration is kept "
            "awaiting verification: the number is not activated until the registry confirms "
            "the buyer's data, and the receipt tells the buyer so."
        ),
    }


def _new_registration_number(now: datetime) -> str:
    suffix = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))
    return f"SP{timezone.localtime(now):%y%m%d}{suffix}"


# Statuses of registrations that hold no number against the cap.
NOT_HOLDING = (Registration.Status.BLOCKED, Registration.Status.REFUSED)


def counts_against_cap() -> Q:
    """The registrations that hold a number against their NIK's cap — the one definition, used
    by the counter, the import and the preview of a draft rule set: personal numbers (corporate
    and M2M ones, registered under a company's person in charge, do not count), not blocked or
    refused, not deactivated (by the privacy app), and of a current life of their number
    (``Registration.objects.current_lives``: a number deactivated at the operator, or issued
    again to someone else, leaves its holder's cap). One awaiting the registry's verification
    counts (until it is refused)."""
    return (
        Q(category=Category.PERSONAL)
        & ~Q(status__in=NOT_HOLDING)
        & Q(privacy__deactivated_at__isnull=True)
        & Q(life_ended_at__isnull=True)
    )


def cap_count(*, id_digest: str, before: Registration | None = None) -> int:
    """The numbers one ID holds against the cap (``counts_against_cap``); with ``before``, only
    those registered before that registration (by time, then id): what it was judged against
    when its history is judged again."""
    held = Registration.objects.filter(counts_against_cap(), id_number_digest=id_digest)
    if before is not None:
        held = held.filter(
            Q(registered_at__lt=before.registered_at)
            | Q(registered_at=before.registered_at, pk__lt=before.pk)
        )
    return held.count()


def active_id_count(*, id_digest: str) -> int:
    """Personal numbers registered under one ID that still count against the cap
    (``cap_count``)."""
    return cap_count(id_digest=id_digest)


def registration_prepare(
    *, clerk, data, id_photo=None, face_photo=None, now: datetime | None = None
) -> PreparedRegistration:
    """Check a registration by ``clerk`` without writing anything.

    Rules: the clerk is active staff of an active outlet (and, when the policy requires it,
    has attended a registration training); the pack (by MSISDN) is in that
    outlet's stock and not yet registered, and the ICCID, when given, is the pack's; the fields
    pass the identity rules of the policy in force now; that policy's photo, KK, cap and
    own-staff-ID rules hold; the buyer consented and the clerk attests to having checked the
    original document. Raises ``ValidationError`` with every fault at its field.
    """
    now = now or timezone.now()
    membership = staff_membership_for_user(user=clerk)
    if membership is None:
        raise ValidationError({NON_FIELD: [_("Only staff of an outlet can register buyers.")]})
    outlet = membership.outlet
    if not outlet.may_register:
        reason = f" {outlet.status_reason}" if outlet.status_reason else ""
        raise ValidationError(
            {
                NON_FIELD: [
                    _("Your outlet %(roid)s is %(status)s and cannot register buyers.")
                    % {"roid": outlet.roid, "status": outlet.get_status_display().lower()}
                    + reason
                ]
            }
        )
    try:
        policy = policy_in_force(at=now)
    except NoPolicyInForce as exc:
        raise ValidationError({NON_FIELD: [str(exc)]}) from exc
    if policy.training_required and not user_has_attended_training(
        user=clerk, on=timezone.localdate(now)
    ):
        raise ValidationError(
            {
                NON_FIELD: [
                    _("You must attend registration training before you can register buyers.")
                ]
            }
        )

    errors = FieldErrors()
    today = timezone.localdate(now)
    clean = clean_registration_fields(
        data,
        policy=policy,
        today=today,
        errors=errors,
        face_given=face_photo is not None,
        registry_arbiter=policy.registry_check,
    )

    if not parse_bool(data.get("consent")):
        errors.add("consent", _("The buyer must agree to the registration of their data."))
    # The clerk's attestation is never assumed: missing is refused like false.
    if not parse_bool(data.get("document_checked")):
        errors.add(
            "document_checked",
            _("Confirm that you checked the buyer's original document in person."),
        )

    face_proof = (
        registry_check.face_is_proof(policy, clean)
        if clean is not None
        else registry_check.face_asked_of_input(policy, data)
    )
    checked_photos = {}
    for name, upload, required in (
        ("id_photo", id_photo, policy.id_photo_required),
        ("face_photo", face_photo, policy.face_photo_required),
    ):
        if name == "face_photo" and upload is None and face_proof:
            errors.add(
                name,
                _(
                    "A photo of the buyer's face is required under the rules in force: the "
                    "population registry verifies it."
                ),
            )
            continue
        if upload is None:
            if required:
                errors.add(name, _("This photo is required under the rules in force."))
            continue
        if name == "face_photo" and not required and not face_proof:
            # A face is biometric data: taken only where the rules verify or ask for it (a
            # foreign buyer, a citizen proving with the KK), otherwise not stored at all.
            continue
        try:
            photos.inspect_photo(upload, max_bytes=settings.PHOTO_MAX_BYTES, thorough=False)
        except photos.PhotoError as exc:
            errors.add(name, photo_message(exc, max_bytes=settings.PHOTO_MAX_BYTES))
        else:
            checked_photos[name] = upload

    pack = None
    if clean is not None:
        pack = StarterPack.objects.current_lives().filter(msisdn=clean.msisdn).first()
        if pack is None or pack.outlet_id != outlet.pk:
            # Same answer for "unknown" and "another outlet's": stock of others is not disclosed.
            errors.add("msisdn", _("This starter pack is not in your outlet's stock."))
        elif pack.status != StarterPack.Status.IN_STOCK:
            errors.add("msisdn", _("This starter pack is already registered."))
        elif clean.iccid and pack.iccid and clean.iccid != pack.iccid:
            errors.add(
                "iccid",
                _("This ICCID does not belong to the starter pack %(msisdn)s.")
                % {"msisdn": clean.msisdn},
            )
        _check_staff_and_cap(clean, policy=policy, outlet_id=outlet.pk, errors=errors, day=today)

    outcome = registry_check.RegistryOutcome()
    if clean is not None and not errors:
        # Asked last, once everything else holds: a refusal costs the registry nothing.
        face_image = _read(checked_photos.get("face_photo")) if face_proof else None
        outcome = registry_check.check(
            clean, policy=policy, face_image=face_image, today=today, errors=errors
        )
        insider_kk_from_registry(clean, policy=policy, dealer_id=outlet.dealer_id, outcome=outcome)

    errors.raise_if_any()
    return PreparedRegistration(
        clean=clean,
        policy=policy,
        membership=membership,
        pack=pack,
        now=now,
        photos=checked_photos,
        registry=outcome,
    )


def _read(upload) -> bytes | None:
    if upload is None:
        return None
    upload.seek(0)
    content = upload.read()
    upload.seek(0)
    return content


def insider_id_message() -> str:
    return _(
        "This NIK belongs to one of the dealer's people (outlet staff, present or past, an "
        "admin or an outlet owner). Only the end user may be registered, with their own NIK."
    )


INSIDER_KK_REASON = {
    "code": "insider_kk",
    "message": "the buyer's KK is the family card of one of the dealer's people "
    "(staff, admin or outlet owner)",
}


def cap_message(policy, *, held: int) -> str:
    if policy.cap_exceptions == CapExceptions.OPERATOR_OUTLETS:
        return _(
            "This NIK already holds %(held)d numbers: more can only be registered at the "
            "operator's own outlets (GraPARI)."
        ) % {"held": held}
    if policy.cap_exceptions == CapExceptions.AUTHORISED_OUTLETS:
        return _(
            "This NIK already holds %(held)d numbers: more can only be registered at the "
            "operator's own outlets or at outlets the operator authorised in writing."
        ) % {"held": held}
    return _("This ID already holds %(held)d numbers, the most the rules allow.") % {"held": held}


def declared_purpose_message(limit: int) -> str:
    return _(
        "This NIK would hold more than %(limit)d numbers: enter the purpose of these numbers "
        "(it is reported to the regulator)."
    ) % {"limit": limit}


OVER_CAP_PERMITTED = "over_cap_permitted"


def over_cap_reason(held: int, cap: int) -> dict:
    """A number registered beyond the cap where the outlet may: flagged for review (the count
    is for the reviewer; the clerk is not shown a NIK's count before submitting)."""
    return {
        "code": OVER_CAP_PERMITTED,
        "message": f"{held} numbers on this NIK, cap {cap}",
        # The facts, so that pages say them in the reader's language (models.note_text).
        "held": held,
        "cap": cap,
    }


def _check_staff_and_cap(
    clean: CleanRegistration, *, policy, outlet_id: int, errors, day=None
) -> None:
    """The end-user-only rule (no NIK of the dealer's people; their KK is flagged) and the cap
    of personal numbers per NIK with its exceptions (where beyond it, and a declared purpose
    above a number) — the rule set's decisions in ``rulebook``."""
    id_digest = pii.digest(clean.id_number)
    outlet = Outlet.objects.only("id", "dealer_id", "kind", "operator_authorised_from").get(
        pk=outlet_id
    )
    day = day or timezone.localdate()
    facts = {"imported": False, "personal": clean.category == Category.PERSONAL}
    decide = rulebook.compiled(policy)  # the rule set's predicates, built once per rule set
    if policy.staff_own_id_forbidden:
        kk_digest = pii.digest(clean.kk_number) if clean.kk_number else ""
        match = insider_match(dealer_id=outlet.dealer_id, id_digest=id_digest, kk_digest=kk_digest)
        facts.update(insider_id=match == "id", insider_kk=match == "kk")
        if decide.insider_id.holds(facts):
            errors.add("id_number", insider_id_message())
        elif decide.insider_kk.holds(facts):
            clean.review_reasons.append(dict(INSIDER_KK_REASON))
    _check_cap(clean, policy=policy, outlet=outlet, errors=errors, day=day, facts=facts)


def insider_kk_from_registry(clean: CleanRegistration, *, policy, dealer_id: int, outcome) -> None:
    """The end-user rule on the family card the population registry knows for the buyer, when
    none was entered (a rule set that does not ask for the KK): a buyer on the family card of
    one of the dealer's people is flagged whether or not the clerk typed the KK."""
    if not (policy.staff_own_id_forbidden and outcome.kk_digest) or clean.kk_number:
        return
    if any(r.get("code") == INSIDER_KK_REASON["code"] for r in clean.review_reasons):
        return
    match = insider_match(dealer_id=dealer_id, id_digest="", kk_digest=outcome.kk_digest)
    facts = {"insider_id": False, "insider_kk": match == "kk", "imported": False}
    if rulebook.compiled(policy).insider_kk.holds(facts):
        clean.review_reasons.append(dict(INSIDER_KK_REASON))


def _check_cap(clean: CleanRegistration, *, policy, outlet, errors, day, facts: dict) -> None:
    """The cap of personal numbers per NIK, its exceptions and the declared purpose, judged on
    the numbers the NIK holds now."""
    if not (policy.max_numbers_per_id and facts["personal"]):
        return
    decide = rulebook.compiled(policy)
    facts.update(
        held_before=cap_count(id_digest=pii.digest(clean.id_number)),
        outlet_operator=outlet.kind == Outlet.Kind.OPERATOR,
        outlet_authorised=outlet.operator_authorised_on(day),
        has_purpose=bool(clean.declared_purpose),
    )
    held = facts["held_before"]
    clean.review_reasons[:] = [
        r for r in clean.review_reasons if r.get("code") != OVER_CAP_PERMITTED
    ]
    if decide.cap_refused.holds(facts):
        errors.add("id_number", cap_message(policy, held=held))
    elif decide.purpose_missing.holds(facts):
        errors.add("declared_purpose", declared_purpose_message(policy.declared_purpose_above))
    elif decide.over_cap_permitted.holds(facts):
        clean.review_reasons.append(over_cap_reason(held + 1, policy.max_numbers_per_id))


def _cap_judged_again(prepared: PreparedRegistration, *, errors: FieldErrors) -> None:
    """The cap judged again inside the writing transaction, the NIK's other registrations
    waited for: two registrations of one NIK sent at the same moment (two clerks, a
    point-of-sale app sending in parallel) were each judged on the count before either was
    written. On PostgreSQL a transaction-level lock on the NIK's digest orders them; SQLite
    writes one transaction at a time, and the pack's claim has already made this one the
    writer. The second one is refused (or flagged) exactly as it would be had it come after."""
    clean, policy = prepared.clean, prepared.policy
    if not (policy.max_numbers_per_id and clean.category == Category.PERSONAL):
        return
    hold_keys(f"cap:{pii.digest(clean.id_number)}")
    _check_cap(
        clean,
        policy=policy,
        outlet=prepared.membership.outlet,
        errors=errors,
        day=timezone.localdate(prepared.now),
        facts={"imported": False, "personal": True},
    )


def registration_create(
    *,
    clerk,
    data,
    id_photo=None,
    face_photo=None,
    source: str = Registration.Source.WEB,
    now: datetime | None = None,
) -> Registration:
    """Register the buyer of a starter pack at the clerk's outlet.

    Checks everything ``registration_prepare`` checks — the population registry included, asked
    before any transaction is opened — then, in one transaction: claims the pack (a
    compare-and-set on its status, so of two clerks racing for one pack exactly one wins),
    writes the registration with the ID and KK numbers encrypted, stores the photos privately
    and writes the audit row. Photo clean-up (EXIF removal, scaling, thumbnails) is queued for
    after the commit. When the registry could not answer, the registration is written
    *awaiting verification* (the pack claimed but not activated) and its verification queued.
    """
    prepared = registration_prepare(
        clerk=clerk, data=data, id_photo=id_photo, face_photo=face_photo, now=now
    )
    return registration_write(prepared, clerk=clerk, data=data, source=source)


def registration_write(prepared: PreparedRegistration, *, clerk, data, source) -> Registration:
    """Write what ``registration_prepare`` checked, in one transaction (the second half of
    ``registration_create``, for a caller that prepared outside its own transaction — the
    API's Idempotency-Key). Raises ``ValidationError`` when the pack was taken or the NIK's cap
    reached meanwhile."""
    with transaction.atomic():
        return _registration_write(prepared, clerk=clerk, data=data, source=source)


def _registration_write(prepared: PreparedRegistration, *, clerk, data, source) -> Registration:
    clean, now = prepared.clean, prepared.now
    outlet = prepared.membership.outlet

    claimed = StarterPack.objects.filter(
        pk=prepared.pack.pk, outlet_id=outlet.pk, status=StarterPack.Status.IN_STOCK
    ).update(status=StarterPack.Status.REGISTERED, updated_at=now)
    if claimed != 1:
        raise ValidationError({"msisdn": [_("This starter pack is already registered.")]})
    errors = FieldErrors()
    _cap_judged_again(prepared, errors=errors)
    errors.raise_if_any()

    registration = Registration(
        outlet=outlet,
        clerk=clerk,
        starter_pack=prepared.pack,
        msisdn=clean.msisdn,
        iccid=clean.iccid or (prepared.pack.iccid or ""),
        policy=prepared.policy,
        id_type=clean.id_type,
        id_number_encrypted=pii.encrypt(clean.id_number),
        id_number_digest=pii.digest(clean.id_number),
        id_number_masked=mask_id_number(clean.id_number),
        kk_number_encrypted=pii.encrypt(clean.kk_number),
        kk_number_digest=pii.digest(clean.kk_number),
        kk_number_masked=mask_id_number(clean.kk_number) if clean.kk_number else "",
        full_name=clean.full_name,
        birth_place=clean.birth_place,
        birth_date=clean.birth_date,
        sex=clean.sex,
        address=clean.address,
        nationality=clean.nationality,
        category=clean.category,
        company_name=clean.company_name,
        guardian_id_number_encrypted=pii.encrypt(clean.guardian_id_number),
        guardian_id_number_digest=pii.digest(clean.guardian_id_number),
        guardian_id_number_masked=(
            mask_id_number(clean.guardian_id_number) if clean.guardian_id_number else ""
        ),
        declared_purpose=clean.declared_purpose,
        statement_signed=clean.statement_signed,
        consent_at=now,
        document_checked=parse_bool(data.get("document_checked")),
        status=(
            Registration.Status.AWAITING
            if prepared.awaiting
            else Registration.Status.FLAGGED
            if clean.review_reasons
            else Registration.Status.REGISTERED
        ),
        review_reasons=clean.review_reasons,
        warnings=prepared.warnings,
        registry_checked_at=now if prepared.registry.checked else None,
        face_verdict=prepared.registry.face.verdict if prepared.registry.face else "",
        face_score=prepared.registry.face.score if prepared.registry.face else None,
        face_sha256=prepared.registry.face_sha256 if prepared.registry.face else "",
        source=source,
        registered_at=now,
        photo_status=(
            Registration.PhotoStatus.PENDING if prepared.photos else Registration.PhotoStatus.NONE
        ),
    )
    written = []
    try:
        for name, upload in prepared.photos.items():
            upload.seek(0)
            # The raw upload is kept privately only until the worker strips and scales it.
            stored = getattr(registration, name)
            stored.save("upload.jpg", upload, save=False)
            written.append((stored.storage, stored.name))
        _save_and_audit(registration, clerk=clerk, policy=prepared.policy, source=source)
    except BaseException:
        # This block rolls back: the photos it wrote must not outlive it (a face photo nobody
        # registered is personal data without a purpose). The files are written before the
        # commit so that a full disk refuses the registration rather than losing its photos.
        for storage, name in written:
            storage.delete(name)
        raise
    if prepared.photos:
        from .tasks import process_registration_photos

        enqueue(process_registration_photos, registration.pk)
    if prepared.awaiting:
        from .tasks import verify_registration

        enqueue(verify_registration, registration.pk)
    activation_schedule(registration)
    return registration


def _save_and_audit(registration: Registration, *, clerk, policy, source: str) -> None:
    """Insert ``registration`` under a fresh registration number and write its audit row."""
    now = registration.registered_at
    for _attempt in range(5):
        registration.registration_number = _new_registration_number(now)
        try:
            with transaction.atomic():
                registration.save()
            break
        except IntegrityError as exc:
            if "registration_number" not in str(exc) and "starter_pack" not in str(exc):
                raise
            if "starter_pack" in str(exc):
                raise ValidationError(
                    {"msisdn": [_("This starter pack is already registered.")]}
                ) from exc
    else:  # pragma: no cover - 32^8 numbers a day
        raise RuntimeError("could not allocate a registration number")

    audit_record(
        actor=clerk,
        action=AuditAction.REGISTRATION_CREATE,
        target=registration,
        after={
            "msisdn": registration.msisdn,
            "outlet": registration.outlet.roid,
            "id_type": registration.id_type,
            "id_number": registration.id_number_masked,
            "policy": policy.code,
            "status": registration.status,
            "source": source,
            "category": registration.category,
            "registry": (
                "awaiting"
                if registration.status == Registration.Status.AWAITING
                else "checked"
                if registration.registry_checked_at
                else "not_asked"
            ),
            "face_verdict": registration.face_verdict,
            "warnings": [w["code"] for w in registration.warnings],
        },
    )


def registration_photos_pending(*, older_than_seconds: int = 120) -> list[int]:
    """Registrations whose photos are still waiting for the worker after a grace period."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Registration.objects.filter(
            photo_status=Registration.PhotoStatus.PENDING, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )


def registration_reveal_id_number(*, user, registration: Registration) -> str:
    """The full ID number, for users holding the reveal permission; the disclosure is audited."""
    if not user.has_perm("subscribers.reveal_id_number"):
        raise PermissionError("reveal_id_number")
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditAction.REGISTRATION_REVEAL_ID_NUMBER,
            target=registration,
            after={"id_number": registration.id_number_masked},
        )
    return pii.decrypt(registration.id_number_encrypted)


PHOTO_FILE_FIELDS = ("id_photo", "id_photo_thumb", "face_photo", "face_photo_thumb")


def photo_files_orphaned_purge(
    *, grace: timedelta | None = None, days: int | None = None, now: datetime | None = None
) -> int:
    """Delete photo files no registration points at: what a web process killed between writing
    a buyer's photos and its commit leaves behind, or a photo worker killed between writing the
    cleaned copy and saving the row. Such a file is personal data without a purpose.

    Bounded by design, for a daily run over hundreds of millions of photos:
    - a file lands in the folder of the (UTC) day it is written, ``photos/YYYY/MM/DD/``; only
      today's folder and the ``days`` before (``PHOTO_ORPHAN_SWEEP_DAYS``, default 3, so a
      beat outage of two days still sees every file) are listed;
    - only files older than ``grace`` (``PHOTO_ORPHAN_GRACE_SECONDS``, one hour: longer than
      any request or photo task) are candidates, so a registration being written is never
      touched;
    - the rows that may point at a file of day D are those saved since D began: a photo field
      is only ever written together with ``updated_at`` (create, photo processing, anonymised
      to blank), so the look-up is a range of ``reg_updated_at_idx``, one query per folder and
      field, never a scan of the table.
    Returns the number deleted; one audit row records them when there are any."""
    now = now or timezone.now()
    grace = grace or timedelta(seconds=settings.PHOTO_ORPHAN_GRACE_SECONDS)
    days = settings.PHOTO_ORPHAN_SWEEP_DAYS if days is None else days
    cutoff = now - grace
    storage = Registration._meta.get_field("id_photo").storage
    deleted: list[str] = []
    for back in range(days, -1, -1):
        day = (now - timedelta(days=back)).astimezone(UTC).date()
        folder = f"photos/{day:%Y/%m/%d}"
        try:
            _dirs, files = storage.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        old = []
        for file_name in files:
            name = f"{folder}/{file_name}"
            try:
                if storage.get_modified_time(name) < cutoff:
                    old.append(name)
            except FileNotFoundError:  # deleted meanwhile (processed, purged)
                continue
        if not old:
            continue
        saved_since = Registration.objects.filter(
            updated_at__gte=datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        )
        referenced = set()
        for field_name in PHOTO_FILE_FIELDS:
            referenced.update(
                saved_since.filter(**{f"{field_name}__startswith": f"{folder}/"})
                .values_list(field_name, flat=True)
                .iterator(chunk_size=10_000)
            )
        for name in old:
            if name not in referenced:
                storage.delete(name)
                deleted.append(name)
    if deleted:
        logger.warning("deleted %s photo file(s) no registration points at", len(deleted))
        audit_record(
            actor="photo-orphan-sweep",
            action=AuditAction.REGISTRATION_PHOTO_ORPHANS_DELETED,
            target_type="subscribers.registration",
            target_id="",
            after={"count": len(deleted), "files": deleted[:100]},
        )
    return len(deleted)


def registration_photos_process(*, registration_id: int) -> str:
    """Strip metadata from, scale down and thumbnail a registration's photos. Safe to rerun:
    a registration whose photos are already processed is left alone."""
    with transaction.atomic():
        registration = Registration.objects.select_for_update().filter(pk=registration_id).first()
        if registration is None or registration.photo_status != Registration.PhotoStatus.PENDING:
            return registration.photo_status if registration else "missing"
        failed = False
        for name in ("id_photo", "face_photo"):
            stored = getattr(registration, name)
            if not stored:
                continue
            with stored.open("rb") as fh:
                raw = fh.read()
            try:
                result = photos.normalize_photo(raw)
            except photos.PhotoError:
                logger.warning(
                    "photo %s of registration %s could not be processed", name, registration_id
                )
                failed = True
                continue
            old_name = stored.name
            stored.save("photo.jpg", ContentFile(result.content), save=False)
            getattr(registration, f"{name}_thumb").save(
                "thumb.jpg", ContentFile(result.thumbnail), save=False
            )
            stored.storage.delete(old_name)
        registration.photo_status = (
            Registration.PhotoStatus.FAILED if failed else Registration.PhotoStatus.READY
        )
        if failed:
            # Damage the quick check on the request path cannot see: a person looks at it.
            registration.review_reasons = [
                *registration.review_reasons,
                {"code": "photo_unreadable", "message": "a photo could not be decoded"},
            ]
            if registration.status == Registration.Status.REGISTERED:
                registration.status = Registration.Status.FLAGGED
        registration.save(
            update_fields=[
                "id_photo",
                "id_photo_thumb",
                "face_photo",
                "face_photo_thumb",
                "photo_status",
                "review_reasons",
                "status",
                "updated_at",
            ]
        )
        audit_record(
            actor=None,
            action=AuditAction.REGISTRATION_PHOTOS_PROCESSED,
            target=registration,
            after={"photo_status": registration.photo_status},
        )
    return registration.photo_status


def registration_block(
    *, actor, msisdn: str, registration_id: int | None, reason: str, now: datetime
) -> Registration | None:
    """Block a number on the portal's side: its registration (when there is one; its row is
    locked) and every starter pack of that MSISDN, each with its audit row. For a reviewer's
    decision to call in its transaction. Returns the registration (None without one)."""
    registration = (
        Registration.objects.select_for_update().filter(pk=registration_id).first()
        if registration_id
        else None
    )
    if registration is not None and registration.status != Registration.Status.BLOCKED:
        before = registration.status
        Registration.objects.filter(pk=registration.pk).update(
            status=Registration.Status.BLOCKED, updated_at=now
        )
        audit_record(
            actor=actor,
            action=AuditAction.REGISTRATION_BLOCK,
            target=registration,
            before={"status": before},
            after={"status": "blocked", "reason": reason[:300]},
        )
    packs = StarterPack.objects.filter(msisdn=msisdn).exclude(status=StarterPack.Status.BLOCKED)
    for pack in packs:
        StarterPack.objects.filter(pk=pack.pk).update(
            status=StarterPack.Status.BLOCKED, updated_at=now
        )
        audit_record(
            actor=actor,
            action=AuditAction.STARTER_PACK_BLOCK,
            target=pack,
            before={"status": pack.status},
            after={"status": "blocked"},
        )
    return registration


# --- the population registry's late verification ------------------------------------------------


def registrations_awaiting(*, older_than_seconds: int = 60, limit: int = 1000) -> list[int]:
    """Registrations still awaiting the registry after a grace period (the sweep's work)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        # ``awaiting_registry`` (status = awaiting) is the condition of the sweep's index.
        Registration.objects.filter(awaiting_registry=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def _stored_clean(registration: Registration, *, strict: bool = True) -> CleanRegistration:
    """A registration's values as the rules know them (numbers decrypted, never shown).
    ``strict`` False: a number the NIK rules cannot read (a foreigner's document, a legacy
    record) has no NIK disagreements rather than raising."""
    nik = pii.decrypt(registration.id_number_encrypted)
    day = timezone.localdate(registration.registered_at)
    try:
        disagreements = nik_disagreements_of(nik, registration.birth_date, registration.sex, day)
    except IdRuleError:
        if strict:
            raise
        disagreements = {}
    return CleanRegistration(
        msisdn=registration.msisdn,
        iccid=registration.iccid,
        id_type=registration.id_type,
        id_number=nik,
        kk_number=pii.decrypt(registration.kk_number_encrypted),
        full_name=registration.full_name,
        birth_place=registration.birth_place,
        birth_date=registration.birth_date,
        sex=registration.sex,
        address=registration.address,
        nationality=registration.nationality,
        review_reasons=list(registration.review_reasons),
        category=registration.category,
        company_name=registration.company_name,
        guardian_id_number=pii.decrypt(registration.guardian_id_number_encrypted),
        declared_purpose=registration.declared_purpose,
        statement_signed=registration.statement_signed,
        nik_disagreements=disagreements,
    )


def registration_registry_comparison(
    *, registration: Registration
) -> registry_check.RegistryComparison | None:
    """What the population registry holds for a registration's NIK beside what was entered
    (``registry_check.compare``), for a reviewer; None when the buyer has no NIK to ask about.
    Asks the registry (outside any transaction): the caller decides who sees what of it."""
    return registry_check.compare(_stored_clean(registration, strict=False))


def _face_bytes(registration: Registration) -> bytes | None:
    stored = registration.face_photo
    if not stored:
        return None
    try:
        with stored.open("rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def registration_verify(*, registration_id: int, now: datetime | None = None) -> str:
    """Ask the registry about a registration kept awaiting verification; safe to rerun.

    The same checks as at the counter (``registry_check.check``) under the registration's own
    rule set. The registry still away: it stays awaiting (the sweep asks again). It agrees: the
    registration becomes registered (flagged when it has review reasons) — only now is its pack
    for activation. It refuses: the registration is *refused* with the reason, in Bahasa
    Indonesia, the pack stays inactive, and the hook's handlers (the compliance workflow: the
    review queue and the outlet's staff) are told. The face photo goes as every face photo
    does, ``FACE_PHOTO_MAX_HOURS`` after the registration (``face_photos_purge``). Returns the
    status."""
    now = now or timezone.now()
    registration = (
        Registration.objects.select_related("policy", "outlet").filter(pk=registration_id).first()
    )
    if registration is None:
        return "missing"
    if registration.status != Registration.Status.AWAITING:
        return registration.status
    policy = registration.policy
    clean = _stored_clean(registration)
    errors = FieldErrors()
    face_image = None
    # An imported record carries no photo: no face is verified for it.
    imported = registration.source == Registration.Source.IMPORT
    outcome = registry_check.RegistryOutcome()
    # The refusal is stored in the portal's language (Bahasa Indonesia), whoever runs this.
    with translation.override(settings.LANGUAGE_CODE):
        if not imported and registry_check.face_is_proof(policy, clean):
            face_image = _face_bytes(registration)
            if face_image is None:
                errors.add(
                    "face_photo",
                    _(
                        "The face photo was deleted before the population registry could "
                        "verify it: register the buyer again."
                    ),
                )
        if not errors:
            outcome = registry_check.check(
                clean,
                policy=policy,
                face_image=face_image,
                today=timezone.localdate(registration.registered_at),
                errors=errors,
                face_needed=not imported,
            )
            if not errors and not outcome.awaiting:
                insider_kk_from_registry(
                    clean, policy=policy, dealer_id=registration.outlet.dealer_id, outcome=outcome
                )
        if outcome.awaiting:
            return Registration.Status.AWAITING
        reason = " ".join(message for messages in errors.errors.values() for message in messages)
    with transaction.atomic():
        locked = Registration.objects.select_for_update().filter(pk=registration_id).first()
        if locked is None or locked.status != Registration.Status.AWAITING:
            return locked.status if locked else "missing"
        released = None
        if errors:
            locked.status = Registration.Status.REFUSED
            locked.refusal_reason = reason[:500]
            # A refused registration holds no number: its pack goes back to the outlet's stock,
            # so the buyer (with the data corrected) or another buyer can be registered on it.
            released = locked.starter_pack_id
            locked.starter_pack = None
            StarterPack.objects.filter(
                pk=released, status=StarterPack.Status.REGISTERED, life_ended_at__isnull=True
            ).update(status=StarterPack.Status.IN_STOCK, updated_at=now)
            # What GraPARI's review queue shows for it (the workflow's hook queues it).
            locked.review_reasons = [
                *locked.review_reasons,
                {"code": "registry_refused", "message": reason[:500]},
            ]
        else:
            locked.status = (
                Registration.Status.FLAGGED
                if clean.review_reasons
                else Registration.Status.REGISTERED
            )
            locked.review_reasons = clean.review_reasons  # those stored, and any the check added
        locked.warnings = [
            w for w in locked.warnings if w.get("code") != "awaiting_verification"
        ] + clean.warnings
        locked.registry_checked_at = now
        if outcome.face is not None:
            locked.face_verdict = outcome.face.verdict
            locked.face_score = outcome.face.score
            locked.face_sha256 = outcome.face_sha256
        locked.save(
            update_fields=[
                "status", "refusal_reason", "review_reasons", "warnings", "registry_checked_at",
                "face_verdict", "face_score", "face_sha256", "starter_pack", "updated_at",
            ]
        )  # fmt: skip
        audit_record(
            actor="population-registry",
            action=AuditAction.REGISTRATION_REGISTRY_VERIFIED
            if not errors
            else AuditAction.REGISTRATION_REGISTRY_REFUSED,
            target=locked,
            before={"status": Registration.Status.AWAITING},
            after={
                "status": locked.status,
                "fields": sorted(errors.errors),
                "face_verdict": locked.face_verdict,
                **({"pack_back_in_stock": locked.msisdn} if released else {}),
            },
        )
        if errors:
            registrations_refused(registrations=[locked], now=now)
        else:
            # Verified: only now is its pack for activation.
            activation_schedule(locked)
    return locked.status


def _face_files(registration: Registration) -> list[tuple]:
    return [
        (stored.storage, stored.name)
        for stored in (registration.face_photo, registration.face_photo_thumb)
        if stored
    ]


def _delete_files(files: list[tuple]) -> None:
    for storage, name in files:
        try:
            storage.delete(name)
        except OSError:  # the orphan sweep deletes what is left
            logger.warning("could not delete a face photo file")


def face_photos_purge(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete the face photos older than ``FACE_PHOTO_MAX_HOURS`` (docs/rules.md, "Face
    photos"), whatever the registration's own retention.

    A face is sensitive personal data (UU PDP); the registry's verdict, score and the photo's
    SHA-256 are the evidence kept for the registration's life. The photo itself serves the
    registry's verification (late, when it was down) and a look at a fresh registration, and is
    then deleted; a registration still awaiting the registry by then is refused by its late
    verification (the buyer registers again). Returns the number of registrations whose face
    photo was deleted; one audit row records them."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.FACE_PHOTO_MAX_HOURS)
    due = (
        Registration.objects.exclude(face_photo="")
        .filter(created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    purged: list[int] = []
    while True:
        ids = list(due[:batch])
        if not ids:
            break
        with transaction.atomic():
            rows = list(Registration.objects.select_for_update().filter(pk__in=ids))
            files = [f for row in rows for f in _face_files(row)]
            Registration.objects.filter(pk__in=ids).update(
                face_photo="", face_photo_thumb="", updated_at=now
            )
            transaction.on_commit(lambda files=files: _delete_files(files))
        purged.extend(ids)
    if purged:
        audit_record(
            actor="face-photo-purge",
            action=AuditAction.REGISTRATION_FACE_PHOTOS_DELETED,
            target_type="subscribers.registration",
            target_id="",
            after={"count": len(purged), "registrations": purged[:100]},
        )
    return len(purged)
