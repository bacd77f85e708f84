"""What an Indonesian reader of the reports sees: sanction levels and the grouping in words, the
export's kind and requester's role named, percentages rounded half up, and a summary PDF's
progress that ends where it started counting."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import translation

from compliance.models import Sanction
from reports.charts import percent
from reports.figures import report_figures
from reports.scope import ReportScope
from tests.pdftext import pdf_text

from .conftest import PERIOD, wib
from .test_exports import content
from .test_exports import export as export  # the fixture
from .test_figures import flt

pytestmark = pytest.mark.django_db


@pytest.fixture
def sanctions(dataset):
    outlet = dataset.outlets["jkt1"]
    for level in ("warning", "warning", "suspension", "revocation"):
        Sanction.objects.create(
            outlet=outlet,
            level=level,
            reason="x",
            violations_counted=1,
            window_days=90,
            created_at=wib(PERIOD[0].replace(day=10)),
        )


def _half_up(share: float) -> str:
    """The percentage as the test computes it: half up, Indonesian decimal comma."""
    value = (Decimal(share) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{str(value).replace('.', ',')} %"


@pytest.mark.parametrize(
    ("share", "shown"),
    [(22 / 187, "11,8 %"), (40 / 189, "21,2 %"), (15 / 160, "9,4 %"), (0.125, "12,5 %")],
)
def test_a_percentage_is_rounded_half_up_not_cut_off(share, shown):
    with translation.override("id"):
        assert percent(share) == shown


def test_the_dashboard_names_the_sanction_levels(client, regulator, sanctions):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    client.force_login(regulator)

    html = client.get(
        f"/reports/?date_from={PERIOD[0]}&date_to={PERIOD[1]}&grouping=province"
    ).content.decode()

    assert "Pencabutan 1, Pembekuan 1, Peringatan tertulis 2" in html
    assert "warning 2" not in html and "suspension" not in html


def test_the_summary_pdf_in_words(regulator, sanctions, export):
    job = export(regulator, "summary", "pdf", grouping="province")
    text = pdf_text(content(job))
    figures = report_figures(flt(), ReportScope.for_user(regulator))

    assert "Pencabutan: 1, Pembekuan: 1, Peringatan tertulis: 2" in text
    assert "Pengelompokan Provinsi" in text and "province" not in text
    assert "Ringkasan (PDF)" in text and "summary.pdf" not in text
    assert "Diminta oleh regulator (Regulator (hanya baca))" in text
    assert "(regulator)" not in text
    assert f"({_half_up(figures.totals.violation_rate)})" in text
    # A summary prints figures, not rows: it ends at as many rows written as it counted.
    assert job.rows_done == job.rows_total and job.percent == 100


def test_the_export_page_names_the_grouping(client, regulator, dataset, export):
    job = export(regulator, "registrations", "csv", grouping="province", province="31")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    client.force_login(regulator)

    html = client.get(f"/reports/exports/{job.pk}/").content.decode()

    assert "<dt>Pengelompokan</dt><dd>Provinsi</dd>" in html
    assert "province=31" not in html and "DKI Jakarta" in html
