"""/openapi.json: FastAPI's document, completed with the generated message schemas and the error answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mlineage.api.rest.errors import ERROR_SCHEMA
from mlineage.api.rest.io import JSON, Documentation
from mlineage.metadata.kinds import ALL_KINDS

DESCRIPTION = """\
ML metadata and lineage: MLMD's data model (types, artifacts, executions, contexts, events,
attributions, associations, parent contexts) over HTTP, plus OpenLineage in and out.

**JSON.** A node is the protobuf JSON mapping of the `mlineage.v1` messages (MLMD's field names
and numbers): proto field names (`type_id`, `custom_properties`; input also takes lowerCamelCase),
64-bit integers as strings (`"id": "12"`; input takes numbers or strings), enums by name
(`"state": "LIVE"`). Unknown fields are an error. Property values are `Value` objects, e.g.
`{"int_value": "3"}`, `{"double_value": 0.9}`, `{"string_value": "x"}`, `{"struct_value": {...}}`.

**Lists** take `filter` (MLMD's filter language), `page_size` (1–1000), `page_token` and
`order_by` (`id`, `create_time` or `update_time`, then `asc` or `desc`), and answer with
`next_page_token` (empty on the last page).

**Errors** are `{"code": "NOT_FOUND", "message": "…"}`: INVALID_ARGUMENT, OUT_OF_RANGE and
UNIMPLEMENTED (a change the store does not support) 400,
NOT_FOUND 404, ALREADY_EXISTS and ABORTED 409, FAILED_PRECONDITION 412, RESOURCE_EXHAUSTED 413/429,
UNAVAILABLE 503.
"""

# Every operation may answer these; each is the error body.
_ERRORS = {
    "400": "INVALID_ARGUMENT, OUT_OF_RANGE or UNIMPLEMENTED: the request is malformed or breaks a rule",
    "401": "UNAUTHENTICATED: no or a bad bearer token (servers with --auth tokens; WWW-Authenticate says how)",
    "403": "PERMISSION_DENIED: the token's role may not do this",
    "404": "NOT_FOUND (a record of another namespace too)",
    "409": "ALREADY_EXISTS, or ABORTED (a concurrent change: retry)",
    "412": "FAILED_PRECONDITION (e.g. the database schema is newer than the server: read-only)",
    "413": "RESOURCE_EXHAUSTED: the body is too large",
    "429": "RESOURCE_EXHAUSTED: the credential's rate limit (Retry-After says when to retry)",
    "503": "UNAVAILABLE: the database cannot be reached",
    "default": "any other error",
}


def install(app: FastAPI, docs: Documentation, extra_schemas: dict[str, dict[str, Any]]) -> None:
    """Make ``app.openapi()`` build the complete document (once, then cached)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=DESCRIPTION,
            routes=app.routes,
            tags=[
                {"name": "types", "description": "artifact, execution and context types"},
                *({"name": kind.plural} for kind in ALL_KINDS),
                {"name": "events"},
                {"name": "lineage"},
                {"name": "openlineage", "description": "OpenLineage run events in and out"},
                {"name": "health"},
            ],
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        # FastAPI's 422 bodies are never sent: validation failures are 400 with the error body.
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.update(docs.messages.schemas)
        schemas.update(extra_schemas)
        schemas["Error"] = ERROR_SCHEMA
        # Servers with --auth tokens take `Authorization: Bearer TOKEN` (mlineage token create).
        components["securitySchemes"] = {"bearerToken": {"type": "http", "scheme": "bearer"}}
        error = {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, description in _ERRORS.items():
                    responses.setdefault(status, {"description": description, "content": error})
        if not schemas:
            components.pop("schemas")
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]
