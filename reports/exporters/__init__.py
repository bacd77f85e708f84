"""Writers of export files: CSV (streamed), XLSX (write-only, split sheets) and PDF (a printable
report with charts). Each writes to a local file and reports progress; ``reports.services``
runs them for a job, stores the file and records its SHA-256."""

from .csv_file import write_csv
from .pdf_report import PDF_ROW_COLUMNS, write_pdf

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

__all__ = ["CONTENT_TYPES", "PDF_ROW_COLUMNS", "write_csv", "write_pdf", "write_xlsx"]


def write_xlsx(*args, **kwargs):
    """``xlsx_file.write_xlsx``, its spreadsheet library loaded on the first XLSX export
    rather than by every process that starts Django (~0.2 s of CPU: every management command,
    the import's included, loads this package through the app's ``ready``)."""
    from .xlsx_file import write_xlsx as write

    return write(*args, **kwargs)
