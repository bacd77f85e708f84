"""Derived data of the risk signals (``risk.refresh`` keeps it up to date; it can be dropped and
rebuilt at any time with ``python manage.py refresh_risk_signals --full``).

- ``RegistrationSignal``: one row per registration and signal that holds for it — a small set
  (most registrations carry none), so the figures never scan every registration;
- ``MonthlyOutletRisk``: per outlet and local month, its registrations and how many carry each
  signal — what a long period's figures sum (a year is 12 rows an outlet, not 365 days);
- ``RiskState``: how fresh those rows are and where the next incremental refresh starts;
- ``RecentOutletRisk``: per outlet, the signals above the baseline over the last
  ``RISK_RECENT_DAYS`` days, for the dealer's dashboard and GraPARI's review filter.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RiskState(models.Model):
    """The one row saying how fresh the signal rows are; a refresh holds its lock."""

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON)
    watermark = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(_("signals as of"), null=True, blank=True)
    full_refreshed_at = models.DateTimeField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    last_mode = models.CharField(max_length=12, blank=True)
    last_duration_ms = models.PositiveIntegerField(default=0)
    # The per-month rows are complete (a full refresh built them): until then the figures sum
    # days only.
    months_built = models.BooleanField(default=False)
    # The reports' watermark when the per-month rows last read their registration counts: the
    # registrations changed since are looked at again by the next refresh (the report summary
    # tables may have been refreshed after them).
    summary_watermark = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("risk signal state")
        verbose_name_plural = _("risk signal state")
        constraints = [
            models.CheckConstraint(name="risk_state_singleton", condition=models.Q(id=1))
        ]

    def __str__(self) -> str:
        return f"risk signals as of {self.refreshed_at}"


class RegistrationSignal(models.Model):
    """A registration carrying a signal (``risk.signals``), at its outlet and local day.

    ``via`` and ``digest`` say which number made a per-number signal hold ("nik" or "kk" and
    that number's keyed digest — pseudonymous, never shown), so that an incremental refresh
    replaces the rows of the numbers that changed; both are empty for the other signals.
    """

    # Derived rows, rewritten by set-based statements: no database-level foreign keys (their
    # per-row checks were half the cost of a rebuild); the ORM still cascades a deletion, and a
    # refresh replaces whatever a raw deletion would leave.
    registration = models.ForeignKey(
        "subscribers.Registration",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    signal = models.CharField(max_length=32)
    outlet = models.ForeignKey(
        "outlets.Outlet",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    day = models.DateField()
    via = models.CharField(max_length=3, blank=True, default="")
    digest = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("registration risk signal")
        verbose_name_plural = _("registration risk signals")
        constraints = [
            # The refresh's ON CONFLICT target (a NIK and a KK may both make ``id_spread`` hold).
            models.UniqueConstraint(
                fields=["registration", "signal", "via"], name="risk_signal_reg_uniq"
            ),
        ]
        indexes = [
            # The figures: the period's rows, per outlet and signal.
            models.Index(fields=["day", "outlet", "signal"], name="risk_signal_day_idx"),
            # The records behind one outlet's signal.
            models.Index(fields=["outlet", "signal", "day"], name="risk_signal_outlet_idx"),
            # The incremental refresh replaces the rows of the numbers that changed.
            models.Index(
                fields=["digest"], name="risk_signal_digest_idx", condition=~models.Q(digest="")
            ),
        ]

    def __str__(self) -> str:
        return f"registration {self.registration_id}: {self.signal}"


class MonthlyOutletRisk(models.Model):
    """One outlet's registrations of one local month (the reports' registration figure,
    summed from ``reports.DailyOutletStats``) and, per signal, how many of them carry it
    (distinct registrations among ``RegistrationSignal``'s rows of the month): the figures of a
    period sum the months it holds whole and take the days at its edges from the daily rows.

    Derived, rewritten per month by ``risk.refresh``; one column a signal (``risk.signals``).
    """

    outlet = models.ForeignKey(
        "outlets.Outlet",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    month = models.DateField()  # its first day
    registrations = models.PositiveIntegerField(default=0)
    pre_activation = models.PositiveIntegerField(default=0)
    nik_reuse = models.PositiveIntegerField(default=0)
    id_spread = models.PositiveIntegerField(default=0)
    kk_equals_nik = models.PositiveIntegerField(default=0)
    kk_crowded = models.PositiveIntegerField(default=0)
    odd_hours = models.PositiveIntegerField(default=0)
    too_fast = models.PositiveIntegerField(default=0)
    registry_refused = models.PositiveIntegerField(default=0)
    holder_dispute = models.PositiveIntegerField(default=0)
    birth_date_contradiction = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("monthly outlet risk figures")
        verbose_name_plural = _("monthly outlet risk figures")
        constraints = [
            models.UniqueConstraint(fields=["month", "outlet"], name="risk_month_outlet_uniq"),
        ]

    def __str__(self) -> str:
        return f"outlet {self.outlet_id} {self.month:%Y-%m}: {self.registrations}"


class RecentOutletRisk(models.Model):
    """An outlet with at least one signal above its baseline over the last
    ``RISK_RECENT_DAYS`` days (outlets with none have no row)."""

    outlet = models.OneToOneField(
        "outlets.Outlet", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    rank = models.PositiveIntegerField()
    score = models.FloatField()
    signals_above = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list)  # the signal codes above, farthest first
    date_from = models.DateField()
    date_to = models.DateField()

    class Meta:
        verbose_name = _("outlet above the baseline")
        verbose_name_plural = _("outlets above the baseline")
        ordering = ["rank"]

    def __str__(self) -> str:
        return f"outlet {self.outlet_id}: rank {self.rank}"
