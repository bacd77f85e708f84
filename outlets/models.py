"""Authorized Dealers, their outlets (each with a ROID), outlet staff and starter-pack stock;
outlet applications, stock movements, responsibility-transfer agreements and training."""

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.storage import get_private_storage

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

    class Kind(models.TextChoices):
        # The cap's exceptions depend on it (docs/rules.md): the 4th and later numbers on one
        # NIK only at the operator's own outlets (2017), or also at retail outlets the operator
        # authorised in writing (from 7 May 2018).
        OPERATOR = "operator", _("The operator's own outlet (gerai, GraPARI)")
        RETAIL = "retail", _("Retail outlet")

    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="outlets")
    # Unique across every row ever written: a revoked outlet keeps its row, so its ROID is
    # never issued again.
    roid = models.CharField(_("ROID"), max_length=20, unique=True, validators=[ROID_VALIDATOR])
    name = models.CharField(_("name"), max_length=150)
    owner_name = models.CharField(_("owner"), max_length=150, blank=True)
    # The owner's own NIK and KK (collected at onboarding, protected like every ID number):
    # an outlet may not register buyers with them (the end-user-only rule, docs/rules.md).
    owner_id_number_encrypted = models.TextField(blank=True, default="")
    owner_id_number_digest = models.CharField(max_length=64, blank=True, default="")
    owner_id_number_masked = models.CharField(
        _("owner's NIK"), max_length=40, blank=True, default=""
    )
    owner_kk_number_encrypted = models.TextField(blank=True, default="")
    owner_kk_number_digest = models.CharField(max_length=64, blank=True, default="")
    owner_kk_number_masked = models.CharField(
        _("owner's KK number"), max_length=40, blank=True, default=""
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.RETAIL)
    # A retail outlet the operator authorised in writing (a PKS) to register the numbers beyond
    # the cap, from this day on.
    operator_authorised_from = models.DateField(
        _("authorised by the operator from"), null=True, blank=True
    )
    operator_authorisation_ref = models.CharField(
        _("operator's written authorisation (PKS number)"), max_length=100, blank=True
    )
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

    def operator_authorised_on(self, day) -> bool:
        """Whether the operator had authorised this outlet in writing by ``day``."""
        return self.operator_authorised_from is not None and self.operator_authorised_from <= day


