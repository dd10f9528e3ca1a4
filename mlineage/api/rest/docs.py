"""/docs: Swagger UI served from mlineage itself (the swagger-ui-bundle package), so it works offline.

FastAPI's own /docs loads Swagger UI's script, style and favicon from a CDN,
which a server without Internet access (or a browser behind a firewall) shows
as a blank page. Here the page names only paths of this server.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, Response

ASSETS_PATH = "/docs/assets"
# The files the page uses; nothing else of the bundle is served.
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def assets_directory() -> Path | None:
    """Where the installed Swagger UI files are (None if the package is missing)."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return Path(str(swagger_ui_path))


def install(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Add /docs and its assets under /docs/assets (/ leads to the web UI, mlineage.ui)."""

    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            # No badge image from Swagger's online validator.
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def asset(name: str) -> Response:
        directory = assets_directory()
        if name not in ASSETS or directory is None or not (directory / name).is_file():
            return Response(status_code=404)
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(directory / name, media_type=media_type,
                            headers={"Cache-Control": "public, max-age=86400"})

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.add_api_route(ASSETS_PATH + "/{name}", asset, methods=["GET"], include_in_schema=False)
