"""The API's one error shape: ``{"detail": ...}`` for the request, ``{field: [messages]}`` for
fields — Django ValidationErrors raised by services are converted, never leaked as 500s."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"non_field_errors": exc.messages})
    elif isinstance(exc, (DjangoPermissionDenied, PermissionError)):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)
