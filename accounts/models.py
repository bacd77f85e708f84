"""Users and the role that decides what each one may see and do."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import roles


class User(AbstractUser):
    class Role(models.TextChoices):
        OUTLET_STAFF = roles.OUTLET_STAFF, _("Outlet staff")
        DEALER_ADMIN = roles.DEALER_ADMIN, _("Dealer admin")
        GRAPARI = roles.GRAPARI, _("GraPARI reviewer")
        REGULATOR = roles.REGULATOR, _("Regulator (read-only)")
        OPERATOR = roles.OPERATOR, _("Operator admin")

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
