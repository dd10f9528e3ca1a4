"""MLMD's MetadataStoreService over gRPC: decode each request, call the Store, encode, map errors.

The same handlers are served under MLMD's method paths
(``/ml_metadata.MetadataStoreService/<Rpc>``), so the unmodified
``ml-metadata`` client and TFX talk to mlineage, and under our own package's
paths (``/mlineage.v1.MetadataStoreService/<Rpc>``) for mlineage's client.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import grpc
from google.protobuf.message import DecodeError

from mlineage.api import requests
from mlineage.api.grpc import inline
from mlineage.api.grpc.by_id_cache import ByIdCache, repeated_field
from mlineage.api.metrics import timed_unary
from mlineage.auth import identity
from mlineage.errors import InternalError, MlineageError
from mlineage.metadata import history
from mlineage.metadata.limits import MAX_GRPC_LIST_ANSWER_BYTES, MAX_STRUCT_OBJECT_DEPTH
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

log = logging.getLogger("mlineage.grpc")

MLMD_SERVICE = "ml_metadata.MetadataStoreService"
OUR_SERVICE = "mlineage.v1.MetadataStoreService"

_CODES = {code.value[0]: code for code in grpc.StatusCode}
#: LineageGraph's type fields and their field numbers.
_GRAPH_TYPE_FIELDS = {
    name: pb.LineageGraph.DESCRIPTOR.fields_by_name[name].number
    for name in ("artifact_types", "execution_types", "context_types")
}
# List answers stay under ml-metadata's default 4 MiB receive limit; the rest follows a next_page_token.
_LIST_BYTES = MAX_GRPC_LIST_ANSWER_BYTES


def _by_type_bytes(request) -> int | None:
    # ml-metadata's get_*_by_type sends no options and never follows a token: without options the
    # answer stays whole (as MLMD's), only a paged request is cut by size.
    return _LIST_BYTES if request.HasField("options") else None


def _options(request, field: str = "options"):
    return getattr(request, field) if request.HasField(field) else None


def _version(request) -> str | None:
    return request.type_version if request.HasField("type_version") and request.type_version else None


def rpc(method: Callable) -> Callable:
    """Turn store errors into gRPC statuses; anything unexpected becomes INTERNAL without a traceback."""

    @functools.wraps(method)
    def handler(self, request, context: grpc.ServicerContext):
        if type(request) is Undecodable:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
        try:
            return method(self, request)
        except MlineageError as exc:
            context.abort(_CODES.get(exc.code, grpc.StatusCode.UNKNOWN), exc.message)
        except Exception:  # noqa: BLE001 - the caller must never see a stack trace
            log.exception("unexpected error in %s", method.__name__)
            error = InternalError("internal error; the server log has the details")
            context.abort(grpc.StatusCode.INTERNAL, error.message)

    return handler


def _peer(context: grpc.ServicerContext) -> str | None:
    """The caller's address without gRPC's scheme ("ipv4:10.0.0.7:5000" -> "10.0.0.7:5000")."""
    peer = context.peer()
    if not peer:
        return None
    scheme, _, address = peer.partition(":")
    return address if scheme in ("ipv4", "ipv6") and address else peer


def write_rpc(method: Callable) -> Callable:
    """``rpc`` for a handler that writes: the store records its changes as gRPC's, with the caller's address."""
    handler = rpc(method)

    @functools.wraps(method)
    def attributed(self, request, context: grpc.ServicerContext):
        with history.calling_as("grpc", actor=identity.current_actor(), peer=_peer(context)):
            return handler(self, request, context)

    attributed.records_as_grpc = True  # type: ignore[attr-defined]  # checked by the tests: every Put* has it
    return attributed


class MetadataStoreServicer:
    """The 52 RPCs of MLMD's MetadataStoreService on one Store."""

    def __init__(self, store: Store, lineage=None, *, cache: bool | None = None) -> None:
        self.store = store
        self._lineage = lineage
        # Gets by id answer from serialized messages while the database is unchanged (SQLite's
        # data_version, PostgreSQL's snapshot); MLINEAGE_GRPC_BY_ID_CACHE=0 turns that off.
        if cache is None:
            cache = inline.enabled_by_environment(name="MLINEAGE_GRPC_BY_ID_CACHE")
        self._cache = ByIdCache.for_store(store) if cache else None

    def _cached_types(self, what: str, type_ids, read, field_number: int = 1, version=None) -> bytes | None:
        # MLMD answers types in the order asked, missing ids skipped, repeats repeated.
        if self._cache is None:
            return None
        found = self._cache.get(what, sorted(set(type_ids)), lambda ids: _serialized(read(ids)), version)
        if field_number == 1:
            return b"".join([found[i][0] for i in type_ids if i in found])
        # Each entry is framed as field 1: as another field only its one-byte tag differs.
        tag = bytes([field_number << 3 | 2])
        return b"".join([tag + found[i][0][1:] for i in type_ids if i in found])

    def _cached_nodes(self, what: str, ids: list[int], read, version=None) -> dict[int, tuple[bytes, int]]:
        assert self._cache is not None  # callers check that the cache is on
        return self._cache.get(what, sorted(set(ids)), lambda missing: _serialized(read(missing)), version)

    # --- types ----------------------------------------------------------------------------------

    @write_rpc
    def PutArtifactType(self, request):
        type_id = self.store.put_artifact_type(
            request.artifact_type,
            can_add_fields=request.can_add_fields,
            can_omit_fields=request.can_omit_fields or request.can_delete_fields,
        )
        return svc.PutArtifactTypeResponse(type_id=type_id)

    @write_rpc
    def PutExecutionType(self, request):
        type_id = self.store.put_execution_type(
            request.execution_type,
            can_add_fields=request.can_add_fields,
            can_omit_fields=request.can_omit_fields or request.can_delete_fields,
        )
        return svc.PutExecutionTypeResponse(type_id=type_id)

    @write_rpc
    def PutContextType(self, request):
        type_id = self.store.put_context_type(
            request.context_type,
            can_add_fields=request.can_add_fields,
            can_omit_fields=request.can_omit_fields or request.can_delete_fields,
        )
        return svc.PutContextTypeResponse(type_id=type_id)

    @write_rpc
    def PutTypes(self, request):
        artifact_ids, execution_ids, context_ids = self.store.put_types(
            request.artifact_types,
            request.execution_types,
            request.context_types,
            can_add_fields=request.can_add_fields,
            can_omit_fields=request.can_omit_fields or request.can_delete_fields,
        )
        return svc.PutTypesResponse(
            artifact_type_ids=artifact_ids, execution_type_ids=execution_ids, context_type_ids=context_ids
        )

    @rpc
    def GetArtifactType(self, request):
        return svc.GetArtifactTypeResponse(
            artifact_type=self.store.get_artifact_type(request.type_name, _version(request))
        )

    @rpc
    def GetExecutionType(self, request):
        return svc.GetExecutionTypeResponse(
            execution_type=self.store.get_execution_type(request.type_name, _version(request))
        )

    @rpc
    def GetContextType(self, request):
        return svc.GetContextTypeResponse(
            context_type=self.store.get_context_type(request.type_name, _version(request))
        )

    @rpc
    def GetArtifactTypesByID(self, request):
        cached = self._cached_types("artifact_type", request.type_ids, self.store.get_artifact_types_by_id)
        if cached is not None:
            return cached
        return svc.GetArtifactTypesByIDResponse(
            artifact_types=self.store.get_artifact_types_by_id(request.type_ids)
        )

    @rpc
    def GetExecutionTypesByID(self, request):
        cached = self._cached_types("execution_type", request.type_ids, self.store.get_execution_types_by_id)
        if cached is not None:
            return cached
        return svc.GetExecutionTypesByIDResponse(
            execution_types=self.store.get_execution_types_by_id(request.type_ids)
        )

    @rpc
    def GetContextTypesByID(self, request):
        cached = self._cached_types("context_type", request.type_ids, self.store.get_context_types_by_id)
        if cached is not None:
            return cached
        return svc.GetContextTypesByIDResponse(context_types=self.store.get_context_types_by_id(request.type_ids))

    @rpc
    def GetArtifactTypes(self, request):
        return svc.GetArtifactTypesResponse(artifact_types=self.store.get_artifact_types())

    @rpc
    def GetExecutionTypes(self, request):
        return svc.GetExecutionTypesResponse(execution_types=self.store.get_execution_types())

    @rpc
    def GetContextTypes(self, request):
        return svc.GetContextTypesResponse(context_types=self.store.get_context_types())

    @rpc
    def GetArtifactTypesByExternalIds(self, request):
        return svc.GetArtifactTypesByExternalIdsResponse(
            artifact_types=self.store.get_artifact_types_by_external_ids(request.external_ids)
        )

    @rpc
    def GetExecutionTypesByExternalIds(self, request):
        return svc.GetExecutionTypesByExternalIdsResponse(
            execution_types=self.store.get_execution_types_by_external_ids(request.external_ids)
        )

    @rpc
    def GetContextTypesByExternalIds(self, request):
        return svc.GetContextTypesByExternalIdsResponse(
            context_types=self.store.get_context_types_by_external_ids(request.external_ids)
        )

    # --- node and edge writes -------------------------------------------------------------------

    @write_rpc
    def PutArtifacts(self, request):
        ids = self.store.put_artifacts(
            request.artifacts,
            field_mask_paths=list(request.update_mask.paths),
            abort_if_latest_updated_time_changed=request.options.abort_if_latest_updated_time_changed,
        )
        return svc.PutArtifactsResponse(artifact_ids=ids)

    @write_rpc
    def PutExecutions(self, request):
        ids = self.store.put_executions(request.executions, field_mask_paths=list(request.update_mask.paths))
        return svc.PutExecutionsResponse(execution_ids=ids)

    @write_rpc
    def PutContexts(self, request):
        ids = self.store.put_contexts(request.contexts, field_mask_paths=list(request.update_mask.paths))
        return svc.PutContextsResponse(context_ids=ids)

    @write_rpc
    def PutEvents(self, request):
        self.store.put_events(request.events)
        return svc.PutEventsResponse()

    @write_rpc
    def PutExecution(self, request):
        return requests.put_execution(self.store, request)

    @write_rpc
    def PutLineageSubgraph(self, request):
        return requests.put_lineage_subgraph(self.store, request)

    @write_rpc
    def PutAttributionsAndAssociations(self, request):
        self.store.put_attributions_and_associations(request.attributions, request.associations)
        return svc.PutAttributionsAndAssociationsResponse()

    @write_rpc
    def PutParentContexts(self, request):
        self.store.put_parent_contexts(request.parent_contexts)
        return svc.PutParentContextsResponse()

    # --- node reads -----------------------------------------------------------------------------

    @rpc
    def GetArtifacts(self, request):
        nodes, token = self.store.list_nodes("artifact", _options(request), max_bytes=_LIST_BYTES)
        return svc.GetArtifactsResponse(artifacts=nodes, next_page_token=token or None)

    @rpc
    def GetExecutions(self, request):
        nodes, token = self.store.list_nodes("execution", _options(request), max_bytes=_LIST_BYTES)
        return svc.GetExecutionsResponse(executions=nodes, next_page_token=token or None)

    @rpc
    def GetContexts(self, request):
        nodes, token = self.store.list_nodes("context", _options(request), max_bytes=_LIST_BYTES)
        return svc.GetContextsResponse(contexts=nodes, next_page_token=token or None)

    @rpc
    def GetArtifactsByID(self, request):
        if self._cache is not None:
            # As the store answers: in id order, each once; with types, in the order asked, each once.
            asked = list(request.artifact_ids)
            ids = list(dict.fromkeys(asked)) if request.populate_artifact_types else sorted(set(asked))
            version = self._cache.current()  # one look at the database's version for both reads
            found = self._cached_nodes("artifact", ids, self.store.get_artifacts_by_id, version)
            body = b"".join([found[i][0] for i in ids if i in found])
            if not request.populate_artifact_types:
                return body
            # The types the answer's artifacts use, in the order they first appear.
            type_ids = list(dict.fromkeys(found[i][1] for i in ids if i in found))
            return body + self._cached_types(
                "artifact_type", type_ids, self.store.get_artifact_types_by_id, 2, version
            )
        if request.populate_artifact_types:
            pairs = self.store.get_artifacts_and_types_by_artifact_ids(request.artifact_ids)
            types = {artifact_type.id: artifact_type for _, artifact_type in pairs}
            return svc.GetArtifactsByIDResponse(
                artifacts=[artifact for artifact, _ in pairs], artifact_types=list(types.values())
            )
        return _wire(self.store.get_artifacts_by_id(request.artifact_ids))

    @rpc
    def GetExecutionsByID(self, request):
        if self._cache is not None:
            ids = sorted(set(request.execution_ids))
            found = self._cached_nodes("execution", ids, self.store.get_executions_by_id)
            return b"".join([found[i][0] for i in ids if i in found])
        return _wire(self.store.get_executions_by_id(request.execution_ids))

    @rpc
    def GetContextsByID(self, request):
        if self._cache is not None:
            ids = sorted(set(request.context_ids))
            found = self._cached_nodes("context", ids, self.store.get_contexts_by_id)
            return b"".join([found[i][0] for i in ids if i in found])
        return _wire(self.store.get_contexts_by_id(request.context_ids))

    @rpc
    def GetArtifactsByType(self, request):
        nodes, token = self.store.list_nodes(
            "artifact", _options(request), type_name=request.type_name, type_version=_version(request),
            max_bytes=_by_type_bytes(request),
        )
        return svc.GetArtifactsByTypeResponse(artifacts=nodes, next_page_token=token or None)

    @rpc
    def GetExecutionsByType(self, request):
        nodes, token = self.store.list_nodes(
            "execution", _options(request), type_name=request.type_name, type_version=_version(request),
            max_bytes=_by_type_bytes(request),
        )
        return svc.GetExecutionsByTypeResponse(executions=nodes, next_page_token=token or None)

    @rpc
    def GetContextsByType(self, request):
        nodes, token = self.store.list_nodes(
            "context", _options(request), type_name=request.type_name, type_version=_version(request),
            max_bytes=_by_type_bytes(request),
        )
        return svc.GetContextsByTypeResponse(contexts=nodes, next_page_token=token or None)

    @rpc
    def GetArtifactByTypeAndName(self, request):
        node = self.store.get_artifact_by_type_and_name(request.type_name, request.artifact_name, _version(request))
        return svc.GetArtifactByTypeAndNameResponse(artifact=node)

    @rpc
    def GetExecutionByTypeAndName(self, request):
        node = self.store.get_execution_by_type_and_name(
            request.type_name, request.execution_name, _version(request)
        )
        return svc.GetExecutionByTypeAndNameResponse(execution=node)

    @rpc
    def GetContextByTypeAndName(self, request):
        node = self.store.get_context_by_type_and_name(request.type_name, request.context_name, _version(request))
        return svc.GetContextByTypeAndNameResponse(context=node)

    @rpc
    def GetArtifactsByURI(self, request):
        return svc.GetArtifactsByURIResponse(artifacts=self.store.get_artifacts_by_uri(list(request.uris)))

    @rpc
    def GetArtifactsByExternalIds(self, request):
        return svc.GetArtifactsByExternalIdsResponse(
            artifacts=self.store.get_artifacts_by_external_ids(request.external_ids)
        )

    @rpc
    def GetExecutionsByExternalIds(self, request):
        return svc.GetExecutionsByExternalIdsResponse(
            executions=self.store.get_executions_by_external_ids(request.external_ids)
        )

    @rpc
    def GetContextsByExternalIds(self, request):
        return svc.GetContextsByExternalIdsResponse(
            contexts=self.store.get_contexts_by_external_ids(request.external_ids)
        )

    # --- neighbourhood reads --------------------------------------------------------------------

    @rpc
    def GetEventsByExecutionIDs(self, request):
        return svc.GetEventsByExecutionIDsResponse(
            events=self.store.get_events_by_execution_ids(request.execution_ids)
        )

    @rpc
    def GetEventsByArtifactIDs(self, request):
        return svc.GetEventsByArtifactIDsResponse(events=self.store.get_events_by_artifact_ids(request.artifact_ids))

    @rpc
    def GetContextsByArtifact(self, request):
        return svc.GetContextsByArtifactResponse(contexts=self.store.get_contexts_by_artifact(request.artifact_id))

    @rpc
    def GetContextsByExecution(self, request):
        return svc.GetContextsByExecutionResponse(
            contexts=self.store.get_contexts_by_execution(request.execution_id)
        )

    @rpc
    def GetParentContextsByContext(self, request):
        return svc.GetParentContextsByContextResponse(
            contexts=self.store.get_parent_contexts_by_context(request.context_id)
        )

    @rpc
    def GetChildrenContextsByContext(self, request):
        return svc.GetChildrenContextsByContextResponse(
            contexts=self.store.get_children_contexts_by_context(request.context_id)
        )

    @rpc
    def GetParentContextsByContexts(self, request):
        response = svc.GetParentContextsByContextsResponse()
        for child_id, parents in self.store.get_parent_contexts_by_contexts(request.context_ids).items():
            if parents:
                response.contexts[child_id].parent_contexts.extend(parents)
        return response

    @rpc
    def GetChildrenContextsByContexts(self, request):
        response = svc.GetChildrenContextsByContextsResponse()
        for parent_id, children in self.store.get_children_contexts_by_contexts(request.context_ids).items():
            if children:
                response.contexts[parent_id].children_contexts.extend(children)
        return response

    @rpc
    def GetArtifactsByContext(self, request):
        nodes, token = self.store.list_nodes(
            "artifact", _options(request), context_id=request.context_id, max_bytes=_LIST_BYTES
        )
        return svc.GetArtifactsByContextResponse(artifacts=nodes, next_page_token=token or None)

    @rpc
    def GetExecutionsByContext(self, request):
        nodes, token = self.store.list_nodes(
            "execution", _options(request), context_id=request.context_id, max_bytes=_LIST_BYTES
        )
        return svc.GetExecutionsByContextResponse(executions=nodes, next_page_token=token or None)

    # --- lineage --------------------------------------------------------------------------------

    @rpc
    def GetLineageGraph(self, request):
        from mlineage.metadata.lineage_engine.mlmd import lineage_graph

        return svc.GetLineageGraphResponse(subgraph=lineage_graph(self.store, request.options))

    @rpc
    def GetLineageSubgraph(self, request):
        from mlineage.metadata.lineage_engine.mlmd import mask_fields

        paths = list(request.read_mask.paths)
        fields = mask_fields(paths)
        typed = [name for name in _GRAPH_TYPE_FIELDS if name in fields]
        if self._cache is None or not typed:
            return self._lineage_subgraph(request, paths)
        # The answer's *_types fields hold every type of the store, the same for every query while
        # the database is unchanged: kept as their wire form, beside the by-id cache's entries.
        # Held at the version last seen, they are the walk's types if the database is still at that
        # version after the walk (nothing committed in between): one version read per answer. On
        # PostgreSQL the walk's one statement reads that version itself (its own snapshot), so the
        # answer is one round trip, not two.
        version = self._cache.last_seen()
        held = [self._cache.peek("lineage_types", _GRAPH_TYPE_FIELDS[name], version) for name in typed]
        if None not in held:
            read_at: list[str] = []
            response = self._lineage_subgraph(request, paths, with_types=False, read_at=read_at)
            now = read_at[0] if read_at else self._cache.current()
            if now == version:
                graph = response.lineage_subgraph.SerializeToString() + b"".join(held)
                return repeated_field(1, [graph]) if graph else b""
            version = now  # something committed: the whole answer, read after this version
        else:
            version = self._cache.current()
        response = self._lineage_subgraph(request, paths)
        if self._cache.current() == version:
            graph = response.lineage_subgraph
            for name in typed:
                wire = repeated_field(_GRAPH_TYPE_FIELDS[name], [t.SerializeToString() for t in getattr(graph, name)])
                self._cache.keep("lineage_types", _GRAPH_TYPE_FIELDS[name], wire, version)
        return response

    def _lineage_subgraph(self, request, paths: list[str], *, with_types: bool = True, read_at: list[str] | None = None):
        from mlineage.metadata.lineage_engine.mlmd import lineage_subgraph

        response = svc.GetLineageSubgraphResponse()
        lineage_subgraph(
            self.store,
            request.lineage_subgraph_query_options,
            paths,
            dehydrated=True,
            into=response.lineage_subgraph,
            with_types=with_types,
            read_at=read_at,
        )
        return response


