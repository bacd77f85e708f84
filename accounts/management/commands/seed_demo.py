"""``manage.py seed_demo``: the demo organisation, its users, stock and past registrations.

Idempotent: every object is found by a natural key (dealer code, ROID, username, MSISDN) and
brought to the demo state, so a second run changes nothing. Past registrations go through the
bulk import (``subscribers.imports``), i.e. the same rules as the form under the policy in force
at each one's date; a pack that already has its registration is left alone.

The mock population registry (``operatordb``) gets every demo buyer, and the people of
``operatordb/demo/people.csv`` — with reference face photos in ``operatordb/demo/faces/`` — whom
a clerk can register at the counter (the README lists them).
"""

import dataclasses
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core import pii
from core.masking import mask_id_number
from identity.idgen import make_iccid, make_kk, make_msisdn, make_nik
from identity.idrules import normalize_name_for_comparison
from outlets.models import Dealer, DealerAdmin, Outlet, OutletStaff, RoidSequence, StarterPack
from subscribers.imports import SourceRow, registrations_import
from subscribers.models import Registration

# Printed by the command and quoted in the README; demo only (refused with DEBUG off).
DEMO_PASSWORD = "satupintu-demo"  # noqa: S105
STOCK_PER_OUTLET = 50
SOLD_PER_OUTLET = 9
HISTORY_DAYS = 540  # past registrations spread over ~18 months: two policies apply

GIVEN_NAMES_M = (
    "Agus", "Budi", "Joko", "Slamet", "Wahyu", "Rizky", "Dimas", "Fajar", "Hendra", "Yusuf",
    "Bayu", "Eko", "Arief", "Made", "Teguh", "Andi", "Muhammad", "Ahmad",
)  # fmt: skip
GIVEN_NAMES_F = (
    "Siti", "Dewi", "Sri", "Putri", "Ayu", "Nur", "Rina", "Fitri", "Indah", "Wulan", "Ni Luh",
    "Kadek", "Lestari", "Ratna", "Yuliana", "Annisa",
)  # fmt: skip
FAMILY_NAMES = (
    "Santoso", "Wijaya", "Saputra", "Hidayat", "Nasution", "Siregar", "Lubis", "Pratama",
    "Kusuma", "Setiawan", "Rahmawati", "Permata Sari", "Ma'ruf", "Nur'aini", "Simanjuntak",
    "Hutapea", "Wibowo", "Gunawan", "Purnomo", "Putra-Jaya", "Hasibuan", "",  # "" = one name
)  # fmt: skip
BIRTH_PLACES = (
    "Medan", "Palembang", "Semarang", "Yogyakarta", "Makassar", "Padang", "Pontianak", "Manado",
    "Tasikmalaya", "Pekalongan",
)  # fmt: skip
STREETS = (
    "Jl. Merdeka", "Jl. Diponegoro", "Jl. Sudirman", "Gg. Melati II", "Jl. Kenanga",
    "Jl. Pahlawan", "Jl. Imam Bonjol", "Jl. Gajah Mada", "Jl. Cempaka Putih", "Jl. Raya Bogor",
)  # fmt: skip


@dataclass(frozen=True)
class DemoOutlet:
    roid: str
    name: str
    owner: str
    region: str
    province: str
    nik_region: tuple[str, str, str]  # province, regency, district codes of its buyers' NIKs
    places: tuple[str, ...]
    status: str = Outlet.Status.ACTIVE
    status_reason: str = ""
    # A retail outlet the operator authorised in writing (a PKS) for numbers beyond the cap.
    authorised_from: date | None = None
    authorisation_ref: str = ""


