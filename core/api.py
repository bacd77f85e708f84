"""The API's one error shape: ``{"detail": ...}`` for the request, ``{field: [messages]}`` for
fields — Django ValidationErrors raised by services are converted, never leaked as 500s; a lost
database connection is a 503 with ``Retry-After`` (the transaction was rolled back: retrying
is safe), never a traceback."""

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)
# Seconds a client is asked to wait after a 503: long enough for a database fail-over or a
# reconnect, short enough for a clerk with a buyer at the counter.
RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = _(
    "The service is briefly unavailable and nothing was saved. Please try again in a few seconds."
)


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DATABASE_UNAVAILABLE
    default_code = "service_unavailable"


def as_api_exception(exc: Exception) -> Exception:
    """Django's exceptions as DRF's, so they get the API's answer; anything else unchanged.

    Also used where an answer must be computed without raising (the Idempotency-Key replay
    store), so that the stored answer is exactly the one the handler would have sent.
    """
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    if isinstance(exc, (DjangoPermissionDenied, PermissionError)):
        return exceptions.PermissionDenied()
    if isinstance(exc, Http404):
        # Django's "No Registration matches the given query." would name the model, in English
        # whatever the language: the API's own "Not found.", translated.
        return exceptions.NotFound()
    return exc


def exception_handler(exc, context):
    if isinstance(exc, OperationalError | InterfaceError):
        # The connection broke (a fail-over, a restart, a killed backend): the transaction is
        # gone, nothing was written. Logged for operations; the client gets a clean retry hint.
        logger.error("database unavailable during %s", context["request"].path, exc_info=exc)
        response = drf_exception_handler(ServiceUnavailable(), context)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        exc.detail = exceptions.ErrorDetail(_throttled_text(exc), code="throttled")
    return drf_exception_handler(as_api_exception(exc), context)


def _throttled_text(exc: exceptions.Throttled) -> str:
    """DRF formats "Expected available in 20 seconds." before translating it, so no catalogue
    ever matches: that English tail is dropped; DRF's own "Request was throttled." becomes one
    sentence in the reader's language with the wait, a view's own words stay as they are
    (``Retry-After`` carries the wait)."""
    wait = math.ceil(exc.wait)
    english_tail = _drf_tail(wait)
    text = str(exc.detail).removesuffix(english_tail).strip()
    if text and text != str(exceptions.Throttled.default_detail):
        return text
    if wait >= 120:
        minutes = math.ceil(wait / 60)
        return ngettext(
            "Too many requests: try again in %(minutes)d minute.",
            "Too many requests: try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
    return ngettext(
        "Too many requests: try again in %(wait)d second.",
        "Too many requests: try again in %(wait)d seconds.",
        wait,
    ) % {"wait": wait}


def _drf_tail(wait: int) -> str:
    """The tail DRF appends to a throttled answer, as it writes it (untranslated)."""
    throttled = exceptions.Throttled
    tail = throttled.extra_detail_singular if wait == 1 else throttled.extra_detail_plural
    return str(tail).format(wait=wait)
