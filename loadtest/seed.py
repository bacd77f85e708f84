"""Seed the load-test database and write what the locustfile needs to a JSON file.

    python loadtest/seed.py --out /tmp/x/people.json [--clerks 40] [--packs 300]
        [--reviewers 4] [--registrations 30000] [--review-items 3000]

On PostgreSQL only, in a database whose name contains ``load`` (``DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/satupintu_load``, migrated beforehand): it empties the
tables a run writes (registrations, packs, audit, the compliance workflow, exports, sessions)
and makes

- ``--clerks`` active outlets of one dealer (``ROLOAD…``), one clerk each with an API token,
  and ``--packs`` starter packs in stock per outlet;
- ``--registrations`` existing registrations over the last year at 20 other outlets (set-based,
  ``compliance.reconciliation.generator.build_registrations``: COPY, not the service) for the
  regulator's exports to read, and ``--review-items`` open review items over some of them;
- ``--reviewers`` GraPARI reviewers (token and password) and one regulator (token).

The JSON file (keep it out of the repository: it holds tokens) lists, per clerk, the token
and the MSISDNs of its outlet's packs; per reviewer the username, password and token; the
regulator's token.
"""

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/satupintu_load"
PASSWORD = "load-Password-2026"  # noqa: S105 - throw-away users of the load-test database
PROVINCES = ("31", "32", "33", "35", "51", "73", "12", "64")

# Every table a run writes, emptied first so that each run starts from the same state.
RUN_TABLES = (
    "subscribers_registration",
    "subscribers_idempotencyrecord",
    "outlets_starterpack",
    "compliance_auditevent",
    "compliance_reviewitem",
    "compliance_clarification",
    "compliance_discrepancy",
    "compliance_notification",
    "reports_exportjob",
    "django_session",
)

# Open review items over registrations [lo, hi) by id (set-based, like bench_review_queue):
# three kinds, several findings, deadlines from four days overdue to two weeks ahead.
REVIEW_ITEMS = """
INSERT INTO compliance_reviewitem
    (kind, status, msisdn, registration_id, outlet_id, dealer_id, province, region,
     discrepancy_kinds, queued_at, due_at, decision, reason)
SELECT (ARRAY['flagged_registration', 'answered_clarification',
               'expired_clarification'])[r.id %% 3 + 1],
       'open', r.msisdn, r.id, r.outlet_id, o.dealer_id, o.province, o.region,
       (ARRAY[',name_mismatch,', ',birth_date_mismatch,', ',id_number_mismatch,name_mismatch,',
              ',missing_in_operator,'])[r.id %% 4 + 1],
       now() - make_interval(hours => ((r.id * 37) %% 2000)::int),
       now() + make_interval(hours => (((r.id * 7919) %% 432) - 96)::int),
       '', ''
FROM subscribers_registration r JOIN outlets_outlet o ON o.id = r.outlet_id
ORDER BY r.id
LIMIT %(n)s
"""


def database_name_allowed(name: str) -> bool:
    """The seed empties tables: only a database named for load tests."""
    return "load" in (name or "")


def setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registration_portal.settings.local")
    os.environ["DEBUG"] = "0"  # DEBUG keeps every query in memory
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql" or not database_name_allowed(name):
        sys.exit(
            "loadtest/seed.py empties tables: it runs on a PostgreSQL database whose name "
            f"contains 'load'; DATABASE_URL points at {name!r} ({connection.vendor})."
        )


def _user(username: str, role: str, password_hash: str):
    from accounts.models import User

    user, _ = User.objects.update_or_create(
        username=username,
        defaults={"role": role, "is_active": True, "password": password_hash},
    )
    return user


def _token(user) -> str:
    from accounts.models import ApiToken

    # Keys are stored as digests only: a seed issues a fresh token (with a long life, for runs).
    return ApiToken.objects.issue(user=user, name="loadtest")[1]


def _population_registry(clerks: list[dict]) -> None:
    """Every buyer the clerks will send (one per pack, ``loadtest.buyers.buyer``) in the mock
    population registry, with the load test's face as reference: the rules in force check
    each against it."""
    from core import pii
    from identity.idrules import normalize_name_for_comparison
    from loadtest.buyers import buyer, face_jpeg
    from operatordb.population import upsert_people
    from operatordb.registry import face_hash

    reference = face_hash(face_jpeg())
    people = []
    for clerk in clerks:
        for count, msisdn in enumerate(clerk["msisdns"], start=1):
            body = buyer(clerk["n"], count, msisdn)
            people.append(
                {
                    "nik_digest": pii.digest(body["id_number"]),
                    "nik_masked": body["id_number"][:4] + "*" * 8 + body["id_number"][-4:],
                    "full_name": body["full_name"],
                    "name_key": normalize_name_for_comparison(body["full_name"]),
                    "birth_date": date.fromisoformat(body["birth_date"]),
                    "sex": body["sex"],
                    "kk_digest": pii.digest(body["kk_number"]),
                    "kk_masked": "",
                    "birth_place": body["birth_place"],
                    "head_of_family": False,
                    "face_hash": reference,
                }
            )
    for start in range(0, len(people), 5000):
        upsert_people(people[start : start + 5000])