DEALER = {"code": "AD0001", "name": "PT Maju Seluler Nusantara"}
OUTLETS = (
    DemoOutlet(
        "RO31000001", "Konter Sinar Jaya", "Budi Santoso", "Kota Jakarta Selatan", "31",
        ("31", "71", "04"), ("Jakarta", "Bogor", "Bekasi"),
    ),
    DemoOutlet(
        "RO32000001", "Bintang Cellular", "Asep Sunandar", "Kota Bandung", "32",
        ("32", "73", "05"), ("Bandung", "Cimahi", "Garut"),
        authorised_from=date(2018, 5, 7), authorisation_ref="PKS/REG/2018/0412",
    ),
    DemoOutlet(
        "RO35000001", "Toko Pulsa Berkah", "Hj. Suryani", "Kota Surabaya", "35",
        ("35", "78", "11"), ("Surabaya", "Sidoarjo", "Malang"),
    ),
    DemoOutlet(
        "RO51000001", "Konter Dewata", "I Wayan Sudarta", "Kota Denpasar", "51",
        ("51", "71", "02"), ("Denpasar", "Gianyar", "Tabanan"),
        status=Outlet.Status.SUSPENDED,
        status_reason="Menunggu klarifikasi atas data pelanggan yang tidak sesuai.",
    ),
)  # fmt: skip

# The ROIDs the demo used before it followed the approvals' scheme (RO + province + number):
# an existing demo database is reshaped in place, so a rerun keeps one row per outlet.
LEGACY_ROIDS = {
    "RO31000001": "ROJKT000001",
    "RO32000001": "ROBDG000002",
    "RO35000001": "ROSBY000003",
    "RO51000001": "RODPS000004",
}

# (outlet number, sale number) -> a foreign buyer (no NIK, no KK)
FOREIGNERS = {
    (1, 0): {"id_type": "passport", "id_number": "TR5287731", "kk_number": "",
             "full_name": "Hiroshi Tanaka", "birth_place": "Osaka", "nationality": "JP"},
    (3, 0): {"id_type": "kitas", "id_number": "2C21AB0043917", "kk_number": "",
             "full_name": "Olivia Brown", "birth_place": "Perth", "nationality": "AU"},
}  # fmt: skip

# username -> (first, last, role, outlet index or None, superuser)
USERS = {
    "clerk": ("Rina", "Wulandari", User.Role.OUTLET_STAFF, 0, False),
    "clerk2": ("Agus", "Setiawan", User.Role.OUTLET_STAFF, 1, False),
    "dealer": ("Hendra", "Gunawan", User.Role.DEALER_ADMIN, None, False),
    "grapari": ("Dewi", "Lestari", User.Role.GRAPARI, None, False),
    "regulator": ("Bambang", "Sutrisno", User.Role.REGULATOR, None, False),
    "admin": ("Admin", "Operator", User.Role.OPERATOR, None, True),
}
# The clerks' own ID and KK on record (the 2018 rule: they may not register buyers with them).
STAFF_IDS = {
    "clerk": (make_nik(birth_date=date(1994, 4, 12), sex="F", province="31", regency="71",
                       district="04", serial=881),
              make_kk(recorded=date(2016, 2, 3), region="317104", serial=312)),
    "clerk2": (make_nik(birth_date=date(1991, 11, 2), sex="M", province="32", regency="73",
                        district="05", serial=97),
               make_kk(recorded=date(2014, 9, 22), region="327305", serial=45)),
}  # fmt: skip
# The dealer admin's and the outlet owners' own NIKs (the end-user-only rule has them).
DEALER_ADMIN_ID = make_nik(birth_date=date(1979, 6, 30), sex="M", province="31", regency="74",
                           district="02", serial=5)  # fmt: skip
OWNER_BIRTHS = (date(1970, 3, 3), date(1975, 9, 14), date(1968, 12, 1), date(1982, 7, 21))
# The mock registry's people a clerk registers at the counter, with their reference faces.
DEMO_REGISTRY = Path(__file__).resolve().parents[3] / "operatordb" / "demo" / "people.csv"


