"""The rule sets as the regulations wrote them (docs/rules.md has the table and the sources).

Re-seeds by code: the rows of 0002 are updated, the missing ones added. Registrations are not
touched — each keeps its rule set (its ``policy``), status and review reasons: a verdict already
given stays given (tests/subscribers/test_rule_sets.py builds a database before this migration
and checks). What changes is how registrations made from now on, and imports dated in these
periods, are judged:

- 2015 (new): outlet registration mandatory nationwide from 15 Dec 2015.
- 2017: citizens by NIK only (no passport, no old SIM), validated with KK against the registry;
  the 4th and later numbers only at the operator's own outlets (not "any outlet, flagged").
- 2018 (1 Mar 2018, kept because registrations point at it): the same rules as 2017; the
  own-ID ban it carried is not in the sources for that date (it came on 14 May 2018).
- 2018-05 (new): also at outlets the operator authorised in writing; a declared purpose above
  10 numbers. 2018-05-14 (new): end user only — no NIK of the dealer's people.
- 2018-11 (new): original e-KTP and KK shown, a signed statement, no mass-registration tools.
- 2026: from 19 Jan 2026 (not 1 Jan): NIK + KK or NIK + face verified by the registry; minors
  through the head of family. 2026-07 (new): NIK + face only for new subscribers.
"""

from datetime import date

from django.db import migrations

ID_TYPE_ORDER = ["ktp", "sim", "passport", "student_card", "kitas", "kitap"]
FOREIGN = ["passport", "kitas", "kitap"]
NIK = ["ktp", "sim"]  # a SIM counts only when its number is the NIK (16 digits, since 2024)

_NIK_ERA = {
    "citizen_id_types": NIK,
    "foreigner_id_types": FOREIGN,
    "citizen_proof": "nik_kk",
    "registry_check": True,
    "max_numbers_per_id": 3,
    "cap_exceptions": "operator",
    "declared_purpose_above": None,
    "staff_own_id_forbidden": False,
    "id_photo_required": False,
    "face_photo_required": False,
    "packs_sold_inactive": True,
    "original_documents_required": False,
    "signed_statement_required": False,
    "mass_registration_forbidden": False,
    "minor_age_limit": None,
}
_2017_BASIS = (
    "Permen Kominfo No. 12/2016 jo. No. 14/2017 (signed 5 Sep 2017); Siaran Pers Kominfo "
    "No. 187/HM/KOMINFO/10/2017 (11 Oct 2017)"
)

LEGACY_2014_NOTE = (
    "Kept as first seeded. Its basis is not among the verified sources of docs/rules.md; "
    "nationwide outlet registration is dated 15 Dec 2015 (rule set 2015)."
)

