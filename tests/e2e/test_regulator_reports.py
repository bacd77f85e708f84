"""The regulator's reports in a real browser on a phone-sized screen.

``regulator`` logs in, opens the dashboard for March 2026 and sees its charts; asks for a CSV
of the registrations and an XLSX of the discrepancies of that period, watches each finish,
downloads them; the files' rows agree with the dashboard's figures (total, per province, per
discrepancy kind). The file's SHA-256 is then checked on "Verify a file". Only app.js runs on
these pages and the browser reports no Content-Security-Policy violation.
"""

import csv
import hashlib
import io
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
from django.utils import translation
from playwright.sync_api import expect

from core import vocabulary
from privacy.models import RegistrationPrivacy
from reports.summary import summaries_refresh
from tests.conftest import PASSWORD
from tests.reports.conftest import dataset as dataset  # the report tests' known data set

from .conftest import PHONE

pytestmark = [
    pytest.mark.browser,
    # The live server reads committed data from another thread; the dataset fixture's
    # ``policies`` re-seeds the rule sets a transactional test's flush removes.
    pytest.mark.django_db(transaction=True),
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"
PERIOD = "date_from=2026-03-01&date_to=2026-03-31"


def _log_in(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "regulator")
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/")


def _request_export(page, kind: str, fmt: str, folder: Path) -> Path:
    """On the exports page (pre-filled with the period): ask, watch it finish, download."""
    page.select_option("#id_kind", kind)
    page.select_option("#id_format", fmt)
    expect(page.locator("#id_date_from")).to_have_value("2026-03-01")
    expect(page.locator("#id_date_to")).to_have_value("2026-03-31")
    page.click("#request-export")
    page.wait_for_url("**/reports/exports/*/")
    # A running export refreshes its page until it is ready.
    expect(page.locator("#job")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    target = folder / download.suggested_filename
    download.save_as(target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == page.inner_text("#job-sha256")
    return target


def test_regulator_reads_the_dashboard_and_exports_agree_with_it(
    live_server, browser, browser_context_args, dataset, regulator, tmp_path
):
    # One registration of the data set is restricted by its data subject: counted in the
    # figures, left out of the regulator's files (tests/reports covers that). Lifted here so
    # the files and the figures can be compared row for row.
    RegistrationPrivacy.objects.filter(restricted_at__isnull=False).update(restricted_at=None)
    summaries_refresh()
    base = live_server.url
    SCREENSHOTS.mkdir(exist_ok=True)
    context = browser.new_context(**browser_context_args, accept_downloads=True)
    page = context.new_page()
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        _log_in(page, base)
        page.click("a#reports-link")
        page.wait_for_url("**/reports/")
        page.fill("#id_date_from", "2026-03-01")
        page.fill("#id_date_to", "2026-03-31")
        page.click("#apply-filters")
        page.wait_for_url(f"**/reports/?{PERIOD}*")

        # --- the dashboard: key figures and six charts, on a phone ---------------------------
        for chart in (
            "chart-trend-registrations",
            "chart-groups",
            "chart-top-outlets",
            "chart-discrepancy-mix",
            "chart-trend-discrepancies",
            "chart-id-types",
        ):
            expect(page.locator(f"#{chart} svg")).to_be_visible()
        assert page.locator("#chart-trend-registrations svg rect").count() == 31  # one per day
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.evaluate("document.scripts.length") == 1  # app.js only, nothing inline
        page.screenshot(path=str(SCREENSHOTS / "e2e-reports-dashboard-360.png"), full_page=True)
        registrations = int(page.get_attribute("#figure-registrations", "data-value"))
        discrepancies = int(page.get_attribute("#figure-discrepancies", "data-value"))
        assert registrations == 22 and discrepancies == 8
        by_province = {
            row.get_attribute("data-key"): int(row.get_attribute("data-registrations"))
            for row in page.locator("#group-table tbody tr[data-key]").all()
        }
        by_kind = {
            row.get_attribute("data-key"): int(float(row.get_attribute("data-value")))
            for row in page.locator("#chart-discrepancy-mix tr[data-key]").all()
        }
        assert sum(by_province.values()) == registrations
        assert sum(by_kind.values()) == discrepancies

        # The chart's table (its accessible alternative) leads to the rows behind a bar.
        page.locator("#chart-groups details summary").click()
        page.locator("#chart-groups table a").first.click()
        page.wait_for_url("**/reports/rows/registrations/?*province=*")
        expect(page.locator("#row-count")).to_have_attribute(
            "data-count", str(max(by_province.values()))
        )
        page.go_back()

        # --- a CSV of the registrations ------------------------------------------------------
        page.click("#export-rows")
        page.wait_for_url("**/reports/exports/?*")
        csv_file = _request_export(page, "registrations", "csv", tmp_path)
        page.screenshot(path=str(SCREENSHOTS / "e2e-reports-export-360.png"), full_page=True)
        rows = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8"))))
        assert len(rows) == registrations
        assert Counter(r["province"] for r in rows) == by_province
        assert all("*" in r["id_number"] and "address" not in r for r in rows)

        # --- an XLSX of the discrepancies ----------------------------------------------------
        page.goto(f"{base}/reports/exports/?{PERIOD}")
        xlsx_file = _request_export(page, "discrepancies", "xlsx", tmp_path)
        workbook = openpyxl.load_workbook(xlsx_file, read_only=True)
        values = list(workbook["discrepancies"].iter_rows(values_only=True))
        header, data = values[0], values[1:]
        assert len(data) == discrepancies
        # A spreadsheet is for people: labels in the header and in the cells; its About sheet
        # pairs each column's label with the CSV's key.
        key_of = {row[0]: row[1] for row in workbook["About"].iter_rows(values_only=True)}
        kind = next(i for i, label in enumerate(header) if key_of.get(label) == "kind")
        with translation.override("id"):
            words = {vocabulary.label("discrepancy_kind", k): n for k, n in by_kind.items() if n}
        assert dict(Counter(row[kind] for row in data)) == words

        # --- the list shows both; the CSV's hash names its export ----------------------------
        page.goto(f"{base}/reports/exports/")
        expect(page.locator("#jobs li")).to_have_count(2)
        page.goto(f"{base}/reports/verify/")
        page.set_input_files("#id_file", str(csv_file))
        page.click("#verify")
        expect(page.locator("section.match h2")).to_be_visible()
        expect(page.locator("section.match")).to_contain_text("regulator")
        page.screenshot(path=str(SCREENSHOTS / "e2e-reports-verify-360.png"), full_page=True)
        assert violations == []
    finally:
        context.close()


def test_a_running_export_is_followed_without_reloading_the_page(
    live_server, browser, browser_context_args, dataset, regulator
):
    """The exports page follows a running export by reading its line again (no meta refresh,
    which axe counts as critical and which would throw away what the reader is typing): the
    line turns into a download link while the form keeps what was typed."""
    from reports import services

    job = services.export_job_create(
        user=regulator,
        kind="summary",
        format="csv",
        data={"date_from": "2026-03-01", "date_to": "2026-03-31", "grouping": "dealer"},
        trigger="web",
        dispatch=False,
    )
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    try:
        _log_in(page, live_server.url)
        page.goto(f"{live_server.url}/reports/exports/")
        line = page.locator(f"#job-{job.pk}")
        expect(line.locator("progress")).to_be_visible()
        assert page.locator('meta[http-equiv="refresh"]').count() == 0
        page.fill("#id_date_from", "2026-02-01")

        services.export_job_run(job_id=job.pk)

        expect(line.get_by_role("link", name="Unduh")).to_be_visible(timeout=15_000)
        expect(page.locator("#id_date_from")).to_have_value("2026-02-01")
        assert page.locator("#jobs[data-live]").count() == 0  # finished: no longer followed
    finally:
        context.close()
