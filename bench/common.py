"""Shared by the benchmarks: Django set-up on the bench database, demo-like people, a table."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/satupintu_bench"


def bench_env() -> dict[str, str]:
    """The environment the benchmarks and the processes they start run with."""
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("DJANGO_SETTINGS_MODULE", "registration_portal.settings.local")
    env["DEBUG"] = "0"  # DEBUG keeps every query in memory: not what production does
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


def setup_django() -> None:
    os.environ.update(bench_env())
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
        sys.exit(
            "The benchmarks run on a PostgreSQL database whose name contains 'bench' (they "
            f"empty its tables); DATABASE_URL points at {connection.settings_dict['NAME']!r}."
        )


def empty_tables() -> None:
    """Start from empty registration, pack and audit tables (the bench database only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE subscribers_registration, subscribers_idempotencyrecord, "
            "outlets_starterpack, compliance_auditevent RESTART IDENTITY CASCADE"
        )
        cursor.execute("VACUUM ANALYZE")


def bench_outlets(count: int) -> list:
    """``count`` active outlets of one bench dealer, in several provinces."""
    from outlets.models import Dealer, Outlet

    dealer, _ = Dealer.objects.get_or_create(code="ADBENCH", defaults={"name": "PT Bench"})
    provinces = ("31", "32", "33", "35", "51", "73", "12", "64")
    outlets = []
    for n in range(1, count + 1):
        outlet, _ = Outlet.objects.update_or_create(
            roid=f"ROBENCH{n:05d}",
            defaults={
                "dealer": dealer,
                "name": f"Konter Bench {n}",
                "region": "Bench",
                "province": provinces[n % len(provinces)],
                "status": Outlet.Status.ACTIVE,
            },
        )
        outlets.append(outlet)
    return outlets


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, r in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if index == 0:
            print("  " + "  ".join("-" * w for w in widths))
