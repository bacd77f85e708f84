"""The Indonesian catalogue is complete and compiled: no untranslated or fuzzy entry, and the
committed .mo holds exactly what the .po says (a translation added to the .po but not compiled
would never reach a page)."""

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import needs

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "id" / "LC_MESSAGES"
PO, MO = LOCALE / "django.po", LOCALE / "django.mo"


@pytest.fixture(autouse=True)
def _msgfmt_installed():
    needs(shutil.which("msgfmt") is not None, "needs gettext's msgfmt")


def _msgfmt(tmp_path) -> tuple[str, Path]:
    out = tmp_path / "django.mo"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", str(out), str(PO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr + result.stdout, out


def test_every_message_is_translated_and_none_is_fuzzy(tmp_path):
    statistics, _ = _msgfmt(tmp_path)
    assert "translated message" in statistics
    assert "untranslated" not in statistics, statistics
    assert "fuzzy" not in statistics, statistics


def test_the_committed_catalogue_is_compiled_from_the_po(tmp_path):
    _, fresh = _msgfmt(tmp_path)
    with fresh.open("rb") as new, MO.open("rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(new)._catalog


# The names xgettext extracts from Python (its defaults and Django's makemessages keywords): a
# string passed to a translation function imported under any other name (``gettext_lazy as
# _lazy``) never reaches the catalogue, so msgfmt finds nothing missing and the page is English.
EXTRACTED = {
    "_", "gettext", "ngettext", "gettext_noop", "gettext_lazy", "ngettext_lazy",
    "pgettext", "npgettext", "pgettext_lazy", "npgettext_lazy",
}  # fmt: skip
SOURCE_ROOTS = (
    "accounts", "compliance", "core", "holders", "identity", "operatordb", "outlets", "privacy",
    "registration_portal", "reports", "risk", "subscribers",
)  # fmt: skip


def test_every_translation_function_goes_by_a_name_makemessages_extracts():
    import ast

    root = LOCALE.parents[2]
    hidden = []
    for folder in SOURCE_ROOTS:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
                    hidden += [
                        f"{path.relative_to(root)}: {alias.name} as {alias.asname}"
                        for alias in node.names
                        if "gettext" in alias.name and (alias.asname or alias.name) not in EXTRACTED
                    ]
    assert not hidden, hidden
