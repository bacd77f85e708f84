"""The records behind an outlet's signal: its registrations of the period carrying it, shown as
the reader's role may see them (``core.masking``), each opening the registration's own page
(whose view is scoped and audited there).

- ID numbers: their stored masked form, for everyone (nothing is decrypted here);
- names: masked (first letters) for everyone — the registration's page shows more to whom may
  see it;
- MSISDNs: whole for GraPARI and the operator, who work the cases; masked for the regulator and
  the dealer.

Registrations whose processing a data subject restricted are left out for everyone but the
operator admin (``reports.rows.restricted``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.http import Http404

from core.masking import display_msisdn, mask_id_number, mask_msisdn, mask_name
from core.roles import may_decide
from outlets.models import Outlet
from reports.rows import restricted
from reports.scope import ReportFilter, ReportScope
from subscribers.models import Registration

from .models import RegistrationSignal
from .signals import BY_CODE


def outlet_get_for_scope(*, roid: str, scope: ReportScope) -> Outlet:
    """The outlet of ``roid`` if the reader sees it, else 404 (another dealer's outlet
    included: its existence is not confirmed)."""
    qs = Outlet.objects.select_related("dealer").filter(roid=roid.strip().upper()[:20])
    if scope.dealer_id is not None:
        qs = qs.filter(dealer_id=scope.dealer_id)
    outlet = qs.first()
    if outlet is None:
        raise Http404("No such outlet.")
    return outlet


def signal_registrations(
    *, flt: ReportFilter, scope: ReportScope, outlet: Outlet, signal: str
) -> QuerySet[Registration]:
    """The registrations of ``outlet`` in the period carrying ``signal`` — the rows the count
    is made of (restricted ones left out unless the reader is the operator admin)."""
    if signal not in BY_CODE:
        raise Http404("No such signal.")
    flagged = RegistrationSignal.objects.filter(
        outlet=outlet,
        signal=signal,
        day__gte=flt.period.date_from,
        day__lte=flt.period.date_to,
    ).values("registration_id")
    qs = Registration.objects.filter(pk__in=flagged)
    if not scope.sees_restricted:
        qs = qs.filter(~restricted())
    return qs.order_by("registered_at", "pk")


@dataclass(frozen=True)
class RecordLine:
    pk: int
    registration_number: str
    registered_at: datetime
    msisdn: str
    name: str
    id_type: str
    id_number: str
    status: str
    same_number: str  # "A", "B"…: lines sharing an ID number share a letter (never the number)


def record_lines(registrations, *, user) -> list[RecordLine]:
    """``registrations`` as the reader may see them (the module's docstring)."""
    whole_msisdn = may_decide(user)
    groups: dict[str, str] = {}
    counts: dict[str, int] = {}
    items = list(registrations)
    for r in items:
        if r.id_number_digest:
            counts[r.id_number_digest] = counts.get(r.id_number_digest, 0) + 1
    lines = []
    for r in items:
        letter = ""
        if counts.get(r.id_number_digest, 0) > 1:
            letter = groups.setdefault(r.id_number_digest, _letter(len(groups)))
        lines.append(
            RecordLine(
                pk=r.pk,
                registration_number=r.registration_number,
                registered_at=r.registered_at,
                msisdn=display_msisdn(r.msisdn) if whole_msisdn else mask_msisdn(r.msisdn),
                name=mask_name(r.full_name),
                id_type=r.get_id_type_display(),
                id_number=r.id_number_masked or mask_id_number(""),
                status=r.get_status_display(),
                same_number=letter,
            )
        )
    return lines


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
