"""/api/schema/ is valid OpenAPI 3 and documents every endpoint; /api/docs/ renders."""

import pytest
from drf_spectacular.validation import validate_schema

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "/api/v1/auth/token/": {"post"},
    "/api/v1/auth/tokens/": {"get"},
    "/api/v1/auth/tokens/{id}/": {"delete"},
    "/api/v1/registrations/": {"get", "post"},
    "/api/v1/registrations/validate/": {"post"},
    "/api/v1/registrations/{id}/": {"get"},
    "/api/v1/registrations/{id}/reveal-id-number/": {"post"},
    "/api/v1/starter-packs/": {"get"},
    "/api/v1/outlets/": {"get"},
    "/api/v1/outlets/{id}/": {"get"},
}


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_every_endpoint_is_documented(schema):
    for path, methods in ENDPOINTS.items():
        assert methods <= set(schema["paths"][path]), path


def test_registration_create_documents_both_bodies_and_its_answers(schema):
    operation = schema["paths"]["/api/v1/registrations/"]["post"]
    content = operation["requestBody"]["content"]
    multipart = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    json_body = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    components = schema["components"]["schemas"]
    assert components[multipart]["properties"]["id_photo"]["format"] == "binary"
    assert "id_photo" not in components[json_body]["properties"]
    assert {"201", "400", "401", "403", "415", "422", "429"} <= set(operation["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    created = operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    fields = components[created.rsplit("/", 1)[-1]]["properties"]
    assert {
        "id",
        "registration_number",
        "status",
        "msisdn",
        "id_number_masked",
        "created_at",
    } <= set(fields)
    assert "id_number" not in fields


def test_token_endpoint_documents_the_key_and_its_expiry(schema):
    """The answer integrators parse: ``token`` as before, and (since 2026-12) ``expires_at``."""
    operation = schema["paths"]["/api/v1/auth/token/"]["post"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(component["properties"]) == {"token", "expires_at"}
    assert set(component["required"]) == {"token", "expires_at"}
    assert schema["components"]["securitySchemes"]["tokenAuth"]["in"] == "header"


def test_lists_document_the_page_past_the_end(schema):
    for path in ("/api/v1/registrations/", "/api/v1/outlets/", "/api/v1/starter-packs/"):
        assert "404" in schema["paths"][path]["get"]["responses"], path


def test_swagger_ui_renders(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
    assert "Content-Security-Policy" not in response.headers


def test_schema_generates_without_a_single_warning(tmp_path):
    """Name collisions, unresolvable serializers and the like are bugs of the schema: the
    command fails on any warning, so a new endpoint that confuses the generator fails here."""
    from django.core.management import call_command

    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )


def test_the_token_endpoints_document_a_refusal_and_the_token_issue_does_not(schema, client, clerk):
    for path, method in (("/api/v1/auth/tokens/", "get"), ("/api/v1/auth/tokens/{id}/", "delete")):
        assert {"401", "403"} <= set(schema["paths"][path][method]["responses"]), path
    assert not {"401", "403"} & set(schema["paths"]["/api/v1/auth/token/"]["post"]["responses"])

    # What the 401 is for: an integrator who revoked its own token (logged out) and calls again.
    key = "own0token0revoked0then0used000000000000"
    token, _key = ApiToken.objects.issue(user=clerk, key=key)
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.delete(f"/api/v1/auth/tokens/{token.pk}/", **headers).status_code == 204
    assert client.delete(f"/api/v1/auth/tokens/{token.pk}/", **headers).status_code == 401
    assert client.get("/api/v1/auth/tokens/", **headers).status_code == 401
