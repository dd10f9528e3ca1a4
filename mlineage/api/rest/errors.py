"""REST errors: every failure is ``{"code": NAME, "message": TEXT}`` with the HTTP status of its code.

The canonical codes are the store's (``mlineage.errors``); the statuses follow
the gRPC-HTTP mapping except FAILED_PRECONDITION, which is 412 here. Nothing
reaches the caller as a 500 with a stack trace: errors the store did not
classify are logged and answered INTERNAL with no detail.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlineage import errors as codes
from mlineage.api.rest.protojson import dumps
from mlineage.errors import MlineageError
from mlineage.metadata import db_errors

log = logging.getLogger("mlineage.rest")

CODE_NAMES = {
    value: name
    for name, value in vars(codes).items()
    if name.isupper() and isinstance(value, int) and not name.startswith("_")
}

HTTP_STATUS = {
    codes.OK: 200,
    codes.CANCELLED: 499,
    codes.UNKNOWN: 500,
    codes.INVALID_ARGUMENT: 400,
    codes.DEADLINE_EXCEEDED: 504,
    codes.NOT_FOUND: 404,
    codes.ALREADY_EXISTS: 409,
    codes.PERMISSION_DENIED: 403,
    codes.RESOURCE_EXHAUSTED: 429,
    codes.FAILED_PRECONDITION: 412,
    codes.ABORTED: 409,
    codes.OUT_OF_RANGE: 400,
    # A change the store does not support (e.g. removing a type's base_type): the request's, not the server's.
    codes.UNIMPLEMENTED: 400,
    codes.INTERNAL: 500,
    codes.UNAVAILABLE: 503,
    codes.DATA_LOSS: 500,
    codes.UNAUTHENTICATED: 401,
}

# For statuses that the framework raises itself (unknown route, wrong method, body too large).
_CODE_OF_STATUS = {404: codes.NOT_FOUND, 405: codes.UNIMPLEMENTED, 413: codes.RESOURCE_EXHAUSTED}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "enum": sorted(CODE_NAMES.values()), "description": "canonical status code"},
        "message": {"type": "string"},
    },
    "required": ["code", "message"],
    "additionalProperties": False,
}


def error_response(code: int, message: str, status: int | None = None, headers: dict | None = None) -> Response:
    body = {"code": CODE_NAMES.get(code, "UNKNOWN"), "message": message}
    return Response(
        dumps(body), status_code=status or HTTP_STATUS.get(code, 500), media_type="application/json", headers=headers
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(item) for item in error.get("loc", ()) if item not in ("body",))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts) if parts else "invalid request"


def install(app: FastAPI) -> None:
    """Register the handlers that give every failure the error body."""

    @app.exception_handler(MlineageError)
    async def _store_error(_request: Request, exc: MlineageError) -> Response:
        return error_response(exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        return error_response(codes.INVALID_ARGUMENT, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = _CODE_OF_STATUS.get(exc.status_code, codes.INVALID_ARGUMENT if exc.status_code < 500 else codes.INTERNAL)
        return error_response(code, str(exc.detail), status=exc.status_code, headers=getattr(exc, "headers", None))

    app.add_middleware(CatchAllMiddleware)


class CatchAllMiddleware:
    """Whatever no handler took becomes the error body here, and the connection stays usable.

    (Starlette's own last-resort handler answers too, but then re-raises, and the server closes the
    keep-alive connection under the client.)
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the caller gets an error body, never a stack trace
            if started:
                raise
            path = scope.get("path", "")
            response = database_error(scope.get("method", ""), path, exc)
            if response is None:
                log.exception("unexpected error in %s %s", scope.get("method"), path)
                response = error_response(codes.INTERNAL, "internal error; the server log has the details")
            await response(scope, receive, send)


_DRIVER_CODES = (
    ("IntegrityError", codes.ALREADY_EXISTS),
    ("DataError", codes.INVALID_ARGUMENT),
    ("ProgrammingError", codes.INVALID_ARGUMENT),
    ("OperationalError", codes.UNAVAILABLE),
    ("DBAPIError", codes.UNAVAILABLE),  # SQLAlchemy's wrapper of any other driver error
)
# The modules whose exceptions are a database's answer: the drivers' (PEP 249) and SQLAlchemy's wrappers.
_DATABASE_MODULES = ("sqlite3", "psycopg", "sqlalchemy")


def _driver_error_words(code: int) -> str:
    # The driver's own text names tables and constraints; the caller gets the rule, the log the text.
    if code == codes.ALREADY_EXISTS:
        return "the request conflicts with stored data: a value that must be unique is taken"
    if code == codes.INVALID_ARGUMENT:
        return "a value of the request cannot be stored or compared"
    return "the database cannot be reached; retry later"


def _driver_error_code(exc: Exception) -> int | None:
    """The code for a database error (sqlite3's, psycopg's or SQLAlchemy's), by its class (None for anything else)."""
    if not type(exc).__module__.startswith(_DATABASE_MODULES):
        return None
    names = {cls.__name__ for cls in type(exc).__mro__}
    for name, code in _DRIVER_CODES:
        if name in names:
            return code
    return None


def database_error(method: str, path: str, exc: Exception) -> Response | None:
    """The answer to a database error no store method mapped (None: ``exc`` is not one).

    The store maps the errors of its reads and writes; this is the boundary's last resort, so
    that one that got past is still the caller's mistake or a database state, never INTERNAL,
    and its words name no table or constraint (the log has the driver's text).
    """
    mapped = db_errors.write_error(exc)
    if mapped is not None:
        log.info("database error in %s %s: %s", method, path, getattr(exc, "orig", exc))
        return error_response(mapped.code, mapped.message)
    code = _driver_error_code(exc)
    if code is None:
        return None
    log.warning("unmapped database error in %s %s: %s", method, path, exc)
    return error_response(code, _driver_error_words(code))
