"""The API's one error shape: ``{"detail": ...}`` for the request, ``{field: [messages]}`` for
fields — Django ValidationErrors raised by services are converted, never leaked as 500s."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


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
    return exc


def exception_handler(exc, context):
    return drf_exception_handler(as_api_exception(exc), context)
