"""The holder's door: writes. docs/holders.md explains the threat model behind each rule.

- ``holder_session_start``: NIK + KK + one number → a session and a code by SMS to that number,
  *the same work whether or not the three agree* (the same queries, the same queued task; the
  SMS is simply not sent) and the same answer.
- ``holder_session_verify``: the 6-digit code (10 minutes, 5 tries) → a bearer token (15 min).
- ``holder_face_start``: no number of one's own on the NIK → the face, verified by the
  population registry, opens the same door.
- ``holder_dispute_open``: "not mine" → the number's user told at once by SMS, blocked after
  the notice window unless they answer (``holder_dispute_answer``); a review item of kind
  ``holder_dispute`` for GraPARI and a clarification request to the registering outlet.
- ``holder_disputes_block_due`` (periodic), ``holder_dispute_reverse`` (GraPARI, on evidence).
- ``holder_keep_numbers``: where the rule set lets the holder choose, the numbers over the cap
  they do not keep are flagged for deactivation, the operator told.
- ``statement_issue`` / ``statement_matches``: the PDF statement and its public check.
- ``holder_records_purge``: sessions, codes, delivered SMS past their retention.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.models import Clarification, NumberBlock, ReviewItem
from compliance.workflow.clarifications import clarification_open_for_registration
from compliance.workflow.number_blocks import number_block
from compliance.workflow.support import review_target
from core import pii
from core.audit import AuditAction, audit_bulk, audit_event, audit_record
from core.locks import hold_keys
from core.masking import mask_id_number, mask_msisdn
from core.operator import get_adapter
from core.queue import enqueue, send
from core.registry import RegistryUnavailable, get_registry, registry_timeout
from core.roles import may_decide
from identity.idrules import IdRuleError, normalize_msisdn
from identity.messages import photo_message
from identity.photos import PhotoError
from outlets.models import StarterPack
from subscribers.models import Registration
from subscribers.services import registration_block

from . import hashing
from .models import (
    HolderDispute,
    HolderKeepChoice,
    HolderSession,
    HolderStatement,
    OperatorNotice,
    SmsMessage,
    StoredSms,
)
from .selectors import current_registrations, holder_cap, holder_numbers, number_ref
from .sms import sms_queue

logger = logging.getLogger(__name__)
HOLDER_ACTOR = "holder"
SYSTEM_ACTOR = "holders"
NOTE_MAX = 1000
CODE_PURPOSE, TOKEN_PURPOSE, ANSWER_PURPOSE = "code", "token", "answer"


class HolderThrottled(Exception):
    """Too many attempts for this NIK, number or client address: try again later."""

    def __init__(self, retry_after: int):
        super().__init__("throttled")
        self.retry_after = retry_after


class HolderSessionEnded(HolderThrottled):
    """Too many typed numbers that could not be reported (per session, or per NIK over the
    throttle window): the session has ended; the holder starts again, which is throttled."""

    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.message = _(
            "Too many numbers that could not be reported: this session has ended. Start again, "
            "and choose the number from the list of your numbers."
        )


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def code_ttl() -> timedelta:
    return timedelta(seconds=_setting("HOLDER_CODE_TTL_SECONDS", 600))


def session_ttl() -> timedelta:
    return timedelta(seconds=_setting("HOLDER_SESSION_TTL_SECONDS", 900))


def max_code_attempts() -> int:
    return _setting("HOLDER_CODE_MAX_ATTEMPTS", 5)


def notice_window() -> timedelta:
    return timedelta(hours=_setting("HOLDER_DISPUTE_NOTICE_HOURS", 24))


def disputes_per_session() -> int:
    return _setting("HOLDER_DISPUTES_PER_SESSION", 3)


def misses_per_session() -> int:
    return _setting("HOLDER_DISPUTE_MISSES_PER_SESSION", 3)


def misses_per_nik() -> int:
    return _setting("HOLDER_DISPUTE_MISSES_PER_NIK", 5)


# --- input ----------------------------------------------------------------------------------------


def _sixteen(value, field: str, errors: dict, message: str) -> str:
    digits = "".join(ch for ch in str(value or "") if not ch.isspace() and ch not in ".-")
    if len(digits) != 16 or not digits.isascii() or not digits.isdigit():
        errors[field] = [message]
        return ""
    return digits


def _clean_identity(id_number, kk_number, errors: dict, *, kk: bool = True) -> tuple[str, str]:
    nik = _sixteen(
        id_number, "id_number", errors, _("Enter the 16-digit NIK printed on your e-KTP.")
    )
    family = (
        _sixteen(
            kk_number, "kk_number", errors, _("Enter the 16-digit number of your family card (KK).")
        )
        if kk
        else ""
    )
    return nik, family


def _clean_msisdn(value, errors: dict, field: str = "msisdn") -> str:
    try:
        return normalize_msisdn(str(value or ""))
    except IdRuleError:
        errors[field] = [_("Enter an Indonesian mobile number, for example 0812 3456 789.")]
        return ""


# --- throttles ------------------------------------------------------------------------------------


# Each limit's count and the session row it lets in are one step: the count is taken under a
# lock on each key it counts (NIK, number, client address), inside the transaction that inserts
# the row, so attempts sent at the same moment are counted one after the other. PostgreSQL: a
# transaction-level advisory lock per key, taken in one order (no deadlock between two attempts
# sharing two keys). SQLite writes one transaction at a time: a write first makes this
# transaction the writer before it counts.
_WRITE_FIRST = 'UPDATE "holders_holdersession" SET "attempts" = "attempts" WHERE 1 = 0'


def _hold_keys(*keys: str) -> None:
    """Serialise the callers sharing any of ``keys`` until the current transaction ends
    (``core.locks``; on SQLite a write first makes this transaction the writer)."""
    if not hold_keys(*(f"holder:{key}" for key in keys)):
        with connection.cursor() as cursor:
            cursor.execute(_WRITE_FIRST)


def _throttle_keys(*, nik_digest: str, msisdn_digest: str, client: str) -> list[str]:
    keys = [f"nik:{nik_digest}", f"client:{client}"]
    if msisdn_digest:
        keys.append(f"number:{msisdn_digest}")
    return keys


def _throttle_wait(*, nik_digest: str, msisdn_digest: str, client: str, now: datetime) -> int:
    """Per NIK, per number, per client address, over ``HOLDER_THROTTLE_WINDOW_SECONDS``: one
    query, the same for every caller. The seconds to wait (the refusal audited), 0 when the
    attempt may go on."""
    window = _setting("HOLDER_THROTTLE_WINDOW_SECONDS", 3600)
    since = now - timedelta(seconds=window)
    counts = HolderSession.objects.filter(created_at__gte=since).aggregate(
        nik=Count("pk", filter=Q(nik_digest=nik_digest)),
        number=Count("pk", filter=Q(msisdn_digest=msisdn_digest) & ~Q(msisdn_digest="")),
        client=Count("pk", filter=Q(client_digest=client)),
    )
    if (
        counts["nik"] >= _setting("HOLDER_MAX_PER_NIK", 5)
        or counts["number"] >= _setting("HOLDER_MAX_PER_NUMBER", 5)
        or counts["client"] >= _setting("HOLDER_MAX_PER_CLIENT", 20)
    ):
        audit_record(
            actor=HOLDER_ACTOR,
            action=AuditAction.HOLDER_THROTTLED,
            target_type="holders.holdersession",
            after={"nik_digest": nik_digest[:12], "client_digest": client[:12]},
        )
        return window
    return 0


def _throttle(*, nik_digest: str, msisdn_digest: str, client: str, now: datetime) -> None:
    """The early look, without a lock: a flood over the limits is refused before the population
    registry is asked. It decides nothing: ``_throttled_under_lock`` does, as the row is
    written."""
    wait = _throttle_wait(
        nik_digest=nik_digest, msisdn_digest=msisdn_digest, client=client, now=now
    )
    if wait:
        raise HolderThrottled(retry_after=wait)


def _throttled_under_lock(
    *, nik_digest: str, msisdn_digest: str, client: str, now: datetime
) -> int:
    """Inside the transaction that inserts the session: the keys held, then counted."""
    _hold_keys(*_throttle_keys(nik_digest=nik_digest, msisdn_digest=msisdn_digest, client=client))
    return _throttle_wait(
        nik_digest=nik_digest, msisdn_digest=msisdn_digest, client=client, now=now
    )


# --- sessions -------------------------------------------------------------------------------------


def _registry_kk_digest(nik: str) -> str | None:
    try:
        person = get_registry().lookup([nik], timeout=registry_timeout()).get(nik)
    except RegistryUnavailable:
        return None
    return person.kk_digest if person is not None else None


def code_sms_text(code: str) -> str:
    minutes = int(code_ttl().total_seconds() // 60)
    return (
        f"Satu Pintu: kode Anda {code} (berlaku {minutes} menit). Jangan berikan kode ini "
        f"kepada siapa pun. / Your code {code} (valid {minutes} min). Never share it."
    )


def holder_session_start(
    *, id_number, kk_number, msisdn, client_ip: str, now: datetime | None = None
) -> HolderSession:
    """Open a session: a code goes by SMS to ``msisdn`` when it is a current number on the NIK
    and the KK is the NIK's family card; otherwise the same rows are written, the same task
    queued, and nothing is sent. Malformed input is a 400 (``ValidationError``); too many
    attempts ``HolderThrottled`` (429)."""
    now = now or timezone.now()
    errors: dict = {}
    nik, kk = _clean_identity(id_number, kk_number, errors)
    number = _clean_msisdn(msisdn, errors)
    if errors:
        raise ValidationError(errors)
    nik_digest, kk_digest = pii.digest(nik), pii.digest(kk)
    number_digest = pii.digest(number)
    client = hashing.client_digest(client_ip)
    _throttle(nik_digest=nik_digest, msisdn_digest=number_digest, client=client, now=now)
    registry_kk = _registry_kk_digest(nik)
    with transaction.atomic():
        wait = _throttled_under_lock(
            nik_digest=nik_digest, msisdn_digest=number_digest, client=client, now=now
        )
        if not wait:
            session = _session_write(
                nik=nik,
                kk_digest=kk_digest,
                number=number,
                number_digest=number_digest,
                client=client,
                registry_kk=registry_kk,
                now=now,
            )
    if wait:
        raise HolderThrottled(retry_after=wait)
    return session


def _session_write(
    *, nik: str, kk_digest: str, number: str, number_digest: str, client: str, registry_kk, now
) -> HolderSession:
    """The session row, its code SMS (sent only when the three facts agree) and the audit row:
    inside the caller's transaction, once the throttles let the attempt in."""
    nik_digest = pii.digest(nik)
    on_nik = (
        current_registrations(nik_digest)
        .filter(msisdn=number)
        .exclude(status=Registration.Status.BLOCKED)
        .values_list("kk_number_digest", flat=True)
        .first()
    )
    matched = on_nik is not None and kk_digest in {registry_kk, on_nik}
    code = hashing.new_code()
    session = HolderSession(
        method=HolderSession.Method.SMS,
        nik_digest=nik_digest,
        nik_masked=mask_id_number(nik),
        msisdn=number,
        msisdn_digest=number_digest,
        client_digest=client,
        matched=matched,
        code_expires_at=now + code_ttl(),
        created_at=now,
    )
    session.code_hash = hashing.secret_hash(CODE_PURPOSE, f"{session.pk}:{code}")
    session.save(force_insert=True)
    sms_queue(to=number, body=code_sms_text(code), deliver=matched, now=now)
    audit_record(
        actor=HOLDER_ACTOR,
        action=AuditAction.HOLDER_SESSION_START,
        target=session,
        after={"nik": session.nik_masked, "msisdn": mask_msisdn(number)},
    )
    return session


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _code_error(message: str) -> ValidationError:
    return ValidationError({"code": [message]})


