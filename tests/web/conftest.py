"""Fixtures of the web pages: a registration made through the service, posting the form."""

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections

from tests.conftest import buyer_data


@pytest.fixture
def registration(processed_registration):
    return processed_registration


def form_data(pack, **overrides) -> dict:
    """``buyer_data`` as a browser posts it: an unticked checkbox is simply absent."""
    data = buyer_data(pack, **overrides)
    for name in ("consent", "document_checked"):
        if data.get(name) in (False, None, ""):
            data.pop(name, None)
        else:
            data[name] = "on"
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture(autouse=True)
def _english(client):
    """Assertions read English messages; Bahasa Indonesia (the default) has its own tests."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def close_streamed(response) -> None:
    """Close a streamed file response without firing ``request_finished``, whose
    ``close_old_connections`` would close the test's database connection mid-transaction on
    PostgreSQL."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
