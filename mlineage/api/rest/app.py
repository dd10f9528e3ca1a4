"""The HTTP application: /api/v1 (MLMD's model as JSON, OpenLineage in and out), health and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlineage import __version__
from mlineage import errors as codes
from mlineage.api import metrics
from mlineage.api import mlflow as mlflow_api
from mlineage.api.logging_requests import RequestIdMiddleware
from mlineage.api.rest import compare as comparing
from mlineage.api.rest import docs as docs_page
from mlineage.api.rest import edges, history, lineage, metric_series, nodes, openapi, openlineage, types
from mlineage.api.rest import purge as purging
from mlineage.api.rest.errors import error_response, install
from mlineage.api.rest.io import Documentation
from mlineage.auth.authenticator import Authenticator
from mlineage.auth.http_auth import AuthMiddleware
from mlineage.auth.http_hardening import DEFAULT_MAX_BYTES, HardeningMiddleware
from mlineage.metadata.store import Store
from mlineage.ui import install as install_ui

# uvicorn settings for serving the app: request lines up to 1 MiB, so that a long filter query (up to
# 16 KiB, percent-encoded) reaches the app and its error body instead of h11's plain-text 400.
HTTP_SERVER_OPTIONS: dict[str, Any] = {"h11_max_incomplete_event_size": 1024 * 1024}

_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "read_only": {"type": "boolean"}},
    "required": ["status"],
}


def create_app(
    store: Store,
    *,
    artifact_root: str | None = None,
    auth: Authenticator | None = None,
    cors_origins: Sequence[str] = (),
    max_request_bytes: int = DEFAULT_MAX_BYTES,
) -> FastAPI:
    """The whole HTTP surface; MLflow's artifact proxy keeps files under ``artifact_root``.

    ``auth`` identifies and authorizes every request (mlineage.auth.http_auth, app-wide, so
    MLflow's API too); CORS answers only ``cors_origins``; bodies over ``max_request_bytes`` get 413.
    """
    app = FastAPI(
        title="mlineage",
        version=__version__,
        docs_url=None,  # served by docs_page, from local files
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.store = store
    metrics.READ_ONLY.set(int(store.read_only))
    install(app)  # error handlers, and the catch-all middleware (inside the metrics one)
    app.add_middleware(history.CallerMiddleware)  # who makes each write: REST (or OpenLineage) and the peer
    if auth is not None:
        app.add_middleware(AuthMiddleware, authenticator=auth)  # outside the caller's: its identity is the actor
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["*"],
                           allow_headers=["authorization", "content-type", "x-mlineage-namespace"])
    app.add_middleware(HardeningMiddleware, max_bytes=max_request_bytes)
    app.add_middleware(metrics.HTTPMetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: every line a request logs carries its id
    docs = Documentation()
    _add_health(app, store)
    docs_page.install(app)
    for module in (types, nodes, history, purging, edges, metric_series, lineage, openlineage, comparing):
        app.include_router(module.router(store, docs))
    schemas: dict[str, Any] = {**openlineage.SCHEMAS, **lineage.LINEAGE_SCHEMAS, **metric_series.SCHEMAS,
                               **history.SCHEMAS, **purging.SCHEMAS, **comparing.SCHEMAS}
    openapi.install(app, docs, schemas)
    mlflow_api.install(app, store, artifact_root=artifact_root)
    install_ui(app)  # /ui, and / leads there
    return app


def _add_health(app: FastAPI, store: Store) -> None:
    status_response: dict[int | str, dict[str, Any]] = {200: {"description": "OK", "content": {"application/json": {"schema": _STATUS_SCHEMA}}}}

    @app.get("/healthz", tags=["health"], responses=status_response)
    async def healthz() -> dict:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses=status_response)
    async def readyz():
        """The database answers (503 UNAVAILABLE if it does not)."""
        try:
            await run_in_threadpool(store.check_database)
        except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
            return error_response(codes.UNAVAILABLE, f"the database does not answer: {type(exc).__name__}")
        return {"status": "ok", "read_only": store.read_only}

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def prometheus_metrics() -> Response:
        """Requests and latency per HTTP route and gRPC method, in the Prometheus text format."""
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)
