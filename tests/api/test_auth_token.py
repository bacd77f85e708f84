"""POST /api/v1/auth/token/: the integrator's way in, throttled and under django-axes."""

import pytest
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import ApiToken
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


def test_token_flow(client_for, clerk, pack):
    client = client_for()

    response = client.post(TOKEN, {"username": "clerk", "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert ApiToken.objects.get(user=clerk).digest == ApiToken.digest_of(token)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/starter-packs/").status_code == 200
    # Asking again issues another token (only digests are kept); both work until they expire.
    again = client_for().post(TOKEN, {"username": "clerk", "password": PASSWORD}, format="json")
    assert again.json()["token"] != token
    assert ApiToken.objects.filter(user=clerk).count() == 2
    assert client.get("/api/v1/starter-packs/").status_code == 200
    clerk.refresh_from_db()
    assert clerk.last_login is not None


def test_wrong_password_is_a_clear_400(client_for, clerk):
    response = client_for().post(TOKEN, {"username": "clerk", "password": "nope"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Unable to log in with the username and password given."]
    }
    assert not ApiToken.objects.exists()


def test_missing_fields_are_named(client_for):
    response = client_for().post(TOKEN, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_inactive_user_gets_no_token(client_for, clerk):
    clerk.is_active = False
    clerk.save()

    response = client_for().post(TOKEN, {"username": "clerk", "password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_lockout_after_repeated_failures_even_with_the_right_password(client_for, clerk, settings):
    client = client_for()
    answers = [
        client.post(TOKEN, {"username": "clerk", "password": f"wrong{i}"}, format="json")
        for i in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert [a.status_code for a in answers[:-1]] == [400] * (settings.AXES_FAILURE_LIMIT - 1)

    locked = client.post(TOKEN, {"username": "clerk", "password": PASSWORD}, format="json")

    assert answers[-1].status_code == 429
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.json()["detail"]
    assert int(locked.headers["Retry-After"]) > 0
    assert not ApiToken.objects.exists()


def test_a_success_clears_earlier_failures(client_for, clerk, settings):
    client = client_for()
    for _round in range(2):
        for i in range(settings.AXES_FAILURE_LIMIT - 1):
            bad = client.post(TOKEN, {"username": "clerk", "password": f"x{i}"}, format="json")
            assert bad.status_code == 400
        good = client.post(TOKEN, {"username": "clerk", "password": PASSWORD}, format="json")
        assert good.status_code == 200


def test_token_endpoint_is_throttled(client_for, clerk, monkeypatch):
    # The test settings lift the rates; put a small one back for this endpoint's scope.
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "3/minute")
    client = client_for()
    body = {"username": "clerk", "password": PASSWORD}

    statuses = [client.post(TOKEN, body, format="json").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_session_cookie_and_csrf_do_not_matter(clerk):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(clerk)

    response = client.post(TOKEN, {"username": "clerk", "password": PASSWORD}, format="json")

    assert response.status_code == 200


FULL_WIDTH_CLERK = "ｃｌｅｒｋ"  # NFKC: "clerk"


def test_a_full_width_username_is_the_account_it_normalises_to_as_on_the_web(
    client_for, client, clerk
):
    """docs/security.md: usernames are NFKC-normalised; both ways in find the same account."""
    web = client.post("/accounts/login/", {"username": FULL_WIDTH_CLERK, "password": PASSWORD})
    assert web.status_code == 302

    api = client_for().post(
        TOKEN, {"username": FULL_WIDTH_CLERK, "password": PASSWORD}, format="json"
    )

    assert api.status_code == 200, api.content
    assert ApiToken.objects.get().user == clerk


def test_failures_under_a_full_width_username_count_against_the_account(
    client_for, clerk, settings
):
    """django-axes keys the lockout by the normalised name: typing the name in full-width
    letters is neither a way around the lockout nor a second budget of attempts."""
    from axes.models import AccessAttempt

    client = client_for()
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        bad = client.post(TOKEN, {"username": FULL_WIDTH_CLERK, "password": f"x{i}"}, format="json")
        assert bad.status_code == 400
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"clerk"}

    last = client.post(TOKEN, {"username": "clerk", "password": "x"}, format="json")
    assert last.status_code == 429  # the limit reached, with the plain name's one failure

    for username in ("clerk", FULL_WIDTH_CLERK):
        locked = client.post(TOKEN, {"username": username, "password": PASSWORD}, format="json")
        assert locked.status_code == 429
    assert not ApiToken.objects.exists()
