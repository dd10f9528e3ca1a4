"""/api/v1/{artifacts,executions,contexts}: create, replace, patch (update masks), get, list, batch put,
the composite writes (PutExecution, PutLineageSubgraph) and the neighbourhood reads.

Each route decodes its request, calls one function of ``mlineage.api.requests``
(where what a request means is decided: types named instead of given by id,
the masks a PATCH implies, one transaction per write, NOT_FOUND for a missing
node) and encodes the answer. The routes are written out per kind.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlineage.api import requests
from mlineage.api.rest.history import ReadStore
from mlineage.api.rest.io import Documentation, read_message, respond
from mlineage.api.rest.params import (
    DEFAULT_PAGE_SIZE,
    FilterParam,
    NodeId,
    OrderByParam,
    PageSizeParam,
    PageTokenParam,
    list_options,
    mask_paths,
)
from mlineage.errors import InvalidArgumentError
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc


class _Wire(NamedTuple):
    """The service messages a kind's endpoints speak (the kind itself is a ``NodeKind``)."""

    list_response: type[Any]
    put_request: type[Any]
    put_response: type[Any]


_WIRE = {
    ARTIFACT: _Wire(svc.GetArtifactsResponse, svc.PutArtifactsRequest, svc.PutArtifactsResponse),
    EXECUTION: _Wire(svc.GetExecutionsResponse, svc.PutExecutionsRequest, svc.PutExecutionsResponse),
    CONTEXT: _Wire(svc.GetContextsResponse, svc.PutContextsRequest, svc.PutContextsResponse),
}

TypeNameParam = Annotated[str | None, Query(max_length=255, description="only nodes of this type")]
TypeVersionParam = Annotated[str | None, Query(max_length=255, description="version of `type_name`")]
UpdateMaskParam = Annotated[
    list[str] | None,
    Query(
        max_length=1000,
        description="field paths to change (repeat or comma-separate), e.g. `uri,custom_properties.note`; "
        "a masked property absent from the body is deleted. Without a mask, PATCH changes the fields "
        "and property keys present in the body. A path that names no field is an error (400) here, "
        "where MLMD's gRPC API ignores it.",
    ),
]
OccParam = Annotated[
    bool,
    Query(description="optimistic concurrency: ABORTED (409) if the artifact changed since "
          "the body's `last_update_time_since_epoch`"),
]


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")
    _artifact_routes(routes, store, docs)
    _execution_routes(routes, store, docs)
    _context_routes(routes, store, docs)
    _composite_routes(routes, store, docs)
    return routes


# --- what every kind's routes share ---------------------------------------------------------------


def _new(kind: NodeKind, node: Any) -> Any:
    """The body of a create: INVALID_ARGUMENT if it carries an id."""
    if node.HasField("id"):
        raise InvalidArgumentError(
            f"a new {kind.name} has no id (the server assigns it); use PUT or PATCH /{kind.plural}/{{id}} to update"
        )
    return node


def _at(node_id: int, node: Any) -> Any:
    """The body of a replace or patch, given the path's id (INVALID_ARGUMENT if the body names another)."""
    if node.HasField("id") and node.id != node_id:
        raise InvalidArgumentError(f"the body's id {node.id} is not the id in the path, {node_id}")
    node.id = node_id
    return node


def _page(kind: NodeKind, found: tuple[list[Any], str]) -> Response:
    nodes, token = found
    return respond(_WIRE[kind].list_response(**{kind.plural: nodes, "next_page_token": token}))


def _add(routes: APIRouter, docs: Documentation, kind: NodeKind, path: str, endpoint, method: str, summary: str,
         **documented: Any) -> None:
    routes.add_api_route(
        f"/{kind.plural}{path}", endpoint, methods=[method], tags=[kind.plural], summary=summary,
        **docs.documented(**documented),
    )


