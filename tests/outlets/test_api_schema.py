"""The dealer-operations endpoints are in the OpenAPI schema, with their bodies and answers."""

import pytest

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "/api/v1/outlets/{id}/suspend/": {"post"},
    "/api/v1/outlets/{id}/reinstate/": {"post"},
    "/api/v1/outlets/{id}/revoke/": {"post"},
    "/api/v1/outlet-dashboard/": {"get"},
    "/api/v1/outlet-applications/": {"get", "post"},
    "/api/v1/outlet-applications/{id}/": {"get"},
    "/api/v1/outlet-applications/{id}/approve/": {"post"},
    "/api/v1/outlet-applications/{id}/reject/": {"post"},
    "/api/v1/outlet-staff/": {"get", "post"},
    "/api/v1/outlet-staff/{id}/": {"get"},
    "/api/v1/outlet-staff/{id}/remove/": {"post"},
    "/api/v1/outlet-staff/{id}/invitation/": {"post"},
    "/api/v1/stock-allocations/": {"get"},
    "/api/v1/stock-allocations/{id}/": {"get"},
    "/api/v1/stock-allocations/to-dealer/": {"post"},
    "/api/v1/stock-allocations/to-outlet/": {"post"},
    "/api/v1/stock-allocations/to-dealer-stock/": {"post"},
    "/api/v1/stock-moves/": {"get"},
    "/api/v1/responsible-parties/": {"get", "post"},
    "/api/v1/responsible-parties/{id}/": {"get"},
    "/api/v1/agreements/": {"get", "post"},
    "/api/v1/agreements/{id}/": {"get"},
    "/api/v1/agreements/{id}/document/": {"get", "post"},
    "/api/v1/training-sessions/": {"get", "post"},
    "/api/v1/training-sessions/{id}/": {"get"},
    "/api/v1/training-sessions/{id}/attendance/": {"get", "post"},
}


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_every_dealer_endpoint_is_documented(schema):
    for path, methods in ENDPOINTS.items():
        assert methods <= set(schema["paths"][path]), path


def test_allocations_take_json_or_a_csv_file(schema):
    body = schema["paths"]["/api/v1/stock-allocations/to-dealer/"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    multipart = body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][multipart]["properties"]["file"]["format"] == "binary"


def test_the_document_download_is_binary_and_its_errors_json(schema):
    get = schema["paths"]["/api/v1/agreements/{id}/document/"]["get"]["responses"]
    assert {"application/pdf", "image/jpeg", "image/png", "image/webp"} <= set(
        get["200"]["content"]
    )
    assert {"401", "403", "404"} <= set(get)
    post = schema["paths"]["/api/v1/agreements/{id}/document/"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]


def test_staff_never_exposes_id_numbers(schema):
    for name, component in schema["components"]["schemas"].items():
        if name.startswith(("Staff", "InvitedStaff", "PaginatedStaff")) and not name.endswith(
            "Request"
        ):
            assert not {"id_number", "kk_number"} & set(component.get("properties", {})), name
