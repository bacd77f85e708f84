"""The rows behind the figures: which registrations and discrepancies a period and a scope
cover. The exports (``reports.columns``) and the "rows behind this figure" pages read these
querysets; the figures count the same rows in the summary tables.

Registrations whose processing a data subject restricted are left out for everyone but the
operator admin (``subscribers.selectors.exclude_restricted``'s rule, written as an anti-join).

The querysets are read-only and carry ``REPLICA_HINT``: with a read replica configured
(``core.routers``) they are read there, whenever they are evaluated.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from compliance.models import Discrepancy, DiscrepancyOutcome
from core.routers import REPLICA_HINT
from outlets.regions import PROVINCES
from privacy.models import RegistrationPrivacy
from subscribers.models import Registration

from .models import FlaggedIdRegistration
from .periods import Period
from .scope import ReportFilter, ReportScope
from .summary import ACCOUNTABLE_KINDS


def period_bounds(period: Period) -> tuple[datetime, datetime]:
    """The instants the local days of ``period`` start and end (end excluded)."""
    tz = timezone.get_default_timezone()
    start = datetime.combine(period.date_from, time.min, tzinfo=tz)
    end = datetime.combine(period.date_to + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def restricted(registration_ref: str = "pk") -> Exists:
    """``subscribers.selectors.exclude_restricted``'s rule as ``Exists``: its LEFT JOIN form makes
    PostgreSQL estimate one surviving row and pick a plan 10× slower on a million-row export;
    ``~restricted()`` is an anti-join with the right estimate (a test holds both to the same
    rows)."""
    return Exists(
        RegistrationPrivacy.objects.filter(
            registration_id=OuterRef(registration_ref), restricted_at__isnull=False
        )
    )


# --- the querysets ------------------------------------------------------------------------------


def registration_rows(
    flt: ReportFilter,
    scope: ReportScope,
    *,
    id_type: str = "",
    status: str = "",
    flag: str = "",
    include_restricted: bool | None = None,
) -> QuerySet[Registration]:
    """Registrations of the period (local day of ``registered_at``) in scope — the rows behind
    the registration figures. ``flag``: ``discrepancy`` (an open accountable discrepancy),
    ``over_cap`` (its ID is over the cap), ``repeated`` (its ID was registered at least
    REPORTS_REPEATED_ID_MIN times at that outlet in the period)."""
    start, end = period_bounds(flt.period)
    qs = (
        Registration.objects.db_manager(hints={REPLICA_HINT: True})
        .filter(registered_at__gte=start, registered_at__lt=end)
        .filter(flt.outlet_q(scope))
    )
    if not (scope.sees_restricted if include_restricted is None else include_restricted):
        qs = qs.filter(~restricted())
    if id_type:
        qs = qs.filter(id_type=id_type)
    if status:
        qs = qs.filter(status=status)
    if flag == "discrepancy":
        qs = qs.filter(
            Exists(
                Discrepancy.objects.filter(
                    registration_id=OuterRef("pk"),
                    status=Discrepancy.Status.OPEN,
                    kind__in=ACCOUNTABLE_KINDS,
                )
            )
        )
    elif flag == "over_cap":
        qs = qs.filter(
            pk__in=FlaggedIdRegistration.objects.filter(over_cap=True).values("registration_id")
        )
    elif flag == "repeated":
        qs = qs.filter(pk__in=_repeated_registration_ids(flt, scope))
    return qs.order_by("registered_at", "pk")


def _repeated_registration_ids(flt: ReportFilter, scope: ReportScope) -> list[int]:
    period = Q(day__gte=flt.period.date_from, day__lte=flt.period.date_to)
    flagged = FlaggedIdRegistration.objects.filter(
        period, flt.outlet_q(scope), repeated_at_outlet=True
    )
    pairs = list(
        flagged.order_by()
        .values_list("outlet_id", "id_digest")
        .annotate(n=Count("pk"))
        .filter(n__gte=settings.REPORTS_REPEATED_ID_MIN)
        .values_list("outlet_id", "id_digest")
    )
    if not pairs:
        return []
    condition = Q()
    for outlet_id, digest in pairs:
        condition |= Q(outlet_id=outlet_id, id_digest=digest)
    return list(flagged.filter(condition).values_list("registration_id", flat=True))


def discrepancy_rows(
    flt: ReportFilter,
    scope: ReportScope,
    *,
    kind: str = "",
    status: str = "",
    include_restricted: bool | None = None,
) -> QuerySet[Discrepancy]:
    """Discrepancies detected in the period (local day of ``detected_at``) whose accountable
    outlet is in scope — the rows behind the discrepancy figures. A finding a reviewer had
    already dismissed, found again by a later run (settled as ``dismissed_before``), is not a
    new discrepancy and is left out, as in the figures; so is any kind found again on the same
    registration after it was resolved (the first row stands for it)."""
    start, end = period_bounds(flt.period)
    refound = DiscrepancyOutcome.objects.filter(
        discrepancy=OuterRef("pk"), outcome=DiscrepancyOutcome.Outcome.DISMISSED_BEFORE
    )
    found_before = Discrepancy.objects.filter(
        registration_id=OuterRef("registration_id"), kind=OuterRef("kind"), pk__lt=OuterRef("pk")
    )
    qs = (
        Discrepancy.objects.db_manager(hints={REPLICA_HINT: True})
        .filter(detected_at__gte=start, detected_at__lt=end, outlet__isnull=False)
        .filter(flt.outlet_q(scope))
        .exclude(Exists(refound))
        .exclude(Exists(found_before))
    )
    if not (scope.sees_restricted if include_restricted is None else include_restricted):
        qs = qs.filter(~restricted("registration_id"))
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("detected_at", "pk")


def province_name(code: str) -> str:
    return PROVINCES.get(code, code)
