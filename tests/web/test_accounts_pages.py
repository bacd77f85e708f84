"""Login, logout, lockout, the home page of each role, and the language switch."""

import pytest
from django.test import Client

from outlets.models import Outlet
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_has_the_contract_fields(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content
    assert b"<script>" not in response.content and b"style=" not in response.content


def test_clerk_logs_in_and_lands_on_the_outlet_home(client, clerk, pack):
    response = client.post(
        "/accounts/login/", {"username": "clerk", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1] == ("/", 302)
    html = response.content.decode()
    assert "Konter Sinar" in html and "ROJKT000001" in html
    assert "Register a buyer" in html
    assert response.context["today_count"] == 0
    assert response.context["packs_in_stock"] == 1


def test_wrong_password_shows_an_error_on_the_form(client, clerk):
    response = client.post("/accounts/login/", {"username": "clerk", "password": "nope"})
    assert response.status_code == 200
    assert b"errorlist nonfield" in response.content


def test_repeated_failures_lock_the_login_with_a_friendly_page(client, clerk, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "clerk", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "registration/locked_out.html" in [t.name for t in response.templates]


def test_logout_is_a_post_and_ends_the_session(client, clerk):
    client.force_login(clerk)
    home = client.get("/")
    assert b'action="/accounts/logout/"' in home.content
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/")["Location"].startswith("/accounts/login/")


def test_anonymous_home_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_clerk_home_counts_today_and_lists_recent(client, clerk, registration):
    client.force_login(clerk)
    response = client.get("/")
    assert response.context["today_count"] == 1
    assert registration.registration_number.encode() in response.content


def test_clerk_of_a_suspended_outlet_is_told_on_the_home(client, clerk, outlet):
    outlet.status = Outlet.Status.SUSPENDED
    outlet.save()
    client.force_login(clerk)
    response = client.get("/")
    assert b"is suspended and cannot register buyers" in response.content
    assert b'id="register-buyer"' not in response.content


def test_dealer_home_lists_own_outlets_only(client, dealer_user, outlet, other_outlet):
    from tests.factories import OutletFactory

    foreign = OutletFactory(roid="ROFOREIGN01")
    client.force_login(dealer_user)
    response = client.get("/")
    html = response.content.decode()
    assert "ROJKT000001" in html and "ROJKT000002" in html
    assert foreign.roid not in html
    assert "/registrations/?outlet=ROJKT000001" in html


@pytest.mark.parametrize(
    ("persona", "template", "text"),
    [
        ("grapari", "accounts/home_grapari.html", "Find a registration"),
        ("regulator", "accounts/home_regulator.html", "read-only access"),
        ("operator", "accounts/home_operator.html", "/admin/outlets/outlet/"),
    ],
)
def test_each_role_lands_on_its_own_home(client, request, persona, template, text):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/")
    assert response.status_code == 200
    assert template in [t.name for t in response.templates]
    assert text in response.content.decode()


def test_user_without_role_gets_an_explanation(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))
    response = client.get("/")
    assert b"No role yet" in response.content


def test_header_shows_user_role_and_the_language_switch(client, clerk):
    client.force_login(clerk)
    html = client.get("/").content.decode()
    assert "clerk" in html and "Outlet staff" in html
    assert 'action="/i18n/setlang/"' in html
    assert 'name="language" value="id"' in html and 'name="language" value="en"' in html


def test_bahasa_indonesia_is_the_default_and_english_is_one_click_away(db):
    browser = Client()
    page = browser.get("/accounts/login/")
    assert b'<html lang="id">' in page.content
    assert page["Content-Language"] == "id"
    # Django's own strings already come in Indonesian
    bad = browser.post("/accounts/login/", {"username": "x", "password": ""})
    assert "Bidang ini harus diisi." in bad.content.decode()

    switched = browser.post(
        "/i18n/setlang/", {"language": "en", "next": "/accounts/login/"}, follow=True
    )
    assert switched.redirect_chain[-1][0] == "/accounts/login/"
    assert b'<html lang="en">' in switched.content
    assert switched["Content-Language"] == "en"
    again = browser.post("/accounts/login/", {"username": "x", "password": ""})
    assert "This field is required." in again.content.decode()


def test_friendly_404_page(client, clerk):
    client.force_login(clerk)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Back to your home page" in response.content


def test_failures_under_a_full_width_username_lock_the_account_too(client, clerk, settings):
    """Usernames are NFKC-normalised (docs/security.md) before django-axes counts them."""
    for _i in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "ｃｌｅｒｋ", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 429
