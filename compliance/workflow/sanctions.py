"""Violations and the sanction ladder.

A reviewer confirms a violation against the party accountable for a number
(``violation_confirm``, from the review decision). Against an outlet, its confirmed violations
within the policy's window are counted under a lock on the outlet row, and a rung of the
policy's ladder that the count *reaches* is taken (``subscribers.ladder``): a written warning,
a suspension (``outlets.services.outlet_suspend``: its clerks cannot register, the form says
why) or a revocation (``outlet_revoke``). The outlet's staff are told, and the dealer — by the
outlets app's notice and e-mail for a suspension or revocation, by a notification for a warning.
An operator admin lifts a suspension with a reason (``sanction_lift``: the outlet is reinstated).

Violations against a dealer (its own or its parties' packs) are recorded and shown to the
dealer; the ladder is the outlets' (it is outlets that lose the right to register).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.audit import AuditAction, actor_label, audit_record
from core.masking import display_msisdn
from core.roles import is_operator, is_signed_in
from outlets.models import Outlet
from outlets.services import outlet_reinstate, outlet_revoke, outlet_suspend
from subscribers import ladder
from subscribers.models import Registration
from subscribers.selectors import NoPolicyInForce, policy_in_force

from ..models import Clarification, ReviewItem, Sanction, Violation
from .notifications import dealer_admin_users, notify, outlet_staff_users
from .support import NON_FIELD, SYSTEM_ACTOR, WorkflowConflict, stored_text

LIFT_REASON_MAX = 2000


def violation_confirm(
    *,
    actor,
    item: ReviewItem,
    clarification: Clarification | None,
    reason: str,
    now: datetime,
) -> tuple[Violation, Sanction | None]:
    """Record a confirmed violation against the party accountable for the item's number, then
    apply the ladder when that party is an outlet. Call inside the decision's transaction."""
    if clarification is not None:
        accountable = clarification.accountable
        outlet_id = clarification.outlet_id
        dealer_id = clarification.dealer_id
    else:
        registration = Registration.objects.select_related("outlet").get(pk=item.registration_id)
        accountable = Clarification.Accountable.OUTLET
        outlet_id = registration.outlet_id
        dealer_id = registration.outlet.dealer_id
    violation = Violation.objects.create(
        outlet_id=outlet_id if accountable == Clarification.Accountable.OUTLET else None,
        dealer_id=dealer_id,
        accountable=accountable,
        msisdn=item.msisdn,
        registration_id=item.registration_id,
        clarification=clarification,
        review_item=item,
        kinds=item.discrepancy_kinds.strip(","),
        reason=reason,
        confirmed_by=actor if is_signed_in(actor) else None,
        confirmed_at=now,
    )
    audit_record(
        actor=actor,
        action=AuditAction.VIOLATION_CONFIRM,
        target=violation,
        after={
            "accountable": accountable,
            "outlet": outlet_id,
            "msisdn": item.msisdn,
            "kinds": violation.kinds,
            "reason": reason[:300],
        },
    )
    if violation.outlet_id is None:
        notify(
            users=dealer_admin_users(dealer_ids=[dealer_id]),
            text=lambda: (
                _("GraPARI confirmed a violation on %(msisdn)s (your dealer's packs).")
                % {"msisdn": display_msisdn(item.msisdn)}
            ),
        )
        return violation, None
    return violation, sanctions_apply_ladder(actor=actor, violation=violation, now=now)


def _policy(now: datetime):
    try:
        return policy_in_force(at=now)
    except NoPolicyInForce:
        return None


def sanctions_apply_ladder(*, actor, violation: Violation, now: datetime) -> Sanction | None:
    """Count the outlet's confirmed violations within the window of the policy in force and take
    the rung the count reaches, if any. The outlet row is locked first, so two decisions about
    one outlet count one after the other (each sees the other's violation)."""
    outlet = Outlet.objects.select_for_update().select_related("dealer").get(pk=violation.outlet_id)
    policy = _policy(now)
    if policy is None or outlet.status == Outlet.Status.REVOKED:
        return None
    since = now - timedelta(days=policy.violation_window_days)
    count = Violation.objects.filter(outlet=outlet, confirmed_at__gte=since).count()
    action = ladder.action_reached(policy.sanction_ladder, count)
    link = reverse("compliance:outlet", args=[outlet.pk])
    if action is None:
        upcoming = ladder.next_rung(policy.sanction_ladder, count)
        notify(
            users=outlet_staff_users(outlet_ids=[outlet.pk]),
            text=lambda: _violation_message(violation, count, policy, upcoming),
            link=link,
        )
        return None
    return _impose(
        actor=actor,
        outlet=outlet,
        level=action,
        count=count,
        policy=policy,
        violation=violation,
        now=now,
        link=link,
    )


def _violation_message(violation, count, policy, upcoming) -> str:
    text = ngettext(
        "A violation was confirmed on %(msisdn)s: %(count)d in the last %(days)d days.",
        "A violation was confirmed on %(msisdn)s: %(count)d in the last %(days)d days.",
        count,
    ) % {
        "msisdn": display_msisdn(violation.msisdn),
        "count": count,
        "days": policy.violation_window_days,
    }
    if upcoming:
        text += " " + _("At %(n)d: %(action)s.") % {
            "n": upcoming["violations"],
            "action": Sanction.Level(upcoming["action"]).label.lower(),
        }
    return text


