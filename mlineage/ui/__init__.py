"""The web UI at /ui: plain ES modules, HTML and CSS (no build step) over the REST API, served by mlineage.

Every file the pages load lives in ``static/`` of this package (the front-end libraries vendored from
npm, see ``static/vendor/VENDORED.md``), so the UI works without Internet access. The pages route on
the URL's fragment (``/ui#/node/artifact/12``), so the server has one page to serve and a link to any
view survives a reload. The routes here are left out of /openapi.json: they are no API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/ui"
# What the static route serves, by suffix, with the media type browsers need (ES modules must be
# JavaScript); anything else (a .py beside them, a path outside the folder) is 404.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".md": "text/markdown; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
}


def static_file(relative: str) -> Path | None:
    """The file under ``static/`` that ``relative`` names, or None (missing, outside, or not served)."""
    candidate = (STATIC / relative).resolve()
    if not candidate.is_relative_to(STATIC) or not candidate.is_file():
        return None
    return candidate if candidate.suffix in MEDIA_TYPES else None


# The files' bytes by path, kept while their modification time stays the same: a page load asks for a dozen
# small files at once, and answering them from memory on the event loop keeps first paint off the thread pool
# that file responses would queue on behind the API's requests (bench/ui_bench.py).
_loaded: dict[Path, tuple[int, bytes, str]] = {}


def _contents(path: Path) -> tuple[bytes, str]:
    """The file's bytes and an ETag for them (read again when the file changes)."""
    mtime = path.stat().st_mtime_ns
    cached = _loaded.get(path)
    if cached is None or cached[0] != mtime:
        data = path.read_bytes()
        cached = (mtime, data, f'"{mtime:x}-{len(data):x}"')
        _loaded[path] = cached
    return cached[1], cached[2]


def _serve(path: Path, if_none_match: str | None) -> Response:
    # Never cached without asking (no-cache), so a new mlineage's UI is what a reload shows; the ETag makes asking cheap.
    data, etag = _contents(path)
    headers = {"Cache-Control": "no-cache", "ETag": etag}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=MEDIA_TYPES[path.suffix], headers=headers)


def install(app: FastAPI) -> None:
    """Add /ui (the page), /ui/static/… (its files) and / (a redirect to /ui)."""

    async def page(request: Request) -> Response:
        return _serve(STATIC / "index.html", request.headers.get("if-none-match"))

    async def asset(request: Request, path: str) -> Response:
        found = static_file(path)
        if found is None:
            return Response(status_code=404)
        return _serve(found, request.headers.get("if-none-match"))

    async def root() -> Response:
        return RedirectResponse(PREFIX, status_code=307)

    app.add_api_route(PREFIX, page, methods=["GET"], include_in_schema=False)
    app.add_api_route(PREFIX + "/", page, methods=["GET"], include_in_schema=False)
    app.add_api_route(PREFIX + "/static/{path:path}", asset, methods=["GET"], include_in_schema=False)
    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)


__all__ = ["install", "static_file"]
