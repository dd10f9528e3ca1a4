from mlineage.proto import metadata_store_pb2 as _metadata_store_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeRevision(_message.Message):
    __slots__ = ("revision", "operation", "time_ms", "surface", "actor", "peer", "changed", "artifact", "execution", "context")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SURFACE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    revision: int
    operation: str
    time_ms: int
    surface: str
    actor: str
    peer: str
    changed: _containers.RepeatedScalarFieldContainer[str]
    artifact: _metadata_store_pb2.Artifact
    execution: _metadata_store_pb2.Execution
    context: _metadata_store_pb2.Context
    def __init__(self, revision: _Optional[int] = ..., operation: _Optional[str] = ..., time_ms: _Optional[int] = ..., surface: _Optional[str] = ..., actor: _Optional[str] = ..., peer: _Optional[str] = ..., changed: _Optional[_Iterable[str]] = ..., artifact: _Optional[_Union[_metadata_store_pb2.Artifact, _Mapping]] = ..., execution: _Optional[_Union[_metadata_store_pb2.Execution, _Mapping]] = ..., context: _Optional[_Union[_metadata_store_pb2.Context, _Mapping]] = ...) -> None: ...

class GetNodeHistoryRequest(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: int
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[int] = ...) -> None: ...

class GetNodeHistoryResponse(_message.Message):
    __slots__ = ("revisions",)
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[NodeRevision]
    def __init__(self, revisions: _Optional[_Iterable[_Union[NodeRevision, _Mapping]]] = ...) -> None: ...

class DeleteNodesRequest(_message.Message):
    __slots__ = ("kind", "ids")
    KIND_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, kind: _Optional[str] = ..., ids: _Optional[_Iterable[int]] = ...) -> None: ...

class DeleteNodesResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class ReadAsOfRequest(_message.Message):
    __slots__ = ("as_of", "method", "request")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    as_of: str
    method: str
    request: bytes
    def __init__(self, as_of: _Optional[str] = ..., method: _Optional[str] = ..., request: _Optional[bytes] = ...) -> None: ...

class ReadAsOfResponse(_message.Message):
    __slots__ = ("response", "as_of_ms")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_MS_FIELD_NUMBER: _ClassVar[int]
    response: bytes
    as_of_ms: int
    def __init__(self, response: _Optional[bytes] = ..., as_of_ms: _Optional[int] = ...) -> None: ...

class NameList(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class StateList(_message.Message):
    __slots__ = ("states",)
    STATES_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, states: _Optional[_Iterable[int]] = ...) -> None: ...

class GetLineageRequest(_message.Message):
    __slots__ = ("artifact_ids", "execution_ids", "direction", "max_hops", "ending_artifacts", "ending_executions", "include_ending", "artifact_types", "execution_types", "artifact_states", "execution_states", "max_nodes", "cursor", "with_contexts")
    ARTIFACT_IDS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    MAX_HOPS_FIELD_NUMBER: _ClassVar[int]
    ENDING_ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    ENDING_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ENDING_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_TYPES_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TYPES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_STATES_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_STATES_FIELD_NUMBER: _ClassVar[int]
    MAX_NODES_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    WITH_CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    artifact_ids: _containers.RepeatedScalarFieldContainer[int]
    execution_ids: _containers.RepeatedScalarFieldContainer[int]
    direction: str
    max_hops: int
    ending_artifacts: str
    ending_executions: str
    include_ending: bool
    artifact_types: NameList
    execution_types: NameList
    artifact_states: StateList
    execution_states: StateList
    max_nodes: int
    cursor: str
    with_contexts: bool
    def __init__(self, artifact_ids: _Optional[_Iterable[int]] = ..., execution_ids: _Optional[_Iterable[int]] = ..., direction: _Optional[str] = ..., max_hops: _Optional[int] = ..., ending_artifacts: _Optional[str] = ..., ending_executions: _Optional[str] = ..., include_ending: bool = ..., artifact_types: _Optional[_Union[NameList, _Mapping]] = ..., execution_types: _Optional[_Union[NameList, _Mapping]] = ..., artifact_states: _Optional[_Union[StateList, _Mapping]] = ..., execution_states: _Optional[_Union[StateList, _Mapping]] = ..., max_nodes: _Optional[int] = ..., cursor: _Optional[str] = ..., with_contexts: bool = ...) -> None: ...

class Tombstone(_message.Message):
    __slots__ = ("kind", "id", "type_id", "type_name", "name", "deleted_ms")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DELETED_MS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: int
    type_id: int
    type_name: str
    name: str
    deleted_ms: int
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[int] = ..., type_id: _Optional[int] = ..., type_name: _Optional[str] = ..., name: _Optional[str] = ..., deleted_ms: _Optional[int] = ...) -> None: ...

class NodeHop(_message.Message):
    __slots__ = ("id", "hop")
    ID_FIELD_NUMBER: _ClassVar[int]
    HOP_FIELD_NUMBER: _ClassVar[int]
    id: int
    hop: int
    def __init__(self, id: _Optional[int] = ..., hop: _Optional[int] = ...) -> None: ...

class GetLineageResponse(_message.Message):
    __slots__ = ("graph", "artifact_hops", "execution_hops", "truncated", "cursor", "tombstones")
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_HOPS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_HOPS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_FIELD_NUMBER: _ClassVar[int]
    graph: _metadata_store_pb2.LineageGraph
    artifact_hops: _containers.RepeatedCompositeFieldContainer[NodeHop]
    execution_hops: _containers.RepeatedCompositeFieldContainer[NodeHop]
    truncated: bool
    cursor: str
    tombstones: _containers.RepeatedCompositeFieldContainer[Tombstone]
    def __init__(self, graph: _Optional[_Union[_metadata_store_pb2.LineageGraph, _Mapping]] = ..., artifact_hops: _Optional[_Iterable[_Union[NodeHop, _Mapping]]] = ..., execution_hops: _Optional[_Iterable[_Union[NodeHop, _Mapping]]] = ..., truncated: bool = ..., cursor: _Optional[str] = ..., tombstones: _Optional[_Iterable[_Union[Tombstone, _Mapping]]] = ...) -> None: ...