def holder_session_verify(*, session_id, code, now: datetime | None = None) -> str:
    """Check the code; the bearer token (valid ``HOLDER_SESSION_TTL_SECONDS``) when it is right.
    Each wrong try counts (5 at most), a code expires after 10 minutes; every try is audited."""
    now = now or timezone.now()
    code = str(code or "").strip()
    failure = None
    with transaction.atomic():
        session = (
            HolderSession.objects.select_for_update().filter(pk=_uuid(session_id)).first()
            if _uuid(session_id)
            else None
        )
        if session is None or session.method != HolderSession.Method.SMS:
            raise _code_error(_("This code is not valid. Start again to get a new code."))
        if session.verified_at is not None:
            failure = _("This code was already used. Start again to get a new code.")
        elif session.attempts >= max_code_attempts():
            failure = _("Too many wrong tries. Start again to get a new code.")
        elif now >= session.code_expires_at:
            failure = _("This code has expired. Start again to get a new code.")
        if failure is None:
            session.attempts += 1
            right = hashing.same_secret(CODE_PURPOSE, f"{session.pk}:{code}", session.code_hash)
            if right and session.matched:
                token = hashing.new_token()
                HolderSession.objects.filter(pk=session.pk).update(
                    attempts=session.attempts,
                    verified_at=now,
                    token_hash=hashing.secret_hash(TOKEN_PURPOSE, token),
                    token_expires_at=now + session_ttl(),
                )
                audit_record(
                    actor=HOLDER_ACTOR,
                    action=AuditAction.HOLDER_SESSION_VERIFY,
                    target=session,
                    after={"attempts": session.attempts},
                )
                return token
            HolderSession.objects.filter(pk=session.pk).update(attempts=session.attempts)
            left = max_code_attempts() - session.attempts
            failure = (
                _("The code is wrong. %(left)d tries left.") % {"left": left}
                if left > 0
                else _("Too many wrong tries. Start again to get a new code.")
            )
        audit_record(
            actor=HOLDER_ACTOR,
            action=AuditAction.HOLDER_CODE_REFUSED,
            target=session,
            after={"attempts": session.attempts},
        )
    raise _code_error(failure)