def _add_crud(routes: APIRouter, docs: Documentation, kind: NodeKind, create, replace, patch, get, list_nodes,
              batch_put) -> None:
    """Register a kind's six node routes (the endpoints are the kind's own, written out above)."""
    wire = _WIRE[kind]
    message = kind.message
    create.__doc__ = (
        f"Create a {kind.name}. `type_id` (or `type`, the type's name) is required; `properties` must be "
        "declared by the type; `custom_properties` are free."
    )
    replace.__doc__ = (
        f"Replace the {kind.name}: it becomes the body (properties not in it are removed). "
        "Its type cannot change; its name cannot change once set."
    )
    patch.__doc__ = f"Change some fields of the {kind.name}, as MLMD's update masks do."
    get.__doc__ = f"The {kind.name} with this id."
    list_nodes.__doc__ = (
        f"One page of {kind.plural}, filtered with the MLMD filter language and ordered; follow "
        "`next_page_token` (with the same filter and order) for the next page."
    )
    batch_put.__doc__ = (
        f"Insert (no id) or update (id set) many {kind.plural} in one transaction (MLMD's "
        f"Put{kind.plural.capitalize()}); ids come back in the order of the request. An `update_mask` "
        "path that names no field is an error (400) here, where MLMD's gRPC API ignores it."
    )
    _add(routes, docs, kind, "", create, "POST", f"Create a {kind.name}", body=message, response=message,
         status=201, description="Created")
    _add(routes, docs, kind, "/{id}", replace, "PUT", f"Replace a {kind.name}", body=message, response=message)
    _add(routes, docs, kind, "/{id}", patch, "PATCH", f"Update a {kind.name}", body=message, response=message)
    _add(routes, docs, kind, "/{id}", get, "GET", f"Get a {kind.name}", response=message)
    _add(routes, docs, kind, "", list_nodes, "GET", f"List {kind.plural}", response=wire.list_response)
    _add(routes, docs, kind, ":batchPut", batch_put, "POST", f"Put many {kind.plural}", body=wire.put_request,
         response=wire.put_response)


def _add_contexts_and_events(routes: APIRouter, docs: Documentation, kind: NodeKind, contexts, events) -> None:
    contexts_response = svc.GetContextsByArtifactResponse if kind is ARTIFACT else svc.GetContextsByExecutionResponse
    events_response = svc.GetEventsByArtifactIDsResponse if kind is ARTIFACT else svc.GetEventsByExecutionIDsResponse
    contexts.__doc__ = f"The contexts the {kind.name} belongs to."
    events.__doc__ = f"The events (INPUT, OUTPUT, …) of the {kind.name}."
    _add(routes, docs, kind, "/{id}/contexts", contexts, "GET", f"List the contexts of an {kind.name}",
         response=contexts_response)
    _add(routes, docs, kind, "/{id}/events", events, "GET", f"List the events of an {kind.name}",
         response=events_response)


# --- artifacts ------------------------------------------------------------------------------------


def _artifact_routes(routes: APIRouter, store: Store, docs: Documentation) -> None:
    async def create_artifact(request: Request):
        node = _new(ARTIFACT, await read_message(request, pb.Artifact))
        return respond(await run_in_threadpool(requests.create_node, store, ARTIFACT, node), status=201)

    async def replace_artifact(request: Request, id: NodeId, abort_if_latest_updated_time_changed: OccParam = False):
        node = _at(id, await read_message(request, pb.Artifact))
        occ = abort_if_latest_updated_time_changed
        return respond(await run_in_threadpool(requests.update_node, store, ARTIFACT, node, None, occ))

    async def patch_artifact(
        request: Request,
        id: NodeId,
        abort_if_latest_updated_time_changed: OccParam = False,
        update_mask: UpdateMaskParam = None,
    ):
        node = await read_message(request, pb.Artifact)
        mask = requests.patch_mask(ARTIFACT, node, mask_paths(update_mask))
        occ = abort_if_latest_updated_time_changed
        return respond(await run_in_threadpool(requests.update_node, store, ARTIFACT, _at(id, node), mask, occ))

    async def get_artifact(reader: ReadStore, id: NodeId):
        return respond(await run_in_threadpool(requests.get_node, reader, ARTIFACT, id))

    async def list_artifacts(
        reader: ReadStore,
        filter: FilterParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        page_token: PageTokenParam = None,
        order_by: OrderByParam = "id",
        type_name: TypeNameParam = None,
        type_version: TypeVersionParam = None,
    ):
        options = list_options(filter, page_size, page_token, order_by)
        found = await run_in_threadpool(
            reader.list_nodes, ARTIFACT.name, options, type_name=type_name or None, type_version=type_version or None
        )
        return _page(ARTIFACT, found)

    async def put_artifacts(request: Request):
        body = await read_message(request, svc.PutArtifactsRequest)
        ids = await run_in_threadpool(
            requests.put_nodes, store, ARTIFACT, body.artifacts, body.update_mask.paths,
            body.options.abort_if_latest_updated_time_changed,
        )
        return respond(svc.PutArtifactsResponse(artifact_ids=ids))

    _add_crud(routes, docs, ARTIFACT, create_artifact, replace_artifact, patch_artifact, get_artifact,
              list_artifacts, put_artifacts)

    async def contexts_of_artifact(reader: ReadStore, id: NodeId):
        contexts = await run_in_threadpool(requests.contexts_of, reader, ARTIFACT, id)
        return respond(svc.GetContextsByArtifactResponse(contexts=contexts))

    async def events_of_artifact(reader: ReadStore, id: NodeId):
        events = await run_in_threadpool(requests.events_of, reader, ARTIFACT, [id])
        return respond(svc.GetEventsByArtifactIDsResponse(events=events))

    _add_contexts_and_events(routes, docs, ARTIFACT, contexts_of_artifact, events_of_artifact)