class Undecodable:
    """A request the protobuf decoder refused: the handler answers INVALID_ARGUMENT (as MLMD), not INTERNAL."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _decoder(request_class) -> Callable[[bytes], object]:
    decode = request_class.FromString
    name = request_class.DESCRIPTOR.name

    def decoded(data: bytes):
        try:
            return decode(data)
        except DecodeError as exc:
            if "MaxDepth" in str(exc) or "depth" in str(exc).lower():
                return Undecodable(
                    f"Could not parse the {name}: it nests messages more than 100 levels deep (a struct_value "
                    f"may nest at most {MAX_STRUCT_OBJECT_DEPTH} levels of objects)"
                )
            return Undecodable(f"Could not parse the {name}: it is not a valid serialized {name}")

    return decoded


def _serialize(message) -> bytes:
    # Cached answers are already the response's wire form.
    return message if type(message) is bytes else message.SerializeToString()


def _wire(messages) -> bytes:
    # A response whose only field (number 1) repeats these messages, serialized without first copying
    # them into a response message (the same bytes: a repeated field is its elements, each tagged).
    return repeated_field(1, [message.SerializeToString() for message in messages])


def _serialized(messages) -> list[tuple[int, tuple[bytes, int]]]:
    # (id, (the message as an element of a response's field 1, type id)); a type's own "type id" is
    # unused. Kept framed (tag, length, message), so that an answer is its entries joined.
    return [
        (message.id, (repeated_field(1, [message.SerializeToString()]), getattr(message, "type_id", 0)))
        for message in messages
    ]


def _method_names() -> list[str]:
    return [method.name for method in svc.DESCRIPTOR.services_by_name["MetadataStoreService"].methods]


#: Bounded reads that take no lock and write nothing: answered on gRPC's polling thread while no worker
#: is busy (api/grpc/inline.py). The gets by id that ml-metadata's client sends after every lineage answer.
QUICK_METHODS = frozenset({
    "GetArtifactsByID", "GetExecutionsByID", "GetContextsByID",
    "GetArtifactTypesByID", "GetExecutionTypesByID", "GetContextTypesByID",
})  # fmt: skip


def generic_handlers(servicer: MetadataStoreServicer) -> list[grpc.GenericRpcHandler]:
    """Handlers for both service names, decoding with our messages (the wire format is MLMD's)."""
    service = svc.DESCRIPTOR.services_by_name["MetadataStoreService"]
    generic = []
    for service_name in (MLMD_SERVICE, OUR_SERVICE):
        handlers = {}
        for method in service.methods:
            request_class = getattr(svc, method.input_type.name)
            behavior = timed_unary(f"/{service_name}/{method.name}", getattr(servicer, method.name))
            if method.name in QUICK_METHODS:
                inline.quick(behavior)
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                behavior,
                request_deserializer=_decoder(request_class),
                response_serializer=_serialize,
            )
        generic.append(grpc.method_handlers_generic_handler(service_name, handlers))
    return generic
