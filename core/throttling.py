"""DRF's throttles, keyed on ``core.clientip.client_ip`` for anonymous callers (DRF's own
``get_ident`` believes any ``X-Forwarded-For``: a client would get a fresh bucket per forged
header)."""

from rest_framework import throttling

from .clientip import client_ip


class _ClientAddress:
    def get_ident(self, request):
        return client_ip(request)


class AnonRateThrottle(_ClientAddress, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_ClientAddress, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_ClientAddress, throttling.ScopedRateThrottle):
    pass
