"""Operator data with known discrepancies — and the ground truth of what was planted.

``generate_operator_data`` builds the operator's view of the portal's registrations: a faithful
copy of each, except for a chosen share of each discrepancy kind, plus edge cases that a correct
engine must leave alone. What it planted goes to ``InjectedDiscrepancy`` (``expected`` False for
the edge cases). The rows are ordinary snapshot rows: they are loaded through the snapshot
loader (so they are normalised exactly as a real file would be) or written to a CSV file.

``build_registrations`` makes portal registrations in bulk for tests and benchmarks (COPY on
PostgreSQL); it bypasses the registration service on purpose — only for generated data.

``generate_for_demo()`` is what ``seed_demo`` calls: a few of each kind for the demo data.
"""

# SQL here is assembled from table and column names of our own models; every value is a bound
# parameter.
# ruff: noqa: S608

from __future__ import annotations

import base64
import csv
import io
import json
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import pii
from core.masking import mask_id_number
from identity.idgen import make_iccid, make_msisdn, make_nik
from identity.idrules import normalize_name_for_comparison
from operatordb import snapshot
from operatordb.models import InjectedDiscrepancy, OperatorSubscriber, PopulationRecord
from outlets.models import Dealer, Outlet, StarterPack
from subscribers.models import Registration
from subscribers.selectors import policy_in_force

from .engine import current_id_cap

# (case, kind, expected): what one registration (or one extra operator row) carries.
REGISTRATION_CASES = (
    ("missing", "missing_in_operator", True),
    ("id_other", "id_number_mismatch", True),
    ("name_one_letter", "name_mismatch", True),
    ("name_case_spacing", "name_mismatch", False),
    ("birth_other", "birth_date_mismatch", True),
    ("over_cap", "id_over_limit", True),
    ("at_cap", "id_over_limit", False),
    # Activated a little before the registration, within the clock-skew tolerance.
    ("registered_late", "activated_before_registration", False),
    # Activated days before the registration: a pre-activated pack (a finding where the rule
    # set sells packs inactive; ``_Planter`` marks it not expected elsewhere).
    ("pre_activated", "activated_before_registration", True),
    # Sold minutes ago: the network has not activated it yet (within the grace period).
    ("fresh_sale", "missing_in_operator", False),
    # Kept awaiting the population registry: its pack is inactive by rule.
    ("awaiting_registry", "missing_in_operator", False),
    # The number was deactivated, rested its quarantine and was issued to someone else: the
    # registration's life ended; the new owner's values are no mismatch of it.
    ("recycled_new_owner", "id_number_mismatch", False),
    # The same subscriber on a new card: the same life, no new owner.
    ("sim_replaced", "id_number_mismatch", False),
    # The number deactivated: its holder, with cap other active numbers, is not over the cap.
    ("deactivated_frees_cap", "id_over_limit", False),
)
# Cases whose registration's life of the number ends (``Registration.life_ended_at``).
LIFE_ENDING_CASES = frozenset({"recycled_new_owner", "deactivated_frees_cap"})
EXTRA_CASES = (
    ("never_registered", "unregistered_activation", True),
    ("inactive_unregistered", "unregistered_activation", False),
    ("foreign_roid", "unregistered_activation", False),
)
EDGE_CASES = frozenset(
    case for case, _, expected in REGISTRATION_CASES + EXTRA_CASES if not expected
)
KIND_OF = {case: kind for case, kind, _ in REGISTRATION_CASES + EXTRA_CASES}
EXPECTED = {case: expected for case, _, expected in REGISTRATION_CASES + EXTRA_CASES}
# Numbers the operator sold that the portal never saw; distinct prefixes keep them apart from
# generated packs (62812…).
UNREGISTERED_PREFIX = "62859"
SELF_REGISTERED_PREFIX = "62858"
FOREIGN_ROID = "ROFOREIGN0001"

