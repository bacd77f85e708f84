"""The fonts every PDF of the portal is written in (receipts, reports).

DejaVu Sans ships with the code (``core/fonts/``, with its licence), so the Docker image,
``make run`` and CI print the same glyphs without a system font: names in Latin with
diacritics, Vietnamese, Cyrillic, Greek … (the PDF's standard Helvetica covers Latin-1 only and
silently drops the rest). Registered with reportlab once per process.
"""

from __future__ import annotations

from pathlib import Path

FONT_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR, BOLD = "SatuPintu-Sans", "SatuPintu-Sans-Bold"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}


def pdf_fonts() -> tuple[str, str]:
    """The (regular, bold) font names to draw with, registered on first use."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, filename in _FILES.items():
        if name not in registered:
            pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / filename)))
    return REGULAR, BOLD
