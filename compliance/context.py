"""Per-request context the audit trail reads (a contextvar works for threads and async alike)."""

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="")
