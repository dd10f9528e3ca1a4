"""/api/v1/{artifacts,executions,contexts}: create, replace, patch (update masks), get, list, batch put,
the composite writes (PutExecution, PutLineageSubgraph) and the neighbourhood reads."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Query, Request
from google.protobuf.descriptor import FieldDescriptor
from starlette.concurrency import run_in_threadpool

from mlineage.api import requests
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
from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.nodes import check_mask_strictly
from mlineage.metadata.store import Store
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

# Set by the server, never written by a request: not part of a mask derived from a PATCH body.
_OUTPUT_ONLY = {"id", "type_id", "type", "create_time_since_epoch", "last_update_time_since_epoch"}

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


def _occ(abort_if_latest_updated_time_changed: OccParam = False) -> bool:
    return abort_if_latest_updated_time_changed


def _no_occ() -> bool:
    # Optimistic concurrency is an option of PutArtifacts only, as in MLMD.
    return False


def derived_mask(message) -> list[str]:
    """The update mask a PATCH body implies: its set fields, and each property key it names."""
    paths: list[str] = []
    for field, value in message.ListFields():
        if field.name in _OUTPUT_ONLY:
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            paths.extend(f"{field.name}.{key}" for key in value)
        else:
            paths.append(field.name)
    return paths


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")
    for kind in (ARTIFACT, EXECUTION, CONTEXT):
        _add_kind(routes, store, docs, kind)
    _add_neighbourhood(routes, store, docs)
    _add_composite(routes, store, docs)
    return routes


def _add_kind(routes: APIRouter, store: Store, docs: Documentation, kind: NodeKind) -> None:
    tag = kind.plural
    base = f"/{kind.plural}"
    wire = _WIRE[kind]
    put_nodes = getattr(store, f"put_{kind.plural}")
    by_ids = getattr(store, f"get_{kind.plural}_by_id")
    is_artifact = kind is ARTIFACT

    def read_back(node_id: int):
        found = by_ids([node_id])
        if not found:
            raise NotFoundError(f"no {kind.name} with id {node_id}")
        return found[0]

    def resolve_type(node) -> None:
        # A body may name its type instead of giving its id ("type" is output-only in MLMD).
        requests.resolve_type_names(store, node)

    def put(nodes, mask=None, occ: bool = False):
        if mask:
            check_mask_strictly(kind, mask)  # REST is strict; the store ignores such paths, as MLMD
        if is_artifact:
            return put_nodes(nodes, mask, abort_if_latest_updated_time_changed=occ)
        return put_nodes(nodes, mask)

    def create_sync(node):
        if node.HasField("id"):
            raise InvalidArgumentError(
                f"a new {kind.name} has no id (the server assigns it); use PUT or PATCH {base}/{{id}} to update"
            )
        resolve_type(node)
        [node_id] = put([node])
        return read_back(node_id)

    async def create(request: Request):
        node = await read_message(request, kind.message)
        return respond(await run_in_threadpool(create_sync, node), status=201)

    create.__doc__ = (
        f"Create a {kind.name}. `type_id` (or `type`, the type's name) is required; `properties` must be "
        "declared by the type; `custom_properties` are free."
    )
    routes.add_api_route(
        base, create, methods=["POST"], tags=[tag], summary=f"Create a {kind.name}",
        **docs.documented(body=kind.message, response=kind.message, status=201, description="Created"),
    )

    def update_sync(node_id: int, node, mask: list[str] | None, occ: bool):
        if node.HasField("id") and node.id != node_id:
            raise InvalidArgumentError(f"the body's id {node.id} is not the id in the path, {node_id}")
        node.id = node_id
        read_back(node_id)  # NOT_FOUND rather than MLMD's INVALID_ARGUMENT for an unknown id
        resolve_type(node)
        put([node], mask, occ)
        return read_back(node_id)

    occ_option = _occ if is_artifact else _no_occ

    async def replace(request: Request, id: NodeId, occ: bool = Depends(occ_option)):
        node = await read_message(request, kind.message)
        return respond(await run_in_threadpool(update_sync, id, node, None, occ))

    replace.__doc__ = (
        f"Replace the {kind.name}: it becomes the body (properties not in it are removed). "
        "Its type cannot change; its name cannot change once set."
    )

    async def patch(
        request: Request,
        id: NodeId,
        occ: bool = Depends(occ_option),
        update_mask: UpdateMaskParam = None,
    ):
        node = await read_message(request, kind.message)
        mask = mask_paths(update_mask) or derived_mask(node)
        if not mask:
            raise InvalidArgumentError("nothing to update: the body sets no field and no update_mask is given")
        return respond(await run_in_threadpool(update_sync, id, node, mask, occ))

    patch.__doc__ = f"Change some fields of the {kind.name}, as MLMD's update masks do."

    routes.add_api_route(
        f"{base}/{{id}}", replace, methods=["PUT"], tags=[tag], summary=f"Replace a {kind.name}",
        **docs.documented(body=kind.message, response=kind.message),
    )
    routes.add_api_route(
        f"{base}/{{id}}", patch, methods=["PATCH"], tags=[tag], summary=f"Update a {kind.name}",
        **docs.documented(body=kind.message, response=kind.message),
    )

    async def get_one(id: NodeId):
        return respond(await run_in_threadpool(read_back, id))

    get_one.__doc__ = f"The {kind.name} with this id."
    routes.add_api_route(
        f"{base}/{{id}}", get_one, methods=["GET"], tags=[tag], summary=f"Get a {kind.name}",
        **docs.documented(response=kind.message),
    )

    async def list_nodes(
        filter: FilterParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        page_token: PageTokenParam = None,
        order_by: OrderByParam = "id",
        type_name: TypeNameParam = None,
        type_version: TypeVersionParam = None,
    ):
        options = list_options(filter, page_size, page_token, order_by)
        nodes, token = await run_in_threadpool(
            store.list_nodes, kind.name, options, type_name=type_name or None, type_version=type_version or None
        )
        return respond(wire.list_response(**{kind.plural: nodes, "next_page_token": token}))

    list_nodes.__doc__ = (
        f"One page of {kind.plural}, filtered with the MLMD filter language and ordered; follow "
        "`next_page_token` (with the same filter and order) for the next page."
    )
    routes.add_api_route(
        base, list_nodes, methods=["GET"], tags=[tag], summary=f"List {kind.plural}",
        **docs.documented(response=wire.list_response),
    )

    async def batch_put(request: Request):
        body = await read_message(request, wire.put_request)
        mask = list(body.update_mask.paths)
        await run_in_threadpool(requests.resolve_type_names, store, body)
        if is_artifact:
            ids = await run_in_threadpool(put, body.artifacts, mask, body.options.abort_if_latest_updated_time_changed)
        else:
            ids = await run_in_threadpool(put, getattr(body, kind.plural), mask)
        return respond(wire.put_response(**{f"{kind.name}_ids": ids}))

    batch_put.__doc__ = (
        f"Insert (no id) or update (id set) many {kind.plural} in one transaction (MLMD's "
        f"Put{kind.plural.capitalize()}); ids come back in the order of the request. An `update_mask` "
        "path that names no field is an error (400) here, where MLMD's gRPC API ignores it."
    )
    routes.add_api_route(
        f"{base}:batchPut", batch_put, methods=["POST"], tags=[tag], summary=f"Put many {kind.plural}",
        **docs.documented(body=wire.put_request, response=wire.put_response),
    )


def _require(store: Store, kind: NodeKind, node_id: int) -> None:
    if not getattr(store, f"get_{kind.plural}_by_id")([node_id]):
        raise NotFoundError(f"no {kind.name} with id {node_id}")


def _neighbours(store: Store, kind: NodeKind, node_id: int, read) -> list:
    """``read()`` for a node that exists: NOT_FOUND is for a missing node, none is an empty list."""
    _require(store, kind, node_id)
    try:
        return read()
    except NotFoundError:  # MLMD's answer when the node has no such neighbours
        return []


def _add_neighbourhood(routes: APIRouter, store: Store, docs: Documentation) -> None:
    for member in (ARTIFACT, EXECUTION):
        response = getattr(svc, f"Get{member.plural.capitalize()}ByContextResponse")
        _add_members(routes, store, docs, member, response)
        _add_contexts_of(routes, store, docs, member)
        _add_events_of(routes, store, docs, member)
    for relation, response in (
        ("parents", svc.GetParentContextsByContextResponse),
        ("children", svc.GetChildrenContextsByContextResponse),
    ):
        _add_hierarchy(routes, store, docs, relation, response)


def _add_members(routes: APIRouter, store: Store, docs: Documentation, member: NodeKind, response) -> None:
    def members(context_id: int, options):
        _require(store, CONTEXT, context_id)
        return store.list_nodes(member.name, options, context_id=context_id)

    async def list_members(
        id: NodeId,
        filter: FilterParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        page_token: PageTokenParam = None,
        order_by: OrderByParam = "id",
    ):
        options = list_options(filter, page_size, page_token, order_by)
        nodes, token = await run_in_threadpool(members, id, options)
        return respond(response(**{member.plural: nodes, "next_page_token": token}))

    list_members.__doc__ = f"The {member.plural} in the context (attributed or associated), one page at a time."
    routes.add_api_route(
        f"/contexts/{{id}}/{member.plural}", list_members, methods=["GET"], tags=["contexts"],
        summary=f"List the {member.plural} of a context", **docs.documented(response=response),
    )


def _add_contexts_of(routes: APIRouter, store: Store, docs: Documentation, member: NodeKind) -> None:
    response = getattr(svc, f"GetContextsBy{member.name.capitalize()}Response")
    read = getattr(store, f"get_contexts_by_{member.name}")

    def contexts_of(node_id: int):
        return _neighbours(store, member, node_id, lambda: read(node_id))

    async def list_contexts(id: NodeId):
        return respond(response(contexts=await run_in_threadpool(contexts_of, id)))

    list_contexts.__doc__ = f"The contexts the {member.name} belongs to."
    routes.add_api_route(
        f"/{member.plural}/{{id}}/contexts", list_contexts, methods=["GET"], tags=[member.plural],
        summary=f"List the contexts of an {member.name}", **docs.documented(response=response),
    )


def _add_events_of(routes: APIRouter, store: Store, docs: Documentation, member: NodeKind) -> None:
    response = getattr(svc, f"GetEventsBy{member.name.capitalize()}IDsResponse")
    read = getattr(store, f"get_events_by_{member.name}_ids")

    def events_of(node_id: int):
        return _neighbours(store, member, node_id, lambda: read([node_id]))

    async def list_events(id: NodeId):
        return respond(response(events=await run_in_threadpool(events_of, id)))

    list_events.__doc__ = f"The events (INPUT, OUTPUT, …) of the {member.name}."
    routes.add_api_route(
        f"/{member.plural}/{{id}}/events", list_events, methods=["GET"], tags=[member.plural],
        summary=f"List the events of an {member.name}", **docs.documented(response=response),
    )


def _add_hierarchy(routes: APIRouter, store: Store, docs: Documentation, relation: str, response) -> None:
    read = store.get_parent_contexts_by_context if relation == "parents" else store.get_children_contexts_by_context

    def related(context_id: int):
        return _neighbours(store, CONTEXT, context_id, lambda: read(context_id))

    async def list_related(id: NodeId):
        return respond(response(contexts=await run_in_threadpool(related, id)))

    list_related.__doc__ = f"The {relation} of the context (one hop)."
    routes.add_api_route(
        f"/contexts/{{id}}/{relation}", list_related, methods=["GET"], tags=["contexts"],
        summary=f"List the {relation} of a context", **docs.documented(response=response),
    )


def _add_composite(routes: APIRouter, store: Store, docs: Documentation) -> None:
    async def put_execution(request: Request):
        body = await read_message(request, svc.PutExecutionRequest)
        await run_in_threadpool(requests.resolve_type_names, store, body)
        return respond(await run_in_threadpool(requests.put_execution, store, body))

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
        await run_in_threadpool(requests.resolve_type_names, store, body)
        return respond(await run_in_threadpool(requests.put_lineage_subgraph, store, body))

    put_lineage_subgraph.__doc__ = (
        "Record executions, artifacts, contexts and the events between them in one transaction "
        "(MLMD's PutLineageSubgraph). Each node may name its type (`type`) instead of giving its `type_id`."
    )
    routes.add_api_route(
        "/lineage_subgraph:put", put_lineage_subgraph, methods=["POST"], tags=["lineage"],
        summary="Record a lineage subgraph",
        **docs.documented(body=svc.PutLineageSubgraphRequest, response=svc.PutLineageSubgraphResponse),
    )


__all__ = ["router", "derived_mask"]
