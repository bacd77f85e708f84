"""Data-subject requests: look up, view, export, erase, restrict and lift a restriction."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.models import Discrepancy
from compliance.workflow.erasure import version_anonymise
from core import pii
from core.audit import AuditAction, audit_record
from core.idnumbers import id_number_forms, is_plausible_id_number
from core.masking import mask_id_number
from core.models import AuditEvent
from identity.idrules import normalize_name_for_comparison
from outlets.models import OutletStaff
from subscribers.models import IdempotencyRecord, Registration

from .. import exports, hooks, selectors
from ..models import DataSubjectRequest, RegistrationPrivacy
from .anonymise import registrations_anonymise
from .common import ensure_states, require_operator
from .export_files import export_files_erase
from .holder_records import holder_records_erase
from .ledger import ledger_record, ledger_token


class AmbiguousMatch(ValidationError):
    """The number matched records whose name or birth date is not the person's (or that
    disagree among themselves): nothing is done until an operator admin decides, record by
    record (``data_subject_request_decide``)."""

    def __init__(self, holdings):
        self.holdings = [h.describe() for h in holdings]
        super().__init__(
            _(
                "The ID number matches records that may be another person's: %(records)s. "
                "Decide for each whether it is this person's before acting."
            )
            % {"records": ", ".join(h["key"] for h in self.holdings)}
        )


def _records(request: DataSubjectRequest) -> selectors.SubjectRecords:
    return selectors.data_subject_records(
        digests=request.id_number_digests, person=request.person, decisions=request.decisions
    )


def _unambiguous(request: DataSubjectRequest) -> selectors.SubjectRecords:
    records = _records(request)
    if records.ambiguous:
        raise AmbiguousMatch(records.ambiguous)
    return records


def data_subject_request_open(
    *,
    actor,
    id_number: str,
    channel: str,
    reference: str = "",
    notes: str = "",
    full_name: str = "",
    birth_date=None,
) -> DataSubjectRequest:
    """Record a person's request and look up everything held on them (audited, with the number
    masked). Rules: operator admins only; the number must name one document; the name and birth
    date, where given, tell this person's records from another's on the same number."""
    require_operator(actor)
    if not is_plausible_id_number(id_number):
        raise ValidationError({"id_number": [_("Enter the ID number as it is on the document.")]})
    if channel not in DataSubjectRequest.Channel.values:
        raise ValidationError({"channel": [_("Choose how the request was received.")]})
    forms = id_number_forms(id_number)
    digests = list(dict.fromkeys(d for form in forms for d in pii.digests(form)))
    person = {}
    if full_name.strip():
        person["name_key"] = normalize_name_for_comparison(full_name)
    if birth_date:
        person["birth_date"] = str(birth_date)[:10]
    with transaction.atomic():
        records = selectors.data_subject_records(digests=digests, person=person)
        request = DataSubjectRequest.objects.create(
            person=person,
            id_number_masked=mask_id_number(forms[0]),
            id_number_digest=digests[0],
            id_number_digests=digests,
            channel=channel,
            reference=reference.strip()[:100],
            notes=notes.strip(),
            handled_by=None if isinstance(actor, str) else actor,
            handled_by_label=actor if isinstance(actor, str) else actor.get_username(),
            found={
                "registrations": len(records.registrations),
                "as_head_of_family": len(records.guarded),
                "outlet_staff": len(records.outlet_staff),
                "audit_events": records.audit_events.count(),
                "ambiguous": [h.key for h in records.ambiguous],
            },
        )
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_LOOKUP,
            target=request,
            after={
                "id_number": request.id_number_masked,
                "registration_ids": records.registration_ids,
                "head_of_family_of": records.guarded_ids,
                "outlet_staff_ids": records.staff_ids,
                "ambiguous": [h.key for h in records.ambiguous],
            },
        )
    return request


def data_subject_request_decide(*, actor, request: DataSubjectRequest, decisions: dict) -> dict:
    """An operator admin's decision on records the number matched ambiguously: each key
    (``registration:<id>`` for current values, ``version:<id>`` for an earlier version) is
    ``include`` (this person's) or ``exclude``. Only keys the number matched are accepted."""
    require_operator(actor)
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        records = _records(request)
        candidates = {
            h.key
            for hs in records.person.holdings.values()
            for h in hs
            if h.digest in set(request.id_number_digests)
        }
        bad = [
            k
            for k, v in decisions.items()
            if k not in candidates or v not in ("include", "exclude")
        ]
        if bad:
            raise ValidationError(
                {
                    "decisions": [
                        _("Not a record this number matched: %(keys)s") % {"keys": ", ".join(bad)}
                    ]
                }
            )
        request.decisions = {**request.decisions, **decisions}
        request.save(update_fields=["decisions"])
        _record_action(request, actor, "decide", dict(decisions), timezone.now())
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_DECIDE,
            target=request,
            after={"id_number": request.id_number_masked, "decisions": decisions},
        )
    return request.decisions


