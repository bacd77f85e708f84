"""Data-subject requests: look up, view, export, erase, restrict and lift a restriction."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core import pii
from core.audit import AuditAction, audit_record
from core.idnumbers import id_number_forms, is_plausible_id_number
from core.masking import mask_id_number
from outlets.models import OutletStaff
from subscribers.models import Registration

from .. import exports, selectors
from ..models import DataSubjectRequest, RegistrationPrivacy
from .anonymise import registrations_anonymise
from .common import ensure_states, require_operator


def data_subject_request_open(
    *, actor, id_number: str, channel: str, reference: str = "", notes: str = ""
) -> DataSubjectRequest:
    """Record a person's request and look up everything held on their ID number (audited, with
    the number masked). Rules: operator admins only; the number must name one document."""
    require_operator(actor)
    if not is_plausible_id_number(id_number):
        raise ValidationError({"id_number": [_("Enter the ID number as it is on the document.")]})
    if channel not in DataSubjectRequest.Channel.values:
        raise ValidationError({"channel": [_("Choose how the request was received.")]})
    forms = id_number_forms(id_number)
    digests = [pii.digest(form) for form in forms]
    with transaction.atomic():
        records = selectors.data_subject_records(digests=digests)
        request = DataSubjectRequest.objects.create(
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
                "outlet_staff": len(records.outlet_staff),
                "audit_events": records.audit_events.count(),
            },
        )
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_LOOKUP,
            target=request,
            after={
                "id_number": request.id_number_masked,
                "registration_ids": records.registration_ids,
                "outlet_staff_ids": records.staff_ids,
            },
        )
    return request


def data_subject_request_view(*, actor, request: DataSubjectRequest) -> selectors.SubjectRecords:
    """The records of a request, for its page; every look is audited (who saw whose data)."""
    require_operator(actor)
    with transaction.atomic():
        records = selectors.data_subject_records(digests=request.id_number_digests)
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_VIEW,
            target=request,
            after={
                "id_number": request.id_number_masked,
                "registration_ids": records.registration_ids,
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
        records = selectors.data_subject_records(digests=request.id_number_digests)
        content = exports.render(
            exports.subject_export(records, request=request, generated_at=now), fmt
        )
        result = {
            "format": fmt,
            "registrations": len(records.registrations),
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
    staff_erased: list[int] = field(default_factory=list)
    staff_kept: list[int] = field(default_factory=list)
    photos_deleted: int = 0


def data_subject_request_erase(*, actor, request: DataSubjectRequest) -> ErasureOutcome:
    """Erase what may be erased now, and the rest as soon as the law allows.

    Rules: a registration whose number is out of service (deactivated, or blocked) is
    anonymised at once, photos first, as the retention purge does. One whose number is still in
    service must keep its registered identity (the registration regulation), and one with an
    open discrepancy is evidence in an unsettled case (UU PDP's exception): both are restricted
    now and marked for erasure, and the daily purge anonymises them the day that ends. Outlet
    staff records: an inactive one loses its ID and KK numbers; an active one keeps them while
    the person works there (the 2018 own-ID rule is checked against them).
    """
    require_operator(actor)
    now = timezone.now()
    outcome = ErasureOutcome()
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        records = selectors.data_subject_records(digests=request.id_number_digests)
        out_of_service = [
            r.pk
            for r in records.registrations
            if r.status == Registration.Status.BLOCKED
            or (records.state(r) is not None and records.state(r).deactivated_at is not None)
        ]
        result = registrations_anonymise(
            registration_ids=out_of_service, actor=actor, reason="erasure", request=request, now=now
        )
        outcome.anonymised, outcome.photos_deleted = result.anonymised, result.photos_deleted
        for registration in records.registrations:
            if registration.pk in result.anonymised:
                continue
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
        for registration in records.registrations:
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
        result_summary = {
            "anonymised": outcome.anonymised,
            "deferred": {str(pk): why for pk, why in outcome.deferred.items()},
            "staff_erased": outcome.staff_erased,
            "staff_kept": outcome.staff_kept,
            "photo_files_deleted": outcome.photos_deleted,
        }
        _record_action(request, actor, "erase", result_summary, now)
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_ERASE,
            target=request,
            after={"id_number": request.id_number_masked, **result_summary},
        )
    return outcome


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
        records = selectors.data_subject_records(digests=request.id_number_digests)
        ids = records.registration_ids
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
        _record_action(request, actor, "restrict", {"restricted": newly}, now)
        audit_record(
            actor=actor,
            action=AuditAction.PRIVACY_DSR_RESTRICT,
            target=request,
            after={"id_number": request.id_number_masked, "restricted": newly},
        )
    return sorted(newly)


def data_subject_request_lift_restriction(*, actor, request: DataSubjectRequest) -> list[int]:
    """Lift a restriction the person asked for. A registration waiting for erasure stays
    restricted. Returns the ids lifted."""
    require_operator(actor)
    now = timezone.now()
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        records = selectors.data_subject_records(digests=request.id_number_digests)
        lifted_qs = RegistrationPrivacy.objects.filter(
            registration_id__in=records.registration_ids,
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
