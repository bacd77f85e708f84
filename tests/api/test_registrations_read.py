"""GET /api/v1/registrations/ and /{id}/, and the audited reveal: each persona sees its scope."""

import pytest

from core.models import AuditEvent
from tests.conftest import buyer_data

pytestmark = pytest.mark.django_db

LIST = "/api/v1/registrations/"


def detail(registration) -> str:
    return f"{LIST}{registration.pk}/"


def reveal(registration) -> str:
    return f"{LIST}{registration.pk}/reveal-id-number/"


def listed_ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_clerk_lists_own_outlets_registrations_only(
    client_for, clerk, registration, other_registration
):
    response = client_for(clerk).get(LIST)

    assert listed_ids(response) == {registration.pk}
    body = response.json()
    assert body["count"] == 1 and body["next"] is None
    row = body["results"][0]
    assert row["id_number_masked"] == "3171********0042"
    assert row["outlet_roid"] == registration.outlet.roid
    assert buyer_data(registration.starter_pack)["id_number"] not in response.content.decode()
    assert "id_number" not in row and "id_number_encrypted" not in row


def test_clerk2_does_not_see_clerks_registration(
    client_for, clerk2, registration, other_registration
):
    client = client_for(clerk2)

    assert listed_ids(client.get(LIST)) == {other_registration.pk}
    response = client.get(detail(registration))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}  # the model not named


def test_clerk_sees_own_registration_detail(client_for, clerk, registration):
    response = client_for(clerk).get(detail(registration))

    assert response.status_code == 200
    assert response.json()["registration_number"] == registration.registration_number
    assert response.json()["id_number_masked"] == registration.id_number_masked


def test_dealer_sees_its_outlets_registrations(
    client_for, dealer_user, registration, other_registration
):
    client = client_for(dealer_user)

    assert listed_ids(client.get(LIST)) == {registration.pk, other_registration.pk}
    assert client.get(detail(registration)).status_code == 200


def test_another_dealer_sees_nothing(client_for, other_dealer_user, registration):
    client = client_for(other_dealer_user)

    assert listed_ids(client.get(LIST)) == set()
    assert client.get(detail(registration)).status_code == 404


@pytest.mark.parametrize("persona", ["regulator", "grapari", "operator"])
def test_operator_roles_see_every_outlet(
    client_for, request, persona, registration, other_registration
):
    client = client_for(request.getfixturevalue(persona))

    assert listed_ids(client.get(LIST)) == {registration.pk, other_registration.pk}
    assert client.get(detail(other_registration)).status_code == 200


def test_anonymous_gets_nothing(client_for, registration):
    client = client_for()

    for url in (LIST, detail(registration), reveal(registration)):
        response = client.get(url) if "reveal" not in url else client.post(url)
        assert response.status_code in (401, 403)
        assert registration.msisdn not in response.content.decode()


def test_token_of_a_removed_user_is_refused(client_for, clerk, registration):
    from accounts.models import ApiToken

    _token, key = ApiToken.objects.issue(user=clerk)
    clerk.is_active = False
    clerk.save()
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get(LIST).status_code in (401, 403)


def test_filters(client_for, dealer_user, registration, other_registration):
    client = client_for(dealer_user)
    local = "0" + registration.msisdn[2:]

    assert listed_ids(client.get(LIST, {"q": local})) == {registration.pk}
    assert listed_ids(client.get(LIST, {"q": registration.registration_number})) == {
        registration.pk
    }
    assert listed_ids(client.get(LIST, {"outlet": other_registration.outlet.roid})) == {
        other_registration.pk
    }
    assert listed_ids(client.get(LIST, {"status": "flagged"})) == set()
    assert len(listed_ids(client.get(LIST, {"status": "registered"}))) == 2


def test_bad_filter_is_a_400(client_for, clerk):
    response = client_for(clerk).get(LIST, {"status": "deleted", "q": "x" * 500})

    assert response.status_code == 400
    assert {"status", "q"} <= set(response.json())


def test_pagination(client_for, clerk, registration):
    client = client_for(clerk)

    assert client.get(LIST, {"page": 1}).json()["count"] == 1
    assert client.get(LIST, {"page": 2}).status_code == 404
    assert client.get(LIST, {"page": "abc"}).status_code == 404


def test_non_numeric_id_is_a_json_404(client_for, clerk):
    response = client_for(clerk).get(f"{LIST}abc/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- reveal ---------------------------------------------------------------------------------------
def test_reviewer_with_the_permission_reveals_the_number_and_it_is_audited(
    client_for, grapari, registration
):
    nik = buyer_data(registration.starter_pack)["id_number"]

    response = client_for(grapari).post(reveal(registration))

    assert response.status_code == 200
    assert response.json() == {"id_number": nik}
    assert "no-store" in response.headers["Cache-Control"]
    event = AuditEvent.objects.get(action="registration.reveal_id_number")
    assert event.actor == grapari and event.target_id == str(registration.pk)
    assert nik not in str(event.after)


@pytest.mark.parametrize("persona", ["clerk", "regulator", "dealer_user"])
def test_who_may_see_but_not_reveal_gets_403(client_for, request, persona, registration):
    response = client_for(request.getfixturevalue(persona)).post(reveal(registration))

    assert response.status_code == 403
    assert "may not see full ID numbers" in response.json()["detail"]
    assert not AuditEvent.objects.filter(action="registration.reveal_id_number").exists()


def test_outsider_cannot_even_learn_the_registration_exists(client_for, clerk2, registration):
    response = client_for(clerk2).post(reveal(registration))

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="registration.reveal_id_number").exists()


def test_empty_filters_are_no_filters(client_for, clerk, registration):
    response = client_for(clerk).get(LIST, {"q": "", "status": "", "outlet": ""})

    assert listed_ids(response) == {registration.pk}


@pytest.mark.parametrize("persona", ["grapari", "regulator", "dealer_user", "operator"])
def test_an_api_read_is_audited_as_the_page_read_is(
    client, client_for, request, persona, registration
):
    """Who looked at whose record (UU PDP): the API's detail writes the same audit row as the
    page, naming where it was read; the registering outlet's own clerk is not logged."""
    user = request.getfixturevalue(persona)
    assert client_for(user).get(detail(registration)).status_code == 200
    client.force_login(user)
    assert client.get(f"/registrations/{registration.pk}/").status_code == 200

    views = AuditEvent.objects.filter(action="registration.view", target_id=str(registration.pk))
    assert sorted(e.after["page"] for e in views) == ["api", "detail"]
    assert {e.actor_id for e in views} == {user.pk}


def test_the_own_clerks_api_reads_are_not_logged(client_for, clerk, registration):
    assert client_for(clerk).get(detail(registration)).status_code == 200
    assert not AuditEvent.objects.filter(action="registration.view").exists()