def holder_face_start(
    *, id_number, image: bytes, client_ip: str, now: datetime | None = None
) -> tuple[HolderSession, str]:
    """The door for a holder with no number of their own on the NIK: their face, verified by
    the population registry against the NIK's reference photo, opens a verified session at
    once. Any failure gives the same answer (go to a GraPARI with the e-KTP)."""
    now = now or timezone.now()
    errors: dict = {}
    nik, _kk = _clean_identity(id_number, "", errors, kk=False)
    if not image:
        errors["face_photo"] = [_("Take a photo of your face.")]
    elif len(image) > settings.PHOTO_MAX_BYTES:  # the registration's own photo limit
        too_large = PhotoError("photo_too_large", "too large")
        errors["face_photo"] = [photo_message(too_large, max_bytes=settings.PHOTO_MAX_BYTES)]
    if errors:
        raise ValidationError(errors)
    nik_digest = pii.digest(nik)
    client = hashing.client_digest(client_ip)
    _throttle(nik_digest=nik_digest, msisdn_digest="", client=client, now=now)
    try:
        result = get_registry().verify_face(nik, image, timeout=registry_timeout())
        matched = result.matched
    except RegistryUnavailable:
        matched = False
    with transaction.atomic():
        wait = _throttled_under_lock(
            nik_digest=nik_digest, msisdn_digest="", client=client, now=now
        )
        if not wait:
            session, token = _face_session_write(
                nik=nik, nik_digest=nik_digest, client=client, matched=matched, now=now
            )
    if wait:
        raise HolderThrottled(retry_after=wait)
    if not matched:
        raise ValidationError(
            {
                "face_photo": [
                    _(
                        "The population registry could not confirm your face. Go to a GraPARI "
                        "with your e-KTP: the staff will check your numbers with you."
                    )
                ]
            }
        )
    return session, token


def _face_session_write(
    *, nik: str, nik_digest: str, client: str, matched: bool, now: datetime
) -> tuple[HolderSession, str]:
    token = hashing.new_token()
    session = HolderSession.objects.create(
        method=HolderSession.Method.FACE,
        nik_digest=nik_digest,
        nik_masked=mask_id_number(nik),
        client_digest=client,
        matched=matched,
        code_hash="",
        code_expires_at=now,
        verified_at=now if matched else None,
        token_hash=hashing.secret_hash(TOKEN_PURPOSE, token) if matched else "",
        token_expires_at=now + session_ttl() if matched else None,
        created_at=now,
    )
    audit_record(
        actor=HOLDER_ACTOR,
        action=AuditAction.HOLDER_FACE_CHECK,
        target=session,
        after={"nik": session.nik_masked, "matched": matched},
    )
    return session, token


