"""History over HTTP: the revisions of a node, deleting a node, who made each write, and ``?as_of=`` reads.

* ``GET /api/v1/{artifacts,executions,contexts}/{id}/history``: every revision,
  oldest first, with its time, who made it, what changed and the node as it was.
* ``GET …/{id}/history/diff?from=A&to=B``: what changed between two revisions.
* ``DELETE /api/v1/{artifacts,executions,contexts}/{id}``: 204; the node leaves
  every read and list and stays in history (as-of reads, lineage tombstones).
* :class:`CallerMiddleware`: every request runs inside ``history.calling_as``,
  so the store records its writes as REST's (OpenLineage's for ingested events)
  with the client's address.
* :data:`ReadStore`: the store a read route answers from, resolved once per
  request: the store itself, or ``store.as_of(as_of)`` when the query names a
  moment (400 INVALID_ARGUMENT for a malformed, future or too-early one).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlineage.api.rest import protojson
from mlineage.api.rest.io import Documentation, respond_json
from mlineage.api.rest.params import MAX_QUERY_TEXT, NodeId
from mlineage.auth import identity
from mlineage.metadata import history
from mlineage.metadata.as_of import AsOfStore
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.revisions import Change, Revision
from mlineage.metadata.store import Store

# Requests whose writes are OpenLineage's rather than REST's (method, path).
_OPENLINEAGE_WRITES = {("POST", "/api/v1/lineage")}

AsOfParam = Annotated[
    str | None,
    Query(
        max_length=MAX_QUERY_TEXT,
        description="answer as the store was at this moment: RFC 3339 with a zone (`2026-05-01T12:00:00Z`) "
        "or epoch milliseconds",
    ),
]


async def read_store(request: Request, as_of: AsOfParam = None) -> Store | AsOfStore:
    """The store a read answers from: ``store.as_of(as_of)`` when a moment is given, else the store."""
    store: Store = request.app.state.store
    if as_of is None:
        return store
    return await run_in_threadpool(store.as_of, as_of)


ReadStore = Annotated[Any, Depends(read_store)]


class CallerMiddleware:
    """Runs each HTTP request inside ``history.calling_as`` with the client's ``host:port`` as the peer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = None
        if client:
            host, port = client[0], client[1]
            peer = f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
        surface = "openlineage" if (scope.get("method"), scope.get("path")) in _OPENLINEAGE_WRITES else "rest"
        with history.calling_as(surface, actor=identity.current_actor(), peer=peer):
            await self.app(scope, receive, send)


