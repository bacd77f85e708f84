"""Who sees which figures and rows, and the filter every figure and export takes.

Reports are for the operator, GraPARI and the regulator (every outlet) and for dealer admins
(their own outlets). Outlet staff have their outlet's pages and receipts, not reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext as _

from core.disclosure import Kind, sees_every_detail, sees_in_full
from outlets.regions import PROVINCES
from outlets.selectors import dealer_id_for_user

from .periods import BUCKETS, Period, PeriodError, auto_bucket, parse_period

PROVINCE, DEALER, OUTLET = "province", "dealer", "outlet"
GROUPINGS = (PROVINCE, DEALER, OUTLET)


def can_view_reports(user) -> bool:
    """Operator, GraPARI, regulator (all outlets) and dealer admins (their outlets)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.sees_all_outlets or dealer_id_for_user(user=user) is not None


def may_export_unmasked(user) -> bool:
    """Full ID numbers and personal data in a file: a separate permission, never the
    regulator's (``core.disclosure``: its exports are masked whatever permissions an admin
    hands out)."""
    if not getattr(user, "is_authenticated", False):
        return False
    # The disclosure policy first: a role that may not see every detail in full never gets
    # an unmasked file, whatever permissions an admin hands out.
    if not sees_every_detail(user):
        return False
    return user.has_perm("reports.export_unmasked")


@dataclass(frozen=True)
class ReportScope:
    """The outlets a reader's figures and rows cover, and whether restricted registrations
    (a data subject's restriction) are shown in rows — only to operator admins."""

    dealer_id: int | None = None  # None: every outlet
    sees_restricted: bool = False
    label: str = ""
    # Whether the reader's rows carry the declared purpose (core.disclosure decides).
    sees_purpose: bool = False

    @classmethod
    def for_user(cls, user) -> ReportScope:
        if not can_view_reports(user):
            raise PermissionDenied(
                _("Reports are for the operator, GraPARI, the regulator and dealers.")
            )
        sees_purpose = sees_in_full(user, Kind.PURPOSE)
        if user.sees_all_outlets:
            return cls(
                None,
                sees_restricted=user.is_operator,
                label=user.get_username(),
                sees_purpose=sees_purpose,
            )
        return cls(
            dealer_id_for_user(user=user), label=user.get_username(), sees_purpose=sees_purpose
        )

    @classmethod
    def everything(cls, label: str = "system") -> ReportScope:
        """The command line and scheduled work: every outlet, as the operator sees it."""
        return cls(None, sees_restricted=True, label=label, sees_purpose=True)


@dataclass(frozen=True)
class ReportFilter:
    """Period + optional outlet filters + how to group and bucket: what every figure takes."""

    period: Period
    province: str = ""  # Kemendagri code of the outlet's province
    dealer: str = ""  # dealer code
    outlet: str = ""  # ROID
    grouping: str = PROVINCE
    bucket: str = ""  # day / week / month; "" chooses by the period's length

    @property
    def trend_bucket(self) -> str:
        return self.bucket or auto_bucket(self.period)

    def outlet_q(self, scope: ReportScope, prefix: str = "outlet__") -> Q:
        """The outlets covered, as a condition on ``prefix`` (``""`` for Outlet itself)."""
        condition = Q()
        if scope.dealer_id is not None:
            condition &= Q(**{f"{prefix}dealer_id": scope.dealer_id})
        if self.province:
            condition &= Q(**{f"{prefix}province": self.province})
        if self.dealer:
            condition &= Q(**{f"{prefix}dealer__code": self.dealer})
        if self.outlet:
            condition &= Q(**{f"{prefix}roid": self.outlet})
        return condition

    @property
    def narrows_outlets(self) -> bool:
        return bool(self.province or self.dealer or self.outlet)

    def as_params(self) -> dict:
        """Plain values for a job's parameters, a query string or the API."""
        values = asdict(self)
        period = values.pop("period")
        return {
            "date_from": period["date_from"].isoformat(),
            "date_to": period["date_to"].isoformat(),
            **values,
        }

    def query_string(self, **overrides) -> str:
        from urllib.parse import urlencode

        params = {**self.as_params(), **overrides}
        return urlencode({k: v for k, v in params.items() if v not in ("", None)})

    def with_(self, **changes) -> ReportFilter:
        return replace(self, **changes)


def report_filter_from(data: Mapping, *, today: date, required: bool = False) -> ReportFilter:
    """A ``ReportFilter`` from request parameters, API fields or a job's parameters.

    Raises ``PeriodError`` with one message per field at fault.
    """
    errors: dict[str, str] = {}
    try:
        period = parse_period(
            data.get("date_from"), data.get("date_to"), today=today, required=required
        )
    except PeriodError as exc:
        errors.update(exc.errors)
        period = None
    province = str(data.get("province") or "").strip()
    if province and province not in PROVINCES:
        errors["province"] = _("Unknown province code.")
    dealer = str(data.get("dealer") or "").strip().upper()
    if len(dealer) > 20:
        errors["dealer"] = _("A dealer code has at most 20 characters.")
    outlet = str(data.get("outlet") or "").strip().upper()
    if len(outlet) > 20:
        errors["outlet"] = _("A ROID has at most 20 characters.")
    grouping = str(data.get("grouping") or PROVINCE).strip()
    if grouping not in GROUPINGS:
        errors["grouping"] = _("Choose one of %(choices)s.") % {"choices": ", ".join(GROUPINGS)}
    bucket = str(data.get("bucket") or "").strip()
    if bucket and bucket not in BUCKETS:
        errors["bucket"] = _("Choose one of %(choices)s.") % {"choices": ", ".join(BUCKETS)}
    if errors:
        raise PeriodError(errors)
    return ReportFilter(period, province, dealer, outlet, grouping, bucket)
