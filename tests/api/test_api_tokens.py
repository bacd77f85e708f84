"""API tokens: hashed at rest, expiring, listed and revoked by their owner and the operator,
all revoked when the password changes or is reset or the account is removed."""

from datetime import timedelta

import pytest
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.core.cache import cache
from django.utils import timezone

from accounts.models import ApiToken
from core.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

OBTAIN = "/api/v1/auth/token/"
TOKENS = "/api/v1/auth/tokens/"
PROTECTED = "/api/v1/starter-packs/"


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


def obtain(client_for, username="clerk") -> str:
    response = client_for().post(
        OBTAIN, {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def with_token(client_for, key):
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_token_is_stored_only_as_a_digest(client_for, clerk):
    key = obtain(client_for)

    stored = ApiToken.objects.get(user=clerk)
    values = [str(v) for v in ApiToken.objects.filter(pk=stored.pk).values().get().values()]
    assert key not in values
    assert stored.digest == ApiToken.digest_of(key)
    assert key.startswith(stored.prefix)
    assert with_token(client_for, key).get(PROTECTED).status_code == 200


def test_obtain_answers_when_the_token_expires(client_for, clerk, settings):
    response = client_for().post(OBTAIN, {"username": "clerk", "password": PASSWORD})

    body = response.json()
    assert set(body) == {"token", "expires_at"}
    token = ApiToken.objects.get(user=clerk)
    expected = token.created_at + timedelta(hours=settings.API_TOKEN_TTL_HOURS)
    assert abs(token.expires_at - expected) < timedelta(seconds=5)


def test_an_expired_token_is_refused(client_for, clerk):
    key = obtain(client_for)
    ApiToken.objects.filter(user=clerk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = with_token(client_for, key).get(PROTECTED)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Token")


def test_an_unknown_token_is_refused(client_for, clerk):
    assert with_token(client_for, "sp_not-a-token").get(PROTECTED).status_code == 401


def test_a_token_of_a_deactivated_account_is_refused(client_for, clerk):
    key = obtain(client_for)
    clerk.is_active = False
    clerk.save()

    assert with_token(client_for, key).get(PROTECTED).status_code == 401


def test_a_password_change_revokes_every_token(client_for, clerk):
    keys = [obtain(client_for), obtain(client_for)]
    form = PasswordChangeForm(
        clerk,
        {
            "old_password": PASSWORD,
            "new_password1": "n3w-Pass-w0rd!",
            "new_password2": "n3w-Pass-w0rd!",
        },
    )
    assert form.is_valid(), form.errors
    form.save()

    assert not ApiToken.objects.filter(user=clerk).exists()
    for key in keys:
        assert with_token(client_for, key).get(PROTECTED).status_code == 401


def test_a_password_reset_revokes_every_token(client_for, clerk):
    key = obtain(client_for)
    form = SetPasswordForm(
        clerk, {"new_password1": "n3w-Pass-w0rd!", "new_password2": "n3w-Pass-w0rd!"}
    )
    assert form.is_valid(), form.errors
    form.save()

    assert with_token(client_for, key).get(PROTECTED).status_code == 401


def test_set_unusable_password_revokes_every_token(client_for, clerk):
    obtain(client_for)
    clerk.set_unusable_password()
    clerk.save()

    assert not ApiToken.objects.filter(user=clerk).exists()


def test_a_hash_upgraded_at_login_keeps_the_tokens(client_for, clerk):
    """check_password re-hashes an outdated hash and saves it: not a password change."""
    key = obtain(client_for)
    clerk.set_password(PASSWORD)
    clerk._password = None  # what check_password's setter does before saving the new hash
    clerk.save(update_fields=["password"])

    assert with_token(client_for, key).get(PROTECTED).status_code == 200


def test_other_saves_keep_the_tokens(client_for, clerk):
    key = obtain(client_for)
    clerk.first_name = "Sari"
    clerk.save()

    assert with_token(client_for, key).get(PROTECTED).status_code == 200


def test_removing_the_account_removes_its_tokens(client_for, clerk):
    obtain(client_for)
    clerk.delete()

    assert not ApiToken.objects.exists()


def test_the_owner_lists_and_revokes_own_tokens(client_for, clerk, clerk2):
    first, second = obtain(client_for), obtain(client_for)
    obtain(client_for, "clerk2")
    client = with_token(client_for, first)

    listed = client.get(TOKENS)

    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert len(rows) == 2
    assert {row["prefix"] for row in rows} == {first[:8], second[:8]}
    assert all(
        set(row) == {"id", "prefix", "name", "user", "created_at", "expires_at", "last_used_at"}
        for row in rows
    )
    assert first not in listed.content.decode()
    mine = {row["prefix"]: row["id"] for row in rows}
    foreign = ApiToken.objects.get(user=clerk2)

    assert client.delete(f"{TOKENS}{foreign.pk}/").status_code == 404
    assert client.delete(f"{TOKENS}{mine[second[:8]]}/").status_code == 204
    assert with_token(client_for, second).get(PROTECTED).status_code == 401
    assert client.get(PROTECTED).status_code == 200
    assert AuditEvent.objects.filter(action="api_token.revoke", actor=clerk).count() == 1


def test_revoking_the_current_token_logs_out(client_for, clerk):
    key = obtain(client_for)
    client = with_token(client_for, key)
    token_id = client.get(TOKENS).json()["results"][0]["id"]

    assert client.delete(f"{TOKENS}{token_id}/").status_code == 204
    assert client.get(PROTECTED).status_code == 401


def test_the_operator_lists_and_revokes_anyones_tokens(client_for, clerk, operator):
    obtain(client_for)
    client = client_for(operator)

    rows = client.get(TOKENS).json()["results"]
    assert [row["user"] for row in rows] == ["clerk"]
    assert client.get(TOKENS, {"user": "nobody"}).json()["results"] == []

    assert client.delete(f"{TOKENS}{rows[0]['id']}/").status_code == 204
    assert not ApiToken.objects.exists()


def test_obtaining_issues_a_new_token_and_caps_the_count(client_for, clerk, settings):
    settings.API_TOKEN_MAX_PER_USER = 3
    keys = [obtain(client_for) for _ in range(4)]

    assert len(set(keys)) == 4
    assert ApiToken.objects.filter(user=clerk).count() == 3
    # The oldest went first.
    assert with_token(client_for, keys[0]).get(PROTECTED).status_code == 401
    assert with_token(client_for, keys[-1]).get(PROTECTED).status_code == 200


def test_the_admin_shows_no_key_and_revokes(client, clerk, operator):
    key = obtain_via_service(clerk)
    operator.is_staff = True
    operator.is_superuser = True
    operator.save()
    client.force_login(operator)

    page = client.get("/admin/accounts/apitoken/")

    assert page.status_code == 200
    assert key not in page.content.decode()
    assert key[:8] in page.content.decode()
    token = ApiToken.objects.get()
    answer = client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
        follow=True,
    )
    assert answer.status_code == 200
    assert not ApiToken.objects.exists()


def obtain_via_service(user) -> str:
    _token, key = ApiToken.objects.issue(user=user)
    return key
