"""Exports: what they carry and what they must not (full ID numbers, names, addresses), row
counts that agree with the figures, every format readable, unmasked exports gated and audited."""

import csv
import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied

from core.models import AuditEvent
from outlets.models import Outlet
from reports import services
from reports.columns import RowSource
from reports.exporters import write_xlsx
from reports.figures import report_figures
from reports.models import ExportJob
from reports.scope import ReportScope
from subscribers.models import Registration
from tests.pdftext import NON_LATIN1_NAMES, pdf_fonts, pdf_text

from .conftest import PERIOD
from .test_figures import flt, in_period

PARAMS = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()}


@pytest.fixture
def export(django_capture_on_commit_callbacks):
    """``export(user, kind, format)``: request an export; its task (eager Celery) runs on
    commit, as it would after a real request."""

    def make(user, kind, fmt="csv", masked=True, **extra) -> ExportJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = services.export_job_create(
                user=user,
                kind=kind,
                format=fmt,
                data={**PARAMS, **extra},
                masked=masked,
                trigger=ExportJob.Trigger.WEB,
            )
        job.refresh_from_db()
        assert job.status == ExportJob.Status.SUCCEEDED, job.error
        return job

    return make


def content(job: ExportJob) -> bytes:
    with job.file.storage.open(job.file.name, "rb") as fh:
        return fh.read()


def csv_rows(job: ExportJob) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content(job).decode("utf-8"))))


@pytest.mark.django_db
def test_registrations_csv_for_the_regulator_is_masked_and_agrees_with_the_figures(
    dataset, regulator, export
):
    job = export(regulator, "registrations")
    text = content(job).decode("utf-8")
    rows = csv_rows(job)
    figures = report_figures(flt(), ReportScope.for_user(regulator))
    # Every registration of the period but the restricted one, which is counted as withheld.
    assert len(rows) == figures.totals.registrations - 1
    assert job.rows_withheld == 1 and job.rows_done == len(rows)
    assert {r["registration_number"] for r in rows} == {
        r.registration_number for r, *_ in in_period(dataset) if r.pk not in dataset.restricted
    }
    # No full ID number, name, address, birth date or place anywhere in the file.
    for _r, _day, _t, _s, number in dataset.rows:
        assert number not in text
    for secret in ("Siti Aminah", "Kenanga", "Bandung", "1990-05-17"):
        assert secret not in text
    assert "address" not in rows[0] and "full_name" not in rows[0]
    assert all("*" in r["id_number"] for r in rows)
    # Local time (WIB): the registration at 00:01 on 1 March is on 1 March.
    assert min(r["registered_at"] for r in rows) == "2026-03-01 00:01:00"
    assert max(r["registered_at"] for r in rows) == "2026-03-31 23:59:00"
    # A name typed like a formula is defused.
    assert {r["outlet_name"] for r in rows if r["outlet_roid"] == "ROJTM000001"} == {
        "'=Konter Surabaya"
    }


@pytest.mark.django_db
def test_discrepancies_csv_has_the_contract_columns(dataset, regulator, export):
    job = export(regulator, "discrepancies")
    rows = csv_rows(job)
    for column in ("msisdn", "kind", "registration_number", "outlet_roid", "detected_at"):
        assert column in rows[0]
    figures = report_figures(flt(), ReportScope.for_user(regulator))
    # The restricted registration's discrepancy is withheld from the regulator.
    assert len(rows) == figures.discrepancies_detected - 1 and job.rows_withheld == 1
    assert {r["kind"] for r in rows} >= {"name_mismatch", "unregistered_activation"}


@pytest.mark.django_db
def test_the_operator_admin_gets_restricted_rows_too(dataset, operator, export):
    job = export(operator, "registrations")
    assert job.rows_withheld == 0
    assert len(csv_rows(job)) == len(in_period(dataset))


