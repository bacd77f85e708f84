"""The client's address, in one place: DRF's throttles, django-axes (``AXES_CLIENT_IP_CALLABLE``)
and anything that records an address read it here.

``X-Forwarded-For`` is anybody's to write. It counts only as far as proxies the portal trusts
vouch for it: with ``TRUSTED_PROXY_COUNT = N`` (the proxies in front of gunicorn: a load
balancer, a CDN), the client is the N-th entry from the right — the one the outermost trusted
proxy appended; whatever a client wrote to the left of it is ignored. With 0 (the default: the
portal is reached directly) the header is ignored and the connection's address is the client's.
A header with fewer entries than trusted proxies, or an entry that is not an IP address, is not
vouched for: the connection's address is used.
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    trusted = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if trusted <= 0:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "") or ""
    hops = [hop.strip() for hop in header.split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < trusted:
        return remote
    candidate = hops[-trusted]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