class Command(BaseCommand):
    help = (
        "Create the demo data: one Authorized Dealer, four outlets (one suspended) with "
        f"starter-pack stock and past registrations, and the users clerk, clerk2, dealer, "
        f"grapari, regulator and admin. Password: '{DEMO_PASSWORD}' unless --password is given. "
        "Idempotent. Refuses to run when DEBUG is off unless --force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", help=f"password of every demo user (default {DEMO_PASSWORD})"
        )
        parser.add_argument(
            "--force", action="store_true", help="run even though DEBUG is off (not for production)"
        )

    def handle(self, *args, password, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off, so this looks like a production setup: seed_demo creates users "
                "with a known password. Run it with --force if this really is a demo."
            )
        password = password or DEMO_PASSWORD
        today = timezone.localdate()
        with transaction.atomic():
            dealer, outlets = _organisation()
            stock = _stock(outlets)
            users = _users(password, dealer=dealer, outlets=outlets)
        sales = _past_sales(outlets, today=today)
        _population_registry(sales)
        result = registrations_import(
            rows=[row for row, done in sales if not done],
            source_label="seed_demo",
            actor_label="seed_demo",
        )
        if result.errors:  # the demo data is wrong, not the user's input
            raise CommandError(f"demo registrations refused: {result.errors[:3]}")
        # The demo's sales were verified at the counter when they were made, not at this import:
        # their activation grace is long over, so a first reconciliation finds what they plant
        # (a number the operator does not have) at once, not an hour after the seeding.
        Registration.objects.filter(
            msisdn__in=["62" + row.data["msisdn"][1:] for row, _done in sales],
            registry_checked_at__isnull=False,
        ).update(registry_checked_at=F("registered_at"))
        generated = _operator_database()
        # The generator rebuilds the operator mock, its registry table included: the demo's
        # people go back in (with their faces).
        people = _population_registry(sales)

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"  dealer {dealer.code} {dealer.name}; outlets "
            + ", ".join(f"{o.roid} ({o.status})" for o in outlets)
        )
        self.stdout.write(
            f"  starter packs in stock: {stock}; registrations: "
            f"{Registration.objects.filter(outlet__dealer=dealer).count()} "
            f"({result.imported} added now)"
        )
        if generated is not None:
            self.stdout.write(f"  operator database: {_describe(generated)}")
        self.stdout.write(
            f"  population registry (mock): {people} people; register the people of "
            f"{DEMO_REGISTRY.relative_to(DEMO_REGISTRY.parents[2])} at the counter with their "
            "face photos (README, 'Demo users')"
        )
        shown = password if password == DEMO_PASSWORD else "as given with --password"
        self.stdout.write(f"  users (password: {shown}):")
        for user in users:
            self.stdout.write(f"    {user.username:<10} {user.get_role_display()}")


def _organisation():
    dealer, _ = Dealer.objects.update_or_create(
        code=DEALER["code"], defaults={"name": DEALER["name"], "is_active": True}
    )
    outlets = []
    for index, spec in enumerate(OUTLETS):
        province, regency, district = spec.nik_region
        owner_nik = make_nik(birth_date=OWNER_BIRTHS[index], sex="M" if index % 2 else "F",
                             province=province, regency=regency, district=district,
                             serial=9000 + index)  # fmt: skip
        legacy = LEGACY_ROIDS.get(spec.roid)
        if legacy and not Outlet.objects.filter(roid=spec.roid).exists():
            Outlet.objects.filter(roid=legacy).update(roid=spec.roid)
        existing = Outlet.objects.filter(roid=spec.roid).first()
        outlet, _ = Outlet.objects.update_or_create(
            roid=spec.roid,
            defaults={
                "dealer": dealer,
                "name": spec.name,
                "owner_name": spec.owner,
                "address": f"Jl. Pasar Baru No. {(index + 1) * 7}, {spec.region}",
                "region": spec.region,
                "province": spec.province,
                "status": spec.status,
                "status_reason": spec.status_reason,
                "kind": Outlet.Kind.RETAIL,
                "operator_authorised_from": spec.authorised_from,
                "operator_authorisation_ref": spec.authorisation_ref,
                "owner_id_number_encrypted": _keep_ciphertext(
                    getattr(existing, "owner_id_number_encrypted", ""), owner_nik
                ),
                "owner_id_number_digest": pii.digest(owner_nik),
                "owner_id_number_masked": mask_id_number(owner_nik),
            },
        )
        outlets.append(outlet)
        # The approvals' counter never hands out a ROID the demo holds (roid_issue skips taken
        # numbers too; this keeps the next approval's number the next one shown).
        prefix, number = spec.roid[:4], int(spec.roid[4:])
        sequence, _ = RoidSequence.objects.get_or_create(prefix=prefix)
        if sequence.last_number < number:
            RoidSequence.objects.filter(pk=sequence.pk).update(last_number=number)
    return dealer, outlets