FIRST_NAMES = (
    "Siti", "Budi", "Dewi", "Agus", "Sri", "Wahyu", "Putri", "Ahmad", "Ratna", "Yusuf", "Nur'aini",
    "Ma'ruf", "Indah", "Rizky", "Fitri", "Dimas", "Ayu", "Joko", "Lestari", "Bambang",
)  # fmt: skip
LAST_NAMES = (
    "Rahmawati", "Setiawan", "Kurniawan", "Susanti", "Hidayat", "Pratama", "Wijaya", "Saputra",
    "Nugroho", "Hasibuan", "Siregar", "Simanjuntak", "Tan", "O'Neil", "Al-Fatih",
)  # fmt: skip
SINGLE_NAMES = ("Sukarno", "Suharti", "Mulyono", "Paijo")


@dataclass
class Rates:
    """Share of registrations (or, for the extra rows, of their number) per case."""

    missing: float = 0.01
    id_other: float = 0.01
    name_one_letter: float = 0.01
    birth_other: float = 0.01
    over_cap: float = 0.005
    pre_activated: float = 0.005
    recycled_new_owner: float = 0.005
    never_registered: float = 0.01
    edge: float = 0.002  # each edge case

    def count(self, case: str, n: int) -> int:
        rate = getattr(self, case, None)
        if rate is None:
            rate = self.edge
        return round(rate * n)


# A first run at an operator after years of outlet registration: ~40 % of the registrations with
# a finding (the benchmarks' "dirty" profile).
DIRTY_RATES = Rates(
    missing=0.08,
    id_other=0.08,
    name_one_letter=0.08,
    birth_other=0.07,
    over_cap=0.02,
    pre_activated=0.01,
    recycled_new_owner=0.01,
    never_registered=0.06,
)


@dataclass
class GeneratorReport:
    registrations: int = 0
    operator_rows: int = 0
    planted: dict[str, int] = field(default_factory=dict)
    cap: int | None = None

    def expected_kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for case, n in self.planted.items():
            if EXPECTED[case]:
                counts[KIND_OF[case]] = counts.get(KIND_OF[case], 0) + n
        return counts


# --- helpers ------------------------------------------------------------------------------------


def _one_letter_changed(name: str, rng: random.Random) -> str:
    letters = [i for i, ch in enumerate(name) if ch.isascii() and ch.isalpha()]
    if not letters:
        return name + "a"
    i = rng.choice(letters)
    original = name[i].lower()
    replacement = rng.choice([c for c in "aeioubdgkmnrst" if c != original])
    if name[i].isupper():
        replacement = replacement.upper()
    return name[:i] + replacement + name[i + 1 :]


def _case_spacing_variant(name: str, rng: random.Random) -> str:
    """The same name under the name rule: case, spacing and punctuation changed only."""
    variants = [
        name.upper(),
        name.lower(),
        "  ".join(name.split()),
        name.replace("'", "").replace("-", " "),
        name.replace("'", "\u2019"),
        " " + name.replace(" ", " . ") + " ",
    ]
    return rng.choice([v for v in variants if v != name] or [name.upper()])


def _other_id_number(id_type: str, number: str, rng: random.Random) -> str:
    if id_type in ("ktp", "sim") and len(number) == 16 and number.isdigit():
        serial = (int(number[12:]) + rng.randint(1, 9000) - 1) % 9999 + 1
        return f"{number[:12]}{serial:04d}"
    last = number[-1]
    return number[:-1] + ("7" if last != "7" else "3")


def _iso(value) -> str:
    return value.isoformat() if value is not None else ""


# --- the portal side (tests, benchmarks) ------------------------------------------------------


def _random_person(rng: random.Random) -> tuple[str, date, str]:
    sex = rng.choice("MF")
    if rng.random() < 0.05:
        name = rng.choice(SINGLE_NAMES)
    else:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(45 * 365))
    return name, birth, sex


def _copy_rows(table: str, columns: list[str], rows: Iterator[tuple]) -> None:
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
            snapshot.CopySource(snapshot.csv_lines(rows)),
            size=1 << 16,
        )


