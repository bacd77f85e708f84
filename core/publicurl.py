"""The portal's public address, from configuration, never from the request.

A link that leaves the portal (an SMS, a PDF) must not be built from the request's ``Host``
header: whoever sends the request chooses that header, and could make the portal send people a
link to a site of theirs. ``PUBLIC_BASE_URL`` (settings) is the address people reach the portal
at, e.g. ``https://satupintu.example.id``; production refuses to start without it.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def check_public_base_url(value: str, *, require_https: bool = False) -> str:
    """The setting's value without a trailing slash, or ImproperlyConfigured saying why not."""
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            "PUBLIC_BASE_URL must be the portal's public address, e.g. https://satupintu.example.id."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ImproperlyConfigured("PUBLIC_BASE_URL must hold no query, fragment or credentials.")
    if require_https and parts.scheme != "https":
        raise ImproperlyConfigured("PUBLIC_BASE_URL must be an https:// address in production.")
    return value.rstrip("/")


def public_url(path: str) -> str:
    """``path`` (from ``reverse``) on the portal's configured public address."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + "/" + path.lstrip("/")