# --- executions -----------------------------------------------------------------------------------


def _execution_routes(routes: APIRouter, store: Store, docs: Documentation) -> None:
    async def create_execution(request: Request):
        node = _new(EXECUTION, await read_message(request, pb.Execution))
        return respond(await run_in_threadpool(requests.create_node, store, EXECUTION, node), status=201)

    async def replace_execution(request: Request, id: NodeId):
        node = _at(id, await read_message(request, pb.Execution))
        return respond(await run_in_threadpool(requests.update_node, store, EXECUTION, node))

    async def patch_execution(request: Request, id: NodeId, update_mask: UpdateMaskParam = None):
        node = await read_message(request, pb.Execution)
        mask = requests.patch_mask(EXECUTION, node, mask_paths(update_mask))
        return respond(await run_in_threadpool(requests.update_node, store, EXECUTION, _at(id, node), mask))

    async def get_execution(reader: ReadStore, id: NodeId):
        return respond(await run_in_threadpool(requests.get_node, reader, EXECUTION, id))

    async def list_executions(
        reader: ReadStore,
        filter: FilterParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        page_token: PageTokenParam = None,
        order_by: OrderByParam = "id",
        type_name: TypeNameParam = None,
        type_version: TypeVersionParam = None,
    ):
        options = list_options(filter, page_size, page_token, order_by)
        found = await run_in_threadpool(
            reader.list_nodes, EXECUTION.name, options, type_name=type_name or None, type_version=type_version or None
        )
        return _page(EXECUTION, found)

    async def put_executions(request: Request):
        body = await read_message(request, svc.PutExecutionsRequest)
        ids = await run_in_threadpool(requests.put_nodes, store, EXECUTION, body.executions, body.update_mask.paths)
        return respond(svc.PutExecutionsResponse(execution_ids=ids))

    _add_crud(routes, docs, EXECUTION, create_execution, replace_execution, patch_execution, get_execution,
              list_executions, put_executions)

    async def contexts_of_execution(reader: ReadStore, id: NodeId):
        contexts = await run_in_threadpool(requests.contexts_of, reader, EXECUTION, id)
        return respond(svc.GetContextsByExecutionResponse(contexts=contexts))

    async def events_of_execution(reader: ReadStore, id: NodeId):
        events = await run_in_threadpool(requests.events_of, reader, EXECUTION, [id])
        return respond(svc.GetEventsByExecutionIDsResponse(events=events))

    _add_contexts_and_events(routes, docs, EXECUTION, contexts_of_execution, events_of_execution)


# --- contexts -------------------------------------------------------------------------------------


