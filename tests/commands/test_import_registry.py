"""import_registrations under the rule sets that validate against the population registry: a
row is checked like the form, except the KK pairing (a warning); the registry down, rows come in
awaiting verification; optional columns category, company_name and document_checked (missing
is "not known", never a yes)."""

from datetime import date

import pytest
from django.utils import translation

from core import pii
from identity.idgen import make_kk, make_nik
from operatordb.models import PopulationRecord
from subscribers import services
from subscribers.models import Registration
from subscribers.services import active_id_count
from tests.commands.test_import_registrations import HEADER, faults, row, run_import, write_csv
from tests.conftest import register_person

pytestmark = pytest.mark.django_db

WITH_OPTIONAL = [*HEADER, "category", "company_name", "document_checked"]


@pytest.fixture(autouse=True)
def _in_english():
    with translation.override("en"):
        yield


def test_rows_are_checked_against_the_registry_the_kk_included(tmp_path, outlet):
    """As the form: a NIK the registry does not hold, a KK it does not pair with the NIK (the
    rule set asks for the KK), a name that disagrees — each rejects its row at its field."""
    unknown = row(2, id_number=make_nik(birth_date=date(1988, 3, 9), sex="M", province="32",
                                        regency="73", serial=9002))  # fmt: skip
    # Row 3's registry record holds another KK (reissued since the sale, or not theirs).
    reissued = row(3)
    register_person(
        {**reissued, "kk_number": None},
        kk_number=make_kk(recorded=date(2023, 1, 5), region="327301", serial=3),
    )
    wrong_name = row(4, full_name="Ahmad Hidayat Saja")
    PopulationRecord.objects.filter(nik_digest=pii.digest(unknown["id_number"])).delete()
    errors_csv = tmp_path / "e.csv"
    register_person({**wrong_name, "full_name": "Ahmad Ma'ruf Hidayat"})
    path = write_csv(tmp_path / "r.csv", [row(1), unknown, reissued, wrong_name])
    assert run_import(path, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(3, "id_number"), (4, "kk_number"), (5, "full_name")}
    assert Registration.objects.count() == 1


def test_the_registry_down_rows_come_in_awaiting_verification(tmp_path, outlet, settings):
    settings.POPULATION_REGISTRY_MOCK_FAULT = "down"
    assert run_import(write_csv(tmp_path / "r.csv", [row(1), row(2)])) == 0
    assert set(Registration.objects.values_list("status", flat=True)) == {"awaiting"}
    settings.POPULATION_REGISTRY_MOCK_FAULT = ""
    for registration in Registration.objects.all():
        assert services.registration_verify(registration_id=registration.pk) == "registered"


def test_optional_columns_category_company_and_document_checked(tmp_path, outlet):
    same = {"id_number": row(1)["id_number"], "kk_number": row(1)["kk_number"]}
    rows = [
        {**row(1, **same), "category": "", "company_name": "", "document_checked": ""},
        {**row(2, **same), "category": "personal", "company_name": "", "document_checked": "true"},
        {**row(3, **same), "category": "m2m", "company_name": "PT Meteran Pintar",
         "document_checked": "false"},
        {**row(4, **same), "category": "corporate", "company_name": "PT Armada",
         "document_checked": "ya"},
        {**row(5, **same), "category": "personal", "company_name": "", "document_checked": "0"},
        {**row(6, **same), "category": "corporate", "company_name": "", "document_checked": ""},
        {**row(7, **same), "category": "x", "company_name": "", "document_checked": "maybe"},
    ]  # fmt: skip
    errors_csv = tmp_path / "e.csv"
    path = write_csv(tmp_path / "r.csv", rows, header=WITH_OPTIONAL)
    assert run_import(path, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(7, "company_name"), (8, "category"), (8, "document_checked")}
    by_line = {r.msisdn: r for r in Registration.objects.all()}

    def get(n):
        return by_line["62" + rows[n - 1]["msisdn"][1:]]

    assert get(1).document_checked is None and get(1).category == "personal"
    assert get(2).document_checked is True
    assert get(3).category == "m2m" and get(3).company_name == "PT Meteran Pintar"
    # 2024: the 2018-11 rules ask for the original documents; a "no" is flagged, "not known"
    # is recorded as such.
    assert get(3).status == "flagged" and get(1).status == "registered"
    assert get(4).document_checked is True
    # Company numbers are outside the personal cap: 3 personal numbers, nothing refused.
    assert active_id_count(id_digest=get(1).id_number_digest) == 3


def test_a_file_without_the_optional_columns_records_not_known(tmp_path, outlet):
    assert run_import(write_csv(tmp_path / "r.csv", [row(1)])) == 0
    assert Registration.objects.get().document_checked is None


def test_a_registry_record_disagreeing_on_sex_or_birth_date_refuses_the_row(tmp_path, outlet):
    """The row and its NIK's digits agree; the registry's record says another sex, or another
    birth date: refused at that field, as at the counter."""
    other_sex, other_day = row(5), row(6)
    register_person(other_sex, sex="F")
    register_person(other_day, birth_date=date(1988, 3, 10))
    errors_csv = tmp_path / "e.csv"
    path = write_csv(tmp_path / "r.csv", [row(1), other_sex, other_day])
    assert run_import(path, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(3, "sex"), (4, "birth_date")}
    assert Registration.objects.count() == 1


def test_a_row_verified_late_is_judged_as_an_import_not_as_a_counter_sale(
    tmp_path, outlet, settings
):
    """The registry down at the import: verified later, each row is judged as the import would
    have judged it — no face photo asked for (a file carries none), a KK the registry does not
    pair with the NIK refused as at the counter."""
    fine, reissued = row(1), row(2)
    register_person(
        {**reissued, "kk_number": None},
        kk_number=make_kk(recorded=date(2023, 1, 5), region="327301", serial=3),
    )
    settings.POPULATION_REGISTRY_MOCK_FAULT = "down"
    assert run_import(write_csv(tmp_path / "r.csv", [fine, reissued])) == 0
    settings.POPULATION_REGISTRY_MOCK_FAULT = ""
    assert set(Registration.objects.values_list("status", flat=True)) == {"awaiting"}

    verified = {
        r.msisdn: services.registration_verify(registration_id=r.pk)
        for r in Registration.objects.all()
    }

    assert verified == {
        "62" + fine["msisdn"][1:]: "registered",
        "62" + reissued["msisdn"][1:]: "refused",
    }
    refused = Registration.objects.get(msisdn="62" + reissued["msisdn"][1:])
    assert "KK" in refused.refusal_reason