def holder_session_for_token(token: str, *, now: datetime | None = None) -> HolderSession | None:
    """The verified session of a bearer token still valid, or None."""
    if not token or len(token) > 200:
        return None
    now = now or timezone.now()
    return HolderSession.objects.filter(
        token_hash=hashing.secret_hash(TOKEN_PURPOSE, token),
        verified_at__isnull=False,
        token_expires_at__gt=now,
    ).first()


def holder_session_end(*, session: HolderSession, now: datetime | None = None) -> None:
    HolderSession.objects.filter(pk=session.pk).update(token_expires_at=now or timezone.now())


def holder_numbers_view(*, session: HolderSession) -> list:
    """The session's numbers (``selectors.holder_numbers``), the look audited."""
    numbers = holder_numbers(session)
    audit_record(
        actor=HOLDER_ACTOR,
        action=AuditAction.HOLDER_NUMBERS_VIEW,
        target=session,
        after={"nik": session.nik_masked, "numbers": len(numbers)},
    )
    return numbers


# --- disputes -------------------------------------------------------------------------------------


def dispute_sms_text(*, link: str, until: datetime) -> str:
    when = timezone.localtime(until).strftime("%d-%m-%Y %H:%M")
    return (
        "Satu Pintu: nomor ini dilaporkan BUKAN milik pemilik NIK tempat nomor ini terdaftar. "
        f"Jika nomor ini milik Anda, buka {link} sebelum {when}; jika tidak, nomor ini akan "
        "diblokir. / This number was reported as not belonging to the holder of the NIK it is "
        f"registered on. If it is yours, open {link} before {when}, or it will be blocked."
    )


def _review_item_for(registration: Registration, *, now: datetime) -> ReviewItem:
    outlet = registration.outlet
    item = ReviewItem.objects.create(
        kind=ReviewItem.Kind.HOLDER_DISPUTE,
        msisdn=registration.msisdn,
        registration=registration,
        outlet=outlet,
        dealer_id=outlet.dealer_id,
        province=outlet.province,
        region=outlet.region,
        discrepancy_kinds=",holder_dispute,",
        queued_at=now,
        due_at=now + review_target(),
    )
    audit_record(
        actor=SYSTEM_ACTOR,
        action=AuditAction.REVIEW_ITEM_QUEUE,
        target=item,
        after={"kind": item.kind},
    )
    return item


def _clarification_for(registration: Registration, *, now: datetime) -> Clarification:
    question = _(
        "The holder of the NIK this number is registered on says it is not their number. "
        "Explain who bought it and how the buyer's identity was checked."
    )
    active = Clarification.objects.filter(
        msisdn=registration.msisdn, status__in=Clarification.ACTIVE
    ).first()
    if active is not None:
        return active
    return clarification_open_for_registration(
        actor=SYSTEM_ACTOR, registration=registration, question=question, now=now
    )


def holder_dispute_open(
    *, session: HolderSession, msisdn, note: str = "", answer_url, now: datetime | None = None
) -> HolderDispute:
    """ "This number is not mine". ``answer_url(token)`` builds the link the number's user
    answers with (sent by SMS at once). Rules: a current number on the session's NIK, not the
    number the session logged in with, not blocked, not already disputed; at most
    ``HOLDER_DISPUTES_PER_SESSION`` per session; the note at most 1000 characters.

    The number is picked from the holder's list by its ``ref``. A number typed in full (the
    API's ``msisdn`` still takes one) must not tell a guesser which numbers are on the NIK: any
    typed number that cannot be reported gets one answer, whatever the reason, and counts as a
    miss; ``HOLDER_DISPUTE_MISSES_PER_SESSION`` misses in a session, or
    ``HOLDER_DISPUTE_MISSES_PER_NIK`` across the NIK's sessions over the throttle window, end
    the session (``HolderSessionEnded``, 429) — a typed number is then refused unchecked, the
    right one too."""
    now = now or timezone.now()
    errors: dict = {}
    value = str(msisdn or "").strip()
    number = {number_ref(session, m): m for m in _session_msisdns(session)}.get(value)
    typed = number is None
    if typed:
        number = _clean_msisdn(value, errors)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = [_("At most %(limit)d characters.") % {"limit": NOTE_MAX}]
    if errors:
        raise ValidationError(errors)
    refused: Exception | None = None
    with transaction.atomic():
        locked = HolderSession.objects.select_for_update().get(pk=session.pk)
        if locked.disputes.count() >= disputes_per_session():
            raise ValidationError(
                {
                    "non_field_errors": [
                        _(
                            "You have reported %(limit)d numbers in this visit, the most at once. "
                            "Come back later or go to a GraPARI."
                        )
                        % {"limit": disputes_per_session()}
                    ]
                }
            )
        if session.method == HolderSession.Method.SMS and number == session.msisdn:
            raise ValidationError(
                {"msisdn": [_("You logged in with this number: you cannot report it here.")]}
            )
        if typed:
            refused = _typed_number_spent(locked, now=now)
        if refused is None:
            registration, reason = _disputable(session.nik_digest, number)
            if reason and typed:
                refused = _typed_number_missed(locked, number, now=now)
            elif reason:
                raise ValidationError({"msisdn": [_REASONS[reason]()]})
        if refused is None:
            return _dispute_write(
                session=locked, registration=registration, note=note, answer_url=answer_url, now=now
            )
    raise refused