def _context_routes(routes: APIRouter, store: Store, docs: Documentation) -> None:
    async def create_context(request: Request):
        node = _new(CONTEXT, await read_message(request, pb.Context))
        return respond(await run_in_threadpool(requests.create_node, store, CONTEXT, node), status=201)

    async def replace_context(request: Request, id: NodeId):
        node = _at(id, await read_message(request, pb.Context))
        return respond(await run_in_threadpool(requests.update_node, store, CONTEXT, node))

    async def patch_context(request: Request, id: NodeId, update_mask: UpdateMaskParam = None):
        node = await read_message(request, pb.Context)
        mask = requests.patch_mask(CONTEXT, node, mask_paths(update_mask))
        return respond(await run_in_threadpool(requests.update_node, store, CONTEXT, _at(id, node), mask))

    async def get_context(reader: ReadStore, id: NodeId):
        return respond(await run_in_threadpool(requests.get_node, reader, CONTEXT, id))

    async def list_contexts(
        reader: ReadStore,
        filter: FilterParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        page_token: PageTokenParam = None,
        order_by: OrderByParam = "id",
        type_name: TypeNameParam = None,
        type_version: TypeVersionParam = None,
    ):
        options = list_options(filter, page_size, page_token, order_by)
        found = await run_in_threadpool(
            reader.list_nodes, CONTEXT.name, options, type_name=type_name or None, type_version=type_version or None
        )
        return _page(CONTEXT, found)

    async def put_contexts(request: Request):
        body = await read_message(request, svc.PutContextsRequest)
        ids = await run_in_threadpool(requests.put_nodes, store, CONTEXT, body.contexts, body.update_mask.paths)
        return respond(svc.PutContextsResponse(context_ids=ids))

    _add_crud(routes, docs, CONTEXT, create_context, replace_context, patch_context, get_context, list_contexts,
              put_contexts)

    async def artifacts_of_context(
        reader: ReadStore,
        id: NodeId,
        filter: FilterParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        page_token: PageTokenParam = None,
        order_by: OrderByParam = "id",
    ):
        options = list_options(filter, page_size, page_token, order_by)
        artifacts, token = await run_in_threadpool(requests.members_of, reader, ARTIFACT, id, options)
        return respond(svc.GetArtifactsByContextResponse(artifacts=artifacts, next_page_token=token))

    async def executions_of_context(
        reader: ReadStore,
        id: NodeId,
        filter: FilterParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        page_token: PageTokenParam = None,
        order_by: OrderByParam = "id",
    ):
        options = list_options(filter, page_size, page_token, order_by)
        executions, token = await run_in_threadpool(requests.members_of, reader, EXECUTION, id, options)
        return respond(svc.GetExecutionsByContextResponse(executions=executions, next_page_token=token))

    async def parents_of_context(reader: ReadStore, id: NodeId):
        parents = await run_in_threadpool(requests.parent_contexts, reader, id)
        return respond(svc.GetParentContextsByContextResponse(contexts=parents))

    async def children_of_context(reader: ReadStore, id: NodeId):
        children = await run_in_threadpool(requests.children_contexts, reader, id)
        return respond(svc.GetChildrenContextsByContextResponse(contexts=children))

    artifacts_of_context.__doc__ = "The artifacts in the context (attributed), one page at a time."
    executions_of_context.__doc__ = "The executions in the context (associated), one page at a time."
    parents_of_context.__doc__ = "The parents of the context (one hop)."
    children_of_context.__doc__ = "The children of the context (one hop)."
    _add(routes, docs, CONTEXT, "/{id}/artifacts", artifacts_of_context, "GET", "List the artifacts of a context",
         response=svc.GetArtifactsByContextResponse)
    _add(routes, docs, CONTEXT, "/{id}/executions", executions_of_context, "GET",
         "List the executions of a context", response=svc.GetExecutionsByContextResponse)
    _add(routes, docs, CONTEXT, "/{id}/parents", parents_of_context, "GET", "List the parents of a context",
         response=svc.GetParentContextsByContextResponse)
    _add(routes, docs, CONTEXT, "/{id}/children", children_of_context, "GET", "List the children of a context",
         response=svc.GetChildrenContextsByContextResponse)


# --- composite writes -----------------------------------------------------------------------------


def _composite_routes(routes: APIRouter, store: Store, docs: Documentation) -> None:
    async def put_execution(request: Request):
        body = await read_message(request, svc.PutExecutionRequest)
        return respond(await run_in_threadpool(requests.put_execution_naming_types, store, body))

    put_execution.__doc__ = (
        "Record one execution with its artifacts, events and contexts in one transaction (MLMD's PutExecution): "
        "the call a pipeline step makes when it finishes. Each node may name its type (`type`) instead of "
        "giving its `type_id`, as on every endpoint that writes nodes."
    )
    routes.add_api_route(
        "/executions:put", put_execution, methods=["POST"], tags=["executions"],
        summary="Record an execution with its inputs, outputs and contexts",
        **docs.documented(body=svc.PutExecutionRequest, response=svc.PutExecutionResponse),
    )

    async def put_lineage_subgraph(request: Request):
        body = await read_message(request, svc.PutLineageSubgraphRequest)
        return respond(await run_in_threadpool(requests.put_lineage_subgraph_naming_types, store, body))

    put_lineage_subgraph.__doc__ = (
        "Record executions, artifacts, contexts and the events between them in one transaction "
        "(MLMD's PutLineageSubgraph). Each node may name its type (`type`) instead of giving its `type_id`."
    )
    routes.add_api_route(
        "/lineage_subgraph:put", put_lineage_subgraph, methods=["POST"], tags=["lineage"],
        summary="Record a lineage subgraph",
        **docs.documented(body=svc.PutLineageSubgraphRequest, response=svc.PutLineageSubgraphResponse),
    )


__all__ = ["router"]
