"""Hostile input refused at the door, before a view, a form or the database sees it.

- ``RequestSizeLimitMiddleware``: a body whose ``Content-Length`` is over the limit is a 413
  before anything reads it — ``ANONYMOUS_REQUEST_MAX_BYTES`` (small: an anonymous caller can
  only sign in) unless the request carries a session or an ``Authorization`` header, then
  ``REQUEST_MAX_BYTES`` (two photos at their limit and the form around them).
- ``QueryStringMiddleware``: a query parameter (name or value) with a control character — NUL,
  ESC, DEL … (``core.textclean``) — is a 400. PostgreSQL refuses a NUL in any string: one
  ``?q=%00`` used to be a 500; a terminal escape has no business in a filter either. Form and
  serializer fields refuse NUL themselves (Django's and DRF's ``ProhibitNullCharactersValidator``).
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from .textclean import has_control_characters

BODY_TOO_LARGE = 413


def _answer(request, message: str, status: int) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _answer(request, _("The request's Content-Length is not a number."), 400)
        if length > min(settings.ANONYMOUS_REQUEST_MAX_BYTES, settings.REQUEST_MAX_BYTES):
            signed_in = bool(request.META.get("HTTP_AUTHORIZATION")) or getattr(
                getattr(request, "user", None), "is_authenticated", False
            )
            limit = (
                settings.REQUEST_MAX_BYTES if signed_in else settings.ANONYMOUS_REQUEST_MAX_BYTES
            )
            if length > limit:
                return _answer(
                    request,
                    _("The request is too large (at most %(mb).1f MB).")
                    % {"mb": limit / (1024 * 1024)},
                    BODY_TOO_LARGE,
                )
        return self.get_response(request)


class QueryStringMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            if has_control_characters(name) or any(map(has_control_characters, values)):
                return _answer(
                    request,
                    _("The address contains control characters (%(name)s).")
                    % {"name": name.encode("unicode_escape").decode()[:40]},
                    400,
                )
        return self.get_response(request)