def data_subject_request_view(*, actor, request: DataSubjectRequest) -> selectors.SubjectRecords:
    """The records of a request, for its page; every look is audited (who saw whose data)."""
    require_operator(actor)
    with transaction.atomic():
        records = _records(request)
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_VIEW,
            target=request,
            after={
                "id_number": request.id_number_masked,
                "registration_ids": records.registration_ids,
                "head_of_family_of": records.guarded_ids,
                "outlet_staff_ids": records.staff_ids,
            },
        )
    return records


def _record_action(request: DataSubjectRequest, actor, action: str, result: dict, now) -> None:
    request.actions = [
        *request.actions,
        {
            "action": action,
            "at": now.isoformat(),
            "by": actor if isinstance(actor, str) else actor.get_username(),
            "result": result,
        },
    ]
    request.save(update_fields=["actions"])


@dataclass
class SubjectExport:
    content: bytes
    filename: str
    content_type: str


def data_subject_request_export(
    *, actor, request: DataSubjectRequest, fmt: str = "json"
) -> SubjectExport:
    """The person's copy of everything held on them (``privacy.exports``), audited."""
    require_operator(actor)
    if fmt not in exports.FORMATS:
        raise ValidationError({"format": [_("Choose JSON or CSV.")]})
    now = timezone.now()
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        records = _unambiguous(request)
        try:
            data = exports.subject_export(records, request=request, generated_at=now)
        except exports.ExportUndecryptable as exc:
            raise ValidationError(
                _(
                    "A number held on this person cannot be decrypted with the configured "
                    "keys: nothing was exported. Put the missing key back (docs/privacy.md)."
                )
            ) from exc
        content = exports.render(data, fmt)
        result = {
            "format": fmt,
            "registrations": len(records.registrations),
            "as_head_of_family": len(records.guarded),
            "outlet_staff": len(records.outlet_staff),
        }
        _record_action(request, actor, "export", result, now)
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_EXPORT,
            target=request,
            after={"id_number": request.id_number_masked, **result},
        )
    return SubjectExport(
        content=content,
        filename=f"personal-data-request-{request.pk}.{fmt}",
        content_type=exports.FORMATS[fmt],
    )


