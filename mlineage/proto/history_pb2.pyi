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
