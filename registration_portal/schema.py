"""drf-spectacular post-processing: document the error answers every endpoint can give."""

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


def add_error_responses(result, generator, request, public):
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if method in ("post", "put", "patch") or operation.get("parameters"):
                responses.setdefault("400", ERROR)
            if "{" in path:
                responses.setdefault("404", ERROR)
            if not path.startswith("/api/v1/auth/"):
                responses.setdefault("401", ERROR)
                responses.setdefault("403", ERROR)
            responses.setdefault("429", ERROR)
    return result
