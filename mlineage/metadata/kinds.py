"""The three node kinds (artifact, execution, context): the one vocabulary for "which kind of node".

Every layer names a kind by one of these three objects (``ARTIFACT``,
``EXECUTION``, ``CONTEXT``), never by a string of its own: the store, the
lineage engine, REST, the client's journal records. ``name`` ("artifact", …) is
what a URL, a listing scope or a message says; ``plural`` names collections.

This module imports no SQLAlchemy, so a process that only talks gRPC (a
pipeline step with a ``GrpcStore``) can use the vocabulary: the tables of a
kind are looked up when the store first asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mlineage.errors import InvalidArgumentError
from mlineage.proto import metadata_store_pb2 as pb

# Same numbering as MLMD's TypeKind (metadata_store/constants.h) and schema.tables' KIND_* (a test checks).
TYPE_KIND_EXECUTION, TYPE_KIND_ARTIFACT, TYPE_KIND_CONTEXT = 0, 1, 2


@dataclass(frozen=True, eq=False)
class NodeKind:
    """One kind of node and what differs between the kinds (compared by identity: there are three)."""

    name: str  # "artifact" | "execution" | "context"
    plural: str  # "artifacts" | "executions" | "contexts"
    table_name: str  # its row table in schema.tables
    properties_table_name: str  # its property table
    owner_column: str  # column of the property table naming the node
    type_kind: int  # types.kind
    message: type[Any]
    type_message: type[Any]
    state_field: str | None  # "state" | "last_known_state" | None
    has_uri: bool
    # A context's name is required and an update may change it; an artifact's or
    # execution's name is optional and fixed by the insert (MLMD never updates it).
    name_required: bool = False

    @property
    def title(self) -> str:
        return self.name.capitalize()

    @cached_property
    def table(self) -> Any:
        """The kind's row table (a SQLAlchemy ``Table``)."""
        from mlineage.schema import tables

        return getattr(tables, self.table_name)

    @cached_property
    def properties(self) -> Any:
        """The kind's property table (a SQLAlchemy ``Table``)."""
        from mlineage.schema import tables

        return getattr(tables, self.properties_table_name)

    def __repr__(self) -> str:
        return f"NodeKind({self.name})"


ARTIFACT = NodeKind(
    name="artifact",
    plural="artifacts",
    table_name="artifacts",
    properties_table_name="artifact_properties",
    owner_column="artifact_id",
    type_kind=TYPE_KIND_ARTIFACT,
    message=pb.Artifact,
    type_message=pb.ArtifactType,
    state_field="state",
    has_uri=True,
)
EXECUTION = NodeKind(
    name="execution",
    plural="executions",
    table_name="executions",
    properties_table_name="execution_properties",
    owner_column="execution_id",
    type_kind=TYPE_KIND_EXECUTION,
    message=pb.Execution,
    type_message=pb.ExecutionType,
    state_field="last_known_state",
    has_uri=False,
)
CONTEXT = NodeKind(
    name="context",
    plural="contexts",
    table_name="contexts",
    properties_table_name="context_properties",
    owner_column="context_id",
    type_kind=TYPE_KIND_CONTEXT,
    message=pb.Context,
    type_message=pb.ContextType,
    state_field=None,
    has_uri=False,
    name_required=True,
)

ALL_KINDS = (ARTIFACT, EXECUTION, CONTEXT)
KINDS = {kind.name: kind for kind in ALL_KINDS}
KIND_BY_TYPE_KIND = {kind.type_kind: kind for kind in ALL_KINDS}
KIND_BY_MESSAGE: dict[type, NodeKind] = {kind.message: kind for kind in ALL_KINDS}
KIND_BY_TYPE_MESSAGE: dict[type, NodeKind] = {kind.type_message: kind for kind in ALL_KINDS}


def kind_named(name: str) -> NodeKind:
    """The kind called ``name`` ("artifact", "execution", "context"); INVALID_ARGUMENT for any other."""
    kind = KINDS.get(name)
    if kind is None:
        raise InvalidArgumentError(f"unknown node kind {name!r}: one of artifact, execution, context")
    return kind


__all__ = [
    "ALL_KINDS",
    "ARTIFACT",
    "CONTEXT",
    "EXECUTION",
    "KINDS",
    "KIND_BY_MESSAGE",
    "KIND_BY_TYPE_KIND",
    "KIND_BY_TYPE_MESSAGE",
    "NodeKind",
    "kind_named",
]
