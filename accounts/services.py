"""API tokens: issued at the token endpoint, revoked by their owner or the operator admin."""

from django.db import transaction

from core import roles
from core.audit import AuditAction, audit_record

from .models import ApiToken


def api_tokens_for_user(user):
    """The tokens ``user`` may see and revoke: their own; every account's for the operator."""
    tokens = ApiToken.objects.select_related("user")
    if roles.is_operator(user):
        return tokens
    return tokens.filter(user=user)


def api_token_issue(*, user, name: str = "") -> tuple[ApiToken, str]:
    """A new token for ``user`` (who has just proved their password): the row and the key,
    which is shown this once."""
    with transaction.atomic():
        token, key = ApiToken.objects.issue(user=user, name=name)
        audit_record(
            actor=user,
            action=AuditAction.API_TOKEN_ISSUE,
            target=token,
            after={"expires_at": token.expires_at.isoformat()},
        )
    return token, key


def api_token_revoke(*, actor, token: ApiToken) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditAction.API_TOKEN_REVOKE,
            target=token,
            target_repr=f"{token.prefix}… of {token.user.get_username()}",
        )
        ApiToken.objects.filter(pk=token.pk).delete()
