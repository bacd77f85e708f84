"""PDF tables that fit: no table runs past the printable width, no column header breaks inside
a word, the page turns when a table needs it, and coded values print as words."""

import io

import pytest
from django.utils import translation
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

from compliance.models import Clarification
from reports.columns import RowSource, discrepancy_source, registration_source
from reports.exporters.pdf_report import CELL_PADDING, MARGIN_MM, fit_columns, layout_report
from reports.figures import report_figures
from reports.scope import ReportScope
from tests.pdftext import pdf_text

from .test_exports import content
from .test_exports import export as export  # the fixture
from .test_figures import flt

MM = 72 / 25.4


def _tables(story):
    for flowable in story:
        if isinstance(flowable, Table):
            yield flowable
        for inner in getattr(flowable, "_content", []) or []:  # KeepTogether
            if isinstance(inner, Table):
                yield inner


def assert_every_table_fits(story, pagesize) -> None:
    """Lay the story out as the export does, then measure each table."""
    frame_width = pagesize[0] - 2 * MARGIN_MM * MM
    SimpleDocTemplate(
        io.BytesIO(), pagesize=pagesize, leftMargin=MARGIN_MM * MM, rightMargin=MARGIN_MM * MM
    ).build(list(story))
    tables = list(_tables(story))
    assert tables
    for table in tables:
        widths = table._colWidths
        assert sum(widths) <= frame_width + 0.5, (sum(widths), frame_width)
        header = table._cellvalues[0]
        for width, cell in zip(widths, header, strict=True):
            # (reportlab keeps a cell's flowables as a tuple)
            for paragraph in cell if isinstance(cell, list | tuple) else [cell]:
                if not isinstance(paragraph, Paragraph):
                    continue
                style = paragraph.style
                for word in paragraph.getPlainText().split():
                    assert stringWidth(word, style.fontName, style.fontSize) <= (
                        width - 2 * CELL_PADDING + 0.01
                    ), f"header word {word!r} breaks in a column {width:.0f} pt wide"


@pytest.mark.django_db
@pytest.mark.parametrize("grouping", ["province", "dealer", "outlet"])
@pytest.mark.parametrize("kind", ["registrations", "discrepancies"])
def test_every_table_of_the_report_fits_the_page(dataset, regulator, operator, grouping, kind):
    scope = ReportScope.for_user(operator)
    filter_ = flt(grouping=grouping)
    source = (registration_source if kind == "registrations" else discrepancy_source)(
        filter_, scope, masked=False
    )
    with translation.override("id"):  # Indonesian words are the longer ones
        story, pagesize, printed = layout_report(
            report_figures(filter_, scope), title="Satu Pintu", about=[("Periode", "x")],
            rows=source, kind=kind,
        )  # fmt: skip
    assert printed == source.total
    assert_every_table_fits(story, pagesize)


def test_a_table_too_wide_for_an_upright_page_turns_it(operator, dataset):
    long = "SP" + "9" * 28  # no space to wrap at: 5 of them fit a turned page only
    source = RowSource(
        keys=["registration_number", "registered_at", "msisdn", "outlet_roid", "id_type",
              "id_number", "status"],
        labels=["Nomor registrasi", "Waktu registrasi", "MSISDN", "ROID", "Jenis identitas",
                "Nomor identitas", "Status"],
        total=3,
        rows=iter([(long, long, long, long, "ktp", long, "registered")] * 3),
    )  # fmt: skip
    scope = ReportScope.for_user(operator)

    story, pagesize, _printed = layout_report(
        report_figures(flt(), scope), title="x", about=[], rows=source, kind="registrations"
    )

    assert pagesize[0] > pagesize[1]  # landscape
    assert_every_table_fits(story, pagesize)


def test_columns_fit_their_content_and_refuse_what_cannot_fit():
    font = "Helvetica"
    widths = fit_columns(
        ["Dengan ketidaksesuaian", "Registrasi"], [["12", "3"]], available=300, font=font,
        bold="Helvetica-Bold", size=8,
    )  # fmt: skip
    assert abs(sum(widths) - 300) < 0.01
    assert widths[0] >= stringWidth("ketidaksesuaian", "Helvetica-Bold", 8)
    assert fit_columns(["x" * 200], [], available=100, font=font, bold=font, size=8) is None


@pytest.mark.django_db
def test_the_pdf_rows_say_kinds_and_statuses_in_words(dataset, regulator, export):
    text = pdf_text(content(export(regulator, "discrepancies", "pdf")))

    assert "id_over_limit" not in text and " open" not in text
    assert "Jumlah nomor pada identitas melebihi batas" in text or "berbeda" in text


@pytest.mark.django_db
def test_the_clarifications_pdf_lists_the_requests(dataset, regulator, export, clarifications):
    """The PDF of the clarification requests lists them as the CSV and XLSX do, not only the
    figures: each request's number as people write it."""
    from core.masking import display_msisdn

    job = export(regulator, "clarifications", "pdf")
    text = pdf_text(content(job)).replace("\n", " ")

    numbers = Clarification.objects.values_list("msisdn", flat=True)
    assert len(numbers) == 2
    for msisdn in numbers:
        assert display_msisdn(msisdn) in text
