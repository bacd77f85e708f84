"""Users and the role that decides what each one may see and do."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import roles, vocabulary
from core.audit import AuditAction, audit_record

from .validators import UsernameValidator


class User(AbstractUser):
    class Role(models.TextChoices):
        OUTLET_STAFF = roles.OUTLET_STAFF, _("Outlet staff")
        DEALER_ADMIN = roles.DEALER_ADMIN, _("Dealer admin")
        GRAPARI = roles.GRAPARI, _("GraPARI reviewer")
        REGULATOR = roles.REGULATOR, _("Regulator (read-only)")
        OPERATOR = roles.OPERATOR, _("Operator admin")

    username_validator = UsernameValidator()
    username = models.CharField(
        _("username"),
        max_length=150,
        unique=True,
        help_text=_("Required. 150 characters or fewer. Letters a–z, digits and @/./+/-/_ only."),
        validators=[username_validator],
        error_messages={"unique": _("A user with that username already exists.")},
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    preferred_language = models.CharField(_("preferred language"), max_length=8, default="id")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                name="user_role_known",
                condition=models.Q(
                    role__in=[
                        "",
                        roles.OUTLET_STAFF,
                        roles.DEALER_ADMIN,
                        roles.GRAPARI,
                        roles.REGULATOR,
                        roles.OPERATOR,
                    ]
                ),
            )
        ]

    @property
    def is_operator(self) -> bool:
        """Operator admins and superusers see and run everything."""
        return self.is_superuser or self.role == self.Role.OPERATOR

    @property
    def sees_all_outlets(self) -> bool:
        """Roles whose scope is the whole operator: operator, GraPARI, regulator."""
        return self.is_operator or self.role in (self.Role.GRAPARI, self.Role.REGULATOR)

    # --- API tokens die with the credentials they were obtained with -------------------------
    # A new password (set_password: password change, reset, the admin's form, `changepassword`;
    # Django keeps it in ``_password`` until save) or set_unusable_password: save() revokes every
    # API token, in the same transaction as the new hash. A hash upgraded at login
    # (check_password's setter clears ``_password``) is not a change and revokes nothing.
    _credentials_changed = False

    def set_unusable_password(self):
        super().set_unusable_password()
        self._credentials_changed = True

    def save(self, *args, **kwargs):
        revoke = self.pk is not None and (
            self._credentials_changed or getattr(self, "_password", None) is not None
        )
        with transaction.atomic():
            super().save(*args, **kwargs)
            if revoke:
                revoked, _by_model = ApiToken.objects.filter(user=self).delete()
                if revoked:
                    audit_record(
                        actor="password change",
                        action=AuditAction.API_TOKENS_REVOKE_ALL,
                        target=self,
                        after={"revoked": revoked},
                    )
        self._credentials_changed = False


def _token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenManager(models.Manager):
    def issue(self, *, user, name: str = "", key: str | None = None):
        """A new token for ``user``: ``(row, key)``. The key is shown once and never stored;
        the row keeps its SHA-256 digest and its first characters (to recognise it in a list).
        Past ``API_TOKEN_MAX_PER_USER`` the oldest of the user's tokens are revoked."""
        key = key or TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = timezone.now()
        with transaction.atomic():
            token = self.create(
                user=user,
                name=name[:100],
                prefix=key[:PREFIX_LENGTH],
                digest=_token_digest(key),
                created_at=now,
                expires_at=now + timedelta(hours=settings.API_TOKEN_TTL_HOURS),
            )
            keep = self.filter(user=user).order_by("-created_at", "-pk")
            stale = list(keep.values_list("pk", flat=True)[settings.API_TOKEN_MAX_PER_USER :])
            if stale:
                self.filter(pk__in=stale).delete()
        return token, key

    def active(self):
        return self.filter(expires_at__gt=timezone.now())


TOKEN_PREFIX = "sp_"  # noqa: S105 - marks the key as ours in logs and secret scanners
PREFIX_LENGTH = 8


class ApiToken(models.Model):
    """An integrator's API token, stored as a digest only (``Authorization: Token <key>``)."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("starts with"), max_length=PREFIX_LENGTH)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"), db_index=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = ApiTokenManager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "created_at"], name="apitoken_user_idx")]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    digest_of = staticmethod(_token_digest)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


# The vocabulary of this module, with its labels for pages and exports (core.vocabulary).
vocabulary.register("role", User.Role)