class OutletStaff(models.Model):
    """A clerk's link to the outlet they work for, with their own ID on record (2018 rule)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outlet_staff"
    )
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="staff")
    is_active = models.BooleanField(_("active"), default=True)
    # Protected like every ID number: ciphertext + keyed digest (core.pii).
    id_number_encrypted = models.TextField(blank=True)
    id_number_digest = models.CharField(max_length=64, blank=True, db_index=True)
    kk_number_encrypted = models.TextField(blank=True)
    kk_number_digest = models.CharField(max_length=64, blank=True, db_index=True)
    joined_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)

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
    # The admin's own NIK and KK: the dealer's outlets may not register buyers with them.
    id_number_encrypted = models.TextField(blank=True, default="")
    id_number_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    id_number_masked = models.CharField(_("NIK"), max_length=40, blank=True, default="")
    kk_number_encrypted = models.TextField(blank=True, default="")
    kk_number_digest = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("dealer admin")
        verbose_name_plural = _("dealer admins")

    def __str__(self) -> str:
        return f"{self.user} @ {self.dealer.code}"


class StarterPackQuerySet(models.QuerySet):
    def current_lives(self):
        """Packs whose life of the number has not ended (one per MSISDN)."""
        return self.filter(life_ended_at__isnull=True)


class StarterPack(models.Model):
    """A kartu perdana. Held by a dealer, and by one of its outlets once allocated."""

    class Status(models.TextChoices):
        IN_STOCK = "in_stock", _("In stock")
        REGISTERED = "registered", _("Registered")
        BLOCKED = "blocked", _("Blocked")

    # Unique through Meta.constraints, not unique=True: on PostgreSQL that would add a second,
    # LIKE-only index (varchar_pattern_ops) per column, which no query uses and every new pack
    # (an import writes thousands) would have to maintain.
    msisdn = models.CharField(_("MSISDN"), max_length=15)
    iccid = models.CharField(_("ICCID"), max_length=22, null=True, blank=True)
    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="starter_packs")
    # No index of its own: pack_outlet_status_idx (outlet, status) serves lookups by outlet.
    outlet = models.ForeignKey(
        Outlet,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="starter_packs",
        db_index=False,
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.IN_STOCK
    )
    # The pack's life of its number ended (deactivated at the operator; reconciliation sets
    # it). The number may then be stocked again on a new pack, after the quarantine.
    life_ended_at = models.DateTimeField(_("number's life ended at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StarterPackQuerySet.as_manager()

    class Meta:
        verbose_name = _("starter pack")
        verbose_name_plural = _("starter packs")
        ordering = ["msisdn"]
        constraints = [
            models.CheckConstraint(
                name="pack_status_known",
                condition=models.Q(status__in=["in_stock", "registered", "blocked"]),
            ),
            # One pack per number among the packs whose life has not ended: a number issued
            # again after its quarantine is stocked on a new pack (docs/number-lives.md).
            models.UniqueConstraint(
                fields=["msisdn"],
                name="pack_msisdn_current_unique",
                condition=models.Q(life_ended_at__isnull=True),
            ),
            models.UniqueConstraint(fields=["iccid"], name="pack_iccid_unique"),
        ]
        indexes = [
            # The clerk's "my packs in stock" picker and GET /starter-packs/?status=in_stock;
            # also everything by outlet alone (the outlet's stock, the foreign key's checks).
            models.Index(fields=["outlet", "status"], name="pack_outlet_status_idx"),
        ]

    def __str__(self) -> str:
        return self.msisdn


# --- ROIDs and outlet applications -----------------------------------------------------------


class RoidSequence(models.Model):
    """The running number behind issued ROIDs, one row per prefix (``RO`` + province code).

    Incremented under a row lock and never decremented, so a number is handed out once; with
    the unique ROID on outlets (whose rows are never deleted, a revoked outlet keeps its row) a
    ROID is never issued twice.
    """

    prefix = models.CharField(max_length=8, unique=True)
    last_number = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("ROID sequence")
        verbose_name_plural = _("ROID sequences")

    def __str__(self) -> str:
        return f"{self.prefix} {self.last_number}"


class OutletApplication(models.Model):
    """A dealer's request for a new outlet; the operator approves it (a ROID is issued) or not."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the operator")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="applications")
    name = models.CharField(_("outlet name"), max_length=150)
    owner_name = models.CharField(_("owner"), max_length=150)
    owner_phone = models.CharField(_("owner's phone"), max_length=20, blank=True)
    # The owner's NIK (required) and KK (optional), copied to the outlet on approval.
    owner_id_number_encrypted = models.TextField(blank=True, default="")
    owner_id_number_digest = models.CharField(max_length=64, blank=True, default="")
    owner_id_number_masked = models.CharField(
        _("owner's NIK"), max_length=40, blank=True, default=""
    )
    owner_kk_number_encrypted = models.TextField(blank=True, default="")
    owner_kk_number_digest = models.CharField(max_length=64, blank=True, default="")
    owner_kk_number_masked = models.CharField(
        _("owner's KK number"), max_length=40, blank=True, default=""
    )
    address = models.CharField(_("address"), max_length=300)
    region = models.CharField(_("regency / city"), max_length=100)
    province = models.CharField(_("province"), max_length=2, choices=PROVINCE_CHOICES)
    staff_note = models.TextField(
        _("staff"),
        max_length=1000,
        blank=True,
        help_text=_("Who will register buyers there: names, one per line."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("reason"), max_length=300, blank=True)
    outlet = models.OneToOneField(
        Outlet, null=True, blank=True, on_delete=models.PROTECT, related_name="application"
    )

    class Meta:
        verbose_name = _("outlet application")
        verbose_name_plural = _("outlet applications")
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="outlet_application_status_known",
                condition=models.Q(status__in=["pending", "approved", "rejected"]),
            ),
            # An approved application always names the outlet it created, and only then.
            models.CheckConstraint(
                name="outlet_application_outlet_iff_approved",
                condition=(
                    models.Q(status="approved", outlet__isnull=False)
                    | (~models.Q(status="approved") & models.Q(outlet__isnull=True))
                ),
            ),
        ]
        indexes = [
            # The operator's queue: pending applications, oldest first.
            models.Index(fields=["status", "submitted_at"], name="outlet_app_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"


class Notice(models.Model):
    """What the dealer is told in the portal: a decision about an application or an outlet."""

    class Kind(models.TextChoices):
        APPLICATION_APPROVED = "application_approved", _("Application approved")
        APPLICATION_REJECTED = "application_rejected", _("Application rejected")
        OUTLET_SUSPENDED = "outlet_suspended", _("Outlet suspended")
        OUTLET_REINSTATED = "outlet_reinstated", _("Outlet reinstated")
        OUTLET_REVOKED = "outlet_revoked", _("Outlet revoked")

    dealer = models.ForeignKey(Dealer, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    outlet = models.ForeignKey(
        Outlet, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    application = models.ForeignKey(
        OutletApplication, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The outlet's ROID or the application's name when it was written.
    subject = models.CharField(_("about"), max_length=150)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notice to a dealer")
        verbose_name_plural = _("notices to dealers")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The dealer's dashboard: its newest notices.
            models.Index(fields=["dealer", "-created_at"], name="notice_dealer_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


# --- Starter-pack stock movements ------------------------------------------------------------


class StockAllocation(models.Model):
    """One movement of a set of starter packs, by one person at one moment: operator to dealer,
    dealer to one of its outlets, or an outlet back to its dealer's stock."""

    class Kind(models.TextChoices):
        TO_DEALER = "to_dealer", _("Operator to dealer")
        TO_OUTLET = "to_outlet", _("Dealer to outlet")
        TO_DEALER_STOCK = "to_dealer_stock", _("Outlet back to dealer")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="allocations")
    outlet = models.ForeignKey(
        Outlet, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("by"), max_length=150)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    pack_count = models.PositiveIntegerField(_("packs"))
    # Where the list came from: "file stock.csv", "range 62811… – 62811…", "list", "revocation".
    source = models.CharField(_("source"), max_length=200)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("stock allocation")
        verbose_name_plural = _("stock allocations")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="allocation_kind_known",
                condition=models.Q(kind__in=["to_dealer", "to_outlet", "to_dealer_stock"]),
            ),
            models.CheckConstraint(
                name="allocation_outlet_matches_kind",
                condition=(
                    models.Q(kind="to_dealer", outlet__isnull=True)
                    | (~models.Q(kind="to_dealer") & models.Q(outlet__isnull=False))
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.pack_count} · {self.created_at:%Y-%m-%d %H:%M}"


class StockMove(models.Model):
    """One pack's part in an allocation: from which holder to which. Who and when are the
    allocation's. A null ``from_dealer`` is the operator's warehouse; a null outlet is the
    dealer's own stock."""

    allocation = models.ForeignKey(StockAllocation, on_delete=models.CASCADE, related_name="moves")
    pack = models.ForeignKey(StarterPack, on_delete=models.PROTECT, related_name="moves")
    from_dealer = models.ForeignKey(
        Dealer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_outlet = models.ForeignKey(
        Outlet, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="+")
    to_outlet = models.ForeignKey(
        Outlet, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")
        constraints = [
            models.UniqueConstraint(fields=["allocation", "pack"], name="stock_move_once"),
        ]
        indexes = [
            # A pack's history (newest allocation first).
            models.Index(fields=["pack", "-allocation"], name="stock_move_pack_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.pack_id} in allocation {self.allocation_id}"


# --- Responsibility-transfer agreements ------------------------------------------------------


def _agreement_document_path(instance, filename: str) -> str:
    # Random names: the path must not reveal whose contract it is.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"agreements/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{extension}"


class ResponsibleParty(models.Model):
    """A party outside the dealer's outlets (a sub-reseller) that packs can be handed to."""

    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="parties")
    name = models.CharField(_("name"), max_length=150)
    registration_number = models.CharField(
        _("NPWP / business registration number"), max_length=40, blank=True
    )
    contact_name = models.CharField(_("contact person"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("responsible party")
        verbose_name_plural = _("responsible parties")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["dealer", "name"], name="party_name_per_dealer"),
        ]

    def __str__(self) -> str:
        return self.name


class TransferAgreement(models.Model):
    """The dealer hands responsibility for registering a set of packs to a party, for a period.

    In force (``active``) only once the signed document is on record; a draft moves nothing.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Waiting for the signed document")
        ACTIVE = "active", _("In force")

    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="agreements")
    party = models.ForeignKey(ResponsibleParty, on_delete=models.PROTECT, related_name="agreements")
    reference = models.CharField(_("agreement number"), max_length=60, blank=True)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.DRAFT
    )
    document = models.FileField(
        _("signed document"),
        storage=get_private_storage,
        upload_to=_agreement_document_path,
        blank=True,
    )
    document_content_type = models.CharField(max_length=40, blank=True)
    document_size = models.PositiveIntegerField(null=True, blank=True)
    pack_count = models.PositiveIntegerField(_("packs covered"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("responsibility-transfer agreement")
        verbose_name_plural = _("responsibility-transfer agreements")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                name="agreement_ends_after_start", condition=models.Q(ends_on__gte=F("starts_on"))
            ),
            models.CheckConstraint(
                name="agreement_status_known", condition=models.Q(status__in=["draft", "active"])
            ),
            models.CheckConstraint(
                name="agreement_active_has_document",
                condition=models.Q(status="draft") | ~models.Q(document=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.party} {self.starts_on:%Y-%m-%d}–{self.ends_on:%Y-%m-%d}"


class AgreementRange(models.Model):
    """A contiguous run of MSISDNs an agreement covers (one pack: from == to).

    MSISDNs compare as text, which orders numbers correctly only between equal lengths; hence
    the length column, part of every range lookup.
    """

    agreement = models.ForeignKey(
        TransferAgreement, on_delete=models.CASCADE, related_name="ranges"
    )
    msisdn_from = models.CharField(_("from MSISDN"), max_length=15)
    msisdn_to = models.CharField(_("to MSISDN"), max_length=15)
    msisdn_length = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("MSISDN range")
        verbose_name_plural = _("MSISDN ranges")
        ordering = ["msisdn_from"]
        constraints = [
            models.CheckConstraint(
                name="agreement_range_ordered",
                condition=models.Q(msisdn_from__lte=F("msisdn_to")),
            ),
        ]
        indexes = [
            # accountable_party_for_msisdn: "the ranges that contain this number".
            models.Index(fields=["msisdn_length", "msisdn_from"], name="agreement_range_idx"),
        ]

    def __str__(self) -> str:
        if self.msisdn_from == self.msisdn_to:
            return self.msisdn_from
        return f"{self.msisdn_from}–{self.msisdn_to}"


# --- Training --------------------------------------------------------------------------------


class TrainingSession(models.Model):
    """A training or socialisation session, organised by a dealer or by the operator."""

    class Audience(models.TextChoices):
        GRAPARI = "grapari", _("GraPARI staff")
        DISTRIBUTOR = "distributor", _("Distributors")
        OUTLET = "outlet", _("Outlets")

    held_on = models.DateField(_("date"))
    trainer = models.CharField(_("trainer"), max_length=150)
    audience = models.CharField(_("audience"), max_length=12, choices=Audience.choices)
    topic = models.CharField(_("topic"), max_length=200)
    location = models.CharField(_("place"), max_length=200, blank=True)
    # The organiser: a dealer records its own sessions; the operator's have none.
    dealer = models.ForeignKey(
        Dealer, null=True, blank=True, on_delete=models.PROTECT, related_name="training_sessions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("training session")
        verbose_name_plural = _("training sessions")
        ordering = ["-held_on", "-id"]
        constraints = [
            models.CheckConstraint(
                name="training_audience_known",
                condition=models.Q(audience__in=["grapari", "distributor", "outlet"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.held_on:%Y-%m-%d} {self.topic}"


class Attendance(models.Model):
    """That a person attended a training session."""

    session = models.ForeignKey(
        TrainingSession, on_delete=models.CASCADE, related_name="attendances"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_attendances"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendances")
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="attendance_once"),
        ]
        indexes = [
            # "Has this clerk attended a training?" (the registration check, the dashboard).
            models.Index(fields=["user", "session"], name="attendance_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.session}"
