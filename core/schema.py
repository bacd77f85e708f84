"""drf-spectacular post-processing and shared response schemas: document the error answers
every endpoint can give, so that every answer the API sends conforms to the schema."""

ERROR = {
    "description": "Error: `detail` for the request as a whole, or one entry per field at fault.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "additionalProperties": True,
            }
        }
    },
}

UNAVAILABLE = {
    "description": (
        "The service lost its database connection for a moment; nothing was written. Retry "
        "after the number of seconds in `Retry-After` (with the same `Idempotency-Key`)."
    ),
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
        }
    },
}

# The 400 of a body checked field by field: each field at fault with its messages; faults of the
# whole body under `non_field_errors`; a body that cannot be read at all under `detail`. A
# field that holds a list (`msisdns`, `packs`) reports its faulty entries by position, as DRF
# does: `{"msisdns": {"3": ["…"]}}`, `{"packs": [{}, {"iccid": ["…"]}]}`.
FIELD_MESSAGES = {"type": "array", "items": {"type": "string"}}
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "non_field_errors": FIELD_MESSAGES,
    },
    "additionalProperties": {
        "anyOf": [
            FIELD_MESSAGES,
            {
                "type": "object",
                "description": "Faults of a list's entries, by position.",
                "additionalProperties": True,
            },
            {
                "type": "array",
                "description": "Faults of each entry of a list of objects, in order.",
                "items": {"type": "object", "additionalProperties": True},
            },
        ]
    },
}

DETAIL_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}


def add_error_responses(result, generator, request, public):
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            parameters = operation.get("parameters") or []
            if method in ("post", "put", "patch") or parameters:
                responses.setdefault("400", ERROR)
            # A detail path whose object the caller may not see, or a page past the last one.
            if "{" in path or any(p.get("name") == "page" for p in parameters):
                responses.setdefault("404", ERROR)
            if "requestBody" in operation:
                # A body in a media type the endpoint does not parse.
                responses.setdefault("415", ERROR)
            # Refused without valid credentials (401; a revoked token, say) or without the
            # right (403; a session without its CSRF token): every operation but those of the
            # auth paths open to anyone (the token's issue: ``security`` offers ``{}``).
            security = operation.get("security")
            if not path.startswith("/api/v1/auth/") or (security and {} not in security):
                responses.setdefault("401", ERROR)
                responses.setdefault("403", ERROR)
            responses.setdefault("429", ERROR)
            # The database connection was lost: nothing was written, retry after Retry-After.
            responses.setdefault("503", UNAVAILABLE)
    return result
