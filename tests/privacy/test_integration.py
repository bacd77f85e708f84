"""What the other apps owe a restricted registration (docs/privacy.md, "For the other apps").

The registration pages and the API read through ``subscribers.selectors.registrations_for_user``,
which leaves restricted registrations out for every role but the operator admin.
"""

import pytest
from rest_framework.test import APIClient

from privacy import services

from .conftest import nik

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def restricted(operator, register):
    registration = register(42)
    request = services.data_subject_request_open(
        actor=operator, id_number=nik(42), channel="letter"
    )
    services.data_subject_request_restrict(actor=operator, request=request)
    return registration


def test_restricted_registration_left_out_of_the_clerks_pages(client, clerk, restricted):
    client.force_login(clerk)
    assert restricted.registration_number not in client.get("/registrations/").content.decode()
    assert client.get(f"/registrations/{restricted.pk}/").status_code == 404


def test_restricted_registration_left_out_of_the_api(clerk, restricted):
    api = APIClient()
    api.force_authenticate(clerk)
    body = api.get("/api/v1/registrations/").json()
    assert restricted.registration_number not in str(body)
