"""Request-level logic shared by the surfaces: MLMD's composite writes (gRPC and REST) and REST's node requests.

An adapter decodes a request, calls one function here, and encodes what it
returns. The functions decide what a request means beyond one store call:

* MLMD's PutExecution and PutLineageSubgraph requests decoded into the store's
  arguments (gRPC and REST);
* REST's conveniences: a node may name its type (``type``) instead of giving its
  ``type_id``; a PATCH body implies its update mask; a mask path that names no
  field is INVALID_ARGUMENT (MLMD's gRPC service ignores it);
* REST's node writes as one unit of work each (``store.transaction()``): the
  existence check, the write and the read of the stored node commit together,
  so the answer is the node this request left, not one a concurrent write made;
* REST's neighbourhood reads: a missing node is NOT_FOUND in REST's own words
  (as a get of it is), a node with no such neighbours an empty list.

Kinds are ``NodeKind`` objects; each kind's store methods are named here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.metadata.kinds import ALL_KINDS, ARTIFACT, CONTEXT, EXECUTION, KIND_BY_MESSAGE, NodeKind
from mlineage.metadata.store import Store, WriteTransaction
from mlineage.metadata.update_masks import check_mask_strictly
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

# Set by the server, never written by a request: not part of a mask derived from a PATCH body.
_OUTPUT_ONLY = {"id", "type_id", "type", "create_time_since_epoch", "last_update_time_since_epoch"}

# --- each kind's store methods ------------------------------------------------------------------


def nodes_by_id(store: Store, kind: NodeKind, node_ids: Sequence[int]) -> list[Any]:
    """The stored nodes of ``kind`` with these ids (missing ids skipped), in id order."""
    if kind is ARTIFACT:
        return store.get_artifacts_by_id(node_ids)
    if kind is EXECUTION:
        return store.get_executions_by_id(node_ids)
    return store.get_contexts_by_id(node_ids)


def type_named(store: Store, kind: NodeKind, type_name: str) -> Any:
    """The type of ``kind`` called ``type_name`` (no version); NOT_FOUND if none."""
    if kind is ARTIFACT:
        return store.get_artifact_type(type_name)
    if kind is EXECUTION:
        return store.get_execution_type(type_name)
    return store.get_context_type(type_name)


def _put(
    tx: WriteTransaction, kind: NodeKind, nodes: Sequence[Any], mask: Sequence[str] | None, occ: bool
) -> list[int]:
    if kind is ARTIFACT:
        return tx.put_artifacts(nodes, mask, abort_if_latest_updated_time_changed=occ)
    if kind is EXECUTION:
        return tx.put_executions(nodes, mask)
    return tx.put_contexts(nodes, mask)


def _stored_in(tx: WriteTransaction, kind: NodeKind, node_id: int) -> Any:
    """The node as ``tx`` sees it (its own writes included); NOT_FOUND in REST's words if there is none.

    Read through the unit of work: a store read would run on another connection
    and not see its uncommitted write.
    """
    if kind is ARTIFACT:
        found = tx.get_artifacts_by_id([node_id])
    elif kind is EXECUTION:
        found = tx.get_executions_by_id([node_id])
    else:
        found = tx.get_contexts_by_id([node_id])
    if not found:
        raise NotFoundError(_missing(kind, [node_id]))
    return found[0]


def _missing(kind: NodeKind, node_ids: Sequence[int]) -> str:
    if len(node_ids) == 1:
        return f"no {kind.name} with id {node_ids[0]}"
    return f"no {kind.plural} with ids {', '.join(str(i) for i in node_ids)}"


def require_nodes(store: Store, kind: NodeKind, node_ids: Sequence[int]) -> None:
    """NOT_FOUND, naming the missing ids, unless every node of ``kind`` with these ids exists."""
    wanted = list(dict.fromkeys(node_ids))
    found = {node.id for node in nodes_by_id(store, kind, wanted)} if wanted else set()
    missing = [node_id for node_id in wanted if node_id not in found]
    if missing:
        raise NotFoundError(_missing(kind, missing))


# --- types named instead of given by id ---------------------------------------------------------


def _nodes_of(request: Message) -> Iterable[Message]:
    """The artifacts, executions and contexts a write request (or a single node) carries."""
    if type(request) in KIND_BY_MESSAGE:
        yield request
        return
    if isinstance(request, svc.PutExecutionRequest):
        if request.HasField("execution"):
            yield request.execution
        yield from (pair.artifact for pair in request.artifact_event_pairs if pair.HasField("artifact"))
        yield from request.contexts
        return
    for kind in ALL_KINDS:
        if kind.plural in request.DESCRIPTOR.fields_by_name:
            yield from getattr(request, kind.plural)


def resolve_type_names(store: Store, request: Message) -> None:
    """Give every node of ``request`` that names its type (``type``) but has no ``type_id`` that type's id.

    REST's convenience, the same on every endpoint that writes nodes: MLMD's
    ``type`` is output-only, so the gRPC service never calls this. A name that
    names no type of the node's kind is NOT_FOUND.
    """
    found: dict[tuple[NodeKind, str], int] = {}
    for node in _nodes_of(request):
        if node.type_id or not node.type:
            continue
        kind = KIND_BY_MESSAGE[type(node)]
        key = (kind, node.type)
        if key not in found:
            found[key] = type_named(store, kind, node.type).id
        node.type_id = found[key]


# --- REST's node writes -------------------------------------------------------------------------


def derived_mask(message: Message) -> list[str]:
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


def patch_mask(kind: NodeKind, node: Message, update_mask: Sequence[str]) -> list[str]:
    """The mask of a PATCH: the given paths, else those the body implies; INVALID_ARGUMENT if neither has any."""
    mask = list(update_mask) or derived_mask(node)
    if not mask:
        raise InvalidArgumentError("nothing to update: the body sets no field and no update_mask is given")
    return mask


def create_node(store: Store, kind: NodeKind, node: Message) -> Any:
    """Insert ``node`` (it has no id) and return it as stored, in one transaction."""
    with store.transaction() as tx:
        resolve_type_names(store, node)
        [node_id] = _put(tx, kind, [node], None, False)
        return _stored_in(tx, kind, node_id)


def update_node(
    store: Store, kind: NodeKind, node: Message, mask: Sequence[str] | None = None, occ: bool = False
) -> Any:
    """Replace (no mask) or change (``mask``) the stored node ``node.id``; the node as stored, in one transaction.

    NOT_FOUND for an unknown id, where MLMD's Put answers INVALID_ARGUMENT; a mask
    path that names no field is INVALID_ARGUMENT, where MLMD ignores it. ``occ``
    (artifacts only): ABORTED if the node changed since the body's update time.
    """
    with store.transaction() as tx:
        _stored_in(tx, kind, node.id)
        resolve_type_names(store, node)
        if mask:
            check_mask_strictly(kind, mask)
        _put(tx, kind, [node], mask, occ)
        return _stored_in(tx, kind, node.id)


def put_nodes(
    store: Store, kind: NodeKind, nodes: Sequence[Any], mask: Sequence[str] = (), occ: bool = False
) -> list[int]:
    """Insert (no id) or update (id set) many nodes in one transaction (MLMD's Put*); their ids in order.

    As MLMD, except that a node may name its type and a mask path that names
    no field is INVALID_ARGUMENT.
    """
    with store.transaction() as tx:
        for node in nodes:
            resolve_type_names(store, node)
        if mask:
            check_mask_strictly(kind, mask)
        return _put(tx, kind, nodes, list(mask), occ)


# --- REST's neighbourhood reads -----------------------------------------------------------------


def get_node(store: Store, kind: NodeKind, node_id: int) -> Any:
    """The node of ``kind`` with this id; NOT_FOUND if none."""
    found = nodes_by_id(store, kind, [node_id])
    if not found:
        raise NotFoundError(_missing(kind, [node_id]))
    return found[0]


def contexts_of(store: Store, kind: NodeKind, node_id: int) -> list[pb.Context]:
    """The contexts an artifact or execution belongs to: [] if none, NOT_FOUND if the node does not exist."""
    try:
        if kind is ARTIFACT:
            return store.get_contexts_by_artifact(node_id)
        return store.get_contexts_by_execution(node_id)
    except NotFoundError:  # MLMD's answer for no contexts and for no such node alike
        require_nodes(store, kind, [node_id])
        return []


def events_of(store: Store, kind: NodeKind, node_ids: Sequence[int]) -> list[pb.Event]:
    """The events of these artifacts or executions; NOT_FOUND, naming them, for ids of no node.

    The events are read first: only the ids that have none are looked up.
    """
    if kind is ARTIFACT:
        events = store.get_events_by_artifact_ids(node_ids)
        seen = {event.artifact_id for event in events}
    else:
        events = store.get_events_by_execution_ids(node_ids)
        seen = {event.execution_id for event in events}
    quiet = [node_id for node_id in node_ids if node_id not in seen]
    if quiet:
        require_nodes(store, kind, quiet)
    return events


def members_of(
    store: Store, member: NodeKind, context_id: int, options: pb.ListOperationOptions
) -> tuple[list[Any], str]:
    """One page of the artifacts or executions in a context; NOT_FOUND if the context does not exist."""
    nodes, token = store.list_nodes(member.name, options, context_id=context_id)
    if not nodes:
        require_nodes(store, CONTEXT, [context_id])
    return nodes, token


def parent_contexts(store: Store, context_id: int) -> list[pb.Context]:
    """The parents of a context (one hop); NOT_FOUND if the context does not exist."""
    parents = store.get_parent_contexts_by_context(context_id)
    if not parents:
        require_nodes(store, CONTEXT, [context_id])
    return parents


def children_contexts(store: Store, context_id: int) -> list[pb.Context]:
    """The children of a context (one hop); NOT_FOUND if the context does not exist."""
    children = store.get_children_contexts_by_context(context_id)
    if not children:
        require_nodes(store, CONTEXT, [context_id])
    return children


# --- MLMD's composite writes --------------------------------------------------------------------


def put_execution(store: Store, request: svc.PutExecutionRequest) -> svc.PutExecutionResponse:
    """PutExecution: the (artifact, event) pairs, contexts and reuse options of the request."""
    pairs = [
        (pair.artifact if pair.HasField("artifact") else None, pair.event if pair.HasField("event") else None)
        for pair in request.artifact_event_pairs
    ]
    options = request.options
    execution_id, artifact_ids, context_ids = store.put_execution(
        request.execution,
        pairs,
        request.contexts,
        reuse_context_if_already_exist=options.reuse_context_if_already_exist,
        reuse_artifact_if_already_exist_by_external_id=options.reuse_artifact_if_already_exist_by_external_id,
        force_reuse_context=options.force_reuse_context,
        force_update_time=options.force_update_time,
    )
    return svc.PutExecutionResponse(execution_id=execution_id, artifact_ids=artifact_ids, context_ids=context_ids)


def put_lineage_subgraph(store: Store, request: svc.PutLineageSubgraphRequest) -> svc.PutLineageSubgraphResponse:
    """PutLineageSubgraph: event edges by index (unset indexes stay None), with the reuse options."""
    edges = [
        (
            edge.execution_index if edge.HasField("execution_index") else None,
            edge.artifact_index if edge.HasField("artifact_index") else None,
            edge.event,
        )
        for edge in request.event_edges
    ]
    options = request.options
    execution_ids, artifact_ids, context_ids = store.put_lineage_subgraph(
        request.executions,
        request.artifacts,
        request.contexts,
        edges,
        reuse_context_if_already_exist=options.reuse_context_if_already_exist,
        reuse_artifact_if_already_exist_by_external_id=options.reuse_artifact_if_already_exist_by_external_id,
    )
    return svc.PutLineageSubgraphResponse(
        execution_ids=execution_ids, artifact_ids=artifact_ids, context_ids=context_ids
    )


def put_execution_naming_types(store: Store, request: svc.PutExecutionRequest) -> svc.PutExecutionResponse:
    """REST's PutExecution: nodes may name their types."""
    resolve_type_names(store, request)
    return put_execution(store, request)


def put_lineage_subgraph_naming_types(
    store: Store, request: svc.PutLineageSubgraphRequest
) -> svc.PutLineageSubgraphResponse:
    """REST's PutLineageSubgraph: nodes may name their types."""
    resolve_type_names(store, request)
    return put_lineage_subgraph(store, request)
