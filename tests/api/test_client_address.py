"""One client address for throttles, django-axes and logs: X-Forwarded-For counts only as far
as ``TRUSTED_PROXY_COUNT`` proxies in front of the portal vouch for it."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import ApiToken
from core.clientip import client_ip
from tests.conftest import PASSWORD

TOKEN = "/api/v1/auth/token/"


def request(remote="203.0.113.9", xff=None):
    headers = {"REMOTE_ADDR": remote}
    if xff is not None:
        headers["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **headers)


@pytest.mark.parametrize(
    ("count", "remote", "xff", "expected"),
    [
        # No proxy trusted: the header is anybody's to write and is ignored.
        (0, "203.0.113.9", "1.2.3.4", "203.0.113.9"),
        (0, "203.0.113.9", None, "203.0.113.9"),
        # One proxy: the address it appended (the last entry) is the client's, whatever the
        # client put in front of it.
        (1, "10.0.0.1", "1.2.3.4", "1.2.3.4"),
        (1, "10.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"),
        (1, "10.0.0.1", " 6.6.6.6 ,1.2.3.4 ", "1.2.3.4"),
        # Two proxies (a CDN then a load balancer): second entry from the right.
        (2, "10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", "1.2.3.4"),
        (1, "10.0.0.1", "2001:db8::1", "2001:db8::1"),
        # Fewer entries than proxies, or garbage: not vouched for, the connection's address.
        (2, "10.0.0.1", "1.2.3.4", "10.0.0.1"),
        (1, "10.0.0.1", "", "10.0.0.1"),
        (1, "10.0.0.1", "not-an-ip", "10.0.0.1"),
        (1, "10.0.0.1", "1.2.3.4\x00", "10.0.0.1"),
    ],
)
def test_client_ip(settings, count, remote, xff, expected):
    settings.TRUSTED_PROXY_COUNT = count

    assert client_ip(request(remote, xff)) == expected


@pytest.fixture
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.usefixtures("_fresh_cache")
def test_a_forged_forwarded_for_does_not_escape_the_token_throttle(client_for, clerk, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "3/minute")
    body = {"username": "clerk", "password": PASSWORD}
    statuses = [
        client_for()
        .post(TOKEN, body, format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
        .status_code
        for i in range(4)
    ]

    assert statuses == [200, 200, 200, 429]


@pytest.mark.django_db
@pytest.mark.usefixtures("_fresh_cache")
def test_behind_a_proxy_the_throttle_counts_per_client(client_for, clerk, monkeypatch, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "2/minute")
    body = {"username": "clerk", "password": PASSWORD}

    def post(client_address):
        return client_for().post(
            TOKEN, body, format="json", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=client_address
        )

    assert [post("198.51.100.1").status_code for _ in range(3)] == [200, 200, 429]
    assert post("198.51.100.2").status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("_fresh_cache")
def test_behind_a_proxy_one_client_cannot_lock_out_another(client_for, clerk, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    def post(client_address, password):
        return client_for().post(
            TOKEN,
            {"username": "clerk", "password": password},
            format="json",
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=client_address,
        )

    attacker = [post("198.51.100.66", f"wrong{i}").status_code for i in range(6)]
    assert attacker[-1] == 429

    # The clerk, from their own address behind the same proxy, still gets in...
    assert post("198.51.100.7", PASSWORD).status_code == 200
    # ...while the attacker's address stays locked, whatever it puts in front of the header.
    assert post("1.1.1.1, 198.51.100.66", PASSWORD).status_code == 429
    assert ApiToken.objects.filter(user=clerk).count() == 1