POLICIES = [
    {
        # As 0002 seeded it: one list of ID types for every nationality.
        "code": "2014",
        "name": "Registrasi di outlet (BRTI 161/BRTI/V/2014)",
        "legal_basis": "Permen Kominfo No. 23/2005; Ketetapan BRTI No. 161/BRTI/V/2014",
        "effective_from": date(2014, 5, 1),
        "citizen_id_types": [],
        "foreigner_id_types": [],
        "accepted_id_types": ID_TYPE_ORDER,
        "citizen_proof": "document",
        "registry_check": False,
        "max_numbers_per_id": None,
        "cap_exceptions": "nobody",
        "declared_purpose_above": None,
        "staff_own_id_forbidden": False,
        "id_photo_required": False,
        "face_photo_required": False,
        "packs_sold_inactive": False,
        "original_documents_required": False,
        "signed_statement_required": False,
        "mass_registration_forbidden": False,
        "minor_age_limit": None,
        "notes": LEGACY_2014_NOTE,
    },
    {
        "code": "2015",
        "name": "Registrasi prabayar oleh penjual (outlet) wajib secara nasional",
        "legal_basis": "Surat Ketua BRTI No. 326/BRTI/IX/2015 (21 Sep 2015), under Permen "
        "Kominfo No. 23/M.KOMINFO/10/2005",
        "effective_from": date(2015, 12, 15),
        "citizen_id_types": ["ktp", "sim", "passport", "student_card"],
        "foreigner_id_types": ["passport"],
        "citizen_proof": "document",
        "registry_check": False,
        "max_numbers_per_id": None,
        "cap_exceptions": "nobody",
        "declared_purpose_above": None,
        "staff_own_id_forbidden": False,
        "id_photo_required": False,
        "face_photo_required": False,
        "packs_sold_inactive": False,
        "original_documents_required": False,
        "signed_statement_required": False,
        "mass_registration_forbidden": False,
        "minor_age_limit": None,
        "notes": "From 15 Dec 2015 the seller (an outlet with a seller ID from the operator) "
        "registers every prepaid buyer from the buyer's KTP, SIM, passport or student card: "
        "number, name, place and date of birth, address.",
    },
    {
        **_NIK_ERA,
        "code": "2017",
        "name": "NIK + KK divalidasi Dukcapil",
        "legal_basis": _2017_BASIS,
        "effective_from": date(2017, 10, 31),
        "notes": "A citizen registers with their NIK and family card (KK), validated against "
        "the population registry; a card is not activated before. At most 3 numbers per NIK "
        "per operator; the 4th and later only at the operator's own outlets (gerai). Under-17s "
        "register with their own NIK (the NIK, not the e-KTP, is what is checked). Passport, "
        "KITAS, KITAP: foreign citizens.",
    },
    {
        **_NIK_ERA,
        "code": "2018",
        "name": "NIK + KK divalidasi Dukcapil (setelah batas registrasi ulang)",
        "legal_basis": "Permen Kominfo No. 12/2016 jo. No. 14/2017 jo. No. 21/2017",
        "effective_from": date(2018, 3, 1),
        "notes": "Kept because registrations point at it: the same rules as 2017. The own-ID "
        "ban this row carried before is not in the sources for this date; it came with the "
        "agreement of 14 May 2018 (rule set 2018-05-14).",
    },
    {
        **_NIK_ERA,
        "code": "2018-05",
        "name": "Nomor ke-4 dst. juga di outlet yang diberi kewenangan operator",
        "legal_basis": "Ketetapan/Surat BRTI No. 412/BRTI/V/2018 (7 May 2018)",
        "effective_from": date(2018, 5, 7),
        "cap_exceptions": "authorised",
        "declared_purpose_above": 10,
        "notes": "The 4th and later numbers on one NIK also at outlets the operator authorised "
        "in writing (a PKS), never at other retail outlets. A NIK holding more than 10 numbers "
        "must declare their purpose, reported to the regulator.",
    },
    {
        **_NIK_ERA,
        "code": "2018-05-14",
        "name": "Outlet hanya membantu: dilarang memakai NIK/KK pemilik outlet",
        "legal_basis": "BRTI 412/BRTI/V/2018; kesepakatan 14 May 2018 (Kemensetneg: KNCI, "
        "ATSI, BRTI, Kominfo)",
        "effective_from": date(2018, 5, 14),
        "cap_exceptions": "authorised",
        "declared_purpose_above": 10,
        "staff_own_id_forbidden": True,
        "notes": "End user only: an outlet helps the buyer register and may not register with "
        "the NIK of its owner or staff (present or past) or the dealer's admins (refused); a "
        "buyer sharing their family card is flagged for review.",
    },
    {
        **_NIK_ERA,
        "code": "2018-11",
        "name": "e-KTP dan KK asli, surat pernyataan, tanpa aplikasi registrasi massal",
        "legal_basis": "Ketetapan BRTI No. 3/2018; Surat Edaran BRTI No. 1/2018 (21 Nov 2018)",
        "effective_from": date(2018, 11, 21),
        "citizen_id_types": ["ktp"],
        "cap_exceptions": "authorised",
        "declared_purpose_above": 10,
        "staff_own_id_forbidden": True,
        "id_photo_required": True,
        "original_documents_required": True,
        "signed_statement_required": True,
        "mass_registration_forbidden": True,
        "notes": "A buyer helped by an outlet shows the original e-KTP and KK and signs a "
        "statement; dealers and agents use no mass-registration software (only the operator, "
        "only for M2M). The ID photo is the portal's evidence that the original was shown.",
    },
    {
        **_NIK_ERA,
        "code": "2026",
        "name": "KYC: NIK + KK atau NIK + biometrik wajah (masa transisi)",
        "legal_basis": "Permenkomdigi No. 7 Tahun 2026 (in force 19 Jan 2026)",
        "effective_from": date(2026, 1, 19),
        "citizen_proof": "nik_kk_or_face",
        "cap_exceptions": "authorised",
        "declared_purpose_above": 10,
        "staff_own_id_forbidden": True,
        "id_photo_required": True,
        "minor_age_limit": 17,
        "notes": "Until 30 Jun 2026 a citizen is identified by NIK + KK or by NIK + face, the "
        "face verified by the population registry. Under 17: the child's NIK with the head of "
        "family's face. Foreign citizens: passport, KITAS or KITAP. Packs sold inactive. The "
        "cap's exceptions and the declared purpose above 10 numbers are carried over from 2018 "
        "(the 2026 sources state the cap of 3, not its exceptions).",
    },
    {
        **_NIK_ERA,
        "code": "2026-07",
        "name": "KYC: NIK + biometrik wajah untuk pelanggan baru",
        "legal_basis": "Permenkomdigi No. 7 Tahun 2026, from 1 Jul 2026",
        "effective_from": date(2026, 7, 1),
        "citizen_proof": "nik_face",
        "cap_exceptions": "authorised",
        "declared_purpose_above": 10,
        "staff_own_id_forbidden": True,
        "id_photo_required": True,
        "minor_age_limit": 17,
        "notes": "Every new subscriber — every starter pack registered from 1 Jul 2026 — is a "
        "citizen identified by NIK + face verified by the registry (or a foreign citizen by "
        "passport, KITAS or KITAP). Numbers registered before need not be registered again.",
    },
]


def _accepted(row: dict) -> list[str]:
    if "accepted_id_types" in row:
        return row["accepted_id_types"]
    union = {*row["citizen_id_types"], *row["foreigner_id_types"]}
    return [t for t in ID_TYPE_ORDER if t in union]


def seed(apps, schema_editor):
    """Bring every seeded rule set to the sources' content (idempotent, by code). Only the
    rule fields are written: a rule set's compliance-workflow settings stay as they are."""
    Policy = apps.get_model("subscribers", "RegistrationPolicy")
    for row in POLICIES:
        Policy.objects.update_or_create(
            code=row["code"], defaults={**row, "accepted_id_types": _accepted(row)}
        )


def unseed(apps, schema_editor):
    Policy = apps.get_model("subscribers", "RegistrationPolicy")
    Policy.objects.filter(code__in=["2015", "2018-05", "2018-05-14", "2018-11", "2026-07"]).delete()
    Policy.objects.filter(code="2026").update(effective_from=date(2026, 1, 1))


class Migration(migrations.Migration):
    dependencies = [("subscribers", "0007_rules_and_registry")]
    operations = [migrations.RunPython(seed, unseed)]