def _keep_ciphertext(token: str, number: str) -> str:
    """``token`` when it already holds ``number`` (a rerun changes nothing), else a new one."""
    try:
        if token and pii.decrypt(token) == number:
            return token
    except ValueError:  # encrypted under a key no longer configured
        pass
    return pii.encrypt(number)


def _stock(outlets) -> int:
    """``STOCK_PER_OUTLET`` packs per outlet, created once (a pack sold since stays sold)."""
    wanted = {}
    for index, outlet in enumerate(outlets, start=1):
        for n in range(STOCK_PER_OUTLET):
            serial = index * 1000 + n
            wanted[make_msisdn(serial, prefix="62811")] = StarterPack(
                msisdn=make_msisdn(serial, prefix="62811"),
                iccid=make_iccid(serial, prefix="896211"),
                dealer_id=outlet.dealer_id,
                outlet=outlet,
            )
    have = set(StarterPack.objects.filter(msisdn__in=wanted).values_list("msisdn", flat=True))
    StarterPack.objects.bulk_create([pack for msisdn, pack in wanted.items() if msisdn not in have])
    return StarterPack.objects.filter(
        outlet__in=outlets, status=StarterPack.Status.IN_STOCK
    ).count()


def _users(password: str, *, dealer, outlets) -> list[User]:
    users = {}
    for username, (first, last, role, outlet_index, superuser) in USERS.items():
        user, created = User.objects.update_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@satupintu.example",
                "role": role,
                "is_active": True,
                "is_staff": superuser,
                "is_superuser": superuser,
            },
        )
        # Hashing is slow on purpose; and re-setting an unchanged password would log users out.
        if created or not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        if outlet_index is not None:
            id_number, kk_number = STAFF_IDS[username]
            OutletStaff.objects.update_or_create(
                user=user,
                defaults={
                    "outlet": outlets[outlet_index],
                    "is_active": True,
                    "removed_at": None,
                    "id_number_encrypted": _same_or_new_ciphertext(user, "id", id_number),
                    "id_number_digest": pii.digest(id_number),
                    "kk_number_encrypted": _same_or_new_ciphertext(user, "kk", kk_number),
                    "kk_number_digest": pii.digest(kk_number),
                },
            )
        users[username] = user
    admin = DealerAdmin.objects.filter(user=users["dealer"]).first()
    DealerAdmin.objects.update_or_create(
        user=users["dealer"],
        defaults={
            "dealer": dealer,
            "id_number_encrypted": _keep_ciphertext(
                getattr(admin, "id_number_encrypted", ""), DEALER_ADMIN_ID
            ),
            "id_number_digest": pii.digest(DEALER_ADMIN_ID),
            "id_number_masked": mask_id_number(DEALER_ADMIN_ID),
        },
    )
    users["grapari"].user_permissions.add(
        Permission.objects.get(content_type__app_label="subscribers", codename="reveal_id_number")
    )
    return list(users.values())


def _same_or_new_ciphertext(user, kind: str, number: str) -> str:
    """Keep the stored ciphertext when it already holds ``number`` (Fernet tokens differ on
    every encryption, and a rerun should change nothing)."""
    staff = OutletStaff.objects.filter(user=user).first()
    return _keep_ciphertext(getattr(staff, f"{kind}_number_encrypted", "") if staff else "", number)


