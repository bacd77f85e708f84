"""What a reader sees on a page, and what must not be there: a raw code or an English sentence.

Shared by the role walk with Django's test client and the browser walk. The English sentences
are the catalogue's own message ids (locale/id/LC_MESSAGES/django.po) whose Indonesian differs,
so a string someone forgot to wrap or to translate is caught by its English words.
"""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

PO = Path(__file__).resolve().parents[2] / "locale" / "id" / "LC_MESSAGES" / "django.po"

# A snake_case word: two or more lower-case parts joined by "_" (a code such as
# ``missing_in_operator`` or ``id_over_limit``).
SNAKE = re.compile(r"(?<![\w./@-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/@-])")
# A bare code in a value cell: ``ktp``, ``active``, ``open`` alone (checked on table cells).
# Raw codes of the vocabularies that are single words; a cell holding exactly one is raw.
SINGLE_WORD_CODES = {
    "active", "inactive", "open", "closed", "pending", "ktp", "kk", "passport", "kitas",
    "kitap", "sim", "list", "range", "all", "in_stock", "suspended", "revoked", "queued",
    "running", "done", "failed", "approved", "rejected", "submitted", "claimed", "decided",
    "dismissed", "corrected", "verified", "flagged", "blocked", "imported", "web", "api",
}  # fmt: skip

# Explained exceptions: text that may look raw or English and is right as it is.
ALLOWED_SNAKE = {
    # None today: every code on a page has a label.
}
ALLOWED_ENGLISH = {
    # The language switch names English in English, as every language switch does.
    "English",
}
# Pages the walk does not read for language: the API's own documentation is for developers and
# in English by design (drf-spectacular's Swagger/Redoc).
SKIP_PREFIXES = ("/api/",)
# Pages of the operator's Django admin that show stored data as it is, by design:
RAW_PAGES = (
    # the audit trail's raw rows (action codes, before/after values); the registration's
    # history page tells the same rows as a story;
    "/admin/core/auditevent/",
    # the test-data generator's ground truth (its own case names, for the engine's tests).
    "/admin/operatordb/injecteddiscrepancy/",
)
# Pages whose English is Django's: permission names are stored in English in the database
# (auth.Permission.name, written by migrate) and Django never translates them.
PERMISSION_PAGES = re.compile(r"^/admin/(auth/group|accounts/user)/")
# A JSON value in the operator's admin (a finding's details, a run's counts) is stored data
# shown as it is; the portal's pages show the same values in words.
JSON_VALUE = re.compile(r"\{\s*\"[^<]*\}")