@pytest.mark.django_db
def test_xlsx_opens_and_its_rows_agree(dataset, regulator, export):
    job = export(regulator, "registrations", "xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(content(job)), read_only=True)
    assert workbook.sheetnames == ["registrations", "About"]
    sheet = list(workbook["registrations"].iter_rows(values_only=True))
    # For people: the header in words, coded values as labels (the CSV keeps keys and codes).
    header = list(sheet[0])
    assert header[0] == "Nomor registrasi"
    statuses = {row[header.index("Status")] for row in sheet[1:]}
    assert "Terdaftar" in statuses and not statuses & {"registered", "flagged", "blocked"}
    assert all(str(row[header.index("MSISDN")]).startswith("08") for row in sheet[1:])
    assert len(sheet) - 1 == job.rows_done == len(in_period(dataset)) - 1
    about = dict(workbook["About"].iter_rows(values_only=True))
    assert about["Nomor registrasi"] == "registration_number"  # each label's key
    assert any("2026-03-01" in str(v) for v in about.values())
    text = content(job)
    assert b"Kenanga" not in text


def test_xlsx_splits_sheets_at_the_row_limit(tmp_path: Path):
    source = RowSource(
        keys=["n", "name"], labels=["n", "name"], total=7, rows=iter((i, f"r{i}") for i in range(7))
    )
    path = tmp_path / "split.xlsx"
    write_xlsx(source, path, progress=lambda done: None, title="rows", about=[], sheet_max_rows=3)
    workbook = openpyxl.load_workbook(path, read_only=True)
    sheets = [name for name in workbook.sheetnames if name != "About"]
    assert sheets == ["rows", "rows (2)", "rows (3)", "rows (4)"]
    values = [
        row for name in sheets for row in workbook[name].iter_rows(min_row=2, values_only=True)
    ]
    assert [v[0] for v in values] == list(range(7))
    assert all(next(workbook[name].iter_rows(values_only=True)) == ("n", "name") for name in sheets)


HOSTILE_TEXT = ('=HYPERLINK("http://evil","x")', "=1+1", "+62 811", "-5", "@SUM(A1)", "#N/A")


def test_xlsx_writes_formula_like_text_as_text_without_the_csv_apostrophe(tmp_path: Path):
    """A spreadsheet cell typed as text is never evaluated: the CSV's leading ``'`` would only
    corrupt the value there. Read back, each cell is the text as given, a string, no formula."""
    values = [*HOSTILE_TEXT, "plain", "'already quoted"]
    source = RowSource(
        keys=["text", "n"],
        labels=["=Label", "n"],
        total=len(values),
        rows=iter((value, i) for i, value in enumerate(values)),
        free_text=(0,),
    )
    path = tmp_path / "hostile.xlsx"
    write_xlsx(source, path, progress=lambda done: None, title="rows", about=[("=k", "@v")])
    workbook = openpyxl.load_workbook(path)  # not read-only: data types and styles read too
    cells = list(workbook["rows"].iter_rows(min_row=2, max_col=1))
    assert [row[0].value for row in cells] == values
    assert {row[0].data_type for row in cells} == {"s"}
    assert all(row[0].quotePrefix for row in cells[: len(HOSTILE_TEXT)])
    assert workbook["rows"]["A1"].value == "=Label" and workbook["rows"]["A1"].data_type == "s"
    about = workbook["About"]
    assert (about["A1"].value, about["B1"].value) == ("=k", "@v")
    assert about["A1"].data_type == about["B1"].data_type == "s"
    with zipfile.ZipFile(path) as package:
        sheet = package.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and 't="e"' not in sheet and "'=" not in sheet


@pytest.mark.django_db
@pytest.mark.parametrize("copy", [True, False])
def test_only_the_csv_defuses_free_text(dataset, regulator, export, settings, copy):
    """The same outlet name typed like a formula: ``'=…`` in the CSV (by COPY or the Python
    path), the name as typed in a text cell of the XLSX — in row and figure exports alike."""
    settings.REPORTS_CSV_COPY = copy
    Outlet.objects.filter(roid="ROJKT000001").update(name=HOSTILE_TEXT[0])
    rows = csv_rows(export(regulator, "registrations"))
    assert {r["outlet_name"] for r in rows if r["outlet_roid"] == "ROJKT000001"} == {
        "'" + HOSTILE_TEXT[0]
    }
    outlets = {r["roid"]: r for r in csv_rows(export(regulator, "outlets"))}
    assert outlets["ROJKT000001"]["name"] == "'" + HOSTILE_TEXT[0]
    assert outlets["ROJTM000001"]["name"] == "'=Konter Surabaya"

    def xlsx_cells(kind: str, column: str):
        workbook = openpyxl.load_workbook(io.BytesIO(content(export(regulator, kind, "xlsx"))))
        sheet = workbook[kind]
        header = [cell.value for cell in sheet[1]]
        index = header.index(column)
        return [row[index] for row in sheet.iter_rows(min_row=2)]

    names = xlsx_cells("registrations", "Outlet")
    assert {c.value for c in names} >= {HOSTILE_TEXT[0], "=Konter Surabaya"}
    assert not any(str(c.value).startswith("'") for c in names)
    assert {c.data_type for c in names} == {"s"}
    names = xlsx_cells("outlets", "Outlet")
    assert {c.value for c in names} >= {HOSTILE_TEXT[0], "=Konter Surabaya"}
    assert {c.data_type for c in names} == {"s"}
    # The PDF prints the name as typed too.
    text = pdf_text(content(export(regulator, "outlets", "pdf")))
    assert "=Konter Surabaya" in text and "'=Konter" not in text


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["summary", "registrations", "outlets", "discrepancies"])
def test_pdf_is_a_report(dataset, regulator, kind, export):
    job = export(regulator, kind, "pdf")
    data = content(job)
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert job.content_type == "application/pdf"
    text = pdf_text(data)
    assert text.strip(), "a PDF with no readable text"
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= pdf_fonts(data)


