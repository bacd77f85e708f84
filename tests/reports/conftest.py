"""A small known data set for the report tests, and builders that write registrations and
discrepancies directly (the registration service is not what these tests are about).

The expected figures are computed in the tests from ``Dataset.rows`` — plain Python over the
list of what was written — never through the code under test.
"""

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from compliance.models import Clarification, ClarificationItem, Discrepancy
from core import pii
from core.masking import mask_id_number
from identity.idgen import make_nik
from privacy.models import RegistrationPrivacy
from reports.summary import summaries_refresh
from subscribers.models import Registration, RegistrationPolicy
from tests.factories import DealerFactory, OutletFactory, StarterPackFactory

WIB = ZoneInfo("Asia/Jakarta")
PERIOD = (date(2026, 3, 1), date(2026, 3, 31))
_numbers = itertools.count(1)


def wib(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=WIB)


def nik(serial: int) -> str:
    return make_nik(birth_date=date(1990, 5, 17), sex="M", serial=serial)


def make_registration(
    *,
    outlet,
    at: datetime,
    id_number: str,
    id_type: str = "ktp",
    status: str = Registration.Status.REGISTERED,
) -> Registration:
    n = next(_numbers)
    pack = StarterPackFactory(outlet=outlet, status="registered")
    return Registration.objects.create(
        registration_number=f"SPTEST{n:08d}",
        outlet=outlet,
        starter_pack=pack,
        msisdn=pack.msisdn,
        iccid=pack.iccid,
        policy=RegistrationPolicy.objects.get(code="2026"),
        id_type=id_type,
        id_number_encrypted=pii.encrypt(id_number),
        id_number_digest=pii.digest(id_number),
        id_number_masked=mask_id_number(id_number),
        full_name="Siti Aminah",
        birth_place="Bandung",
        birth_date=date(1990, 5, 17),
        sex="F",
        address="Jl. Kenanga No. 5, Bandung",
        nationality="ID",
        consent_at=at,
        status=status,
        registered_at=at,
    )


def make_discrepancy(*, kind, at, registration=None, outlet=None, status="open", msisdn=None):
    return Discrepancy.objects.create(
        msisdn=msisdn or registration.msisdn,
        kind=kind,
        status=status,
        registration=registration,
        outlet=outlet or registration.outlet,
        detected_at=at,
        last_seen_at=at,
        resolved_at=at + timedelta(days=1) if status == "resolved" else None,
    )


@dataclass
class Dataset:
    outlets: dict
    rows: list = field(default_factory=list)  # (registration, local day, id_type, status, nik)
    discrepancies: list = field(default_factory=list)  # (discrepancy, local day)
    deactivated: set = field(default_factory=set)  # registration ids
    restricted: set = field(default_factory=set)

    def in_period(self, day: date) -> bool:
        return PERIOD[0] <= day <= PERIOD[1]