_REASONS = {
    "absent": lambda: _("This number is not among the numbers registered on your NIK."),
    "blocked": lambda: _("This number is already blocked."),
    "reported": lambda: _("This number has already been reported."),
}


def _disputable(nik_digest: str, number: str) -> tuple[Registration | None, str]:
    """The registration to dispute (locked), or why there is none: ``absent`` (not a current
    number on the NIK), ``blocked``, ``reported`` (a dispute in progress)."""
    registration = (
        current_registrations(nik_digest)
        .select_for_update(of=("self",))
        .select_related("outlet")
        .filter(msisdn=number)
        .first()
    )
    if registration is None:
        return None, "absent"
    if registration.status == Registration.Status.BLOCKED:
        return registration, "blocked"
    if HolderDispute.objects.filter(
        msisdn=number,
        status__in=[HolderDispute.Status.NOTICE, HolderDispute.Status.ANSWERED],
    ).exists():
        return registration, "reported"
    return registration, ""


def _nik_misses(session: HolderSession, *, now: datetime) -> int:
    """The typed numbers refused across the NIK's sessions over the throttle window, counted
    under a lock on the NIK (two sessions of one NIK guessing at once are counted in turn)."""
    _hold_keys(f"misses:{session.nik_digest}")
    since = now - timedelta(seconds=_setting("HOLDER_THROTTLE_WINDOW_SECONDS", 3600))
    total = HolderSession.objects.filter(
        nik_digest=session.nik_digest, created_at__gte=since
    ).aggregate(misses=Sum("dispute_misses"))["misses"]
    return total or 0


def _session_ended(session: HolderSession, *, now: datetime, misses: int) -> HolderSessionEnded:
    HolderSession.objects.filter(pk=session.pk).update(token_expires_at=now)
    audit_record(
        actor=HOLDER_ACTOR,
        action=AuditAction.HOLDER_SESSION_ENDED,
        target=session,
        after={"nik": session.nik_masked, "dispute_misses": misses},
    )
    return HolderSessionEnded(retry_after=_setting("HOLDER_THROTTLE_WINDOW_SECONDS", 3600))


def _typed_number_spent(session: HolderSession, *, now: datetime) -> HolderSessionEnded | None:
    """Before a typed number is looked at: the session ended (a request sent with the one that
    ended it), or the session's or the NIK's misses used up — then it is not looked at at all."""
    ended = session.token_expires_at is None or session.token_expires_at <= now
    if (
        ended
        or session.dispute_misses >= misses_per_session()
        or _nik_misses(session, now=now) >= misses_per_nik()
    ):
        if ended:
            return HolderSessionEnded(retry_after=_setting("HOLDER_THROTTLE_WINDOW_SECONDS", 3600))
        return _session_ended(session, now=now, misses=session.dispute_misses)
    return None


def _typed_number_missed(
    session: HolderSession, number: str, *, now: datetime
) -> HolderSessionEnded | ValidationError:
    """A typed number that cannot be reported, whatever the reason (not on the NIK, blocked,
    already reported): one answer, counted; the miss that reaches a limit ends the session."""
    misses = session.dispute_misses + 1
    HolderSession.objects.filter(pk=session.pk).update(dispute_misses=misses)
    audit_record(
        actor=HOLDER_ACTOR,
        action=AuditAction.HOLDER_DISPUTE_REFUSED,
        target=session,
        after={"nik": session.nik_masked, "msisdn": mask_msisdn(number), "misses": misses},
    )
    left = min(misses_per_session() - misses, misses_per_nik() - _nik_misses(session, now=now))
    if left <= 0:
        return _session_ended(session, now=now, misses=misses)
    return ValidationError(
        {
            "msisdn": [
                _(
                    "This number cannot be reported here: choose it from the list of your "
                    "numbers. %(left)d more such tries end this session."
                )
                % {"left": left}
            ]
        }
    )


def _dispute_write(
    *, session: HolderSession, registration: Registration, note: str, answer_url, now: datetime
) -> HolderDispute:
    """The dispute, the SMS to the number, the review item, the clarification request and the
    audit row: inside the caller's transaction."""
    number = registration.msisdn
    token = hashing.new_token()
    dispute = HolderDispute.objects.create(
        session=session,
        nik_digest=session.nik_digest,
        registration=registration,
        msisdn=number,
        note=note,
        notice_until=now + notice_window(),
        answer_token_hash=hashing.secret_hash(ANSWER_PURPOSE, token),
        review_item=_review_item_for(registration, now=now),
        clarification=_clarification_for(registration, now=now),
        created_at=now,
    )
    sms_queue(to=number, body=dispute_sms_text(link=answer_url(token), until=dispute.notice_until))
    audit_record(
        actor=HOLDER_ACTOR,
        action=AuditAction.HOLDER_DISPUTE_OPEN,
        target=dispute,
        after={
            "msisdn": number,
            "nik": session.nik_masked,
            "notice_until": dispute.notice_until.isoformat(),
            "review_item": dispute.review_item_id,
            "clarification": dispute.clarification_id,
        },
    )
    return dispute


def _session_msisdns(session: HolderSession) -> list[str]:
    return list(current_registrations(session.nik_digest).values_list("msisdn", flat=True))