@pytest.mark.django_db
def test_pdf_prints_outlet_names_outside_latin_1(dataset, regulator, export):
    """The outlets report names each outlet: names Helvetica cannot draw (Latin-1 only) print
    with the DejaVu font shipped in ``core/fonts``, and read back as typed."""
    outlets = list(dataset.outlets.values())
    for outlet, name in zip(outlets, NON_LATIN1_NAMES, strict=False):
        Outlet.objects.filter(pk=outlet.pk).update(name=f"Konter {name}")

    text = pdf_text(content(export(regulator, "outlets", "pdf")))

    for name in NON_LATIN1_NAMES[: len(outlets)]:
        assert f"Konter {name}" in text


@pytest.mark.django_db
def test_outlets_and_summary_exports_use_the_figures(dataset, regulator, export):
    figures = report_figures(flt(), ReportScope.for_user(regulator))
    outlets = {r["roid"]: r for r in csv_rows(export(regulator, "outlets"))}
    assert set(outlets) == {o.roid for o in dataset.outlets.values()}
    assert sum(int(r["registrations"]) for r in outlets.values()) == figures.totals.registrations
    assert outlets["ROJBR000001"]["ids_repeated"] == "1"
    summary = csv_rows(export(regulator, "summary"))
    totals = {(r["figure"], r["dimension"], r["key"]): r["value"] for r in summary}
    assert totals[("registrations", "total", "")] == str(figures.totals.registrations)
    assert totals[("ids_over_cap", "total", "")] == "2"
    assert totals[("registrations", "province", "31")] == str(
        next(g.counts.registrations for g in figures.groups if g.key == "31")
    )
    assert totals[("confirmed_violations", "total", "")] == "0"  # none in the dataset


@pytest.mark.django_db
def test_clarifications_export_without_requests_is_only_the_header(dataset, regulator, export):
    job = export(regulator, "clarifications")
    assert csv_rows(job) == [] and content(job).startswith(b"id,msisdn,kind")


