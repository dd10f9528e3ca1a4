"""/api/v1/{artifact,execution,context}_types: upsert, get by id, by name and version, list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from mlineage.api.rest.history import ReadStore
from mlineage.api.rest.io import Documentation, read_message, respond
from mlineage.api.rest.params import TypeId
from mlineage.errors import NotFoundError
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_service_pb2 as svc

_LIST_RESPONSES = {
    ARTIFACT: svc.GetArtifactTypesResponse,
    EXECUTION: svc.GetExecutionTypesResponse,
    CONTEXT: svc.GetContextTypesResponse,
}

NameParam = Annotated[str, Query(min_length=1, max_length=255, description="type name")]
VersionParam = Annotated[str | None, Query(max_length=255, description="type version (unset: none)")]
ExternalIdsParam = Annotated[
    list[str] | None, Query(max_length=100, description="only the types with these external ids")
]
FlagParam = Annotated[bool, Query()]


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")
    for kind, list_response in _LIST_RESPONSES.items():
        _add_kind(routes, store, docs, kind, list_response)

    async def put_types(request: Request):
        """Upsert types of all three kinds in one transaction (MLMD's PutTypes)."""
        body = await read_message(request, svc.PutTypesRequest)
        artifact_ids, execution_ids, context_ids = await run_in_threadpool(
            store.put_types,
            body.artifact_types,
            body.execution_types,
            body.context_types,
            can_add_fields=body.can_add_fields,
            can_omit_fields=body.can_omit_fields or body.can_delete_fields,
        )
        return respond(
            svc.PutTypesResponse(
                artifact_type_ids=artifact_ids, execution_type_ids=execution_ids, context_type_ids=context_ids
            )
        )

    routes.add_api_route(
        "/types:batchPut",
        put_types,
        methods=["POST"],
        tags=["types"],
        summary="Upsert types of all kinds",
        **docs.documented(body=svc.PutTypesRequest, response=svc.PutTypesResponse),
    )
    return routes


class _TypeMethods(NamedTuple):
    """The store methods of one kind's types."""

    put: Callable[..., int]
    by_name: Callable[[str, str | None], Any]
    by_ids: Callable[[Sequence[int]], list[Any]]
    every: Callable[[], list[Any]]
    by_external_ids: Callable[[Sequence[str]], list[Any]]


def _methods(store: Store, node_kind: NodeKind) -> _TypeMethods:
    if node_kind is ARTIFACT:
        return _TypeMethods(store.put_artifact_type, store.get_artifact_type, store.get_artifact_types_by_id,
                            store.get_artifact_types, store.get_artifact_types_by_external_ids)
    if node_kind is EXECUTION:
        return _TypeMethods(store.put_execution_type, store.get_execution_type, store.get_execution_types_by_id,
                            store.get_execution_types, store.get_execution_types_by_external_ids)
    return _TypeMethods(store.put_context_type, store.get_context_type, store.get_context_types_by_id,
                        store.get_context_types, store.get_context_types_by_external_ids)


def _reads(reader: Any, node_kind: NodeKind) -> tuple:
    """The type reads of one kind on ``reader`` (the store, or its view as of a moment)."""
    if node_kind is ARTIFACT:
        return (reader.get_artifact_type, reader.get_artifact_types_by_id, reader.get_artifact_types,
                reader.get_artifact_types_by_external_ids)  # fmt: skip
    if node_kind is EXECUTION:
        return (reader.get_execution_type, reader.get_execution_types_by_id, reader.get_execution_types,
                reader.get_execution_types_by_external_ids)  # fmt: skip
    return (reader.get_context_type, reader.get_context_types_by_id, reader.get_context_types,
            reader.get_context_types_by_external_ids)  # fmt: skip


def _add_kind(routes: APIRouter, store: Store, docs: Documentation, node_kind: NodeKind, list_response) -> None:
    message = node_kind.type_message
    path = f"/{node_kind.name}_types"
    tag = "types"
    methods = _methods(store, node_kind)
    put, get_by_ids = methods.put, methods.by_ids
    list_field = list_response.DESCRIPTOR.fields[0].name

    async def upsert(request: Request, can_add_fields: FlagParam = False, can_omit_fields: FlagParam = False):
        body = await read_message(request, message)
        type_id = await run_in_threadpool(put, body, can_add_fields=can_add_fields, can_omit_fields=can_omit_fields)
        [stored] = await run_in_threadpool(get_by_ids, [type_id])
        return respond(stored)

    upsert.__doc__ = (
        f"Create the {node_kind.name} type, or return the stored one with the same name and version. "
        "A change to it needs `can_add_fields` (new properties) or `can_omit_fields` (fewer); "
        "changing a property's value type is ALREADY_EXISTS."
    )
    routes.add_api_route(
        path, upsert, methods=["POST"], tags=[tag], summary=f"Upsert a {node_kind.name} type",
        **docs.documented(body=message, response=message),
    )

    async def by_name(reader: ReadStore, name: NameParam, version: VersionParam = None):
        return respond(await run_in_threadpool(_reads(reader, node_kind)[0], name, version or None))

    by_name.__doc__ = f"The {node_kind.name} type with this name and version; NOT_FOUND if none."
    routes.add_api_route(
        f"{path}/by-name", by_name, methods=["GET"], tags=[tag], summary=f"Get a {node_kind.name} type by name",
        **docs.documented(response=message),
    )

    async def by_id(reader: ReadStore, type_id: TypeId):
        found = await run_in_threadpool(_reads(reader, node_kind)[1], [type_id])
        if not found:
            raise NotFoundError(f"no {node_kind.name} type with id {type_id}")
        return respond(found[0])

    by_id.__doc__ = f"The {node_kind.name} type with this id."
    routes.add_api_route(
        f"{path}/{{type_id}}", by_id, methods=["GET"], tags=[tag], summary=f"Get a {node_kind.name} type",
        **docs.documented(response=message),
    )

    async def list_types(reader: ReadStore, external_id: ExternalIdsParam = None):
        _, _, _, by_external_ids = _reads(reader, node_kind)
        if external_id:
            try:
                found = await run_in_threadpool(by_external_ids, external_id)
            except NotFoundError:  # MLMD answers "none of them" so; a list answers empty
                found = []
        else:
            # mlineage's listing: whole types (MLMD's GetArtifactTypes leaves out external ids).
            found = await run_in_threadpool(reader.list_types, node_kind)
        return respond(list_response(**{list_field: found}))

    list_types.__doc__ = f"Every {node_kind.name} type, or those with the given external ids."
    routes.add_api_route(
        path, list_types, methods=["GET"], tags=[tag], summary=f"List {node_kind.name} types",
        **docs.documented(response=list_response),
    )