def rfc3339(ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC text with milliseconds (``2026-05-01T12:00:00.123Z``)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def revision_json(revision: Revision) -> dict[str, Any]:
    """One revision as REST answers it (the node in the JSON mapping every route uses, or null)."""
    return {
        "revision": revision.revision,
        "operation": revision.operation,
        "time": rfc3339(revision.time_ms),
        "time_ms": revision.time_ms,
        "surface": revision.surface,
        "actor": revision.actor,
        "peer": revision.peer,
        "changed": list(revision.changed),
        "node": protojson.to_dict(revision.node) if revision.node is not None else None,
    }


SCHEMAS: dict[str, Any] = {
    "RevisionDiff": {
        "type": "object",
        "properties": {
            "from": {"type": "integer"},
            "to": {"type": "integer"},
            "changes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "description": "`uri`, `properties.span`, …"},
                        "before": {"description": "the value in `from` (null: unset)"},
                        "after": {"description": "the value in `to` (null: unset)"},
                    },
                    "required": ["path", "before", "after"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["from", "to", "changes"],
        "additionalProperties": False,
    },
    "NodeHistory": {
        "type": "object",
        "properties": {"revisions": {"type": "array", "items": {"$ref": "#/components/schemas/Revision"}}},
        "required": ["revisions"],
        "additionalProperties": False,
    },
    "Revision": {
        "type": "object",
        "properties": {
            "revision": {"type": "integer", "minimum": 1},
            "operation": {"type": "string", "enum": ["create", "update", "delete"]},
            "time": {"type": "string", "format": "date-time"},
            "time_ms": {"type": "integer"},
            "surface": {"type": "string", "enum": list(history.SURFACES)},
            "actor": {"type": ["string", "null"]},
            "peer": {"type": ["string", "null"], "description": "the client's host:port"},
            "changed": {
                "type": "array",
                "items": {"type": "string"},
                "description": "fields and properties that changed, e.g. `uri`, `custom_properties.note`",
            },
            "node": {"description": "the node as it was after this revision; null for a delete"},
        },
        "required": [
            "revision",
            "operation",
            "time",
            "time_ms",
            "surface",
            "actor",
            "peer",
            "changed",
            "node",
        ],
        "additionalProperties": False,
    },
}


def _json_value(node_kind: NodeKind, change: Change, value: Any) -> Any:
    """A changed value in the JSON mapping the node itself uses (a property as a Value, an enum by name)."""
    if value is None:
        return None
    field_name, _, key = change.path.partition(".")
    node = node_kind.message()
    if key:
        getattr(node, field_name)[key].CopyFrom(value)
        return protojson.to_dict(node)[field_name][key]
    setattr(node, field_name, value)
    return protojson.to_dict(node).get(field_name)


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")
    for kind in (ARTIFACT, EXECUTION, CONTEXT):
        _kind_routes(routes, store, docs, kind)
    return routes


def _kind_routes(routes: APIRouter, store: Store, docs: Documentation, kind: NodeKind) -> None:
    async def node_history(id: NodeId) -> Response:
        revisions = await run_in_threadpool(store.node_history, kind, id)
        return respond_json({"revisions": [revision_json(revision) for revision in revisions]})

    async def revision_diff(
        id: NodeId,
        first: Annotated[int, Query(alias="from", ge=1, description="the earlier revision")],
        second: Annotated[int, Query(alias="to", ge=1, description="the later revision")],
    ) -> Response:
        changes = await run_in_threadpool(store.diff_revisions, kind, id, first, second)
        return respond_json(
            {
                "from": first,
                "to": second,
                "changes": [
                    {
                        "path": c.path,
                        "before": _json_value(kind, c, c.before),
                        "after": _json_value(kind, c, c.after),
                    }
                    for c in changes
                ],
            }
        )

    revision_diff.__doc__ = (
        f"What changed in the {kind.name} between two of its revisions (`from`, `to`): each field or property "
        "that differs, with its value in each (null: unset). NOT_FOUND for a revision it does not have."
    )
    routes.add_api_route(
        f"/{kind.plural}/{{id}}/history/diff",
        revision_diff,
        methods=["GET"],
        tags=[kind.plural],
        summary=f"Compare two revisions of a {kind.name}",
        responses={
            200: {
                "description": "OK",
                "content": {"application/json": {"schema": docs.schema("RevisionDiff")}},
            }
        },
    )

    async def delete_node(id: NodeId) -> Response:
        await run_in_threadpool(store.delete_nodes, kind, [id])
        return Response(status_code=204)

    node_history.__doc__ = (
        f"Every revision of the {kind.name}, oldest first: when, who (surface, actor, peer), what changed, and "
        f"the {kind.name} as it was (null for its deletion). NOT_FOUND if no {kind.name} ever had this id."
    )
    delete_node.__doc__ = (
        f"Delete the {kind.name}: it leaves every read and list; its history stays (`?as_of=` reads before "
        f"the deletion see it whole, lineage keeps a tombstone). NOT_FOUND if there is no such {kind.name}."
    )
    routes.add_api_route(
        f"/{kind.plural}/{{id}}/history",
        node_history,
        methods=["GET"],
        tags=[kind.plural],
        summary=f"The revisions of a {kind.name}",
        responses={
            200: {
                "description": "OK",
                "content": {"application/json": {"schema": docs.schema("NodeHistory")}},
            }
        },
    )
    routes.add_api_route(
        f"/{kind.plural}/{{id}}",
        delete_node,
        methods=["DELETE"],
        tags=[kind.plural],
        summary=f"Delete a {kind.name}",
        status_code=204,
        response_class=Response,
        responses={204: {"description": "Deleted"}},
    )


__all__ = ["CallerMiddleware", "ReadStore", "read_store", "revision_json", "rfc3339", "router"]