@pytest.mark.django_db
def test_unmasked_exports_need_the_permission_and_are_audited(dataset, grapari, regulator, export):
    with pytest.raises(PermissionDenied):
        services.export_job_create(
            user=grapari,
            kind="registrations",
            format="csv",
            data=PARAMS,
            masked=False,
            trigger="web",
        )
    # The regulator never gets an unmasked export, whatever an admin grants.
    permission = Permission.objects.get(codename="export_unmasked")
    regulator.user_permissions.add(permission)
    regulator = type(regulator).objects.get(pk=regulator.pk)
    with pytest.raises(PermissionDenied):
        services.export_job_create(
            user=regulator,
            kind="registrations",
            format="csv",
            data=PARAMS,
            masked=False,
            trigger="web",
        )
    assert not ExportJob.objects.exists()

    grapari.user_permissions.add(permission)
    grapari = type(grapari).objects.get(pk=grapari.pk)
    job = export(grapari, "registrations", masked=False)
    text = content(job).decode("utf-8")
    assert dataset.rows[1][4] in text and "Kenanga" in text
    assert AuditEvent.objects.filter(
        action="reports.export_unmasked", target_id=str(job.pk), actor=grapari
    ).exists()


@pytest.mark.django_db
def test_every_request_and_download_is_audited(dataset, regulator, client, export):
    job = export(regulator, "registrations")
    assert AuditEvent.objects.filter(
        action="reports.export_request", target_id=str(job.pk)
    ).exists()
    client.force_login(regulator)
    response = client.get(f"/reports/exports/{job.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content(job)
    assert (
        response["Cache-Control"].startswith("private") or "no-store" in response["Cache-Control"]
    )
    assert AuditEvent.objects.filter(action="reports.export_download", actor=regulator).count() == 1


@pytest.mark.django_db
def test_bad_requests_write_nothing(regulator, policies):
    from django.core.exceptions import ValidationError

    for data, field in (
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "date_to"),
        ({"date_from": "yesterday", "date_to": "2026-03-01"}, "date_from"),
        ({"date_to": "2026-03-01"}, "date_from"),
        ({**PARAMS, "province": "99"}, "province"),
    ):
        with pytest.raises(ValidationError) as caught:
            services.export_job_create(
                user=regulator, kind="registrations", format="csv", data=data, trigger="web"
            )
        assert field in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.export_job_create(
            user=regulator, kind="photos", format="csv", data=PARAMS, trigger="web"
        )
    assert not ExportJob.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_the_restriction_filter_is_the_privacy_apps(dataset):
    from reports.rows import restricted
    from subscribers.models import Registration
    from subscribers.selectors import exclude_restricted

    ours = set(Registration.objects.filter(~restricted()).values_list("pk", flat=True))
    theirs = set(exclude_restricted(Registration.objects.all()).values_list("pk", flat=True))
    assert ours == theirs and len(ours) == len(dataset.rows) - 1


@pytest.mark.django_db
def test_free_text_is_defused_in_every_path(dataset, regulator, export, settings):
    from outlets.models import Outlet

    Outlet.objects.filter(roid="ROJKT000001").update(name="@Konter\nSinar")
    first = csv_rows(export(regulator, "registrations"))
    settings.REPORTS_CSV_COPY = False  # the Python path, as on SQLite
    second = csv_rows(export(regulator, "registrations"))
    assert first == second
    assert {r["outlet_name"] for r in first if r["outlet_roid"] == "ROJKT000001"} == {
        "'@Konter Sinar"
    }