def _past_sales(outlets, *, today: date) -> list[tuple[SourceRow, bool]]:
    """Registrations made at the demo outlets over the last months (deterministic people;
    times relative to today, so each policy in force over that period is exercised), each with
    whether it is registered already."""
    rng = random.Random(20140501)
    rows = []
    repeat_buyer = None
    for index, (spec, outlet) in enumerate(zip(OUTLETS, outlets, strict=True), start=1):
        province, regency, district = spec.nik_region
        for n in range(SOLD_PER_OUTLET):
            sex = rng.choice("MF")
            given = rng.choice(GIVEN_NAMES_M if sex == "M" else GIVEN_NAMES_F)
            family = rng.choice(FAMILY_NAMES)
            born = date(rng.randint(1962, 2006), rng.randint(1, 12), rng.randint(1, 28))
            sold = today - timedelta(days=rng.randint(1, HISTORY_DAYS))
            hour, minute = rng.randint(8, 20), rng.choice((5, 17, 26, 38, 44, 52))
            city = rng.choice(spec.places)
            person = {
                "id_type": "ktp",
                "id_number": make_nik(birth_date=born, sex=sex, province=province,
                                      regency=regency, district=district,
                                      serial=rng.randint(1, 9999)),
                "kk_number": make_kk(recorded=date(rng.randint(2008, 2022), rng.randint(1, 12),
                                                   rng.randint(1, 28)),
                                     region=f"{province}{regency}{district}",
                                     serial=rng.randint(1, 9999)),
                "full_name": f"{given} {family}".strip(),
                "birth_place": city if rng.random() < 0.7 else rng.choice(BIRTH_PLACES),
                "birth_date": born.isoformat(),
                "sex": sex,
                "address": f"{rng.choice(STREETS)} No. {rng.randint(1, 120)}, "
                f"RT {rng.randint(1, 12):02d}/RW {rng.randint(1, 9):02d}, {city}",
                "nationality": "ID",
            }  # fmt: skip
            if (index, n) in FOREIGNERS:  # a visitor with a passport, a resident with a KITAS
                person.update(FOREIGNERS[index, n])
            if index == 2 and n < 4:
                # One buyer with four numbers: over the cap of 3, registered at the outlet the
                # operator authorised in writing for that.
                repeat_buyer = repeat_buyer or person
                person = repeat_buyer
            if index == 1 and n == 1:
                # The clerk's sister: she shares the clerk's family card and buys in her own
                # name — allowed, flagged for a review (the end-user-only rule).
                person = {**person, "kk_number": STAFF_IDS["clerk"][1]}
            serial = index * 1000 + n
            rows.append(
                {
                    **person,
                    "msisdn": "0" + make_msisdn(serial, prefix="62813")[2:],
                    "iccid": make_iccid(serial, prefix="896213"),
                    "outlet_roid": outlet.roid,
                    "registered_at": f"{sold.isoformat()}T{hour:02d}:{minute:02d}:00",
                    "document_checked": "true",
                }
            )
    done = set(
        Registration.objects.filter(
            msisdn__in=["62" + row["msisdn"][1:] for row in rows]
        ).values_list("msisdn", flat=True)
    )
    return [
        (SourceRow(line, row), "62" + row["msisdn"][1:] in done)
        for line, row in enumerate(rows, start=1)
    ]


def _population_registry(sales) -> int:
    """Every demo buyer with a NIK in the mock population registry (as registered), and the
    people of ``DEMO_REGISTRY``. Idempotent; returns how many people it holds of the demo."""
    from operatordb.population import read_registry_file, upsert_people

    people = {}
    for sale, _done in sales:
        row = sale.data
        if row["id_type"] != "ktp" or row.get("nationality", "ID") != "ID":
            continue
        nik, kk = row["id_number"], row["kk_number"]
        people[pii.digest(nik)] = {
            "nik_digest": pii.digest(nik),
            "nik_masked": mask_id_number(nik),
            "full_name": row["full_name"],
            "name_key": normalize_name_for_comparison(row["full_name"]),
            "birth_date": date.fromisoformat(row["birth_date"]),
            "sex": row["sex"],
            "kk_digest": pii.digest(kk),
            "kk_masked": mask_id_number(kk),
            "birth_place": row["birth_place"],
            "head_of_family": False,
            "face_hash": "",
        }
    for person in read_registry_file(DEMO_REGISTRY):
        people[person["nik_digest"]] = person
    upsert_people(list(people.values()))
    return len(people)


def _describe(report) -> str:
    if dataclasses.is_dataclass(report):
        return ", ".join(f"{k}: {v}" for k, v in dataclasses.asdict(report).items())
    return str(report)


def _operator_database():
    """Fill the operator-database mock, when that part of the portal is installed."""
    try:
        from compliance.reconciliation.generator import generate_for_demo
    except ImportError as exc:
        if exc.name in (
            "compliance.reconciliation.generator",
            "operatordb",
        ) or "generate_for_demo" in str(exc):
            return None
        raise
    return generate_for_demo()
