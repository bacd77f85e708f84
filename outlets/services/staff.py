"""Outlet staff: the dealer invites a clerk (their own NIK/KK on record for the 2018 rule) and
removes them; a removed clerk can no longer act for, or log in to, the outlet."""

from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ApiToken
from core import pii
from core.audit import AuditAction, audit_record
from core.masking import mask_id_number
from identity import idrules
from identity.messages import id_rule_message

from ..models import Outlet, OutletStaff
from ._common import NON_FIELD, require_manages_dealer


def outlet_staff_invite(
    *,
    actor,
    outlet: Outlet,
    username: str,
    full_name: str,
    id_number: str,
    kk_number: str,
    email: str = "",
    today: date | None = None,
) -> OutletStaff:
    """Invite a clerk to ``outlet``: a new account (role outlet staff, no password yet: they
    choose it through the invitation link, ``outlets.invitations``) and their membership, with
    their own NIK and KK encrypted and digested like any ID number, so the 2018 rule
    (``subscribers.services._check_staff_and_cap``) recognises them.

    The dealer's admins (or the operator) invite; a revoked outlet takes no new staff.
    """
    require_manages_dealer(actor, outlet.dealer_id)
    User = get_user_model()
    errors: dict[str, list[str]] = {}
    # NFKC first (full-width letters are the ASCII ones), then the field's validator, which
    # refuses look-alike letters of other scripts (accounts.validators.UsernameValidator).
    username = User.normalize_username((username or "").strip())
    try:
        User._meta.get_field("username").run_validators(username)
        if not username:
            raise ValidationError(_("Choose a username."))
    except ValidationError as exc:
        errors["username"] = list(exc.messages)
    else:
        if User.objects.filter(username__iexact=username).exists():
            errors["username"] = [_("This username is taken; choose another.")]
    try:
        full_name = idrules.clean_person_name(full_name)
    except idrules.IdRuleError as exc:
        errors["full_name"] = [id_rule_message(exc)]
    try:
        nik = idrules.validate_nik(id_number, birth_date=None, sex=None, today=today)
    except idrules.IdRuleError as exc:
        errors["id_number"] = [id_rule_message(exc)]
        nik = ""
    try:
        kk = idrules.validate_kk(kk_number, today=today)
    except idrules.IdRuleError as exc:
        errors["kk_number"] = [id_rule_message(exc)]
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            errors["email"] = list(exc.messages)
    if outlet.status == Outlet.Status.REVOKED:
        errors[NON_FIELD] = [
            _("Outlet %(roid)s is revoked and takes no new staff.") % {"roid": outlet.roid}
        ]
    if nik and "id_number" not in errors:
        digest = pii.digest(nik)
        if OutletStaff.objects.filter(
            outlet=outlet, is_active=True, id_number_digest=digest
        ).exists():
            errors["id_number"] = [_("Someone with this NIK is already on this outlet's staff.")]
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        user = User(
            username=username, first_name=full_name, email=email, role=User.Role.OUTLET_STAFF
        )
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:  # the same username invited at the same moment
            raise ValidationError(
                {"username": [_("This username is taken; choose another.")]}
            ) from exc
        membership = OutletStaff.objects.create(
            user=user,
            outlet=outlet,
            id_number_encrypted=pii.encrypt(nik),
            id_number_digest=pii.digest(nik),
            kk_number_encrypted=pii.encrypt(kk),
            kk_number_digest=pii.digest(kk),
        )
        audit_record(
            actor=actor,
            action=AuditAction.OUTLET_STAFF_INVITE,
            target=membership,
            after={
                "outlet": outlet.roid,
                "username": username,
                "id_number": mask_id_number(nik),
                "kk_number": mask_id_number(kk),
            },
        )
    return membership


def outlet_staff_accept_invitation(*, user, password: str) -> None:
    """The invited clerk chooses their password (the link was checked by the caller); the
    invitation link stops working with it."""
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=user, action=AuditAction.OUTLET_STAFF_ACCEPT_INVITATION, target=user)


def outlet_staff_remove(*, actor, membership: OutletStaff, reason: str = "") -> OutletStaff:
    """Remove a clerk from their outlet: the membership ends (so the registration service and
    every outlet page refuse them), their API token is deleted, and their account is
    deactivated — they can no longer log in — unless it also holds another role."""
    require_manages_dealer(actor, membership.outlet.dealer_id)
    now = timezone.now()
    with transaction.atomic():
        removed = OutletStaff.objects.filter(pk=membership.pk, is_active=True).update(
            is_active=False, removed_at=now
        )
        if removed != 1:
            raise ValidationError({NON_FIELD: [_("This clerk was already removed.")]})
        user = membership.user
        other_role = (
            user.is_superuser
            or user.is_staff
            or user.role != user.Role.OUTLET_STAFF
            or hasattr(user, "dealer_admin")
        )
        if not other_role:
            user.is_active = False
            user.save(update_fields=["is_active"])
        ApiToken.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            action=AuditAction.OUTLET_STAFF_REMOVE,
            target=membership,
            before={"is_active": True},
            after={
                "is_active": False,
                "reason": (reason or "").strip()[:300],
                "account_deactivated": not other_role,
            },
        )
    membership.refresh_from_db()
    return membership
