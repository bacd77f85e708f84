"""Invitation links for new clerks: a signed, expiring token to choose a password.

The token is Django's password-reset token under its own salt: it stops working once the
password is set (it hashes the password), after ``PASSWORD_RESET_TIMEOUT`` (3 days by
default; the dealer can show a fresh link), and when the clerk is removed.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "outlets.invitations.InvitationTokenGenerator"


invitation_tokens = InvitationTokenGenerator()


def invitation_path(user) -> str:
    """The path of ``user``'s invitation page (prefix it with the site's address)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("outlets:invitation", args=[uid, invitation_tokens.make_token(user)])


def is_pending(user) -> bool:
    """Invited, password not chosen yet."""
    return user.is_active and not user.has_usable_password()


def user_for_invitation(uidb64: str, token: str):
    """The invited user, or None when the link is wrong, used, expired or revoked."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError):
        return None
    user = get_user_model().objects.filter(pk=pk).select_related("outlet_staff").first()
    if user is None or not is_pending(user):
        return None
    membership = getattr(user, "outlet_staff", None)
    if membership is None or not membership.is_active:
        return None
    return user if invitation_tokens.check_token(user, token) else None
