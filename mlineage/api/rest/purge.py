"""Purge over HTTP: ``POST /api/v1/purge`` selects old nodes by filter (keeping what live models came from), counts or deletes them.

The body names the kind, an MLMD filter query, and optionally an age
(``older_than``), an artifact filter whose upstream is kept (``keep_upstream_of``),
a history retention window (``history_older_than``) and ``dry_run`` (default
true: count and sample, change nothing). Durations are text (``90d``, ``12h``,
``30m``, ``45s``, ``500ms``) or whole milliseconds. The answer is
``{"count", "sample", "deleted", …}``; bad input is 400 INVALID_ARGUMENT.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlineage.api.rest.io import Documentation, read_json, respond_json
from mlineage.errors import InvalidArgumentError
from mlineage.metadata.store import Store
from mlineage.metadata.store_purge import MAX_DURATION_MS, PurgeResult, parse_duration

KINDS = ("artifacts", "executions", "contexts")
_DURATION_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "pattern": r"^\s*\d{1,15}\s*(ms|s|m|h|d)\s*$", "examples": ["90d", "12h", "500ms"]},
        {"type": "integer", "minimum": 0, "maximum": MAX_DURATION_MS, "description": "milliseconds"},
    ]
}

SCHEMAS: dict[str, Any] = {
    "PurgeRequest": {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": list(KINDS), "description": "the kind of node to purge"},
            "filter": {"type": "string", "description": "MLMD filter query (\"\" selects every node of the kind)"},
            "older_than": {**_DURATION_SCHEMA, "description": "only nodes created longer ago than this"},
            "keep_upstream_of": {
                "type": "string",
                "description": "artifact filter query: every node upstream of an artifact it matches stays",
            },
            "history_older_than": {
                **_DURATION_SCHEMA,
                "description": "also remove history rows of versions ended longer ago than this",
            },
            "dry_run": {"type": "boolean", "default": True, "description": "count and sample only"},
            "batch_size": {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 500},
            "sample_size": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 10},
        },
        "additionalProperties": False,
    },
    "PurgeResult": {
        "type": "object",
        "properties": {
            "kind": {"type": ["string", "null"]},
            "dry_run": {"type": "boolean"},
            "count": {"type": "integer", "description": "nodes selected (the same for a dry and a real run)"},
            "sample": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "type": {"type": "string"},
                        "name": {"type": ["string", "null"]},
                        "uri": {"type": ["string", "null"]},
                    },
                    "required": ["id", "type", "name", "uri"],
                    "additionalProperties": False,
                },
            },
            "deleted": {"type": "integer", "description": "nodes deleted (0 on a dry run)"},
            "history_rows": {"type": "integer", "description": "history rows older than the window"},
            "history_rows_removed": {"type": "integer", "description": "of those, removed (0 on a dry run)"},
        },
        "required": ["kind", "dry_run", "count", "sample", "deleted", "history_rows", "history_rows_removed"],
        "additionalProperties": False,
    },
}

_FIELDS = tuple(SCHEMAS["PurgeRequest"]["properties"])
_LIMITS = {"batch_size": (1, 100_000), "sample_size": (0, 1000)}


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidArgumentError(f"`{name}` must be a string")
    return value


def _duration(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidArgumentError(f"`{name}` must be a duration such as \"90d\", or whole milliseconds")
    try:
        return parse_duration(value)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"`{name}`: {exc.message}") from None


def _count(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    low, high = _LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgumentError(f"`{name}` must be a whole number from {low} to {high}")
    return value


def purge_request(body: Any) -> dict[str, Any]:
    """The store's ``purge`` arguments from a request body; INVALID_ARGUMENT for a body REST does not take."""
    if not isinstance(body, dict):
        raise InvalidArgumentError("the body must be a JSON object such as {\"kind\": \"artifacts\", \"filter\": \"…\"}")
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise InvalidArgumentError(f"unknown field `{unknown[0][:64]}`: the body takes {', '.join(_FIELDS)}")
    kind = _text(body, "kind")
    if kind is not None and kind not in KINDS:
        raise InvalidArgumentError(f"`kind` must be one of {', '.join(KINDS)}")
    filter_query = _text(body, "filter")
    if kind is not None and filter_query is None:
        raise InvalidArgumentError("`filter` is required with `kind` (\"\" selects every node of the kind)")
    if kind is None and body.get("history_older_than") is None:
        raise InvalidArgumentError("give `kind` and `filter` to purge nodes, or `history_older_than`")
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise InvalidArgumentError("`dry_run` must be true or false")
    return {
        "kind": kind,
        "filter_query": filter_query,
        "older_than_ms": _duration(body, "older_than"),
        "keep_upstream_of": _text(body, "keep_upstream_of"),
        "history_older_than_ms": _duration(body, "history_older_than"),
        "dry_run": dry_run,
        "batch_size": _count(body, "batch_size", 500),
        "sample_size": _count(body, "sample_size", 10),
    }


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")

    def run(arguments: dict[str, Any]) -> PurgeResult:
        kind = arguments.pop("kind")
        return store.purge(kind, **arguments)

    async def purge(request: Request) -> Response:
        arguments = purge_request(await read_json(request))
        result = await run_in_threadpool(run, arguments)
        return respond_json(result.to_json())

    purge.__doc__ = (
        "Select the nodes of `kind` that `filter` matches, created longer ago than `older_than`, except those "
        "upstream of an artifact `keep_upstream_of` matches; a dry run (the default) answers their count and a "
        "sample and changes nothing, otherwise they are deleted in batches (one transaction each; their history "
        "stays). `history_older_than` also removes history older than that window."
    )
    routes.add_api_route(
        "/purge", purge, methods=["POST"], tags=["history"], summary="Purge old nodes and history",
        **docs.documented(body="PurgeRequest", response="PurgeResult",
                          body_description="what to purge (JSON)"),
    )
    return routes


__all__ = ["SCHEMAS", "purge_request", "router"]
