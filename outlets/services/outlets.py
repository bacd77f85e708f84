"""Outlet onboarding and status: applications, ROIDs, suspension, reinstatement, revocation.

Every change writes its audit row in its own transaction and tells the dealer (a ``Notice`` in
the portal, and an email to its admins after the commit).
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import pii
from core.audit import AuditAction, audit_record
from core.masking import mask_id_number
from core.roles import is_signed_in, require_operator
from identity import idrules
from identity.messages import id_rule_message

from ..models import Dealer, Notice, Outlet, OutletApplication, RoidSequence
from ..regions import PROVINCES
from ._common import NON_FIELD, admin_dealer_id, may_sanction, require_manages_dealer

logger = logging.getLogger(__name__)

ROID_DIGITS = 6


# --- ROIDs -------------------------------------------------------------------------------------


def _next_number(prefix: str) -> int:
    # The UPDATE takes the row lock, held until the caller's transaction ends: a concurrent
    # approval waits, then reads the next number.
    if not RoidSequence.objects.filter(prefix=prefix).update(last_number=F("last_number") + 1):
        try:
            with transaction.atomic():
                RoidSequence.objects.create(prefix=prefix, last_number=1)
            return 1
        except IntegrityError:  # created by a concurrent first issue under this prefix
            RoidSequence.objects.filter(prefix=prefix).update(last_number=F("last_number") + 1)
    return RoidSequence.objects.values_list("last_number", flat=True).get(prefix=prefix)


def roid_issue(*, province: str) -> str:
    """A new ROID: ``RO`` + province code + running number (6 digits, more when needed).

    Race-free (a counter row updated under its lock, in the caller's transaction) and never
    reused: the counter only goes up, and a number already taken by an outlet entered by hand
    is skipped. Call it inside the transaction that creates the outlet.
    """
    if province not in PROVINCES:
        raise ValidationError({"province": [_("Choose an Indonesian province.")]})
    prefix = f"RO{province}"
    with transaction.atomic():
        while True:
            roid = f"{prefix}{_next_number(prefix):0{ROID_DIGITS}d}"
            if not Outlet.objects.filter(roid=roid).exists():
                return roid


# --- applications ------------------------------------------------------------------------------


def outlet_application_submit(
    *,
    actor,
    name: str,
    owner_name: str,
    address: str,
    region: str,
    province: str,
    owner_phone: str = "",
    staff_note: str = "",
    dealer: Dealer | None = None,
    owner_id_number: str = "",
    owner_kk_number: str = "",
) -> OutletApplication:
    """A dealer admin applies for a new outlet of their dealer (the operator may apply on a
    dealer's behalf by naming ``dealer``). The application waits for the operator.

    The owner's NIK is required and their KK optional, kept encrypted like every ID number: the
    outlet may never register a buyer with them (the end-user-only rule, docs/rules.md)."""
    if dealer is None:
        dealer_id = admin_dealer_id(actor)
        if dealer_id is None:
            raise PermissionDenied(_("Only a dealer's admins can apply for an outlet."))
        dealer = Dealer.objects.get(pk=dealer_id)
    require_manages_dealer(actor, dealer.pk)
    errors = {}
    for field_name, value in (
        ("name", name),
        ("owner_name", owner_name),
        ("address", address),
        ("region", region),
    ):
        if not (value or "").strip():
            errors[field_name] = [_("This field is required.")]
    if province not in PROVINCES:
        errors["province"] = [_("Choose an Indonesian province.")]
    owner_nik = owner_kk = ""
    if not (owner_id_number or "").strip():
        errors["owner_id_number"] = [
            _("Enter the owner's NIK: an outlet may never register buyers with it.")
        ]
    else:
        try:
            owner_nik = idrules.validate_nik(owner_id_number, birth_date=None, sex=None)
        except idrules.IdRuleError as exc:
            errors["owner_id_number"] = [id_rule_message(exc)]
    if (owner_kk_number or "").strip():
        try:
            owner_kk = idrules.validate_kk(owner_kk_number)
        except idrules.IdRuleError as exc:
            errors["owner_kk_number"] = [id_rule_message(exc)]
    if not dealer.is_active:
        errors[NON_FIELD] = [_("This dealer is not active.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        application = OutletApplication.objects.create(
            dealer=dealer,
            name=name.strip(),
            owner_name=owner_name.strip(),
            owner_phone=(owner_phone or "").strip(),
            address=address.strip(),
            region=region.strip(),
            province=province,
            staff_note=(staff_note or "").strip(),
            submitted_by=actor if is_signed_in(actor) else None,
            **owner_id_fields(owner_nik, owner_kk),
        )
        audit_record(
            actor=actor,
            action=AuditAction.OUTLET_APPLICATION_SUBMIT,
            target=application,
            after={"dealer": dealer.code, "name": application.name, "province": province},
        )
    return application


def owner_id_fields(nik: str, kk: str) -> dict:
    """An owner's NIK and KK as stored: ciphertext, keyed digest, masked copy."""
    return {
        "owner_id_number_encrypted": pii.encrypt(nik) if nik else "",
        "owner_id_number_digest": pii.digest(nik) if nik else "",
        "owner_id_number_masked": mask_id_number(nik) if nik else "",
        "owner_kk_number_encrypted": pii.encrypt(kk) if kk else "",
        "owner_kk_number_digest": pii.digest(kk) if kk else "",
        "owner_kk_number_masked": mask_id_number(kk) if kk else "",
    }


OWNER_ID_FIELDS = tuple(owner_id_fields("", ""))


def _pending_for_update(application: OutletApplication) -> OutletApplication:
    locked = OutletApplication.objects.select_for_update().get(pk=application.pk)
    if locked.status != OutletApplication.Status.PENDING:
        raise ValidationError(
            {
                NON_FIELD: [
                    _("This application was already decided: %(status)s.")
                    % {"status": locked.get_status_display().lower()}
                ]
            }
        )
    return locked


def outlet_application_approve(*, actor, application: OutletApplication, note: str = "") -> Outlet:
    """The operator approves a pending application: the outlet is created, active, with a new
    ROID (``roid_issue``), and the dealer is told. An application is decided once."""
    require_operator(actor)
    with transaction.atomic():
        locked = _pending_for_update(application)
        outlet = Outlet.objects.create(
            dealer=locked.dealer,
            roid=roid_issue(province=locked.province),
            name=locked.name,
            owner_name=locked.owner_name,
            address=locked.address,
            region=locked.region,
            province=locked.province,
            **{name: getattr(locked, name) for name in OWNER_ID_FIELDS},
        )
        locked.status = OutletApplication.Status.APPROVED
        locked.outlet = outlet
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_reason = (note or "").strip()[:300]
        locked.save()
        audit_record(
            actor=actor,
            action=AuditAction.OUTLET_APPLICATION_APPROVE,
            target=locked,
            before={"status": OutletApplication.Status.PENDING},
            after={"status": locked.status, "roid": outlet.roid},
        )
        audit_record(
            actor=actor,
            action=AuditAction.OUTLET_CREATE,
            target=outlet,
            after={"roid": outlet.roid, "dealer": outlet.dealer.code, "status": outlet.status},
        )
        _notify(
            dealer=outlet.dealer,
            kind=Notice.Kind.APPLICATION_APPROVED,
            subject=f"{outlet.roid} {outlet.name}",
            outlet=outlet,
            application=locked,
            reason=locked.decision_reason,
        )
    application.refresh_from_db()
    return outlet


def outlet_application_reject(
    *, actor, application: OutletApplication, reason: str
) -> OutletApplication:
    """The operator rejects a pending application, saying why; the dealer is told."""
    require_operator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the application is rejected.")]})
    with transaction.atomic():
        locked = _pending_for_update(application)
        locked.status = OutletApplication.Status.REJECTED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_reason = reason[:300]
        locked.save()
        audit_record(
            actor=actor,
            action=AuditAction.OUTLET_APPLICATION_REJECT,
            target=locked,
            before={"status": OutletApplication.Status.PENDING},
            after={"status": locked.status, "reason": locked.decision_reason},
        )
        _notify(
            dealer=locked.dealer,
            kind=Notice.Kind.APPLICATION_REJECTED,
            subject=locked.name,
            application=locked,
            reason=locked.decision_reason,
        )
    application.refresh_from_db()
    return locked


# --- status ------------------------------------------------------------------------------------

_TRANSITIONS = {
    # action: (allowed from, to, notice)
    "suspend": ({Outlet.Status.ACTIVE}, Outlet.Status.SUSPENDED, Notice.Kind.OUTLET_SUSPENDED),
    "reinstate": ({Outlet.Status.SUSPENDED}, Outlet.Status.ACTIVE, Notice.Kind.OUTLET_REINSTATED),
    "revoke": (
        {Outlet.Status.ACTIVE, Outlet.Status.SUSPENDED},
        Outlet.Status.REVOKED,
        Notice.Kind.OUTLET_REVOKED,
    ),
}


def _refused_transition(action: str, outlet: Outlet) -> str:
    status = outlet.get_status_display().lower()
    messages = {
        "suspend": _("Outlet %(roid)s is %(status)s: only an active outlet can be suspended."),
        "reinstate": _("Outlet %(roid)s is %(status)s: only a suspended outlet can be reinstated."),
        "revoke": _("Outlet %(roid)s is already revoked."),
    }
    return messages[action] % {"roid": outlet.roid, "status": status}


def _outlet_change_status(*, actor, outlet: Outlet, reason: str, action: str) -> Outlet:
    if not may_sanction(actor):
        raise PermissionDenied(_("Only the operator or GraPARI can change an outlet's status."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason; the dealer will see it.")]})
    allowed_from, new_status, notice_kind = _TRANSITIONS[action]
    with transaction.atomic():
        locked = Outlet.objects.select_for_update().select_related("dealer").get(pk=outlet.pk)
        if locked.status not in allowed_from:
            raise ValidationError({NON_FIELD: [_refused_transition(action, locked)]})
        before = {"status": locked.status, "reason": locked.status_reason}
        # Compare-and-set on the status read under the lock (SQLite has no row locks).
        changed = Outlet.objects.filter(pk=locked.pk, status=locked.status).update(
            status=new_status, status_reason=reason[:300]
        )
        if changed != 1:  # pragma: no cover - only without row locks, under a race
            raise ValidationError({NON_FIELD: [_("The outlet changed meanwhile; try again.")]})
        audit_record(
            actor=actor,
            action=AuditAction(f"outlet.{action}"),
            target=locked,
            before=before,
            after={"status": new_status, "reason": reason[:300]},
        )
        _notify(
            dealer=locked.dealer,
            kind=notice_kind,
            subject=f"{locked.roid} {locked.name}",
            outlet=locked,
            reason=reason[:300],
        )
        if action == "revoke":
            # Stock a revoked outlet still holds goes back to its dealer, recorded as a move.
            from .stock import stock_return_to_dealer

            stock_return_to_dealer(
                actor=actor, outlet=locked, lines=None, source="revocation", check_actor=False
            )
    outlet.refresh_from_db()
    return outlet


def outlet_suspend(*, actor, outlet: Outlet, reason: str) -> Outlet:
    """Suspend an active outlet: its staff cannot register until it is reinstated. ``actor``
    is an operator or GraPARI user, or a label for an automated caller (the compliance
    workflow's sanctions)."""
    return _outlet_change_status(actor=actor, outlet=outlet, reason=reason, action="suspend")


def outlet_reinstate(*, actor, outlet: Outlet, reason: str) -> Outlet:
    """Reinstate a suspended outlet (same actors as ``outlet_suspend``)."""
    return _outlet_change_status(actor=actor, outlet=outlet, reason=reason, action="reinstate")


def outlet_revoke(*, actor, outlet: Outlet, reason: str) -> Outlet:
    """Revoke an outlet for good: it keeps its row (so its ROID is never issued again), its
    registrations stay, and the packs it still holds in stock return to its dealer."""
    return _outlet_change_status(actor=actor, outlet=outlet, reason=reason, action="revoke")


# --- telling the dealer ------------------------------------------------------------------------


def _notify(*, dealer: Dealer, kind: str, subject: str, reason: str = "", **links) -> Notice:
    notice = Notice.objects.create(
        dealer=dealer, kind=kind, subject=subject[:150], reason=reason, **links
    )
    transaction.on_commit(lambda: _email_dealer_admins(notice.pk))
    return notice


def _email_dealer_admins(notice_id: int) -> None:
    """Best effort: the notice in the portal is the record; a mail outage must not fail the
    action that was already committed."""
    from accounts.models import User

    notice = Notice.objects.select_related("dealer").get(pk=notice_id)
    recipients = User.objects.filter(
        dealer_admin__dealer_id=notice.dealer_id, is_active=True
    ).exclude(email="")
    for user in recipients:
        with translation.override(user.preferred_language or None):
            subject = f"[Satu Pintu] {notice.get_kind_display()}: {notice.subject}"
            body = "\n".join(
                line
                for line in (
                    f"{notice.get_kind_display()}: {notice.subject}",
                    f"{_('Reason:')} {notice.reason}" if notice.reason else "",
                    _("See your outlets' dashboard in Satu Pintu."),
                )
                if line
            )
        try:
            send_mail(subject, body, None, [user.email])
        except Exception:
            logger.warning("notice %s: email to dealer admin %s failed", notice_id, user.pk)


def notices_mark_read(*, actor, dealer_id: int) -> int:
    """Mark the dealer's unread notices read (a dealer admin acknowledging them)."""
    require_manages_dealer(actor, dealer_id)
    return Notice.objects.filter(dealer_id=dealer_id, read_at__isnull=True).update(
        read_at=timezone.now()
    )
