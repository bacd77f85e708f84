"""NUL and other control characters in query parameters: a 400 (or the value ignored), never
a 500 — PostgreSQL refuses a NUL in any string, so one ``%00`` used to break the page."""

import pytest

pytestmark = pytest.mark.django_db

PAGES = [
    ("clerk", "/registrations/", "q"),
    ("clerk", "/registrations/", "status"),
    ("operator", "/registrations/", "outlet"),
    ("operator", "/compliance/discrepancies/", "outlet"),
    ("dealer_user", "/outlets/dashboard/", "dealer"),
    ("operator", "/outlets/dashboard/", "dealer"),
    ("operator", "/outlets/dashboard.csv", "dealer"),
    ("operator", "/api/v1/registrations/", "q"),
    ("operator", "/api/v1/auth/tokens/", "user"),
]


@pytest.mark.parametrize(("persona", "url", "param"), PAGES)
@pytest.mark.parametrize("value", ["%00", "a%00b", "%1b[2J", "%7f"])
def test_control_characters_in_a_query_are_a_400(request, client, persona, url, param, value):
    client.raise_request_exception = False
    client.force_login(request.getfixturevalue(persona))

    response = client.get(f"{url}?{param}={value}")

    assert response.status_code == 400, response.status_code
    if url.startswith("/api/"):
        assert "detail" in response.json()


def test_tabs_and_line_breaks_are_not_control_characters_here(client, clerk):
    client.force_login(clerk)

    assert client.get("/registrations/?q=a%09b").status_code == 200


def test_a_nul_in_a_parameter_name_is_a_400(client, clerk):
    client.raise_request_exception = False
    client.force_login(clerk)

    assert client.get("/registrations/?q%00=1").status_code == 400


def test_the_dashboard_csv_is_refused_whole_not_cut_off(client, operator, outlet):
    """A NUL used to break the stream after its header line: now the request is refused
    before the stream starts."""
    client.force_login(operator)

    refused = client.get("/outlets/dashboard.csv?dealer=%00")
    whole = client.get("/outlets/dashboard.csv", {"dealer": str(outlet.dealer_id)})

    assert refused.status_code == 400
    assert not refused.streaming
    assert whole.status_code == 200
    body = b"".join(whole.streaming_content) if whole.streaming else whole.content
    assert body.startswith(b"roid,") and body.endswith(b"\r\n")