@pytest.fixture
def dataset(policies, dealer_org, outlet, other_outlet):
    """Four outlets in three provinces and two dealers, registrations around the period's
    edges (local midnight), every ID figure's corner case, discrepancies of several kinds."""
    west_java = OutletFactory(
        dealer=dealer_org, roid="ROJBR000001", name="Konter Bogor", province="32"
    )
    other_dealer = DealerFactory(code="AD0999", name="PT Lain")
    east_java = OutletFactory(
        dealer=other_dealer, roid="ROJTM000001", name="=Konter Surabaya", province="35"
    )
    data = Dataset(
        outlets={"jkt1": outlet, "jkt2": other_outlet, "jbr": west_java, "jtm": east_java}
    )

    def register(key, at, serial, id_type="ktp", status="registered"):
        number = nik(serial) if id_type in ("ktp", "sim") else f"A{serial:07d}"
        registration = make_registration(
            outlet=data.outlets[key], at=at, id_number=number, id_type=id_type, status=status
        )
        data.rows.append((registration, at.astimezone(WIB).date(), id_type, status, number))
        return registration

    # Edges of the period in local time (WIB = UTC+7).
    register("jkt1", wib(date(2026, 2, 28), 23, 59), 1)  # outside: the day before
    register("jkt1", wib(date(2026, 3, 1), 0, 1), 2)  # inside although 28 Feb in UTC
    register("jkt1", wib(date(2026, 3, 31), 23, 59), 3)  # inside although 31 Mar 16:59 UTC
    register("jkt1", wib(date(2026, 4, 1), 0, 0), 4)  # outside
    # Spread over the month, several ID types and statuses.
    register("jkt1", wib(date(2026, 3, 2)), 5, "sim")
    register("jkt1", wib(date(2026, 3, 9)), 6, "passport")
    register("jkt2", wib(date(2026, 3, 9)), 7, status="blocked")
    register("jkt2", wib(date(2026, 3, 15)), 8, status="flagged")
    register("jtm", wib(date(2026, 3, 20)), 9, "kitas")
    register("jtm", wib(date(2026, 3, 21)), 10, status="blocked")
    # NIK 100: four active numbers (cap 3) — over the cap; and four times at one outlet in the
    # period — an outlet registering one ID unusually often (REPORTS_REPEATED_ID_MIN = 4).
    for day in (3, 4, 5, 6):
        register("jbr", wib(date(2026, 3, day)), 100)
    # NIK 200: four numbers but one blocked — three active, not over the cap; three at jbr
    # (not repeated enough), one at jkt2.
    register("jbr", wib(date(2026, 3, 7)), 200)
    register("jbr", wib(date(2026, 3, 8)), 200)
    register("jbr", wib(date(2026, 3, 10)), 200, status="blocked")
    register("jkt2", wib(date(2026, 3, 11)), 200)
    # NIK 300: four numbers, one deactivated at the operator — not over the cap.
    for day, key in ((12, "jtm"), (13, "jtm"), (14, "jtm"), (16, "jkt1")):
        last = register(key, wib(date(2026, 3, day)), 300)
    RegistrationPrivacy.objects.create(registration=last, deactivated_at=timezone.now())
    data.deactivated.add(last.pk)
    # NIK 400: over the cap (four active), but only one of its numbers registered in the
    # period (the others in February): counted where that one was registered (jtm).
    for day in (1, 2, 3):
        register("jkt1", wib(date(2026, 2, day)), 400)
    register("jtm", wib(date(2026, 3, 25)), 400)
    # A registration whose processing its data subject restricted (counted, never exported
    # to anyone but the operator admin).
    restricted = register("jkt2", wib(date(2026, 3, 26)), 500)
    RegistrationPrivacy.objects.create(registration=restricted, restricted_at=timezone.now())
    data.restricted.add(restricted.pk)

    rows = {r.registration_number: r for r, *_ in data.rows}
    by_serial = [r for r, *_ in data.rows]

    def discrepancy(registration, kind, at, status="open"):
        d = make_discrepancy(registration=registration, kind=kind, at=at, status=status)
        data.discrepancies.append((d, at.astimezone(WIB).date()))

    # Kinds the outlet is accountable for, and one it is not (missing_in_operator).
    discrepancy(by_serial[1], "name_mismatch", wib(date(2026, 3, 5)))
    discrepancy(by_serial[1], "birth_date_mismatch", wib(date(2026, 3, 5)))
    discrepancy(by_serial[4], "id_number_mismatch", wib(date(2026, 3, 10)), status="resolved")
    discrepancy(by_serial[6], "missing_in_operator", wib(date(2026, 3, 10)))
    discrepancy(by_serial[8], "name_mismatch", wib(date(2026, 3, 22)))
    discrepancy(by_serial[10], "id_over_limit", wib(date(2026, 3, 23)))
    discrepancy(restricted, "name_mismatch", wib(date(2026, 3, 27)))
    discrepancy(by_serial[0], "name_mismatch", wib(date(2026, 2, 27)))  # detected before
    discrepancy(by_serial[2], "birth_date_mismatch", wib(date(2026, 4, 1), 0, 30))  # after
    # An unregistered activation sold through jtm: no registration.
    unregistered = make_discrepancy(
        kind="unregistered_activation",
        at=wib(date(2026, 3, 18)),
        outlet=east_java,
        msisdn="6281399999999",
    )
    data.discrepancies.append((unregistered, date(2026, 3, 18)))
    del rows
    summaries_refresh(full=True)
    return data


@dataclass
class Requests:
    outlet_asked: Clarification  # the registering outlet answers; settled
    dealer_asked: Clarification  # an unregistered pack: its dealer answers (no outlet asked)
    discrepancy_roid: str  # the ROID the discrepancies export gives for the dealer's number


@pytest.fixture
def clarifications(dataset) -> Requests:
    """Two requests opened in the period, at instants with microseconds (as ``now()`` gives
    them): one to the outlet that registered the number, answered and settled; one to the
    dealer of an unregistered pack sold through an outlet (no outlet is asked)."""
    registration = dataset.rows[1][0]
    asked = [d for d, _day in dataset.discrepancies if d.registration_id == registration.pk]
    opened = wib(date(2026, 3, 6), 9, 15).replace(second=42, microsecond=707401)
    outlet_asked = Clarification.objects.create(
        msisdn=registration.msisdn,
        registration=registration,
        accountable=Clarification.Accountable.OUTLET,
        outlet=registration.outlet,
        dealer=registration.outlet.dealer,
        status=Clarification.Status.ACCEPTED,
        opened_at=opened,
        due_at=opened + timedelta(days=7),
        answered_at=opened + timedelta(days=1, minutes=3),
        resolved_at=opened + timedelta(days=2, hours=15),  # 00:15:42 on 9 March, WIB
        decision="dismiss",
    )
    unregistered = next(
        d for d, _day in dataset.discrepancies if d.kind == "unregistered_activation"
    )
    dealer_asked = Clarification.objects.create(
        msisdn=unregistered.msisdn,
        accountable=Clarification.Accountable.DEALER,
        dealer=unregistered.outlet.dealer,
        status=Clarification.Status.OPEN,
        opened_at=wib(date(2026, 3, 18), 23, 59).replace(second=59, microsecond=999999),
        due_at=wib(date(2026, 3, 25), 23, 59).replace(second=59, microsecond=999999),
    )
    for request, discrepancies in ((outlet_asked, asked), (dealer_asked, [unregistered])):
        for discrepancy in discrepancies:
            ClarificationItem.objects.create(
                clarification=request,
                discrepancy=discrepancy,
                kind=discrepancy.kind,
                added_at=request.opened_at,
            )
    return Requests(outlet_asked, dealer_asked, unregistered.outlet.roid)
