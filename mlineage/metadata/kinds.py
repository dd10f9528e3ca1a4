"""The three node kinds (artifact, execution, context) and what differs between them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import tables as t


@dataclass(frozen=True)
class NodeKind:
    name: str  # "artifact" | "execution" | "context"
    table: Table
    properties: Table
    owner_column: str  # column of the property table naming the node
    type_kind: int  # types.kind
    message: type
    type_message: type
    state_field: str | None  # "state" | "last_known_state" | None
    has_uri: bool
    # A context's name is required and an update may change it; an artifact's or
    # execution's name is optional and fixed by the insert (MLMD never updates it).
    name_required: bool = False

    @property
    def title(self) -> str:
        return self.name.capitalize()


ARTIFACT = NodeKind(
    name="artifact",
    table=t.artifacts,
    properties=t.artifact_properties,
    owner_column="artifact_id",
    type_kind=t.KIND_ARTIFACT,
    message=pb.Artifact,
    type_message=pb.ArtifactType,
    state_field="state",
    has_uri=True,
)
EXECUTION = NodeKind(
    name="execution",
    table=t.executions,
    properties=t.execution_properties,
    owner_column="execution_id",
    type_kind=t.KIND_EXECUTION,
    message=pb.Execution,
    type_message=pb.ExecutionType,
    state_field="last_known_state",
    has_uri=False,
)
CONTEXT = NodeKind(
    name="context",
    table=t.contexts,
    properties=t.context_properties,
    owner_column="context_id",
    type_kind=t.KIND_CONTEXT,
    message=pb.Context,
    type_message=pb.ContextType,
    state_field=None,
    has_uri=False,
    name_required=True,
)

KINDS = {kind.name: kind for kind in (ARTIFACT, EXECUTION, CONTEXT)}
KIND_BY_TYPE_KIND = {kind.type_kind: kind for kind in (ARTIFACT, EXECUTION, CONTEXT)}