class _Visible(HTMLParser):
    """Text a reader sees (and hears: alt, aria-label, title, placeholder), and cells."""

    # Not read: what is not shown, and a textarea's content, which is data someone typed (a rule
    # set's notes are written by the operator admin in the language of their choice).
    HIDDEN = {"script", "style", "template", "noscript", "textarea"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.cells: list[str] = []
        self._hidden = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        attributes = dict(attrs)
        for name in ("alt", "aria-label", "title", "placeholder"):
            if attributes.get(name):
                self.parts.append(attributes[name])
        if (
            tag == "input"
            and attributes.get("type") in ("submit", "button")
            and attributes.get("value")
        ):
            self.parts.append(attributes["value"])
        if tag in ("td", "dd"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1
        if tag in ("td", "dd") and self._cell is not None:
            self.cells.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._hidden:
            return
        self.parts.append(data)
        if self._cell is not None:
            self._cell.append(data)


def visible(html: str) -> tuple[str, list[str]]:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split()), parser.cells


def _po_entries():
    """(msgid, msgstr) pairs of the catalogue, plural forms' singular only."""
    text = PO.read_text(encoding="utf-8")
    entries = []
    for block in text.split("\n\n"):
        msgid, msgstr, current = [], [], None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            if line.startswith("msgid "):
                current = msgid
                line = line[6:]
            elif line.startswith("msgstr ") or line.startswith("msgstr[0] "):
                current = msgstr
                line = line.split(" ", 1)[1]
            elif line.startswith(("msgid_plural", "msgstr[", "msgctxt")):
                current = None
                continue
            if current is not None and line.startswith('"'):
                current.append(
                    line[1:-1].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
                )
        entries.append(("".join(msgid), "".join(msgstr)))
    return entries


@cache
def english_sentences() -> tuple[str, ...]:
    """Message ids of three words or more whose translation differs, placeholders cut off:
    the longest run of plain words of each (at least three words)."""
    sentences = set()
    for msgid, msgstr in _po_entries():
        if not msgid or not msgstr or msgid == msgstr:
            continue
        for run in re.split(r"%\(\w+\)[sdif]|%[sdif]|\{[^}]*\}|<[^>]+>|\n", msgid):
            run = " ".join(run.split()).strip(" .,:;")
            if len(run.split()) >= 3 and run not in ALLOWED_ENGLISH:
                sentences.add(run)
    return tuple(sorted(sentences, key=len, reverse=True))


def problems(html: str, path: str = "") -> list[str]:
    """What a reader should not see on this page, each as a short note."""
    if path.startswith(RAW_PAGES):
        return []
    text, cells = visible(html)
    if path.startswith("/admin/"):
        text = JSON_VALUE.sub(" ", text)
        cells = [cell for cell in cells if not JSON_VALUE.fullmatch(cell)]
    found = []
    for match in SNAKE.finditer(text):
        word = match.group(0)
        if word not in ALLOWED_SNAKE:
            start = max(match.start() - 40, 0)
            found.append(f"code {word!r} in …{text[start : match.end() + 40]}…")
    for cell in cells:
        if cell in SINGLE_WORD_CODES:
            found.append(f"bare code {cell!r} in a cell")
    for sentence in () if PERMISSION_PAGES.match(path) else english_sentences():
        if sentence in text:
            found.append(f"English: {sentence!r}")
    return found


# --- every URL pattern, and the ones no walk reads -----------------------------------------------


def portal_routes() -> list[str]:
    """Every URL pattern of the portal, as ``resolve(path).route`` names it."""
    from django.urls import URLResolver, get_resolver

    def flatten(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from flatten(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return sorted(set(flatten(get_resolver().url_patterns)))


def _routes(*patterns: str) -> list[re.Pattern]:
    return [re.compile(pattern) for pattern in patterns]


# URL patterns the walk does not read, each with its reason. Anything else must be reached by
# some role from its home page, following links, with the demo organisation's data.
NOT_WALKED = [
    # The API and its documentation: for machines (English by design), tested in tests/api.
    *_routes(r"api/.*"),
    # Actions: POST only (a GET answers 405); the pages whose forms post to them are read.
    # Logout and the language switch change state; the bare outlets/ only redirects.
    *_routes(
        r"accounts/logout/",
        r"i18n/setlang/",
        r"registrations/new/validate/",
        r"registrations/<int:pk>/reveal/",
        r"registrations/rules/<int:pk>/copy/",
        r"registrations/rules/drafts/<int:pk>/(preview|publish)/",
        r"compliance/review/bulk/",
        r"compliance/review/<int:pk>/(claim|release|decide)/",
        r"compliance/sanctions/<int:pk>/lift/",
        r"outlets/notices/read/",
        r"outlets/staff/<int:pk>/invitation/",
        r"privacy/requests/<int:pk>/(export|decide)/",
        r"privacy/jobs/<int:pk>/resume/",
        r"reports/refresh/",
        r"outlets/",
    ),
    # Files, not pages: photos, PDFs, evidence, documents, export downloads, the JavaScript
    # catalogue; and the health checks for the load balancer.
    *_routes(
        r"registrations/<int:pk>/photos/<str:kind>/",
        r"registrations/receipt/<receipt_token:token>\.pdf",
        r"compliance/clarifications/<int:pk>/answers/<int:answer_pk>/evidence/",
        r"outlets/agreements/<int:pk>/document/",
        r"reports/exports/<int:pk>/download/",
        r"jsi18n/",
        r"readyz",
    ),
    # Links that reach a person outside the portal's pages, each with its own tests: the
    # buyer's receipt link (SMS), a clerk's invitation (e-mail), and the holder's door, whose
    # pages need a session opened with a code sent by SMS (tests/holders, the browser journey).
    *_routes(
        r"registrations/receipt/<receipt_token:token>/",
        r"outlets/invitation/<uidb64>/<token>/",
        r"nomor-saya/.+",
    ),
    # Records the demo organisation does not hold: a transfer agreement (it needs its signed
    # PDF), a stock allocation, a risk signal with records behind it, a finished rule preview's
    # samples (tests/outlets, tests/risk and tests/subscribers read these pages).
    *_routes(
        r"outlets/agreements/<int:pk>/",
        r"outlets/stock/allocations/<int:pk>/",
        r"risk/outlets/<str:roid>/<slug:signal>/",
        r"registrations/rules/previews/<int:pk>/samples/<str:bucket>/",
    ),
    # The Django admin (operator admins): every model's list is read, and the pages of each
    # record the demo holds. Not read: pages of models without a row in the demo (API tokens,
    # blocks, sanctions, the holder's door, the scheduler's tables...), add, delete and history
    # pages the model's admin does not offer (read-only models), the bare object URL (a
    # redirect Django keeps for old links), the app indexes, login/logout, password,
    # autocomplete and the admin's own JavaScript catalogue.
    *_routes(
        r"admin/[a-z_]+/[a-z]+/(add/|<path:object_id>/(change/|delete/|history/)?)",
        r"admin/accounts/user/<id>/password/",
        r"admin/\(\?P<url>\.\*\)\$",
        r"admin/\^\(\?P<app_label>.*",
        r"admin/(autocomplete|jsi18n|login|logout)/",
        r"admin/r/<path:content_type_id>/<path:object_id>/",
        r"admin/password_change/(done/)?",
    ),
]


# --- English: no Indonesian sentence of the catalogue --------------------------------------------

# Indonesian words that are also the English page's (names, the language switch).
ALLOWED_INDONESIAN = {"Bahasa Indonesia"}
# Pages showing messages as they were sent: a notification is written once, in the portal's
# language when it was sent (and e-mailed so), and the list shows it as sent; the page around
# it is in the reader's language.
SENT_MESSAGE_PAGES = ("/compliance/notifications/",)


@cache
def indonesian_sentences() -> tuple[str, ...]:
    """Translations of three words or more that differ from their message id, placeholders cut
    off: on an English page one of them is Indonesian written where English was due."""
    sentences = set()
    for msgid, msgstr in _po_entries():
        if not msgid or not msgstr or msgid == msgstr:
            continue
        for run in re.split(r"%\(\w+\)[sdif]|%[sdif]|\{[^}]*\}|<[^>]+>|\n", msgstr):
            run = " ".join(run.split()).strip(" .,:;")
            if len(run.split()) >= 3 and run not in ALLOWED_INDONESIAN and run not in msgid:
                sentences.add(run)
    return tuple(sorted(sentences, key=len, reverse=True))


def english_problems(html: str, path: str = "") -> list[str]:
    """What an English reader should not see: a page not marked English, or an Indonesian
    sentence of the catalogue."""
    if path.startswith(RAW_PAGES):
        return []
    found = []
    if not re.search(r'<html[^>]*\blang="en', html):
        found.append("the page is not marked English (<html lang>)")
    text, _cells = visible(html)
    for sentence in () if path.startswith(SENT_MESSAGE_PAGES) else indonesian_sentences():
        if sentence in text:
            found.append(f"Indonesian: {sentence!r}")
    return found