def dispute_for_answer_token(token: str) -> HolderDispute | None:
    if not token or len(token) > 200:
        return None
    return HolderDispute.objects.filter(
        answer_token_hash=hashing.secret_hash(ANSWER_PURPOSE, token)
    ).first()


def holder_dispute_answer(*, token: str, now: datetime | None = None) -> HolderDispute:
    """The disputed number's user says "this number is mine" through the link sent to it: the
    number is not blocked at the end of the window; GraPARI decides (the review item stays)."""
    now = now or timezone.now()
    dispute = dispute_for_answer_token(token)
    if dispute is None:
        raise ValidationError({"non_field_errors": [_("This link is not valid.")]})
    with transaction.atomic():
        changed = HolderDispute.objects.filter(
            pk=dispute.pk, status=HolderDispute.Status.NOTICE
        ).update(status=HolderDispute.Status.ANSWERED, answered_at=now)
        if not changed:
            dispute.refresh_from_db()
            if dispute.status == HolderDispute.Status.ANSWERED:
                return dispute
            raise ValidationError(
                {
                    "non_field_errors": [
                        _(
                            "The notice window has closed and the number is blocked. Go to a "
                            "GraPARI with your e-KTP to have it reviewed."
                        )
                    ]
                }
            )
        dispute.refresh_from_db()
        audit_record(
            actor=f"user of {mask_msisdn(dispute.msisdn)}",
            action=AuditAction.HOLDER_DISPUTE_ANSWER,
            target=dispute,
            after={"msisdn": dispute.msisdn, "status": "answered"},
        )
    return dispute


def _number_blocked(dispute: HolderDispute) -> bool:
    """Whether the disputed number is blocked already (GraPARI's decision)."""
    return (
        NumberBlock.objects.filter(msisdn=dispute.msisdn).exists()
        or Registration.objects.filter(
            pk=dispute.registration_id, status=Registration.Status.BLOCKED
        ).exists()
    )


def holder_disputes_block_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Block the numbers whose notice window passed without their user answering: the
    registration and pack blocked here, the operator told (``number_block``), audited.

    Only disputes still in their notice window: one GraPARI has settled (dismissed, or the
    number blocked by its decision) or whose user answered is left. A number another decision
    has blocked meanwhile keeps that block: the dispute is marked blocked, without a block of
    its own for a reversal to undo."""
    now = now or timezone.now()
    done = 0
    with transaction.atomic():
        due = list(
            HolderDispute.objects.select_for_update(skip_locked=True)
            .filter(status=HolderDispute.Status.NOTICE, notice_until__lte=now)
            .order_by("notice_until", "pk")[:limit]
        )
        for dispute in due:
            reason = _(
                "The holder of the NIK reported the number as not theirs; its user did not "
                "answer within the notice window."
            )
            before = (
                Registration.objects.filter(pk=dispute.registration_id)
                .values_list("status", flat=True)
                .first()
                or ""
            )
            own = not _number_blocked(dispute)
            if own:
                registration = registration_block(
                    actor=SYSTEM_ACTOR,
                    msisdn=dispute.msisdn,
                    registration_id=dispute.registration_id,
                    reason=reason,
                    now=now,
                )
                number_block(
                    actor=SYSTEM_ACTOR,
                    msisdn=dispute.msisdn,
                    registration=registration,
                    review_item=dispute.review_item,
                    reason=reason,
                )
            HolderDispute.objects.filter(pk=dispute.pk).update(
                status=HolderDispute.Status.BLOCKED,
                blocked_at=now,
                status_before_block=before,
                own_block=own,
            )
            audit_record(
                actor=SYSTEM_ACTOR,
                action=AuditAction.HOLDER_DISPUTE_BLOCK,
                target=dispute,
                after={"msisdn": dispute.msisdn, "status": "blocked", "own_block": own},
            )
            done += 1
    return done


def _undo_own_block(dispute: HolderDispute, *, reason: str, now: datetime) -> bool:
    """Undo the block the dispute made itself — the registration and pack as they were, its
    block record removed, the operator told — unless another block stands. Call with the
    dispute's row locked. Returns whether the number was unblocked."""
    if not dispute.own_block or dispute.status != HolderDispute.Status.BLOCKED:
        return False
    # Only the sweep's record (no reviewer behind it): a reviewer's block is never removed here.
    NumberBlock.objects.filter(msisdn=dispute.msisdn, blocked_by__isnull=True).delete()
    if NumberBlock.objects.filter(msisdn=dispute.msisdn).exists():
        return False
    if dispute.registration_id:
        restored = dispute.status_before_block or Registration.Status.REGISTERED
        Registration.objects.filter(
            pk=dispute.registration_id, status=Registration.Status.BLOCKED
        ).update(status=restored, updated_at=now)
    StarterPack.objects.filter(msisdn=dispute.msisdn, status=StarterPack.Status.BLOCKED).update(
        status=StarterPack.Status.REGISTERED, updated_at=now
    )
    _operator_notice(OperatorNotice.Action.UNBLOCK, dispute.msisdn, reason)
    return True