def build_registrations(
    n: int,
    *,
    outlets: int = 20,
    seed: int = 1,
    start: int = 0,
    dealer_code: str = "ADGEN",
    registered_from: datetime | None = None,
) -> list[Outlet]:
    """Make ``n`` registered starter packs spread over ``outlets`` generated outlets.

    MSISDNs are ``make_msisdn(start + i)``, NIKs unique per ``i``. Rows are inserted in random
    order (as registrations arrive), so MSISDN order and table order do not coincide.

    On PostgreSQL it is set-based: the outlets one statement, Python only for what is drawn per
    person (name, birth date, sex, the NIK) into a narrow staging table by ``COPY``, then one
    ``INSERT … SELECT`` for the packs and one for the registrations, the database computing the
    NIK's Fernet token, keyed digest and mask (a million in about three minutes).
    """
    rng = random.Random(seed)
    dealer, _ = Dealer.objects.get_or_create(code=dealer_code, defaults={"name": "PT Generator"})
    roids = [f"ROGEN{k + 1:06d}" for k in range(outlets)]
    # One statement for the outlets: those of an earlier call are kept (with their dealer).
    Outlet.objects.bulk_create(
        [
            Outlet(
                roid=roid,
                dealer=dealer,
                name=f"Konter Generator {k + 1}",
                region="Jakarta Selatan",
                province="31",
            )
            for k, roid in enumerate(roids)
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )
    by_roid = Outlet.objects.in_bulk(roids, field_name="roid")
    outlet_objs = [by_roid[roid] for roid in roids]
    policy = policy_in_force()
    now = timezone.now()
    registered_from = registered_from or now - timedelta(days=365)
    order = list(range(start, start + n))
    rng.shuffle(order)

    def person(i: int):
        prng = random.Random(seed * 1_000_003 + i)
        name, birth, sex = _random_person(prng)
        nik = make_nik(
            birth_date=birth,
            sex=sex,
            province="31",
            regency=f"{(i // (9999 * 99)) % 99 + 1:02d}",
            district=f"{(i // 9999) % 99 + 1:02d}",
            serial=i % 9999 + 1,
        )
        return name, birth, sex, nik

    def registered_at_of(i: int) -> datetime:
        return registered_from + timedelta(seconds=i * 7 % (300 * 86400) + 60)

    if connection.vendor == "postgresql":
        _build_registrations_copy(
            order, outlet_objs, dealer, person, policy=policy, seed=seed, now=now,
            registered_from=registered_from,
        )  # fmt: skip
        return outlet_objs

    def registration_values(i: int) -> dict:
        name, birth, sex, nik = person(i)
        registered_at = registered_at_of(i)
        outlet = outlet_objs[i % len(outlet_objs)]
        return {
            "registration_number": f"SG{seed:02d}{i:012d}",
            "outlet_id": outlet.pk,
            "clerk_id": None,
            "msisdn": make_msisdn(i),
            "iccid": make_iccid(i),
            "policy_id": policy.pk,
            "id_type": "ktp",
            "id_number_encrypted": pii.encrypt(nik),
            "id_number_digest": pii.digest(nik),
            "id_number_masked": mask_id_number(nik),
            "full_name": name,
            "birth_place": "Jakarta",
            "birth_date": birth,
            "sex": sex,
            "address": f"Jl. Generator No. {i % 500 + 1}",
            "nationality": "ID",
            "consent_at": registered_at,
            "document_checked": True,
            "status": Registration.Status.REGISTERED,
            "review_reasons": [],
            "source": Registration.Source.IMPORT,
            "registered_at": registered_at,
            "created_at": now,
            "updated_at": now,
        }

    _build_registrations_orm(order, outlet_objs, dealer, registration_values, now)
    return outlet_objs


def _column_defaults(model) -> dict:
    """Every concrete column but the primary key, with its default (JSON as text)."""
    defaults = {}
    for f in model._meta.concrete_fields:
        if f.primary_key or f.generated:
            continue
        value = f.get_default()
        defaults[f.column] = json.dumps(value) if isinstance(value, (list, dict)) else value
    return defaults


# What the generator draws per person (Python: the same values for the same seed as the ORM
# path); every other column is computed in SQL from ``i`` or is a constant.
_STAGE = """
CREATE TEMP TABLE gen_person (
    ord integer NOT NULL, i bigint NOT NULL, full_name text NOT NULL, birth_date date NOT NULL,
    sex text NOT NULL, iccid text NOT NULL, nik text NOT NULL, id_number_digest text,
    iv bytea NOT NULL DEFAULT gen_random_bytes(16)
)
"""
# The keys, handed over by COPY (never a statement's parameter, so never in a log), dropped at
# the commit: Fernet's signing and encryption halves of the primary field key, the digest key.
_KEYS = """
CREATE TEMP TABLE gen_keys (sign bytea NOT NULL, enc bytea NOT NULL, digest bytea NOT NULL)
    ON COMMIT DROP
"""
# A Fernet token of the NIK (``pii.encrypt``: version 0x80, the time, the IV, AES-128-CBC with
# PKCS7 padding, HMAC-SHA256 of all that under the signing key; URL-safe base64), by pgcrypto.
_FERNET_BODY = (
    "'\\x80'::bytea || int8send(%(fernet_time)s::bigint) || g.iv"
    " || encrypt_iv(convert_to(g.nik, 'UTF8'), k.enc, g.iv, 'aes-cbc/pad:pkcs')"
)
_FERNET = "translate(encode(f.body || hmac(f.body, k.sign, 'sha256'), 'base64'), E'+/\\n', '-_')"
# Per ``i``, as ``registration_values`` of the ORM path writes them.
_COMPUTED = {
    "registration_number": "%(number_prefix)s || lpad(g.i::text, 12, '0')",
    "outlet_id": "(%(outlets)s::bigint[])[g.i %% %(n_outlets)s + 1]",
    "msisdn": "'62812' || lpad(g.i::text, 8, '0')",
    "iccid": "g.iccid",
    "policy_id": "%(policy)s",
    "id_type": "'ktp'",
    "id_number_encrypted": _FERNET,
    # ``pii.digest`` (outside a digest-key rotation; during one, Python's, staged).
    "id_number_digest": "coalesce(g.id_number_digest,"
    " encode(hmac(convert_to(g.nik, 'UTF8'), k.digest, 'sha256'), 'hex'))",
    # ``mask_id_number`` of a 16-digit NIK.
    "id_number_masked": "left(g.nik, 4) || repeat('*', length(g.nik) - 8) || right(g.nik, 4)",
    "full_name": "g.full_name",
    "birth_place": "'Jakarta'",
    "birth_date": "g.birth_date",
    "sex": "g.sex",
    "address": "'Jl. Generator No. ' || (g.i %% 500 + 1)",
    "nationality": "'ID'",
    "consent_at": "{at}",
    "document_checked": "TRUE",
    "status": "%(registered)s",
    "review_reasons": "'[]'",
    "source": "%(import)s",
    "registered_at": "{at}",
    "created_at": "%(now)s",
    "updated_at": "%(now)s",
    "starter_pack_id": "p.id",
}
_REGISTERED_AT = (
    "(%(registered_from)s::timestamptz + make_interval(secs => g.i * 7 %% 25920000 + 60))"
)


def _build_registrations_copy(
    order, outlets, dealer, person, *, policy, seed, now, registered_from
) -> None:
    pack_table = StarterPack._meta.db_table
    reg_table = Registration._meta.db_table
    if order and max(order) >= 10**8:  # the SQL below spells make_msisdn for 8 digits
        raise ValueError("the generator numbers up to 10**8 registrations")
    in_rotation = bool(pii._previous_key())
    field_key = base64.urlsafe_b64decode(settings.FIELD_ENCRYPTION_KEYS[0])

    def stage_rows() -> Iterator[tuple]:
        for ord_, i in enumerate(order):
            name, birth, sex, nik = person(i)
            # During a digest-key rotation the digest is the one the database holds (Python).
            digest = pii.digest(nik) if in_rotation else None
            yield (ord_, i, name, birth, sex, make_iccid(i), nik, digest)

    params = {
        "number_prefix": f"SG{seed:02d}",
        "outlets": [o.pk for o in outlets],
        "n_outlets": len(outlets),
        "policy": policy.pk,
        "registered": Registration.Status.REGISTERED,
        "import": Registration.Source.IMPORT,
        "now": now,
        "registered_from": registered_from,
        "dealer": dealer.pk,
        "in_pack": StarterPack.Status.REGISTERED,
        "fernet_time": int(time.time()),
    }
    defaults = _column_defaults(Registration)
    columns = list(defaults)
    select = []
    for column in columns:
        if column in _COMPUTED:
            select.append(_COMPUTED[column].format(at=_REGISTERED_AT))
        else:
            params[f"d_{column}"] = defaults[column]
            select.append(f"%(d_{column})s")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS pg_temp.gen_person")
            cursor.execute("DROP TABLE IF EXISTS pg_temp.gen_keys")
            cursor.execute(_STAGE)
            cursor.execute(_KEYS)
            keys = (field_key[:16], field_key[16:], settings.ID_DIGEST_KEY.encode())
            cursor.cursor.copy_expert(
                "COPY gen_keys FROM STDIN",
                io.StringIO("\t".join("\\\\x" + key.hex() for key in keys) + "\n"),
            )
        _copy_rows(
            "gen_person",
            ["ord", "i", "full_name", "birth_date", "sex", "iccid", "nik", "id_number_digest"],
            stage_rows(),
        )
        with connection.cursor() as cursor:
            # The packs, then the registrations, in the arrival order drawn above.
            cursor.execute(
                f"INSERT INTO {pack_table} (msisdn, iccid, dealer_id, outlet_id, status,"
                " created_at, updated_at)"
                f" SELECT {_COMPUTED['msisdn']}, g.iccid, %(dealer)s, {_COMPUTED['outlet_id']},"
                " %(in_pack)s, %(now)s, %(now)s FROM gen_person g ORDER BY g.ord",
                params,
            )
            cursor.execute(
                f"INSERT INTO {reg_table} ({', '.join(columns)})"
                f" SELECT {', '.join(select)}"
                f" FROM gen_person g JOIN {pack_table} p ON p.msisdn = {_COMPUTED['msisdn']}"
                # OFFSET 0: the body is computed once a row (it is used twice).
                " CROSS JOIN gen_keys k"
                f" CROSS JOIN LATERAL (SELECT {_FERNET_BODY} AS body OFFSET 0) f"
                " ORDER BY g.ord",
                params,
            )
            cursor.execute("DROP TABLE gen_person")
            cursor.execute("DROP TABLE gen_keys")
            cursor.execute(f"ANALYZE {reg_table}")
            cursor.execute(f"ANALYZE {pack_table}")


def _build_registrations_orm(order, outlets, dealer, registration_values, now) -> None:
    with transaction.atomic():
        for start in range(0, len(order), 500):
            batch = order[start : start + 500]
            packs = StarterPack.objects.bulk_create(
                StarterPack(
                    msisdn=make_msisdn(i),
                    iccid=make_iccid(i),
                    dealer=dealer,
                    outlet=outlets[i % len(outlets)],
                    status=StarterPack.Status.REGISTERED,
                )
                for i in batch
            )
            registrations = []
            for i, pack in zip(batch, packs, strict=True):
                values = registration_values(i)
                values["review_reasons"] = []
                registrations.append(Registration(starter_pack=pack, **values))
            Registration.objects.bulk_create(registrations)


# --- the operator side --------------------------------------------------------------------------


@dataclass
class _Portal:
    registration_id: int
    msisdn: str
    iccid: str
    id_type: str
    id_number: str
    full_name: str
    birth_date: date
    sex: str
    registered_at: datetime
    roid: str
    kk_digest: str


def _portal_rows(registrations) -> Iterator[_Portal]:
    rows = (
        registrations.order_by("pk")
        .values_list(
            "pk", "msisdn", "iccid", "id_type", "id_number_encrypted", "full_name", "birth_date",
            "sex", "registered_at", "outlet__roid", "kk_number_digest",
        )
        .iterator(chunk_size=2000)
    )  # fmt: skip
    for pk, msisdn, iccid, id_type, encrypted, name, birth, sex, at, roid, kk in rows:
        yield _Portal(pk, msisdn, iccid, id_type, pii.decrypt(encrypted), name, birth, sex, at,
                      roid, kk)  # fmt: skip


def _snapshot_row(**values) -> list[str]:
    return [
        values["msisdn"],
        values.get("iccid", ""),
        values.get("status", "active"),
        _iso(values.get("activated_at")),
        values.get("outlet_roid", ""),
        values.get("id_type", ""),
        values.get("id_number", ""),
        values.get("full_name", ""),
        _iso(values.get("birth_date")),
        _iso(values.get("issued_at")),
        _iso(values.get("deactivated_at")),
    ]


SNAPSHOT_HEADER = snapshot.ALL_COLUMNS


class _Planter:
    """Walks the registrations once and yields the operator's snapshot rows."""

    def __init__(
        self,
        *,
        registrations,
        rates: Rates,
        counts: dict | None,
        seed,
        cap,
        population: bool,
        sold_inactive: bool = True,
        quarantine_days: int = 60,
    ):
        self.rng = random.Random(seed)
        self.sold_inactive = sold_inactive
        self.quarantine = timedelta(days=quarantine_days)
        # Portal-side changes the cases need (applied after the walk): a fresh sale, a
        # registration awaiting the registry.
        self.fresh: list[int] = []
        self.awaiting: list[int] = []
        self.collect_population = population
        self.cap = cap
        self.registrations = registrations
        n = registrations.count()
        self.n = n
        wanted = {
            case: (counts or {}).get(case, 0) if counts is not None else rates.count(case, n)
            for case, _, _ in REGISTRATION_CASES + EXTRA_CASES
        }
        if cap is None:  # no cap in force: nothing is over it, nothing "at" it
            wanted["over_cap"] = wanted["at_cap"] = wanted["deactivated_frees_cap"] = 0
        self.wanted = wanted
        per_registration = [c for c, _, _ in REGISTRATION_CASES for _ in range(wanted[c])]
        per_registration = per_registration[:n]
        positions = self.rng.sample(range(n), len(per_registration)) if n else []
        self.case_at = dict(zip(positions, per_registration, strict=True))
        self.truth: list[InjectedDiscrepancy] = []
        self.planted: dict[str, int] = {}
        self.population: list[PopulationRecord] = []
        self.rows = 0
        self._serial = 0

    def _plant(self, msisdn: str, case: str) -> None:
        expected = EXPECTED[case] and (case != "pre_activated" or self.sold_inactive)
        self.truth.append(
            InjectedDiscrepancy(msisdn=msisdn, kind=KIND_OF[case], case=case, expected=expected)
        )
        self.planted[case] = self.planted.get(case, 0) + 1

    def _new_msisdn(self, prefix: str) -> str:
        self._serial += 1
        return make_msisdn(self._serial, prefix=prefix)

    def rows_for(self, position: int, p: _Portal) -> Iterator[list[str]]:
        case = self.case_at.get(position)
        base = {
            "msisdn": p.msisdn,
            "iccid": p.iccid,
            "status": "active",
            "activated_at": p.registered_at + timedelta(minutes=2),
            "outlet_roid": p.roid,
            "id_type": p.id_type,
            "id_number": p.id_number,
            "full_name": p.full_name,
            "birth_date": p.birth_date,
        }
        if case is not None:
            self._plant(p.msisdn, case)
        if case == "missing":
            return
        if case in ("fresh_sale", "awaiting_registry"):
            (self.fresh if case == "fresh_sale" else self.awaiting).append(p.registration_id)
            return
        if case == "id_other":
            base["id_number"] = _other_id_number(p.id_type, p.id_number, self.rng)
        elif case == "name_one_letter":
            base["full_name"] = _one_letter_changed(p.full_name, self.rng)
        elif case == "name_case_spacing":
            base["full_name"] = _case_spacing_variant(p.full_name, self.rng)
        elif case == "birth_other":
            base["birth_date"] = p.birth_date + timedelta(days=self.rng.choice([-366, -1, 1, 31]))
        elif case == "registered_late":
            base["activated_at"] = p.registered_at - timedelta(minutes=2)
        elif case == "pre_activated":
            base["activated_at"] = p.registered_at - timedelta(days=3)
        elif case == "sim_replaced":
            # A new card for the same subscriber: a new ICCID, the same life (no issued_at).
            base["iccid"] = make_iccid(900_000_000 + p.registration_id)
        elif case == "recycled_new_owner":
            ended = p.registered_at + timedelta(days=1)
            issued = ended + self.quarantine + timedelta(days=1)
            activated = issued + timedelta(hours=1)
            now = timezone.now()
            if activated > now:
                # A recent sale: the operator's picture holds nothing after now (the loader
                # refuses it), so the life ended and the number was issued again since.
                issued = p.registered_at + (now - p.registered_at) / 2
                activated = issued + (now - issued) / 2
            name, birth, sex = _random_person(self.rng)
            base.update(
                iccid=make_iccid(800_000_000 + p.registration_id),
                activated_at=activated,
                outlet_roid="",
                id_number=make_nik(birth_date=birth, sex=sex, province="33",
                                   serial=self.rng.randint(1, 9999)),
                full_name=name,
                birth_date=birth,
                issued_at=issued,
            )  # fmt: skip
        elif case == "deactivated_frees_cap":
            ended = min(
                p.registered_at + timedelta(days=1),  # never after now: the loader refuses it
                p.registered_at + (timezone.now() - p.registered_at) / 2,
            )
            base.update(status="inactive", deactivated_at=ended)
            for k in range(self.cap):
                yield _snapshot_row(
                    msisdn=self._new_msisdn(SELF_REGISTERED_PREFIX),
                    activated_at=p.registered_at - timedelta(days=30 * (k + 1)),
                    id_type=p.id_type,
                    id_number=p.id_number,
                    full_name=p.full_name,
                    birth_date=p.birth_date,
                )
        elif case in ("over_cap", "at_cap"):
            # Numbers bought earlier under the same ID without an outlet (self-registration):
            # cap of them put this registration over the cap, cap - 1 exactly at it.
            extra = self.cap if case == "over_cap" else self.cap - 1
            for k in range(extra + (case == "at_cap")):
                yield _snapshot_row(
                    msisdn=self._new_msisdn(SELF_REGISTERED_PREFIX),
                    status="active" if k < extra else "inactive",
                    activated_at=p.registered_at - timedelta(days=30 * (k + 1)),
                    id_type=p.id_type,
                    id_number=p.id_number,
                    full_name=p.full_name,
                    birth_date=p.birth_date,
                )
        yield _snapshot_row(**base)

    def extra_rows(self, roids: list[str], in_stock: list[str]) -> Iterator[list[str]]:
        now = timezone.now()
        stock = iter(in_stock)
        for case, _, _ in EXTRA_CASES:
            for _ in range(self.wanted[case]):
                if case == "foreign_roid":
                    roid = FOREIGN_ROID
                elif roids:
                    roid = self.rng.choice(roids)
                else:
                    continue
                msisdn = next(stock, None) or self._new_msisdn(UNREGISTERED_PREFIX)
                name, birth, sex = _random_person(self.rng)
                self._plant(msisdn, case)
                yield _snapshot_row(
                    msisdn=msisdn,
                    status="inactive" if case == "inactive_unregistered" else "active",
                    activated_at=now - timedelta(days=self.rng.randint(1, 60)),
                    outlet_roid=roid,
                    id_type="ktp",
                    id_number=make_nik(birth_date=birth, sex=sex, province="32",
                                       serial=self.rng.randint(1, 9999)),
                    full_name=name,
                    birth_date=birth,
                )  # fmt: skip

    def all_rows(self) -> Iterator[list[str]]:
        for position, p in enumerate(_portal_rows(self.registrations)):
            if p.id_type == "ktp" and self.collect_population:
                self.population.append(
                    PopulationRecord(
                        nik_digest=pii.digest(p.id_number),
                        nik_masked=mask_id_number(p.id_number),
                        full_name=p.full_name,
                        name_key=normalize_name_for_comparison(p.full_name),
                        birth_date=p.birth_date,
                        sex=p.sex,
                        kk_digest=p.kk_digest,
                    )
                )
            for row in self.rows_for(position, p):
                self.rows += 1
                yield row
        roids = sorted(Outlet.objects.values_list("roid", flat=True))
        # The last packs of the outlets' stock, never the first: a clerk is offered the
        # first ones (by MSISDN), and they must be clean to sell.
        in_stock = list(
            StarterPack.objects.current_lives()
            .filter(status=StarterPack.Status.IN_STOCK, outlet__isnull=False)
            .order_by("-msisdn")
            .values_list("msisdn", flat=True)[: sum(self.wanted[c] for c, _, _ in EXTRA_CASES)]
        )
        for row in self.extra_rows(roids, in_stock):
            self.rows += 1
            yield row


def clear_operator_data() -> None:
    """Empty the mock (operator records, population registry, generator truth)."""
    models = (OperatorSubscriber, PopulationRecord, InjectedDiscrepancy)
    if connection.vendor == "postgresql":
        tables = ", ".join(m._meta.db_table for m in models)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables}")
    else:
        for model in models:
            model.objects.all().delete()


