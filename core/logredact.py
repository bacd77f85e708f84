"""Paths and URLs as logs may show them: without the secrets some URLs carry.

An invitation link (``/outlets/invitation/<uid>/<token>/``) and a shared receipt
(``/registrations/receipt/<number>:<timestamp>:<signature>/``) are credentials; a query string
carries what people search for (an ID number, an MSISDN). Logs keep the route and the parameter
names: ``/outlets/invitation/[redacted]/[redacted]/``, ``/registrations/?q=[redacted]``.
"""

import logging
import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"
# Path segments that follow these segments are credentials, this many of them.
_SECRET_AFTER = {"invitation": 2}
# A signed value (Django's signing: ``value:timestamp:signature``), percent-encoded or not.
_SIGNED = re.compile(r"[:]|%3a", re.IGNORECASE)
# Anything shaped like a key: a long run of URL-safe characters mixing letters and digits.
_KEY_LIKE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{32,}$")


def _redact_segment(segment: str) -> str:
    stem, dot, extension = segment.rpartition(".")
    if not dot or "/" in extension or len(extension) > 4:
        stem, extension = segment, ""
    if _SIGNED.search(stem) or _KEY_LIKE.match(stem):
        return REDACTED + (f".{extension}" if extension else "")
    return segment


def redact_path(path: str) -> str:
    parts = path.split("/")
    pending = 0
    for index, part in enumerate(parts):
        if not part:
            continue
        if pending:
            parts[index] = REDACTED
            pending -= 1
            continue
        parts[index] = _redact_segment(part)
        pending = _SECRET_AFTER.get(part, 0)
    return "/".join(parts)


def redact_query(query: str) -> str:
    """The parameter names, never their values."""
    if not query:
        return ""
    names = [pair.partition("=")[0] for pair in query.split("&") if pair]
    return "&".join(f"{name}={REDACTED}" for name in names)


def redact_url(url: str) -> str:
    """A path, or a whole URL (a Referer), redacted; anything else (``-``) unchanged."""
    if not url or url == "-":
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    return urlunsplit(
        (parts.scheme, parts.netloc, redact_path(parts.path), redact_query(parts.query), "")
    )


# A URL, or a path starting a word, inside a log message.
_URL_IN_TEXT = re.compile(r"""https?://[^\s"'<>]+|(?<![\w.~/-])/[^\s"'<>]*""")


def redact_text(text: str) -> str:
    """Every URL and path in a free-form message redacted (``redact_url``)."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message without the secrets of the paths
    it names: Django's request log writes ``Not Found: /registrations/receipt/<token>/`` at
    WARNING, the CSRF log ``Forbidden (…): <path>``, runserver ``"GET <path>?<query>"``. Set on
    the handlers of ``LOGGING``, so every logger that reaches them is covered."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the formatter
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class ClientErrorsWithoutTraceback:
    """A logging filter: a request refused with a 4xx (403 Permission denied, 404) is one line,
    not a traceback — the traceback of an expected refusal hides the real errors in the log.
    Server errors (5xx) keep theirs."""

    def filter(self, record) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < 500 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True
