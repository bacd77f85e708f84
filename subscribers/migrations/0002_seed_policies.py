"""Seed the first rule sets as data (docs/rules.md). Later rules are new rows, not code edits."""

from datetime import date

from django.db import migrations

ALL_TYPES = ["ktp", "sim", "passport", "student_card", "kitas", "kitap"]
# From 2017, citizens register with NIK + KK (KTP or the NIK-based SIM); foreigners with a
# passport, KITAS or KITAP. The student card has no national format and no NIK.
NIK_ERA_TYPES = ["ktp", "sim", "passport", "kitas", "kitap"]

POLICIES = [
    {
        "code": "2014",
        "name": "Registrasi di outlet (BRTI 161/BRTI/V/2014)",
        "legal_basis": "Permen Kominfo No. 23/2005; Ketetapan BRTI No. 161/BRTI/V/2014",
        "effective_from": date(2014, 5, 1),
        "accepted_id_types": ALL_TYPES,
        "notes": "Outlet registers every buyer from their own ID document.",
    },
    {
        "code": "2017",
        "name": "NIK + KK divalidasi Dukcapil",
        "legal_basis": "Permen Kominfo No. 14/2017",
        "effective_from": date(2017, 10, 31),
        "accepted_id_types": NIK_ERA_TYPES,
        "kk_required": True,
        "max_numbers_per_id": 3,
        "outlet_may_exceed_cap": True,
        "notes": "At most 3 numbers per NIK per operator by self-registration; more only "
        "through outlets (accepted, flagged for review).",
    },
    {
        "code": "2018",
        "name": "Larangan NIK/KK staf outlet; kartu perdana dijual tidak aktif",
        "legal_basis": "Permen Kominfo No. 21/2017",
        "effective_from": date(2018, 3, 1),
        "accepted_id_types": NIK_ERA_TYPES,
        "kk_required": True,
        "max_numbers_per_id": 3,
        "outlet_may_exceed_cap": True,
        "staff_own_id_forbidden": True,
        "packs_sold_inactive": True,
    },
    {
        "code": "2026",
        "name": "Foto wajah pelanggan baru",
        "legal_basis": "Peraturan Menteri Komdigi (registrasi biometrik) 2026",
        "effective_from": date(2026, 1, 1),
        "accepted_id_types": NIK_ERA_TYPES,
        "kk_required": True,
        "max_numbers_per_id": 3,
        "outlet_may_exceed_cap": True,
        "staff_own_id_forbidden": True,
        "packs_sold_inactive": True,
        "id_photo_required": True,
        "face_photo_required": True,
    },
]


def seed(apps, schema_editor):
    Policy = apps.get_model("subscribers", "RegistrationPolicy")
    for row in POLICIES:
        Policy.objects.update_or_create(code=row["code"], defaults=row)


def unseed(apps, schema_editor):
    apps.get_model("subscribers", "RegistrationPolicy").objects.filter(
        code__in=[p["code"] for p in POLICIES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("subscribers", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