@dataclass
class ErasureOutcome:
    anonymised: list[int] = field(default_factory=list)
    # Registration id → why it waits: "in_service" (number still active) or "legal_hold".
    deferred: dict[int, str] = field(default_factory=dict)
    # Registrations someone else holds now: the person's earlier values erased there.
    earlier_values_erased: dict[int, list[int]] = field(default_factory=dict)
    staff_erased: list[int] = field(default_factory=list)
    staff_kept: list[int] = field(default_factory=list)
    users_erased: list[int] = field(default_factory=list)
    replies_deleted: int = 0
    photos_deleted: int = 0
    export_files_deleted: list[int] = field(default_factory=list)
    report_files_deleted: list[str] = field(default_factory=list)
    # Minors' registrations made through the person as head of family: their NIK and face
    # erased there, or kept and why ("in_service" or "legal_hold"); the minor's data stays.
    guardian_erased: list[int] = field(default_factory=list)
    guardian_kept: dict[int, str] = field(default_factory=dict)
    # The holder's door: sessions deleted, disputes and numbers-not-kept that lost the NIK's
    # digest (and the dispute its note).
    holder_sessions_deleted: int = 0
    holder_disputes_erased: list[int] = field(default_factory=list)
    holder_numbers_not_kept_erased: list[int] = field(default_factory=list)


