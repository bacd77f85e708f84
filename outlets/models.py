"""Authorized Dealers, their outlets (each with a ROID), outlet staff and starter-pack stock."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .regions import PROVINCE_CHOICES

ROID_VALIDATOR = RegexValidator(
    r"^RO[A-Z0-9]{6,18}$", _("A ROID is 'RO' followed by 6 to 18 capital letters or digits.")
)


class Dealer(models.Model):
    """An Authorized Dealer (AD): answerable for the packs that leave its outlets."""

    code = models.CharField(_("dealer code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=150)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("authorized dealer")
        verbose_name_plural = _("authorized dealers")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Outlet(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        REVOKED = "revoked", _("Revoked")

    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="outlets")
    # Unique across every row ever written: a revoked outlet keeps its row, so its ROID is
    # never issued again.
    roid = models.CharField(_("ROID"), max_length=20, unique=True, validators=[ROID_VALIDATOR])
    name = models.CharField(_("name"), max_length=150)
    owner_name = models.CharField(_("owner"), max_length=150, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    region = models.CharField(_("regency / city"), max_length=100)
    province = models.CharField(_("province"), max_length=2, choices=PROVINCE_CHOICES)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE
    )
    status_reason = models.CharField(_("reason for status"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("outlet")
        verbose_name_plural = _("outlets")
        ordering = ["roid"]
        constraints = [
            models.CheckConstraint(
                name="outlet_status_known",
                condition=models.Q(status__in=["active", "suspended", "revoked"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.roid} {self.name}"

    @property
    def may_register(self) -> bool:
        return self.status == self.Status.ACTIVE


class OutletStaff(models.Model):
    """A clerk's link to the outlet they work for, with their own ID on record (2018 rule)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outlet_staff"
    )
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="staff")
    is_active = models.BooleanField(_("active"), default=True)
    # Protected like every ID number: ciphertext + keyed digest (compliance.pii).
    id_number_encrypted = models.TextField(blank=True)
    id_number_digest = models.CharField(max_length=64, blank=True, db_index=True)
    kk_number_encrypted = models.TextField(blank=True)
    kk_number_digest = models.CharField(max_length=64, blank=True, db_index=True)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("outlet staff member")
        verbose_name_plural = _("outlet staff")

    def __str__(self) -> str:
        return f"{self.user} @ {self.outlet.roid}"


class DealerAdmin(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dealer_admin"
    )
    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="admins")

    class Meta:
        verbose_name = _("dealer admin")
        verbose_name_plural = _("dealer admins")

    def __str__(self) -> str:
        return f"{self.user} @ {self.dealer.code}"


class StarterPack(models.Model):
    """A kartu perdana. Held by a dealer, and by one of its outlets once allocated."""

    class Status(models.TextChoices):
        IN_STOCK = "in_stock", _("In stock")
        REGISTERED = "registered", _("Registered")
        BLOCKED = "blocked", _("Blocked")

    msisdn = models.CharField(_("MSISDN"), max_length=15, unique=True)
    iccid = models.CharField(_("ICCID"), max_length=22, unique=True, null=True, blank=True)
    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="starter_packs")
    outlet = models.ForeignKey(
        Outlet, null=True, blank=True, on_delete=models.PROTECT, related_name="starter_packs"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.IN_STOCK
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("starter pack")
        verbose_name_plural = _("starter packs")
        ordering = ["msisdn"]
        constraints = [
            models.CheckConstraint(
                name="pack_status_known",
                condition=models.Q(status__in=["in_stock", "registered", "blocked"]),
            )
        ]
        indexes = [
            # The clerk's "my packs in stock" picker and GET /starter-packs/?status=in_stock.
            models.Index(fields=["outlet", "status"], name="pack_outlet_status_idx"),
        ]

    def __str__(self) -> str:
        return self.msisdn