def _impose(*, actor, outlet, level, count, policy, violation, now, link) -> Sanction:
    reason = stored_text(
        _(
            "%(level)s: %(count)d confirmed violations of the registration rules within "
            "%(days)d days (rules %(policy)s)."
        )
        % {
            "level": Sanction.Level(level).label,
            "count": count,
            "days": policy.violation_window_days,
            "policy": policy.code,
        }
    )
    changed = False
    is_user = is_signed_in(actor)
    automated = actor if is_user else SYSTEM_ACTOR
    if level == Sanction.Level.SUSPENSION and outlet.status == Outlet.Status.ACTIVE:
        outlet_suspend(actor=automated, outlet=outlet, reason=reason[:300])
        changed = True
    elif level == Sanction.Level.REVOCATION and outlet.status != Outlet.Status.REVOKED:
        outlet_revoke(actor=automated, outlet=outlet, reason=reason[:300])
        changed = True
    sanction = Sanction.objects.create(
        outlet=outlet,
        level=level,
        reason=reason,
        violations_counted=count,
        window_days=policy.violation_window_days,
        policy=policy,
        violation=violation,
        status_changed=changed,
        created_by=actor if is_user else None,
        created_by_label=actor_label(actor),
        created_at=now,
    )
    audit_record(
        actor=actor,
        action=AuditAction.SANCTION_IMPOSE,
        target=sanction,
        after={
            "outlet": outlet.roid,
            "level": level,
            "violations": count,
            "window_days": policy.violation_window_days,
            "outlet_status_changed": changed,
        },
    )
    staff_text = {
        Sanction.Level.WARNING: _(
            "Written warning for outlet %(roid)s: %(count)d confirmed violations. Register "
            "every buyer from their own original document."
        ),
        Sanction.Level.SUSPENSION: _(
            "Outlet %(roid)s is suspended after %(count)d confirmed violations: it cannot "
            "register buyers until the operator reinstates it."
        ),
        Sanction.Level.REVOCATION: _(
            "Outlet %(roid)s is revoked after %(count)d confirmed violations."
        ),
    }[level]
    notify(
        users=outlet_staff_users(outlet_ids=[outlet.pk]),
        text=lambda: str(staff_text) % {"roid": outlet.roid, "count": count},
        link=link,
    )
    if level == Sanction.Level.WARNING:
        # Suspension and revocation reach the dealer through outlets.services (notice + e-mail).
        notify(
            users=dealer_admin_users(dealer_ids=[outlet.dealer_id]),
            text=lambda: str(staff_text) % {"roid": outlet.roid, "count": count},
            link=link,
        )
    return sanction


def may_lift(user) -> bool:
    """Only operator admins lift a sanction (reinstate an outlet)."""
    return is_operator(user)


def sanction_lift(
    *, actor, sanction: Sanction, reason: str, now: datetime | None = None
) -> Sanction:
    """An operator admin lifts an outlet's suspension, saying why: the outlet is reinstated
    (``outlets.services.outlet_reinstate``, which tells the dealer) and its staff are told.

    Rules: a reason is required; only a suspension is lifted (a warning is a record, a
    revocation is final); a suspension already lifted is refused. An outlet reinstated another
    way meanwhile is left as it is and the sanction marked lifted.
    """
    if not may_lift(actor):
        raise PermissionDenied(_("Only operator admins lift sanctions."))
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason: the outlet and dealer see it.")]})
    if len(reason) > LIFT_REASON_MAX:
        raise ValidationError(
            {"reason": [_("At most %(limit)d characters.") % {"limit": LIFT_REASON_MAX}]}
        )
    if sanction.level != Sanction.Level.SUSPENSION:
        raise ValidationError(
            {
                NON_FIELD: [
                    _("Only a suspension can be lifted: a warning is a record, a revocation final.")
                ]
            }
        )
    with transaction.atomic():
        outlet = Outlet.objects.select_for_update().get(pk=sanction.outlet_id)
        if outlet.status == Outlet.Status.REVOKED:
            raise ValidationError({NON_FIELD: [_("The outlet was revoked: that is final.")]})
        lifted = Sanction.objects.filter(pk=sanction.pk, lifted_at__isnull=True).update(
            lifted_at=now, lifted_by=actor, lift_reason=reason
        )
        if lifted != 1:
            raise WorkflowConflict(_("This sanction was already lifted."), code="already_lifted")
        reinstated = outlet.status == Outlet.Status.SUSPENDED
        if reinstated:
            outlet_reinstate(actor=actor, outlet=outlet, reason=reason[:300])
        sanction.refresh_from_db()
        audit_record(
            actor=actor,
            action=AuditAction.SANCTION_LIFT,
            target=sanction,
            before={"lifted": False},
            after={"lifted": True, "reason": reason[:300], "outlet_reinstated": reinstated},
        )
        notify(
            users=outlet_staff_users(outlet_ids=[outlet.pk]),
            text=lambda: (
                _("Outlet %(roid)s is reinstated: you can register buyers again.")
                % {"roid": outlet.roid}
            ),
            link=reverse("compliance:outlet", args=[outlet.pk]),
        )
    return sanction