def data_subject_request_erase(*, actor, request: DataSubjectRequest) -> ErasureOutcome:
    """Erase the person's data — exactly theirs — now where the law allows, the rest later.

    Rules: nothing is done while a record is matched ambiguously (``AmbiguousMatch``).
    A registration the person holds now: out of service (deactivated, or blocked) it is
    anonymised at once, photos first, as the retention purge does — earlier versions and
    proposed corrections that are another person's left alone; still in service it must keep
    its registered identity (the registration regulation), and with an open discrepancy it is
    evidence in an unsettled case (UU PDP's exception): both are restricted now and marked for
    erasure, and the daily purge anonymises them the day that ends. A registration someone else
    holds now (corrected away from the person): only the person's earlier values are erased —
    their versions, the discrepancy sides showing their values — and the current holder is
    untouched (with an open discrepancy it waits: ``legal_hold``). Outlet-staff records: an
    inactive one loses its ID and KK numbers, and its user account its name, e-mail and
    username (pseudonymised in the audit trail too) when no active staff record needs it; an
    active one keeps them while the person works there (the 2018 own-ID rule). Stored
    ``Idempotency-Key`` replies of the registrations go. A minor's registration made through
    the person as head of family is the minor's and is never erased on the guardian's request:
    the guardian's own part of it (their NIK, their face photo and its hash) is erased when the
    number is out of service and no case is open, and otherwise kept with the reason recorded
    (``guardian_erase``). Every erasure is written to the erasure ledger, which a restore
    re-applies.
    """
    require_operator(actor)
    now = timezone.now()
    outcome = ErasureOutcome()
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        records = _unambiguous(request)
        person = records.person
        # The person's number, still encrypted, for the ledger (before the erasure blanks it).
        token = ledger_token(request.id_number_digests)
        current = [r for r in records.registrations if r.pk in person.current_ids]
        others_versions = [
            h.version.pk
            for r in current
            for h in person.holdings[r.pk]
            if h.version is not None and h.status != "mine"
        ]
        others_answers = [
            a.pk
            for a in person.answers
            if a.clarification.registration_id in person.current_ids
            and not person.answer_is_mine(a)
        ]
        out_of_service = [
            r.pk
            for r in current
            if r.status == Registration.Status.BLOCKED
            or (records.state(r) is not None and records.state(r).deactivated_at is not None)
        ]
        result = registrations_anonymise(
            registration_ids=out_of_service,
            actor=actor,
            reason="erasure",
            request=request,
            now=now,
            keep_version_ids=others_versions,
            keep_answer_ids=others_answers,
        )
        outcome.anonymised, outcome.photos_deleted = result.anonymised, result.photos_deleted
        for registration in current:
            if registration.pk not in result.anonymised:
                outcome.deferred[registration.pk] = (
                    "legal_hold" if registration.pk in result.held else "in_service"
                )
        if outcome.deferred:
            ensure_states(outcome.deferred)
            RegistrationPrivacy.objects.filter(registration_id__in=list(outcome.deferred)).update(
                erasure_requested_at=Coalesce(F("erasure_requested_at"), now),
                restricted_at=Coalesce(F("restricted_at"), now),
                request=request,
                updated_at=now,
            )
        for registration in current:
            anonymised = registration.pk in outcome.anonymised
            audit_record(
                actor=actor,
                action=AuditAction.REGISTRATION_ANONYMISED
                if anonymised
                else AuditAction.REGISTRATION_ERASURE_DEFERRED,
                target=registration,
                target_repr=registration.registration_number,
                after={
                    "request": request.pk,
                    "reason": outcome.deferred.get(registration.pk, "erasure"),
                },
            )
        sides = _erase_earlier_values(records, request, actor, outcome)
        outcome.guardian_erased, outcome.guardian_kept, guardian_photos = guardian_erase(
            registrations=records.guarded, states=records.states, actor=actor, request=request
        )
        outcome.photos_deleted += guardian_photos
        _erase_staff_and_accounts(records, request, actor, outcome)
        # The holder's door: what it keeps under the NIK goes now, an open dispute included
        # (its workflow reads nothing of the person: privacy.services.holder_records).
        holder = holder_records_erase(digests=request.id_number_digests)
        outcome.holder_sessions_deleted = holder["holder_sessions_deleted"]
        outcome.holder_disputes_erased = holder["holder_disputes_erased"]
        outcome.holder_numbers_not_kept_erased = holder["holder_numbers_not_kept_erased"]
        numbers = [r.registration_number for r in records.registrations]
        outcome.replies_deleted, _n = IdempotencyRecord.objects.filter(
            response_body__registration_number__in=numbers
        ).delete()
        # Files already written: the person's own exports, and report files that may hold them.
        outcome.export_files_deleted = export_files_erase(request.id_number_digests, now=now)
        outcome.report_files_deleted = hooks.export_files_erase(
            [r.pk for r in records.registrations], now
        )
        result_summary = {
            "anonymised": outcome.anonymised,
            "deferred": {str(pk): why for pk, why in outcome.deferred.items()},
            "earlier_values_erased": {
                str(pk): ids for pk, ids in outcome.earlier_values_erased.items()
            },
            "head_of_family_data_erased": outcome.guardian_erased,
            "head_of_family_data_kept": {str(pk): why for pk, why in outcome.guardian_kept.items()},
            "staff_erased": outcome.staff_erased,
            "staff_kept": outcome.staff_kept,
            "users_erased": outcome.users_erased,
            "replies_deleted": outcome.replies_deleted,
            "export_files_deleted": outcome.export_files_deleted,
            "report_files_deleted": outcome.report_files_deleted,
            "photo_files_deleted": outcome.photos_deleted,
            **holder,
        }
        _record_action(request, actor, "erase", result_summary, now)
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_ERASE,
            target=request,
            after={"id_number": request.id_number_masked, **result_summary},
        )
        ledger_record(
            request=request,
            actor=actor,
            now=now,
            token=token,
            records={
                "anonymised": outcome.anonymised,
                "deferred": sorted(outcome.deferred),
                "versions": sorted(
                    v for ids in outcome.earlier_values_erased.values() for v in ids
                ),
                "discrepancy_sides": sides,
                "kept_versions": others_versions,
                "guardian": outcome.guardian_erased,
                "staff": outcome.staff_erased,
                "users": outcome.users_erased,
                "registration_numbers": numbers,
                "registrations": [r.pk for r in records.registrations],
                "export_files": outcome.export_files_deleted,
                "holder_disputes": outcome.holder_disputes_erased,
                "holder_numbers_not_kept": outcome.holder_numbers_not_kept_erased,
            },
        )
    return outcome