def seed(
    *,
    clerks: int,
    packs: int,
    reviewers: int,
    registrations: int,
    review_items: int,
) -> dict:
    """Empty the run's tables and make the people, stock, registrations and queue; return
    what the locustfile needs (tokens, packs, passwords)."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from accounts.models import User
    from compliance.reconciliation.generator import build_registrations
    from identity.idgen import make_iccid, make_msisdn
    from outlets.models import Dealer, Outlet, OutletStaff, StarterPack

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(RUN_TABLES)} RESTART IDENTITY CASCADE")

    # Existing registrations for the exports (their own generated outlets and dealer).
    if registrations:
        build_registrations(registrations, outlets=20, seed=7, dealer_code="ADLOADGEN")

    with transaction.atomic():
        dealer, _ = Dealer.objects.get_or_create(code="ADLOAD", defaults={"name": "PT Load"})
        # Clerks only use tokens (no password); reviewers log in to the HTML queue, and one
        # PBKDF2 hash serves them all (hashing is deliberately slow).
        reviewer_hash = make_password(PASSWORD)
        people: dict = {"clerks": [], "reviewers": [], "regulator": None}
        all_packs = []
        for n in range(1, clerks + 1):
            outlet, _ = Outlet.objects.update_or_create(
                roid=f"ROLOAD{n:05d}",
                defaults={
                    "dealer": dealer,
                    "name": f"Konter Load {n}",
                    "region": f"Kota Load {n % 40}",
                    "province": PROVINCES[n % len(PROVINCES)],
                    "status": Outlet.Status.ACTIVE,
                    "status_reason": "",
                },
            )
            clerk = _user(f"loadclerk{n:05d}", User.Role.OUTLET_STAFF, "!unusable")
            OutletStaff.objects.update_or_create(
                user=clerk, defaults={"outlet": outlet, "is_active": True, "removed_at": None}
            )
            msisdns = []
            for i in range(packs):
                serial = n * 100_000 + i  # room for 100 000 packs per outlet
                msisdns.append(make_msisdn(serial, prefix="62857"))
                all_packs.append(
                    StarterPack(
                        msisdn=msisdns[-1],
                        iccid=make_iccid(serial, prefix="896257"),
                        dealer=dealer,
                        outlet=outlet,
                    )
                )
            people["clerks"].append(
                {"username": clerk.username, "roid": outlet.roid, "token": _token(clerk),
                 "n": n, "msisdns": msisdns}
            )  # fmt: skip
        StarterPack.objects.bulk_create(all_packs, batch_size=5000)
        _population_registry(people["clerks"])
        for n in range(1, reviewers + 1):
            reviewer = _user(f"loadgrapari{n:03d}", User.Role.GRAPARI, reviewer_hash)
            people["reviewers"].append(
                {"username": reviewer.username, "password": PASSWORD, "token": _token(reviewer)}
            )
        regulator = _user("loadregulator", User.Role.REGULATOR, "!unusable")
        people["regulator"] = {"username": regulator.username, "token": _token(regulator)}

    with connection.cursor() as cursor:
        if review_items:
            cursor.execute(REVIEW_ITEMS, {"n": review_items})
        cursor.execute("ANALYZE")
    return people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file for the locustfile")
    parser.add_argument("--clerks", type=int, default=40, help="outlets, one clerk each")
    parser.add_argument("--packs", type=int, default=300, help="starter packs per outlet")
    parser.add_argument("--reviewers", type=int, default=4)
    parser.add_argument("--registrations", type=int, default=30_000)
    parser.add_argument("--review-items", type=int, default=3_000)
    args = parser.parse_args()
    setup_django()
    started = time.perf_counter()
    people = seed(
        clerks=args.clerks,
        packs=args.packs,
        reviewers=args.reviewers,
        registrations=args.registrations,
        review_items=args.review_items,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(people))
    out.chmod(0o600)
    print(
        f"seeded {args.clerks} outlets/clerks x {args.packs} packs, {args.reviewers} reviewers, "
        f"1 regulator, {args.registrations:,} registrations, {args.review_items:,} review "
        f"items in {time.perf_counter() - started:.1f} s -> {out}"
    )


if __name__ == "__main__":
    main()
