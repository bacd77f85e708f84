"""Operational endpoints and error handlers that answer JSON on API paths."""

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error


@never_cache
def healthz(request):
    """200 while the process lives: the load balancer's liveness probe."""
    return HttpResponse("ok", content_type="text/plain")


def _broker_ok() -> bool:
    from .celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


@never_cache
def readyz(request):
    """200 when the database and the broker answer, 503 otherwise (readiness probe)."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unavailable"
    checks["broker"] = "ok" if _broker_ok() else "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503
    )


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        # Also for a path no API route matches (``/api/v1/registrations/abc/``): the API's
        # shape and language, not a page.
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Server error.")}, status=500)
    return html_server_error(request)
