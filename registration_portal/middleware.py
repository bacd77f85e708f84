"""Response headers Django's SecurityMiddleware does not set itself."""

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render

from core.api import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, logger


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # The browsable API docs (Swagger UI) load their own inline bootstrap; everything else
        # lives under the strict policy.
        if not request.path.startswith("/api/docs"):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        # Camera is allowed for this origin only: clerks photograph ID cards in the browser.
        response.headers.setdefault(
            "Permissions-Policy", "camera=(self), geolocation=(), microphone=(), payment=()"
        )
        return response


class DatabaseUnavailableMiddleware:
    """A lost database connection is a 503 with ``Retry-After``, not a 500: a friendly page
    ("nothing was saved, try again") in the browser, the API's JSON on ``/api/`` paths.

    The request's transaction was rolled back by the time the exception gets here, so a retry
    is safe. Nothing here touches the database (it may be the very thing that is down).
    DRF views answer through ``core.api.exception_handler`` themselves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None

        logger.error("database unavailable during %s", request.path, exc_info=exception)
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": str(DATABASE_UNAVAILABLE)}, status=503)
        else:
            response = render(request, "503.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