@pytest.mark.django_db
def test_the_declared_purpose_is_exported_to_roles_the_disclosure_policy_lets_see_it(
    dataset, regulator, export, monkeypatch
):
    from core import disclosure
    from core.roles import REGULATOR

    registration = next(r for r, *_ in in_period(dataset) if r.pk not in dataset.restricted)
    Registration.objects.filter(pk=registration.pk).update(
        declared_purpose="=Usaha warung pulsa keluarga"
    )
    rows = csv_rows(export(regulator, "registrations"))
    purposes = {r["registration_number"]: r["declared_purpose"] for r in rows}
    # Reported to the regulator by rule; typed by people, so defused.
    assert purposes[registration.registration_number] == "'=Usaha warung pulsa keluarga"
    assert {v for k, v in purposes.items() if k != registration.registration_number} == {""}
    # Where the policy withholds it from a role, that role's file has no such column.
    monkeypatch.setitem(
        disclosure.POLICY[REGULATOR], disclosure.Kind.PURPOSE, disclosure.Shown.WITHHELD
    )
    job = export(regulator, "registrations")
    assert "declared_purpose" not in csv_rows(job)[0]
    assert "Usaha warung" not in content(job).decode("utf-8")


def test_starting_django_does_not_load_the_spreadsheet_library():
    """Every management command (the bulk import's included) starts Django, and the reports
    app's ``ready`` loads the exporters: the XLSX library waits for the first XLSX export."""
    import os
    import subprocess
    import sys

    code = "import django, sys; django.setup(); print('openpyxl' in sys.modules)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.stdout.strip() == "False"


# Every time in every export: the portal's time zone (Asia/Jakarta, WIB, UTC+07:00 all year)
# as wall-clock text to the second, no fraction, no offset (docs/reports.md, "Times").
EXPORT_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
OTHER_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d|[+-]\d{2}:?\d{2}|Z)|\d{4}-\d{2}-\d{2}T\d")
TIME_COLUMNS = {
    "registrations": ("registered_at",),
    "discrepancies": ("detected_at", "resolved_at"),
    "clarifications": ("opened_at", "due_at", "answered_at", "resolved_at"),
    "outlets": (),
    "summary": (),
}


def xlsx_values(job: ExportJob) -> list[list]:
    workbook = openpyxl.load_workbook(io.BytesIO(content(job)), read_only=True)
    return [list(row) for sheet in workbook for row in sheet.iter_rows(values_only=True)]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(TIME_COLUMNS))
def test_every_export_writes_times_one_way(dataset, clarifications, regulator, export, kind):
    """The CSV's time columns, the XLSX's same columns and About sheet, the PDF's text: one
    form, the same local wall-clock text in each."""
    csv_job = export(regulator, kind)
    rows = csv_rows(csv_job)
    assert rows
    times = [r[column] for r in rows for column in TIME_COLUMNS[kind] if r[column]]
    assert all(EXPORT_TIME.fullmatch(t) for t in times), times
    assert not OTHER_TIME.search(content(csv_job).decode())

    cells = xlsx_values(export(regulator, kind, "xlsx"))
    assert not any(isinstance(v, datetime | date) for row in cells for v in row)
    assert not any(OTHER_TIME.search(str(v)) for row in cells for v in row if v is not None)
    xlsx_times = {v for row in cells for v in row if isinstance(v, str) and EXPORT_TIME.match(v)}
    assert set(times) <= xlsx_times  # the same text in the spreadsheet
    about = dict(row[:2] for row in cells if row and row[0] == "Diminta pada")
    assert EXPORT_TIME.fullmatch(about["Diminta pada"])

    pdf_job = export(regulator, kind, "pdf")
    text = pdf_text(content(pdf_job))
    assert not OTHER_TIME.search(text)
    assert services.about(pdf_job)[7][1] in text  # "Requested at", in the same form


