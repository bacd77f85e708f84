"""The API's JSON parser: DRF's, with nesting limited.

A body of 2 000 ``[`` made Python's decoder raise ``RecursionError`` — not a ``ValueError``, so
DRF let it through as a 500 logged at ERROR, before any login. Here a document nested deeper
than ``MAX_JSON_DEPTH`` is refused as a parse error (400, ``{"detail": …}``) after a cheap scan
of the bytes, before the decoder recurses; a ``RecursionError`` that still happens is the same
400.
"""

import codecs
import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No request of this API nests deeper than a handful of levels.
MAX_JSON_DEPTH = 64
_NOT_JSON = _("The request body is not valid JSON (%(detail)s).")
_NESTED = _("nested deeper than %(limit)d levels")
_AT = _("line %(line)d, column %(column)d")
_UNREADABLE = _("it cannot be read")
_POSITION = re.compile(r"line (?P<line>[0-9]+) column (?P<column>[0-9]+)")


def json_depth_exceeds(data: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit``."""
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        data = stream.read() if stream is not None else b""
        text = data
        if encoding.lower().replace("-", "") not in ("utf8", "ascii"):
            text = codecs.decode(data, encoding, errors="replace").encode()
        if json_depth_exceeds(text, MAX_JSON_DEPTH):
            raise ParseError(_NOT_JSON % {"detail": _NESTED % {"limit": MAX_JSON_DEPTH}})
        try:
            return super().parse(_Replay(data), media_type, parser_context)
        except RecursionError:
            raise ParseError(_NOT_JSON % {"detail": _NESTED % {"limit": MAX_JSON_DEPTH}}) from None
        except ParseError as exc:
            # DRF's "JSON parse error - <the decoder's words>", in English whatever the
            # language: said in the reader's, with where the decoder stopped.
            where = _POSITION.search(str(exc.detail))
            detail = (
                _AT % {"line": int(where["line"]), "column": int(where["column"])}
                if where
                else _UNREADABLE
            )
            raise ParseError(_NOT_JSON % {"detail": detail}) from None


class _Replay:
    """The bytes already read, as the stream DRF's parser expects."""

    def __init__(self, data: bytes):
        self._data = data

    def read(self, *args):
        data, self._data = self._data, b""
        return data
