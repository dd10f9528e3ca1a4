"""Hardening of the HTTP surface: a request size limit, security headers, CORS only when configured.

* Bodies over ``max_bytes`` are refused 413 (RESOURCE_EXHAUSTED) before a route reads
  them, by their ``Content-Length`` or, for chunked bodies, as they arrive. MLflow's
  artifact proxy (``/api/2.0/mlflow-artifacts/``) streams files and is exempt.
* Every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and
  ``Referrer-Policy: no-referrer``; the pages (``/docs``, the UI's ``/ui``, ``/``) a Content-Security-Policy
  that allows this server's own scripts and styles only (Swagger UI's page has one inline
  script, allowed there).
* CORS is off (no ``Access-Control-*`` header, so browsers refuse cross-origin reads)
  unless origins are configured (``mlineage serve --cors-origin``).
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
_EXEMPT = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")
_COMMON = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer")]
PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_PAGES = ("/docs", "/", "/ui", "/ui/")


class HardeningMiddleware:
    """ASGI middleware: the size limit and the security headers of every HTTP response."""

    def __init__(self, app: Any, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.app = app
        self._max = max_bytes

    async def _too_large(self, send: Any) -> None:
        body = json.dumps(
            {"code": "RESOURCE_EXHAUSTED", "message": f"the request body is larger than {self._max} bytes"}
        ).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *_COMMON]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limited = not path.startswith(_EXEMPT)
        if limited:
            for key, value in scope.get("headers", ()):
                if key == b"content-length" and value.isdigit() and int(value) > self._max:
                    await self._too_large(send)
                    return
        extra = list(_COMMON)
        if path in _PAGES:
            extra.append((b"content-security-policy", PAGE_CSP.encode()))
        started, replied = [False], [False]

        async def send_with_headers(message: Any) -> None:
            if replied[0]:  # the 413 went out; what the application answers after it is dropped
                return
            if message["type"] == "http.response.start":
                started[0] = True
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        received = [0]

        async def counted_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > self._max and not started[0]:
                    replied[0] = True
                    await self._too_large(send)
                    return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, counted_receive if limited else receive, send_with_headers)
        except Exception:
            if not replied[0]:
                raise