def _erase_earlier_values(records, request, actor, outcome: ErasureOutcome) -> dict:
    """On registrations someone else holds now: blank the person's earlier versions and the
    discrepancy sides that show their values. Returns {discrepancy id: [sides blanked]}."""
    person = records.person
    sides: dict[str, list[str]] = {}
    held = set(
        Discrepancy.objects.filter(
            registration_id__in=person.earlier_only_ids, status=Discrepancy.Status.OPEN
        ).values_list("registration_id", flat=True)
    )
    for registration in records.registrations:
        if registration.pk not in person.earlier_only_ids:
            continue
        if registration.pk in held:
            outcome.deferred[registration.pk] = "legal_hold"
            continue
        versions = [h.version for h in person.mine(registration.pk) if h.version is not None]
        for version in versions:
            version_anonymise(version)
        for discrepancy in person.discrepancies:
            if discrepancy.registration_id != registration.pk:
                continue
            mine = list(person.discrepancy_sides(discrepancy))
            if mine:
                discrepancy.details = {
                    side: ({"erased": True} if side in mine else values)
                    for side, values in (discrepancy.details or {}).items()
                }
                discrepancy.save(update_fields=["details"])
                sides[str(discrepancy.pk)] = mine
        outcome.earlier_values_erased[registration.pk] = [v.pk for v in versions]
        audit_record(
            actor=actor,
            action=AuditAction.REGISTRATION_EARLIER_VALUES_ERASED,
            target=registration,
            target_repr=registration.registration_number,
            after={"request": request.pk, "versions": [v.version for v in versions]},
        )
    return sides


# What of a minor's registration is the head of family's: their NIK, and their face (the
# registry verified the guardian's face, not the minor's) with the photo's hash.
GUARDIAN_VALUES = {
    "guardian_id_number_encrypted": "",
    "guardian_id_number_digest": "",
    "guardian_id_number_masked": "",
    "face_photo": "",
    "face_photo_thumb": "",
    "face_sha256": "",
}


def guardian_erase(
    *, registrations, states: dict, actor, request=None
) -> tuple[list[int], dict[int, str], int]:
    """Erase the head of family's own data from minors' registrations made through them.

    Rules (docs/privacy.md, "A head of family"): the registration is the minor's and keeps the
    minor's data. The guardian's NIK is part of the registered identity the registration rules
    require while the number is in service, and evidence while a discrepancy is open: then it
    is kept, with the reason (``in_service``, ``legal_hold``) recorded. Out of service
    (deactivated, or blocked) with no open case: the NIK (ciphertext, digest, masked copy) and
    the face photo (file first) with its hash go; the registry's verdict and score stay (they
    say nothing of whose face). Returns (erased ids, {kept id: why}, photo files deleted).
    """
    erased, kept, photos = [], {}, 0
    if not registrations:
        return erased, kept, photos
    ids = [r.pk for r in registrations]
    held = set(
        Discrepancy.objects.filter(
            registration_id__in=ids, status=Discrepancy.Status.OPEN
        ).values_list("registration_id", flat=True)
    )
    storage = Registration._meta.get_field("face_photo").storage
    for registration in Registration.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        state = states.get(registration.pk)
        out_of_service = registration.status == Registration.Status.BLOCKED or (
            state is not None and state.deactivated_at is not None
        )
        if registration.pk in held:
            kept[registration.pk] = "legal_hold"
        elif not out_of_service:
            kept[registration.pk] = "in_service"
        else:
            for name in (registration.face_photo.name, registration.face_photo_thumb.name):
                if name:
                    storage.delete(name)
                    photos += 1
            values = dict(GUARDIAN_VALUES)
            if not registration.id_photo:
                values["photo_status"] = Registration.PhotoStatus.NONE
            Registration.objects.filter(pk=registration.pk).update(**values)
            erased.append(registration.pk)
        audit_record(
            actor=actor,
            action=AuditAction.REGISTRATION_GUARDIAN_ERASED
            if registration.pk in erased
            else AuditAction.REGISTRATION_GUARDIAN_ERASURE_DEFERRED,
            target=registration,
            target_repr=registration.registration_number,
            after={
                "request": request.pk if request is not None else None,
                "reason": kept.get(registration.pk, "erasure"),
            },
        )
    # What is kept waits for the number to leave service (``guardian_erasures_due``); what is
    # erased waits no more.
    now = timezone.now()
    if kept:
        ensure_states(kept)
        waiting_since = Coalesce(F("guardian_erasure_requested_at"), now)
        pending = {"guardian_erasure_requested_at": waiting_since}
        if request is not None:
            pending["guardian_request"] = request
        RegistrationPrivacy.objects.filter(registration_id__in=list(kept)).update(
            **pending, updated_at=now
        )
    if erased:
        RegistrationPrivacy.objects.filter(
            registration_id__in=erased, guardian_erasure_requested_at__isnull=False
        ).update(guardian_erasure_requested_at=None, guardian_request=None, updated_at=now)
    return erased, kept, photos