def generate_operator_data(
    *,
    rates: Rates | None = None,
    counts: dict[str, int] | None = None,
    seed: int = 7,
    registrations=None,
    csv_path=None,
    population: bool = True,
    replace: bool = True,
) -> GeneratorReport:
    """Build the operator's data for ``registrations`` (default: all) with discrepancies planted
    at ``rates`` (or exactly ``counts`` per case) and record the truth.

    Loads it into the mock through the snapshot loader (a full snapshot), or, with
    ``csv_path``, writes the snapshot file instead (the truth is recorded either way).
    """
    registrations = registrations if registrations is not None else Registration.objects.all()
    cap = current_id_cap()
    policy = policy_in_force()
    planter = _Planter(
        registrations=registrations,
        rates=rates or Rates(),
        counts=counts,
        seed=seed,
        cap=cap,
        population=population and csv_path is None,
        sold_inactive=policy.packs_sold_inactive,
        quarantine_days=policy.number_quarantine_days or 60,
    )
    with transaction.atomic():
        if replace:
            clear_operator_data()
        # Rows go through a file even when loaded at once: the loader's COPY holds the database
        # connection, so the rows cannot be read from the database while it runs.
        with tempfile.TemporaryDirectory() as tmp:
            path = csv_path or Path(tmp) / "snapshot.csv"
            with open(path, "w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(SNAPSHOT_HEADER)
                writer.writerows(planter.all_rows())
            if csv_path is None:
                # The generated snapshot is the operator's whole picture, by design.
                snapshot.load_snapshot(path, full=True, allow_mass_deactivation=True)
                PopulationRecord.objects.bulk_create(
                    planter.population, batch_size=2000, ignore_conflicts=True
                )
        InjectedDiscrepancy.objects.bulk_create(
            planter.truth, batch_size=2000, ignore_conflicts=True
        )
        _portal_side(planter)
    return GeneratorReport(
        registrations=planter.n, operator_rows=planter.rows, planted=planter.planted, cap=cap
    )


def _portal_side(planter: _Planter) -> None:
    """The cases that live on the portal's side: a sale made minutes ago (within the
    activation grace period) and one kept awaiting the population registry."""
    now = timezone.now()
    for start in range(0, len(planter.fresh), 2000):
        Registration.objects.filter(pk__in=planter.fresh[start : start + 2000]).update(
            registered_at=now - timedelta(minutes=5),
            consent_at=now - timedelta(minutes=5),
            registry_checked_at=now - timedelta(minutes=5),
            updated_at=now,
        )
    for start in range(0, len(planter.awaiting), 2000):
        Registration.objects.filter(pk__in=planter.awaiting[start : start + 2000]).update(
            status=Registration.Status.AWAITING, registry_checked_at=None, updated_at=now
        )


DEMO_COUNTS = {
    "missing": 1,
    "id_other": 1,
    "name_one_letter": 1,
    "name_case_spacing": 1,
    "birth_other": 1,
    "over_cap": 1,
    "at_cap": 1,
    "registered_late": 1,
    "never_registered": 2,
    "inactive_unregistered": 1,
    "foreign_roid": 1,
}


def generate_for_demo() -> GeneratorReport:
    """Operator data for the demo's registrations with a few of each kind (``seed_demo``).

        Deterministic and replacing: running it again gives the same operator data for the same
        registrations. The demo outlets' unsold packs supply the "activated, never registered"
        numbers — the *last* packs of each outlet's stock by MSISDN, so the first packs a clerk is
    offered are clean; registering one of the last later resolves its discrepancy on the next run.
    """
    return generate_operator_data(counts=DEMO_COUNTS, seed=2026)
