"""Deeply nested JSON is a 400 naming the problem, logged at WARNING at most — before login
too (it used to be a RecursionError: a 500 logged at ERROR)."""

import logging

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/v1/auth/token/", "/api/v1/registrations/validate/"])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json_is_a_400(client_for, clerk, caplog, url, opener):
    client = client_for(clerk if "registrations" in url else None)
    client.raise_request_exception = False
    body = opener * 2000

    with caplog.at_level(logging.INFO):
        response = client.generic("POST", url, body, content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_ordinary_nesting_still_parses(client_for):
    response = client_for().generic(
        "POST", "/api/v1/auth/token/", '{"username": [[["x"]]]}', content_type="application/json"
    )

    assert response.status_code == 400
    assert "username" in response.json()
