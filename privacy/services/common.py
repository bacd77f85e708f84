"""Helpers the privacy services share."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from core.roles import is_operator

from ..models import RegistrationPrivacy


def chunk_size() -> int:
    return settings.PRIVACY_CHUNK_SIZE


def require_operator(actor) -> None:
    """People act through their account and must be operator admins; a management command
    passes a plain label (whoever runs it already has the server)."""
    if isinstance(actor, str):
        return
    if not is_operator(actor):
        raise PermissionDenied(_("Only operator admins may do this."))


def ensure_states(registration_ids) -> None:
    """A privacy-state row for each of these registrations (existing rows are left alone)."""
    RegistrationPrivacy.objects.bulk_create(
        [RegistrationPrivacy(registration_id=pk) for pk in registration_ids],
        ignore_conflicts=True,
    )