def guardian_erasures_due(*, actor="retention-purge", batch_size: int = 500) -> dict:
    """Erase the heads of family's parts whose erasure was kept waiting (``guardian_erase``:
    the number in service, or a case open) and whose number is now out of service with no open
    case — under the head of family's own request, audited as when it is done at once. Safe to
    run at any time and twice: what is erased leaves the waiting list, what still has to wait
    stays on it untouched (no new audit row). Returns counts."""
    counts = {"erased": 0, "photo_files_deleted": 0, "already_gone": 0}
    waiting = RegistrationPrivacy.objects.filter(guardian_erasure_requested_at__isnull=False)
    # Gone another way (the whole registration anonymised by the purge, a later request).
    counts["already_gone"] = waiting.filter(registration__guardian_id_number_digest="").update(
        guardian_erasure_requested_at=None, guardian_request=None, updated_at=timezone.now()
    )
    held = Discrepancy.objects.filter(
        registration_id=OuterRef("registration_id"), status=Discrepancy.Status.OPEN
    )
    due = (
        waiting.filter(
            Q(registration__status=Registration.Status.BLOCKED) | Q(deactivated_at__isnull=False)
        )
        .exclude(Exists(held))
        .order_by("registration_id")
    )
    after = 0
    while True:
        with transaction.atomic():
            # Each group's request comes with its states (one read, not one a group).
            states = list(
                due.filter(registration_id__gt=after).select_related("guardian_request")[
                    :batch_size
                ]
            )
            if not states:
                break
            after = states[-1].registration_id
            by_request: dict = {}
            for state in states:
                by_request.setdefault(state.guardian_request_id, []).append(state)
            for request_id, group in by_request.items():
                request = group[0].guardian_request if request_id is not None else None
                registrations = list(
                    Registration.objects.filter(
                        pk__in=[state.registration_id for state in group]
                    ).exclude(guardian_id_number_digest="")
                )
                erased, _kept, photos = guardian_erase(
                    registrations=registrations,
                    states={state.registration_id: state for state in group},
                    actor=actor,
                    request=request,
                )
                counts["erased"] += len(erased)
                counts["photo_files_deleted"] += photos
                if request is not None and erased:
                    # The request's record says what was done for it, and when.
                    _record_action(
                        request,
                        actor,
                        DataSubjectRequest.Action.ERASE_HEAD_OF_FAMILY_DATA,
                        {"head_of_family_data_erased": erased},
                        timezone.now(),
                    )
    return counts


def _erase_staff_and_accounts(records, request, actor, outcome: ErasureOutcome) -> None:
    for staff in records.outlet_staff:
        if staff.is_active:
            outcome.staff_kept.append(staff.pk)
            continue
        OutletStaff.objects.filter(pk=staff.pk).update(
            id_number_encrypted="",
            id_number_digest="",
            kk_number_encrypted="",
            kk_number_digest="",
        )
        outcome.staff_erased.append(staff.pk)
        audit_record(
            actor=actor,
            action=AuditAction.OUTLET_STAFF_ID_ERASED,
            target=staff,
            after={"request": request.pk},
        )
        user = staff.user
        if OutletStaff.objects.filter(user=user, is_active=True).exists() or user.is_superuser:
            continue
        if user.pk not in outcome.users_erased:
            user_account_erase(user)
            outcome.users_erased.append(user.pk)


