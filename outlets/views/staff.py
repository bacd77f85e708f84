"""Outlet staff: the dealer invites and removes clerks; the clerk accepts the invitation."""

import logging

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..forms import StaffInviteForm, StaffRemoveForm
from ..invitations import invitation_path, is_pending, user_for_invitation
from ..models import Outlet
from ._common import manages, nav_context, private

logger = logging.getLogger(__name__)


def _invitation_page(request, membership, *, fresh: bool):
    link = request.build_absolute_uri(invitation_path(membership.user))
    context = {
        **nav_context(request.user),
        "membership": membership,
        "outlet": membership.outlet,
        "link": link,
        "fresh": fresh,
    }
    return private(render(request, "outlets/staff_invited.html", context))


def _email_invitation(membership, link: str) -> None:
    user = membership.user
    if not user.email:
        return
    try:
        send_mail(
            _("Your Satu Pintu account at %(outlet)s") % {"outlet": membership.outlet.name},
            _(
                "Hello %(name)s,\n\nyou have been added to the staff of outlet %(roid)s. Choose "
                "your password with this link (valid for 3 days):\n%(link)s\n\n"
                "Your username is: %(username)s"
            )
            % {
                "name": user.first_name,
                "roid": membership.outlet.roid,
                "link": link,
                "username": user.username,
            },
            None,
            [user.email],
        )
    except Exception:
        logger.warning("invitation email to user %s failed", user.pk)


@login_required
def staff_invite(request, pk):
    """The dealer invites a clerk to one of its outlets; the invitation link is shown once."""
    user = request.user
    outlet = selectors.outlet_get_for_user(user=user, pk=pk)
    if not manages(user, outlet.dealer_id):
        raise PermissionDenied(_("Only the dealer's admins can invite staff."))
    form = StaffInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.outlet_staff_invite(
                actor=user, outlet=outlet, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            _email_invitation(
                membership, request.build_absolute_uri(invitation_path(membership.user))
            )
            return _invitation_page(request, membership, fresh=True)
    context = {
        **nav_context(user),
        "outlet": outlet,
        "form": form,
        "revoked": outlet.status == Outlet.Status.REVOKED,
    }
    return private(render(request, "outlets/staff_invite.html", context))


@login_required
@require_POST
def staff_invitation_link(request, pk):
    """Show a fresh invitation link for a clerk who has not chosen a password yet."""
    membership = selectors.staff_get_for_user(user=request.user, pk=pk)
    if not manages(request.user, membership.outlet.dealer_id):
        raise PermissionDenied(_("Only the dealer's admins can do this."))
    if not membership.is_active or not is_pending(membership.user):
        messages.info(request, _("This clerk has already chosen a password."))
        return redirect("outlets:detail", pk=membership.outlet_id)
    return _invitation_page(request, membership, fresh=False)


@login_required
def staff_remove(request, pk):
    """The dealer removes a clerk: they can no longer log in to the outlet."""
    user = request.user
    membership = selectors.staff_get_for_user(user=user, pk=pk)
    if not manages(user, membership.outlet.dealer_id):
        raise PermissionDenied(_("Only the dealer's admins can remove staff."))
    form = StaffRemoveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.outlet_staff_remove(
                actor=user, membership=membership, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                _("%(name)s was removed from %(roid)s.")
                % {"name": membership.user.get_full_name(), "roid": membership.outlet.roid},
            )
            return redirect("outlets:detail", pk=membership.outlet_id)
    context = {**nav_context(user), "membership": membership, "form": form}
    return private(render(request, "outlets/staff_remove.html", context))


@never_cache
def invitation(request, uidb64, token):
    """The invited clerk chooses a password (no login needed: the signed link is the
    permission), and is logged in."""
    invited = user_for_invitation(uidb64, token)
    if invited is None:
        return private(render(request, "outlets/invitation_invalid.html", status=404))
    form = SetPasswordForm(invited, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.outlet_staff_accept_invitation(
                user=invited, password=form.cleaned_data["new_password1"]
            )
        except ValidationError as exc:
            form.add_error("new_password1", exc)
        else:
            login(request, invited, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome! Your password is set."))
            return redirect("home")
    context = {"form": form, "invited": invited, "outlet": invited.outlet_staff.outlet}
    return private(render(request, "outlets/invitation.html", context))
