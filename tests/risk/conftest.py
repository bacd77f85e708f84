"""Outlets with planted behaviour for the risk signals, written directly (the registration
service is not what these tests are about), in the last 30 days so that the dealer's dashboard
and GraPARI's filter (which look at the last 30 days) see them too.

Every outlet of dealer AD0001 in DKI Jakarta registers ``NORMAL`` ordinary registrations (one a
day at 10:00, each a different NIK). Three of them also behave badly:

- ``pre``: five of its numbers were activated before they were registered (reconciliation
  findings of that kind);
- ``reuse``: one NIK registered on five numbers within two days;
- ``burst``: eight registrations at 3 a.m., 20 seconds apart.
"""

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from compliance.models import Discrepancy, DiscrepancyKind
from core import pii
from core.masking import mask_id_number
from identity.idgen import make_nik
from reports.periods import Period
from reports.scope import ReportFilter
from risk.services import risk_refresh
from risk.signals import PRE_ACTIVATION_KIND
from subscribers.models import Registration, RegistrationPolicy
from tests.factories import DealerFactory, OutletFactory, StarterPackFactory

WIB = ZoneInfo("Asia/Jakarta")
NORMAL = 20
_serials = itertools.count(1000)
_numbers = itertools.count(1)


def nik(serial: int | None = None) -> str:
    return make_nik(birth_date=date(1990, 5, 17), sex="M", serial=serial or next(_serials))


def days_ago(n: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    day = timezone.localdate() - timedelta(days=n)
    return datetime.combine(day, time(hour, minute, second), tzinfo=WIB)


def recent_filter() -> ReportFilter:
    today = timezone.localdate()
    return ReportFilter(Period(today - timedelta(days=29), today))


def params() -> dict:
    flt = recent_filter()
    return {
        "date_from": flt.period.date_from.isoformat(),
        "date_to": flt.period.date_to.isoformat(),
    }


def register(
    outlet,
    at: datetime,
    *,
    id_number: str | None = None,
    kk_number: str = "",
    status: str = Registration.Status.REGISTERED,
    warnings: list | None = None,
    clerk=None,
    name: str = "Siti Aminah",
) -> Registration:
    id_number = id_number or nik()
    pack = StarterPackFactory(outlet=outlet, status="registered")
    return Registration.objects.create(
        registration_number=f"SPRISK{next(_numbers):08d}",
        outlet=outlet,
        clerk=clerk,
        starter_pack=pack,
        msisdn=pack.msisdn,
        iccid=pack.iccid,
        policy=RegistrationPolicy.objects.get(code="2026"),
        id_type="ktp",
        id_number_encrypted=pii.encrypt(id_number),
        id_number_digest=pii.digest(id_number),
        id_number_masked=mask_id_number(id_number),
        kk_number_encrypted=pii.encrypt(kk_number) if kk_number else "",
        kk_number_digest=pii.digest(kk_number),
        kk_number_masked=mask_id_number(kk_number) if kk_number else "",
        full_name=name,
        birth_place="Bandung",
        birth_date=date(1990, 5, 17),
        sex="F",
        address="Jl. Kenanga No. 5, Bandung",
        nationality="ID",
        consent_at=at,
        status=status,
        warnings=warnings or [],
        registered_at=at,
    )


def age_everything() -> None:
    """Registrations written so far were last changed an hour ago: an incremental refresh
    sees only what changes afterwards."""
    Registration.objects.update(updated_at=timezone.now() - timedelta(hours=1))


def ordinary(outlet, count: int = NORMAL) -> list[Registration]:
    """One registration a day at 10:00 for ``count`` days, each a different NIK."""
    return [register(outlet, days_ago(1 + i)) for i in range(count)]


@pytest.fixture
def preactivation_kind(db):
    """Pre-activation findings can be planted: the reconciliation owns that kind."""
    assert PRE_ACTIVATION_KIND in DiscrepancyKind.values


def pre_activate(registration: Registration, *, status: str = "open", at=None) -> Discrepancy:
    at = at or registration.registered_at + timedelta(hours=30)
    return Discrepancy.objects.create(
        msisdn=registration.msisdn,
        kind=PRE_ACTIVATION_KIND,
        status=status,
        registration=registration,
        outlet=registration.outlet,
        detected_at=at,
        last_seen_at=at,
        resolved_at=at + timedelta(hours=1) if status == "resolved" else None,
    )


@dataclass
class Planted:
    clean: list
    pre: object
    reuse: object
    burst: object
    foreign: object  # another dealer's clean outlet
    reused_nik: str
    burst_registrations: list


@pytest.fixture
def planted(
    require_postgres, policies, dealer_org, outlet, other_outlet, preactivation_kind
) -> Planted:
    clean = [outlet, other_outlet]
    clean += [
        OutletFactory(dealer=dealer_org, roid=f"ROJKT0000{n}", name=f"Konter Bersih {n}")
        for n in (3, 4)
    ]
    pre = OutletFactory(dealer=dealer_org, roid="ROJKT000010", name="Konter Aktif Duluan")
    reuse = OutletFactory(dealer=dealer_org, roid="ROJKT000011", name="Konter Satu NIK")
    burst = OutletFactory(dealer=dealer_org, roid="ROJKT000012", name="Konter Subuh")
    foreign = OutletFactory(
        dealer=DealerFactory(code="AD0999", name="PT Lain"), roid="ROJKT000099", name="Lain"
    )
    for each in (*clean, pre, reuse, burst, foreign):
        ordinary(each)
    # Five of the pre-activating outlet's numbers were active before it registered them.
    for registration in Registration.objects.filter(outlet=pre).order_by("pk")[:5]:
        pre_activate(registration)
    # One NIK on five numbers within two days.
    reused = nik()
    for hours in (0, 6, 12, 24, 30):
        register(reuse, days_ago(12, 9) + timedelta(hours=hours), id_number=reused)
    # Eight registrations at 3 a.m., 20 seconds apart.
    burst_registrations = [
        register(burst, days_ago(8, 3, 0, 0) + timedelta(seconds=20 * i)) for i in range(8)
    ]
    risk_refresh(full=True)
    return Planted(clean, pre, reuse, burst, foreign, reused, burst_registrations)
