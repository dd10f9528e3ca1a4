"""Request bodies in, responses out, and the OpenAPI entries that describe both.

Routes read their bodies with ``read_message`` (JSON → one proto message,
INVALID_ARGUMENT on anything else), answer with ``respond`` (message → JSON),
and document themselves with ``documented`` (the same message classes, as
``$ref`` to schemas generated from the descriptors).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from google.protobuf.message import Message
from starlette.exceptions import HTTPException

from mlineage.api.rest import protojson
from mlineage.api.rest.jsonschema import SchemaSet
from mlineage.errors import InvalidArgumentError

M = TypeVar("M", bound=Message)

# Larger bodies are refused with 413 before they are parsed (OpenLineage producers send big facets,
# but a metadata write is never this large).
MAX_BODY_BYTES = 32 * 1024 * 1024

JSON = "application/json"


def _too_large(what: str = "") -> HTTPException:
    # 413 with RESOURCE_EXHAUSTED in the body (the errors module maps the status to the code).
    return HTTPException(413, detail=f"the request body is larger than {MAX_BODY_BYTES} bytes{what}")


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "identity").lower() == "gzip":
        body = _gunzip(body)
    return body


def _gunzip(body: bytes) -> bytes:
    import zlib

    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise InvalidArgumentError(f"the gzip request body is corrupt: {exc}") from None
    if len(data) > MAX_BODY_BYTES or decompressor.unconsumed_tail:
        raise _too_large(" once inflated")
    return data


async def read_json(request: Request) -> Any:
    return protojson.loads(await read_body(request))


async def read_message(request: Request, message_class: type[M]) -> M:
    return protojson.parse(await read_json(request), message_class)


def respond(message: Message, status: int = 200) -> Response:
    return Response(protojson.to_json(message), status_code=status, media_type=JSON)


def respond_json(value: Any, status: int = 200) -> Response:
    return Response(protojson.dumps(value), status_code=status, media_type=JSON)


class Documentation:
    """The schemas that routes reference; /openapi.json puts them under components."""

    def __init__(self) -> None:
        self.messages = SchemaSet()
        self.extra: dict[str, dict[str, Any]] = {}

    def schema(self, what: type[Message] | str) -> dict[str, Any]:
        if isinstance(what, str):
            return {"$ref": f"#/components/schemas/{what}"}
        return self.messages.reference(what.DESCRIPTOR)

    def documented(
        self,
        *,
        body: type[Message] | str | None = None,
        response: type[Message] | str | None = None,
        status: int = 200,
        description: str = "",
        body_description: str = "",
    ) -> dict[str, Any]:
        """``add_api_route`` keyword arguments that document a route's body and answer."""
        options: dict[str, Any] = {"status_code": status}
        if body is not None:
            options["openapi_extra"] = {
                "requestBody": {
                    "required": True,
                    "description": body_description or "JSON (protobuf JSON mapping)",
                    "content": {JSON: {"schema": self.schema(body)}},
                }
            }
        if response is not None:
            options["responses"] = {
                status: {"description": description or "OK", "content": {JSON: {"schema": self.schema(response)}}}
            }
        return options
