"""Past registrations for the preview's tests, written as rows (the preview judges what is
stored): a varied history over November 2026, under the rule set in force then (2026-07)."""

from datetime import date, datetime, timedelta
from itertools import count

from django.utils import timezone

from core import pii
from core.masking import mask_id_number
from identity.idgen import make_kk, make_nik
from outlets.models import Outlet
from subscribers.models import Registration
from subscribers.selectors import policy_in_force
from tests.factories import DealerFactory, OutletFactory, StaffFactory, StarterPackFactory

PERIOD = (date(2026, 11, 1), date(2026, 11, 30))
_numbers = count(1)


def nik(serial: int) -> str:
    return make_nik(birth_date=date(1990, 1, 1), sex="M", serial=serial)


def kk(serial: int) -> str:
    return make_kk(recorded=date(2015, 3, 2), serial=serial)


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return timezone.make_aware(datetime(2026, month, day, hour))


def registration(outlet, number: str, when: datetime, **fields) -> Registration:
    pack = StarterPackFactory(outlet=outlet)
    kk_number = fields.pop("kk", "")
    values = {
        "outlet": outlet,
        "starter_pack": pack,
        "msisdn": pack.msisdn,
        "iccid": pack.iccid,
        "policy": fields.pop("policy", None) or policy_in_force(at=when),
        "id_type": "ktp",
        "id_number_encrypted": pii.encrypt(number),
        "id_number_digest": pii.digest(number),
        "id_number_masked": mask_id_number(number),
        "kk_number_encrypted": pii.encrypt(kk_number),
        "kk_number_digest": pii.digest(kk_number),
        "kk_number_masked": mask_id_number(kk_number) if kk_number else "",
        "full_name": "Budi Santoso",
        "birth_place": "Bandung",
        "birth_date": date(1990, 1, 1),
        "sex": "M",
        "address": "Jl. Kenanga 5",
        "consent_at": when,
        "registered_at": when,
        "registration_number": f"SPT{next(_numbers):08d}",
        "face_sha256": "ab" * 32,
        "statement_signed": True,
    }
    values.update(fields)
    return Registration.objects.create(**values)


def history(policies) -> dict:
    """The outlets and registrations of the tests: returns the outlets by name."""
    dealer, other_dealer = DealerFactory(code="AD0101"), DealerFactory(code="AD0102")
    retail = OutletFactory(dealer=dealer, roid="ROJKT000101", province="31")
    gerai = OutletFactory(
        dealer=dealer, roid="ROJKT000102", kind=Outlet.Kind.OPERATOR, province="31"
    )
    authorised = OutletFactory(
        dealer=dealer,
        roid="ROJBR000103",
        province="32",
        operator_authorised_from=date(2026, 11, 15),
    )
    elsewhere = OutletFactory(dealer=other_dealer, roid="ROJTM000104", province="35")
    StaffFactory(
        outlet=retail, id_number_digest=pii.digest(nik(9001)), kk_number_digest=pii.digest(kk(77))
    )
    # One NIK over the years: two before the period, then three more and on.
    for day in (3, 9):
        registration(retail, nik(1), at(day, month=10))
    registration(retail, nik(1), at(2))
    registration(gerai, nik(1), at(4))  # 4th, at the operator's outlet
    registration(authorised, nik(1), at(10))  # 5th, authorised only from the 15th
    registration(authorised, nik(1), at(20), declared_purpose="usaha pulsa")
    registration(retail, nik(1), at(21), category="corporate", company_name="PT Maju")
    # Numbers that do not count: blocked, refused; two personal ones that do.
    registration(retail, nik(2), at(1), status=Registration.Status.BLOCKED)
    registration(retail, nik(2), at(2), status=Registration.Status.REFUSED)
    registration(retail, nik(2), at(3))
    registration(retail, nik(2), at(3, hour=11))
    registration(retail, nik(2), at(5), source=Registration.Source.IMPORT, face_sha256="")
    # Many numbers at the operator's outlet, one with a purpose.
    for day in range(1, 14):
        registration(gerai, nik(3), at(day), declared_purpose="IoT" if day == 12 else "")
    registration(gerai, nik(3), at(14), source=Registration.Source.IMPORT, face_sha256="")
    # The dealer's people: a clerk's NIK, a clerk's family card; the same NIK at another dealer.
    registration(retail, nik(9001), at(6))
    registration(elsewhere, nik(9001), at(6, hour=12))
    registration(retail, nik(4), at(7), kk=kk(77))
    # Imports, with and without the original document checked; a KK given, none given.
    registration(
        elsewhere, nik(5), at(8), source=Registration.Source.IMPORT, document_checked=False,
        face_sha256="", statement_signed=None,
    )  # fmt: skip
    registration(elsewhere, nik(6), at(8), kk=kk(6), source=Registration.Source.IMPORT)
    # Documents: a foreigner's passport, a citizen's passport, an old SIM, a KITAS.
    registration(elsewhere, "A1234567", at(9), id_type="passport", nationality="JP")
    registration(elsewhere, "B7654321", at(9), id_type="passport")
    registration(elsewhere, nik(7), at(9), id_type="sim", face_sha256="", kk=kk(7))
    registration(elsewhere, "2C12345678", at(9), id_type="kitas", nationality="AU")
    registration(elsewhere, nik(8), at(12), statement_signed=None)
    # After the period: never judged, never counted.
    registration(retail, nik(2), at(2, month=12))
    return {"retail": retail, "gerai": gerai, "authorised": authorised, "elsewhere": elsewhere}


def in_period():
    start = timezone.make_aware(datetime.combine(PERIOD[0], datetime.min.time()))
    end = timezone.make_aware(datetime.combine(PERIOD[1] + timedelta(days=1), datetime.min.time()))
    return Registration.objects.filter(registered_at__gte=start, registered_at__lt=end)
