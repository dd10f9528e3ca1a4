"""The HTTP adapter: one ASGI middleware around the whole application (REST, OpenLineage, MLflow's API, /docs).

Before any route runs it looks up what the route needs (:class:`~mlineage.auth.policy.RouteRoles`),
resolves the caller from ``Authorization: Bearer TOKEN`` (and ``X-Mlineage-Namespace``
for admins), checks the role and the rate limit, and runs the request as that identity.
Refusals answer in the surface's own error shape: ``{"code", "message"}`` for mlineage's
routes, ``{"error_code", "message"}`` under MLflow's prefixes; 401 carries
``WWW-Authenticate``, 429 ``Retry-After``.
"""

from __future__ import annotations

import json
from typing import Any

from mlineage import errors as codes
from mlineage.auth.authenticator import REALM, Authenticator, Refused
from mlineage.auth.identity import acting_as
from mlineage.auth.policy import REST_PREFIXES, RouteRoles
from mlineage.metadata import namespace_scope

NAMESPACE_HEADER = b"x-mlineage-namespace"
_STATUS = {codes.UNAUTHENTICATED: 401, codes.PERMISSION_DENIED: 403, codes.RESOURCE_EXHAUSTED: 429,
           codes.INVALID_ARGUMENT: 400}  # fmt: skip
_NAMES = {codes.UNAUTHENTICATED: "UNAUTHENTICATED", codes.PERMISSION_DENIED: "PERMISSION_DENIED",
          codes.RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED", codes.INVALID_ARGUMENT: "INVALID_ARGUMENT"}  # fmt: skip
_MLFLOW = tuple(prefix for prefix, _roles in REST_PREFIXES)


def _peer(scope: Any) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


async def _refuse(send: Any, path: str, refused: Refused) -> None:
    name = _NAMES.get(refused.code, "UNKNOWN")
    key = "error_code" if path.startswith(_MLFLOW) else "code"
    body = json.dumps({key: name, "message": refused.message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if refused.code == codes.UNAUTHENTICATED:
        headers.append((b"www-authenticate", REALM.encode()))
    if refused.retry_after is not None:
        headers.append((b"retry-after", str(refused.retry_after).encode()))
    await send({"type": "http.response.start", "status": _STATUS.get(refused.code, 400), "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """ASGI middleware: every HTTP request is identified and authorized before the application sees it."""

    def __init__(self, app: Any, authenticator: Authenticator) -> None:
        self.app = app
        self._auth = authenticator
        self._roles = RouteRoles()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        needed = self._roles.needed(scope.get("method", "GET"), path)
        if needed is None:
            await self.app(scope, receive, send)
            return
        authorization = namespace = None
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == NAMESPACE_HEADER:
                namespace = value.decode("latin-1").strip()
        try:
            identity = self._auth.identify(
                surface="rest", authorization=authorization, namespace=namespace, peer=_peer(scope)
            )
            self._auth.authorize(identity, needed, surface="rest")
        except Refused as refused:
            await _refuse(send, path, refused)
            return
        with acting_as(identity), namespace_scope.scoped(identity.namespace):
            await self.app(scope, receive, send)