@pytest.mark.django_db
def test_clarification_times_are_local_wall_clock_like_the_other_exports(
    dataset, clarifications, regulator, export
):
    rows = {r["id"]: r for r in csv_rows(export(regulator, "clarifications"))}
    settled = rows[str(clarifications.outlet_asked.pk)]
    assert (settled["opened_at"], settled["due_at"]) == (
        "2026-03-06 09:15:42",
        "2026-03-13 09:15:42",
    )
    assert (settled["answered_at"], settled["resolved_at"]) == (
        "2026-03-07 09:18:42",
        "2026-03-09 00:15:42",  # 8 March in UTC
    )
    waiting = rows[str(clarifications.dealer_asked.pk)]
    # Truncated to the second, never rounded into the next day.
    assert waiting["opened_at"] == "2026-03-18 23:59:59"
    assert waiting["answered_at"] == waiting["resolved_at"] == ""
    # The discrepancies export writes its times the same way.
    detected = {
        (r["msisdn"], r["kind"]): r["detected_at"]
        for r in csv_rows(export(regulator, "discrepancies"))
    }
    assert detected[(clarifications.dealer_asked.msisdn, "unregistered_activation")] == (
        "2026-03-18 10:00:00"
    )
    # And the spreadsheet has the same text under its label.
    cells = xlsx_values(export(regulator, "clarifications", "xlsx"))
    header = cells[0]
    first = next(row for row in cells[1:] if row[0] == clarifications.outlet_asked.pk)
    assert first[header.index("Dibuka pada (WIB)")] == "2026-03-06 09:15:42"
    assert first[header.index("Waktu selesai (WIB)")] == "2026-03-09 00:15:42"


@pytest.mark.django_db
def test_clarifications_name_the_numbers_outlet_and_who_answers(
    dataset, clarifications, regulator, export
):
    """``outlet_roid`` is the number's outlet — the one that registered it or sold its pack,
    as the discrepancies export gives it — even when its dealer, not an outlet, answers; who
    answers has columns of its own."""
    rows = {r["id"]: r for r in csv_rows(export(regulator, "clarifications"))}
    discrepancy_roids = {
        r["msisdn"]: r["outlet_roid"] for r in csv_rows(export(regulator, "discrepancies"))
    }
    waiting = rows[str(clarifications.dealer_asked.pk)]
    assert waiting["outlet_roid"] == clarifications.discrepancy_roid == "ROJTM000001"
    assert waiting["outlet_roid"] == discrepancy_roids[clarifications.dealer_asked.msisdn]
    assert (waiting["accountable"], waiting["dealer_code"]) == ("dealer", "AD0999")
    assert waiting["registration_number"] == ""
    settled = rows[str(clarifications.outlet_asked.pk)]
    registration = clarifications.outlet_asked.registration
    assert settled["outlet_roid"] == registration.outlet.roid == "ROJKT000001"
    assert settled["outlet_roid"] == discrepancy_roids[registration.msisdn]
    assert (settled["accountable"], settled["dealer_code"]) == ("outlet", "AD0001")
    assert settled["kind"] == "birth_date_mismatch+name_mismatch"
    # The spreadsheet says the same for people.
    cells = xlsx_values(export(regulator, "clarifications", "xlsx"))
    header = cells[0]
    dealer_row = next(row for row in cells[1:] if row[0] == clarifications.dealer_asked.pk)
    assert dealer_row[header.index("ROID")] == "ROJTM000001"
    assert dealer_row[header.index("Pihak yang menjawab")] == "Dealer"
    assert dealer_row[header.index("Dealer")] == "AD0999"


@pytest.mark.django_db
def test_a_request_without_discrepancies_takes_the_registrations_outlet(
    dataset, clarifications, regulator, export
):
    """A request whose items are gone (a reviewer's, say) still names the number's outlet:
    its registration's, else the outlet asked."""
    from compliance.models import Clarification, ClarificationItem

    request = clarifications.outlet_asked
    ClarificationItem.objects.filter(clarification=request).delete()
    Clarification.objects.filter(pk=request.pk).update(
        accountable=Clarification.Accountable.DEALER, outlet=None
    )
    rows = {r["id"]: r for r in csv_rows(export(regulator, "clarifications"))}
    assert rows[str(request.pk)]["outlet_roid"] == request.registration.outlet.roid
    assert rows[str(request.pk)]["kind"] == ""
