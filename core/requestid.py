"""The request id: every request gets one, and the audit trail records it next to each change.

A contextvar (``request_id``) carries it from the middleware to ``core.audit.audit_record``; it
works for threads and async alike. Work done outside a request (a Celery task, a command) may set
it too, so its audit rows share an id.
"""

import re
import uuid
from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        value = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = value
        token = request_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response.headers["X-Request-ID"] = value
        return response
