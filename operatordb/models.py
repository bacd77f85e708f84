"""The mock of two systems we do not own: the operator's subscriber database and the population
registry (Dukcapil). Their own tables (``operatordb_*``), never joined to by portal code except
through ``operatordb.adapter`` — a real operator feed replaces them without touching the engine.

Identity is held the way the portal holds it: the ID number as a keyed digest
(``core.pii.digest`` of the normalised number) plus a masked copy for display, and the name
with its comparison key (``identity.idrules.normalize_name_for_comparison``).
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import vocabulary


class OperatorSubscriber(models.Model):
    """One MSISDN as the operator's database knows it (a row of the daily snapshot)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")

    # Unique by the constraint below, not ``unique=True``: on PostgreSQL that would also build a
    # ``varchar_pattern_ops`` index for LIKE prefixes, which nothing asks of this table (the
    # admin searches by exact number) and every snapshot load would write.
    msisdn = models.CharField(_("MSISDN"), max_length=15)
    iccid = models.CharField(_("ICCID"), max_length=22, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    # The ROID the pack was sold through; blank for numbers bought without an outlet
    # (self-registration, GraPARI). Not a foreign key: the operator's data may name ROIDs the
    # portal does not know.
    outlet_roid = models.CharField(_("sold through ROID"), max_length=20, blank=True)
    id_type = models.CharField(_("ID type"), max_length=12, blank=True)
    id_number_digest = models.CharField(max_length=64, blank=True)
    id_number_masked = models.CharField(_("ID number"), max_length=40, blank=True)
    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    # The name's comparison key (``normalize_name_for_comparison``), whole: NFKC can make it
    # many times longer than the 100-character name (U+FDFA is 15 letters), and reconciliation
    # compares it with the key of the portal's name, never cut (docs/decisions.md).
    name_key = models.TextField(blank=True)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    # The number's lives (docs/number-lives.md): when the operator issued the number for the
    # life this row describes (None: not given, the number's only life as far as we know),
    # and when that life ended (deactivated; the number then rests in quarantine).
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    deactivated_at = models.DateTimeField(_("deactivated at"), null=True, blank=True)
    # Moves only when a value really changes (the snapshot loader compares before it writes),
    # so "what changed since" is what incremental reconciliation reads.
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Two more columns are the database's alone (PostgreSQL; migrations 0004 and 0007), not
    # declared here: ``change_xid`` (the transaction that last changed the row's data: what
    # incremental reconciliation selects by) and ``line_fingerprint`` (the keyed fingerprint of
    # the snapshot line the row was written from, cleared by a trigger when anything else
    # changes the row: a reload converts only the lines no row stands for, docs/decisions.md).

    class Meta:
        verbose_name = _("operator subscriber")
        verbose_name_plural = _("operator subscribers")
        ordering = ["msisdn"]
        constraints = [
            models.UniqueConstraint(fields=["msisdn"], name="opsub_msisdn_unique"),
            models.CheckConstraint(
                name="opsub_status_known", condition=models.Q(status__in=["active", "inactive"])
            ),
            models.CheckConstraint(
                name="opsub_deactivated_inactive",
                condition=models.Q(deactivated_at__isnull=True) | models.Q(status="inactive"),
            ),
        ]
        indexes = [
            # id_over_limit: the active numbers per ID digest, in activation order, read by
            # digest ranges (index-only once vacuumed).
            models.Index(
                fields=["id_number_digest", "activated_at", "msisdn"],
                name="opsub_active_digest_idx",
                condition=models.Q(status="active") & ~models.Q(id_number_digest=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.msisdn} ({self.get_status_display()})"


class PopulationRecord(models.Model):
    """The population registry's record of one NIK (Dukcapil): name, birth date, sex, KK — the
    table behind the mock registry (``operatordb.registry``), loaded with
    ``load_population_registry``. The face is kept as its perceptual hash only, never as an
    image (``face_hash``, the mock's reference for face verification)."""

    nik_digest = models.CharField(max_length=64, unique=True)
    nik_masked = models.CharField(max_length=24)
    full_name = models.CharField(max_length=100)
    name_key = models.TextField()  # whole, as the operator's (above)
    birth_date = models.DateField()
    sex = models.CharField(max_length=1)
    kk_digest = models.CharField(max_length=64, blank=True)
    kk_masked = models.CharField(max_length=24, blank=True, default="")
    birth_place = models.CharField(max_length=100, blank=True, default="")
    head_of_family = models.BooleanField(_("head of family (kepala keluarga)"), default=False)
    face_hash = models.CharField(max_length=16, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("population registry record")
        verbose_name_plural = _("population registry records")

    def __str__(self) -> str:
        return self.nik_masked


class InjectedDiscrepancy(models.Model):
    """The generator's ground truth: what it planted, and what must *not* be found.

    ``expected`` False marks the edge cases a correct engine leaves alone (a name differing only
    by case or punctuation, an ID exactly at the cap, a pack registered late).
    """

    msisdn = models.CharField(max_length=15)
    kind = models.CharField(max_length=32)
    case = models.CharField(max_length=40)
    expected = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("injected discrepancy (generator truth)")
        verbose_name_plural = _("injected discrepancies (generator truth)")
        constraints = [
            models.UniqueConstraint(fields=["msisdn", "kind"], name="injected_msisdn_kind_unique")
        ]

    def __str__(self) -> str:
        return f"{self.msisdn} {vocabulary.label('discrepancy_kind', self.kind)} ({self.case})"


# The operator's own codes, with their labels for pages and exports (core.vocabulary).
vocabulary.register("operator_status", OperatorSubscriber.Status)