def user_account_erase(user) -> None:
    """A former staff member's account loses what names them: name, e-mail, username (a
    pseudonym ``erased-<id>``, also in the audit trail's labels), password; it stays as a row
    so that what they did keeps its link."""
    old = user.get_username()
    pseudonym = f"erased-{user.pk}"
    user.set_unusable_password()
    type(user).objects.filter(pk=user.pk).update(
        username=pseudonym,
        first_name="",
        last_name="",
        email="",
        is_active=False,
        password=user.password,
    )
    AuditEvent.objects.filter(actor_label=old).update(actor_label=pseudonym)
    AuditEvent.objects.filter(target_repr=old).update(target_repr=pseudonym)


def data_subject_request_restrict(*, actor, request: DataSubjectRequest) -> list[int]:
    """Restrict processing of every registration on the person's ID number.

    Restricted: the registration's personal data is shown to operator admins only and it is
    left out of exports and lists for every other role
    (``subscribers.selectors.exclude_restricted``). It is still kept, still reconciled with the
    operator (a legal duty UU PDP's exception covers) and still purged when its retention ends.
    Returns the ids newly restricted.
    """
    require_operator(actor)
    now = timezone.now()
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        records = _unambiguous(request)
        # Only what the person holds now: a registration corrected away from them is someone
        # else's, and restricting it would restrict that person.
        ids = records.person.current_ids
        ensure_states(ids)
        newly = list(
            RegistrationPrivacy.objects.filter(
                registration_id__in=ids, restricted_at__isnull=True
            ).values_list("registration_id", flat=True)
        )
        RegistrationPrivacy.objects.filter(registration_id__in=newly).update(
            restricted_at=now, request=request, updated_at=now
        )
        for registration in records.registrations:
            if registration.pk in newly:
                audit_record(
                    actor=actor,
                    action=AuditAction.REGISTRATION_RESTRICTED,
                    target=registration,
                    target_repr=registration.registration_number,
                    after={"request": request.pk},
                )
        # A minor's registration made through the person as head of family is the minor's:
        # restricting it would restrict the minor's data, which the guardian's own request
        # does not reach (their NIK is shown masked only). Recorded, not restricted.
        result = {"restricted": newly, "head_of_family_not_restricted": records.guarded_ids}
        _record_action(request, actor, "restrict", result, now)
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_RESTRICT,
            target=request,
            after={"id_number": request.id_number_masked, **result},
        )
    return sorted(newly)


def data_subject_request_lift_restriction(*, actor, request: DataSubjectRequest) -> list[int]:
    """Lift a restriction the person asked for. A registration waiting for erasure stays
    restricted. Returns the ids lifted."""
    require_operator(actor)
    now = timezone.now()
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        records = _unambiguous(request)
        lifted_qs = RegistrationPrivacy.objects.filter(
            registration_id__in=records.person.current_ids,
            restricted_at__isnull=False,
            erasure_requested_at__isnull=True,
        )
        lifted = sorted(lifted_qs.values_list("registration_id", flat=True))
        RegistrationPrivacy.objects.filter(registration_id__in=lifted).update(
            restricted_at=None, updated_at=now
        )
        for registration in records.registrations:
            if registration.pk in lifted:
                audit_record(
                    actor=actor,
                    action=AuditAction.REGISTRATION_RESTRICTION_LIFTED,
                    target=registration,
                    target_repr=registration.registration_number,
                    after={"request": request.pk},
                )
        _record_action(request, actor, "lift_restriction", {"lifted": lifted}, now)
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_LIFT_RESTRICTION,
            target=request,
            after={"id_number": request.id_number_masked, "lifted": lifted},
        )
    return lifted
