"""Reading a PDF the portal wrote back as text (pypdf), and the fonts it is drawn in: a PDF test
checks what a reader would see, not only that the bytes start with ``%PDF``."""

import io

from pypdf import PdfReader


def pdf_text(data: bytes) -> str:
    """The text of every page, whitespace collapsed to single spaces."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def pdf_fonts(data: bytes) -> set[str]:
    """The base names of the fonts the pages use (subset prefixes removed; reportlab lists
    Helvetica too, as the initial font of every page, whether or not anything is drawn in it)."""
    reader = PdfReader(io.BytesIO(data))
    names = set()
    for page in reader.pages:
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        for ref in fonts.values():
            name = str(ref.get_object().get("/BaseFont", ""))
            names.add(name.split("+", 1)[-1].lstrip("/"))
    return names


# Names outside Latin-1 that a font without them silently drops: Vietnamese, Polish, Turkish,
# Cyrillic, Greek.
NON_LATIN1_NAMES = ["Nguyễn Thị Ánh", "Łukasz Żółć", "Şükrü Çağlar", "Ђорђе Петровић", "Ελένη"]