def holder_dispute_reverse(
    *, actor, dispute: HolderDispute, reason: str, now: datetime | None = None
) -> HolderDispute:
    """GraPARI reverses a dispute's block on evidence (the number's user came with their
    e-KTP): the block the dispute made — the registration and pack back as they were, its block
    record removed, the operator told. A block GraPARI decided stands: the number stays
    blocked and the operator is told nothing."""
    if not may_decide(actor):
        raise PermissionDenied(_("Only GraPARI reviewers and the operator reverse a block."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say what evidence you saw: it is recorded.")]})
    if len(reason) > 2000:
        raise ValidationError({"reason": [_("At most %(limit)d characters.") % {"limit": 2000}]})
    now = now or timezone.now()
    with transaction.atomic():
        locked = HolderDispute.objects.select_for_update().get(pk=dispute.pk)
        if locked.status != HolderDispute.Status.BLOCKED:
            raise ValidationError(
                {"non_field_errors": [_("Only a number blocked by a dispute can be reversed.")]}
            )
        unblocked = _undo_own_block(locked, reason=reason, now=now)
        HolderDispute.objects.filter(pk=locked.pk).update(
            status=HolderDispute.Status.REVERSED,
            own_block=False,
            reversed_at=now,
            reversed_by=actor,
            reverse_reason=reason,
        )
        audit_record(
            actor=actor,
            action=AuditAction.HOLDER_DISPUTE_REVERSE,
            target=locked,
            before={"status": "blocked"},
            after={
                "status": "reversed",
                "msisdn": locked.msisdn,
                "reason": reason[:300],
                "unblocked": unblocked,
            },
        )
    locked.refresh_from_db()
    locked.unblocked = unblocked
    return locked


def holder_dispute_review_decided(
    *, actor, item, decision: str, blocked: bool, reason: str, now: datetime
) -> None:
    """GraPARI's decision settles the disputes about the number (``compliance.workflow.hooks``,
    in the decision's transaction; docs/holders.md):

    - **dismiss** on the dispute's own item: the registration is in order — the dispute is
      dismissed and the number is not blocked (a block the dispute already made is undone);
    - a decision that **blocked** the number (``block``, or a confirmed violation with the
      number blocked), on any item about it: disputes still open are settled as blocked by
      GraPARI's decision, and a block a dispute made becomes GraPARI's, which a reversal of
      the dispute leaves in place;
    - **confirm a violation** without a block: the outlet is held to account; the dispute
      runs its course (blocked after the notice window unless the number's user answers).
    """
    if blocked:
        disputes = HolderDispute.objects.select_for_update().filter(
            msisdn=item.msisdn,
            status__in=[
                HolderDispute.Status.NOTICE,
                HolderDispute.Status.ANSWERED,
                HolderDispute.Status.BLOCKED,
            ],
        )
        for dispute in disputes:
            HolderDispute.objects.filter(pk=dispute.pk).update(
                status=HolderDispute.Status.BLOCKED,
                blocked_at=dispute.blocked_at or now,
                own_block=False,
            )
            if dispute.status != HolderDispute.Status.BLOCKED:
                audit_record(
                    actor=actor,
                    action=AuditAction.HOLDER_DISPUTE_BLOCK,
                    target=dispute,
                    before={"status": dispute.status},
                    after={"msisdn": dispute.msisdn, "status": "blocked", "review_item": item.pk},
                )
        # The record a dispute's sweep wrote is now GraPARI's decision.
        NumberBlock.objects.filter(msisdn=item.msisdn, blocked_by__isnull=True).update(
            blocked_by=actor, review_item=item, reason=reason
        )
        return
    if decision != ReviewItem.Decision.DISMISS:
        return
    dispute = HolderDispute.objects.select_for_update().filter(review_item_id=item.pk).first()
    if dispute is None or dispute.status not in (
        HolderDispute.Status.NOTICE,
        HolderDispute.Status.ANSWERED,
        HolderDispute.Status.BLOCKED,
    ):
        return
    unblocked = _undo_own_block(dispute, reason=reason, now=now)
    HolderDispute.objects.filter(pk=dispute.pk).update(
        status=HolderDispute.Status.DISMISSED, own_block=False
    )
    audit_record(
        actor=actor,
        action=AuditAction.HOLDER_DISPUTE_DISMISS,
        target=dispute,
        before={"status": dispute.status},
        after={
            "msisdn": dispute.msisdn,
            "status": "dismissed",
            "review_item": item.pk,
            "unblocked": unblocked,
        },
    )


# --- choosing the numbers to keep over the cap -------------------------------------------------


def holder_keep_numbers(*, session: HolderSession, keep, now: datetime | None = None) -> list[str]:
    """Where the rule set in force says the holder chooses (``holder_chooses_over_cap``) and
    the NIK holds more personal numbers than the cap: keep these (at most the cap), flag the
    others for deactivation and tell the operator. Returns the numbers flagged."""
    now = now or timezone.now()
    cap, chooses = holder_cap()
    if not chooses or cap is None:
        raise ValidationError(
            {"keep": [_("Under the rules in force the operator, not the holder, decides this.")]}
        )
    numbers = [n for n in holder_numbers(session) if n.counts_against_cap]
    if len(numbers) <= cap:
        raise ValidationError({"keep": [_("Your NIK holds no more numbers than allowed.")]})
    # Picked from the list by their refs only: a number typed in full would tell a guesser
    # whether it is on the NIK.
    by_ref = {n.ref: n.msisdn for n in numbers}
    picked = [str(value).strip() for value in keep or []]
    wanted = {by_ref[ref] for ref in picked if ref in by_ref}
    if not wanted or len(wanted) != len(set(picked)):
        raise ValidationError({"keep": [_("Choose among the numbers shown.")]})
    if len(wanted) > cap:
        raise ValidationError({"keep": [_("Keep at most %(cap)d numbers.") % {"cap": cap}]})
    flagged = [n.msisdn for n in numbers if n.msisdn not in wanted]
    with transaction.atomic():
        registrations = dict(
            current_registrations(session.nik_digest)
            .filter(msisdn__in=flagged)
            .values_list("msisdn", "pk")
        )
        choices = [
            HolderKeepChoice(
                nik_digest=session.nik_digest,
                registration_id=registrations[m],
                msisdn=m,
                session=session,
                flagged_at=now,
            )
            for m in flagged
            if m in registrations
        ]
        HolderKeepChoice.objects.bulk_create(choices, ignore_conflicts=True)
        for choice in choices:
            _operator_notice(
                OperatorNotice.Action.DEACTIVATE,
                choice.msisdn,
                "The holder chose to keep other numbers over the cap.",
            )
        audit_bulk(
            [
                audit_event(
                    actor=HOLDER_ACTOR,
                    action=AuditAction.HOLDER_NUMBER_NOT_KEPT,
                    target_type="subscribers.registration",
                    target_id=str(c.registration_id),
                    after={"msisdn": c.msisdn, "nik": session.nik_masked},
                )
                for c in choices
            ]
        )
    return [c.msisdn for c in choices]


# --- the operator ---------------------------------------------------------------------------------


def _operator_notice(action: str, msisdn: str, reason: str) -> OperatorNotice:
    notice = OperatorNotice.objects.create(action=action, msisdn=msisdn, reason=reason[:300])
    from .tasks import tell_operator

    enqueue(tell_operator, notice.pk)
    return notice


def operator_notice_tell(*, notice_id: int) -> bool:
    """Tell the operator's adapter; recorded when it accepted, left for the retry otherwise."""
    notice = OperatorNotice.objects.filter(pk=notice_id, told_at__isnull=True).first()
    if notice is None:
        return False
    adapter = get_adapter()
    try:
        if notice.action == OperatorNotice.Action.UNBLOCK:
            adapter.unblock_msisdn(msisdn=notice.msisdn, reason=notice.reason)
        else:
            adapter.flag_for_deactivation(msisdn=notice.msisdn, reason=notice.reason)
    except Exception as exc:
        logger.warning("operator not told (%s %s): %r", notice.action, notice.msisdn, exc)
        OperatorNotice.objects.filter(pk=notice.pk).update(
            attempts=notice.attempts + 1, last_error=repr(exc)[:2000]
        )
        return False
    with transaction.atomic():
        told = OperatorNotice.objects.filter(pk=notice.pk, told_at__isnull=True).update(
            told_at=timezone.now(), attempts=notice.attempts + 1, last_error=""
        )
        if told:
            audit_record(
                actor=SYSTEM_ACTOR,
                action=AuditAction.HOLDER_OPERATOR_TOLD,
                target=notice,
                after={"action": notice.action, "msisdn": notice.msisdn},
            )
    return bool(told)


def operator_notices_retry(*, older_than_seconds: int = 60) -> int:
    from .tasks import tell_operator

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        OperatorNotice.objects.filter(told_at__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
    return sum(send(tell_operator, pk) for pk in ids)


# --- the statement --------------------------------------------------------------------------------


def statement_issue(*, session: HolderSession, now: datetime | None = None) -> tuple[bytes, str]:
    """The PDF "numbers registered on your NIK" with the date and a short verification code;
    its code and SHA-256 kept so a copy can be checked (``statement_matches``)."""
    from .statement import statement_pdf

    now = now or timezone.now()
    numbers = holder_numbers(session)
    with transaction.atomic():
        code = hashing.new_statement_code()
        while HolderStatement.objects.filter(code=code).exists():
            code = hashing.new_statement_code()
        pdf = statement_pdf(session=session, numbers=numbers, code=code, issued_at=now)
        HolderStatement.objects.create(
            code=code, sha256=hashlib.sha256(pdf).hexdigest(), issued_at=now
        )
        audit_record(
            actor=HOLDER_ACTOR,
            action=AuditAction.HOLDER_STATEMENT_ISSUE,
            target=session,
            after={"code": code, "numbers": len(numbers)},
        )
    return pdf, code


def statement_matches(*, code: str, content: bytes) -> bool:
    """Whether ``content`` is exactly the statement issued with ``code`` (nothing else said)."""
    code = "".join(ch for ch in str(code or "").upper() if ch.isalnum())[:12]
    if not code or not content:
        return False
    digest = hashlib.sha256(content).hexdigest()
    return HolderStatement.objects.filter(code=code, sha256=digest).exists()


# --- retention ------------------------------------------------------------------------------------


def holder_records_purge(*, now: datetime | None = None) -> dict:
    """Delete what the door keeps only briefly: sessions (with their hashed codes and tokens)
    and the SMS records past ``HOLDER_RECORDS_RETENTION_DAYS``; a dispute outlives its session
    (the session link is cleared), keeping only the NIK digest and the disputed number. Called
    hourly and by the privacy app's retention purge."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=_setting("HOLDER_RECORDS_RETENTION_DAYS", 30))
    with transaction.atomic():
        sessions, _x = HolderSession.objects.filter(created_at__lt=cutoff).delete()
        messages, _x = (
            SmsMessage.objects.filter(created_at__lt=cutoff)
            .exclude(status=SmsMessage.Status.PENDING)
            .delete()
        )
        stored, _x = StoredSms.objects.filter(created_at__lt=cutoff).delete()
        counts = {"sessions": sessions, "sms": messages, "stored_sms": stored}
        if any(counts.values()):
            audit_record(
                actor=SYSTEM_ACTOR,
                action=AuditAction.HOLDER_RECORDS_PURGE,
                target_type="holders.holdersession",
                after=counts,
            )
    return counts
