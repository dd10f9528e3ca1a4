"""The HTTP application: /healthz, /readyz and Prometheus /metrics beside the gRPC service."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from mlineage import __version__
from mlineage.metadata.store import Store


def create_app(store: Store) -> FastAPI:
    app = FastAPI(title="mlineage", version=__version__, docs_url="/docs", openapi_url="/openapi.json")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz():
        """The database answers."""
        try:
            with store.reading() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        return {"status": "ok", "read_only": store.read_only}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["health"])
    def metrics() -> str:
        """Prometheus text format."""
        return f'mlineage_info{{version="{__version__}"}} 1\nmlineage_read_only {int(store.read_only)}\n'

    return app
