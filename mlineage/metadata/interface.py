"""StoreInterface: the typed surface that every mlineage store offers, embedded or remote.

``metadata.Store`` (SQLite/PostgreSQL in this process) and
``client.GrpcStore`` (a remote ``mlineage serve``) both implement it, method
for method and signature for signature (a test compares them with
``inspect.signature``), so code written against ``StoreInterface`` runs on
either. The names and arguments are ``ml_metadata.MetadataStore``'s; the
messages are ``mlineage.proto``'s. Errors are ``mlineage.errors`` classes,
named as MLMD's status codes: INVALID_ARGUMENT for a malformed request,
NOT_FOUND for a missing id or name where MLMD says so, ALREADY_EXISTS for a
uniqueness violation, FAILED_PRECONDITION for an incompatible type change,
ABORTED for a lost optimistic-concurrency race, UNAVAILABLE when the database
or server cannot be reached.

This module imports no SQLAlchemy and no gRPC: a type checker, an editor or a
remote client can use it without either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mlineage.metadata.options import ListOptions
from mlineage.metadata.revisions import Revision
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb


@runtime_checkable
class StoreInterface(Protocol):
    """The MLMD-style methods of a metadata store; each call is all-or-nothing."""

    # --- the store itself -----------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The namespace every call reads and writes."""
        ...

    @property
    def read_only(self) -> bool:
        """Whether writes are refused (FAILED_PRECONDITION)."""
        ...

    def close(self) -> None:
        """Release the store's connections; later calls fail."""
        ...

    # --- types ----------------------------------------------------------------------------------

    def put_artifact_type(
        self,
        artifact_type: pb.ArtifactType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        """Insert a type or check it against the stored one; its id. FAILED_PRECONDITION: incompatible change."""
        ...

    def put_execution_type(
        self,
        execution_type: pb.ExecutionType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        """As put_artifact_type, for execution types."""
        ...

    def put_context_type(
        self,
        context_type: pb.ContextType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        """As put_artifact_type, for context types."""
        ...

    def put_types(
        self,
        artifact_types: Sequence[pb.ArtifactType] = (),
        execution_types: Sequence[pb.ExecutionType] = (),
        context_types: Sequence[pb.ContextType] = (),
        can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        """Upsert types of all three kinds at once; their ids, index-aligned with the input, per kind."""
        ...

    def get_artifact_type(self, type_name: str, type_version: str | None = None) -> pb.ArtifactType:
        """The type of that name (and version). NOT_FOUND: no such type."""
        ...

    def get_execution_type(self, type_name: str, type_version: str | None = None) -> pb.ExecutionType:
        """The type of that name (and version). NOT_FOUND: no such type."""
        ...

    def get_context_type(self, type_name: str, type_version: str | None = None) -> pb.ContextType:
        """The type of that name (and version). NOT_FOUND: no such type."""
        ...

    def get_artifact_types(self) -> list[pb.ArtifactType]:
        """Every artifact type."""
        ...

    def get_execution_types(self) -> list[pb.ExecutionType]:
        """Every execution type."""
        ...

    def get_context_types(self) -> list[pb.ContextType]:
        """Every context type."""
        ...

    def get_artifact_types_by_id(self, type_ids: Sequence[int]) -> list[pb.ArtifactType]:
        """The artifact types among ``type_ids`` (missing ids are left out)."""
        ...

    def get_execution_types_by_id(self, type_ids: Sequence[int]) -> list[pb.ExecutionType]:
        """The execution types among ``type_ids`` (missing ids are left out)."""
        ...

    def get_context_types_by_id(self, type_ids: Sequence[int]) -> list[pb.ContextType]:
        """The context types among ``type_ids`` (missing ids are left out)."""
        ...

    def get_artifact_types_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.ArtifactType]:
        """The artifact types with those external ids. INVALID_ARGUMENT: an empty external id."""
        ...

    def get_execution_types_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.ExecutionType]:
        """The execution types with those external ids. INVALID_ARGUMENT: an empty external id."""
        ...

    def get_context_types_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.ContextType]:
        """The context types with those external ids. INVALID_ARGUMENT: an empty external id."""
        ...

    # --- nodes ----------------------------------------------------------------------------------

    def put_artifacts(
        self,
        artifacts: Sequence[pb.Artifact],
        field_mask_paths: Sequence[str] | None = None,
        abort_if_latest_updated_time_changed: bool = False,
    ) -> list[int]:
        """Insert (no id) or update (id) artifacts; ids index-aligned with the input.

        ABORTED: ``abort_if_latest_updated_time_changed`` and the stored update time differs.
        """
        ...

    def put_executions(
        self, executions: Sequence[pb.Execution], field_mask_paths: Sequence[str] | None = None
    ) -> list[int]:
        """Insert or update executions; ids index-aligned with the input."""
        ...

    def put_contexts(self, contexts: Sequence[pb.Context], field_mask_paths: Sequence[str] | None = None) -> list[int]:
        """Insert or update contexts; ids index-aligned with the input. ALREADY_EXISTS: a (type, name) taken."""
        ...

    def get_artifacts_by_id(self, artifact_ids: Sequence[int]) -> list[pb.Artifact]:
        """The artifacts among ``artifact_ids`` (missing ids are left out)."""
        ...

    def get_executions_by_id(self, execution_ids: Sequence[int]) -> list[pb.Execution]:
        """The executions among ``execution_ids`` (missing ids are left out)."""
        ...

    def get_contexts_by_id(self, context_ids: Sequence[int]) -> list[pb.Context]:
        """The contexts among ``context_ids`` (missing ids are left out)."""
        ...

    def get_artifacts_and_types_by_artifact_ids(
        self, artifact_ids: Sequence[int]
    ) -> list[tuple[pb.Artifact, pb.ArtifactType]]:
        """Each found artifact with its type."""
        ...

    def get_artifacts_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Artifact]:
        """The artifacts with those external ids."""
        ...

    def get_executions_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Execution]:
        """The executions with those external ids."""
        ...

    def get_contexts_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Context]:
        """The contexts with those external ids."""
        ...

    def get_artifacts_by_uri(self, uri: str | Sequence[str]) -> list[pb.Artifact]:
        """The artifacts with that URI (or any of those URIs)."""
        ...

    def get_artifact_by_type_and_name(
        self, type_name: str, artifact_name: str, type_version: str | None = None
    ) -> pb.Artifact | None:
        """The artifact of that type and name, or None."""
        ...

    def get_execution_by_type_and_name(
        self, type_name: str, execution_name: str, type_version: str | None = None
    ) -> pb.Execution | None:
        """The execution of that type and name, or None."""
        ...

    def get_context_by_type_and_name(
        self, type_name: str, context_name: str, type_version: str | None = None
    ) -> pb.Context | None:
        """The context of that type and name, or None."""
        ...

    # --- listing --------------------------------------------------------------------------------

    def list_nodes(
        self,
        kind_name: str,
        options: pb.ListOperationOptions | None = None,
        *,
        type_name: str | None = None,
        type_version: str | None = None,
        context_id: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list, str]:
        """One page of nodes of a kind (optionally of a type or in a context) and the next page's token.

        INVALID_ARGUMENT: an unknown kind, a bad filter query or page token.
        """
        ...

    def get_artifacts(self, list_options: ListOptions | None = None) -> list[pb.Artifact]:
        """Artifacts, every page followed."""
        ...

    def get_executions(self, list_options: ListOptions | None = None) -> list[pb.Execution]:
        """Executions, every page followed."""
        ...

    def get_contexts(self, list_options: ListOptions | None = None) -> list[pb.Context]:
        """Contexts, every page followed."""
        ...

    def get_artifacts_by_type(
        self, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None
    ) -> list[pb.Artifact]:
        """The artifacts of one type (none when the type does not exist)."""
        ...

    def get_executions_by_type(
        self, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None
    ) -> list[pb.Execution]:
        """The executions of one type (none when the type does not exist)."""
        ...

    def get_contexts_by_type(
        self, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None
    ) -> list[pb.Context]:
        """The contexts of one type (none when the type does not exist)."""
        ...

    def get_artifacts_by_context(self, context_id: int, list_options: ListOptions | None = None) -> list[pb.Artifact]:
        """The artifacts attributed to a context."""
        ...

    def get_executions_by_context(
        self, context_id: int, list_options: ListOptions | None = None
    ) -> list[pb.Execution]:
        """The executions associated with a context (newest first unless ``list_options`` says otherwise)."""
        ...

    # --- events, memberships, parent contexts ---------------------------------------------------

    def put_events(self, events: Sequence[pb.Event]) -> None:
        """Record events. INVALID_ARGUMENT: a missing artifact or execution, or no event type."""
        ...

    def put_execution(
        self,
        execution: pb.Execution,
        artifact_and_events: Sequence[tuple[pb.Artifact | None, pb.Event | None]],
        contexts: Sequence[pb.Context],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
        force_reuse_context: bool = False,
        force_update_time: bool = False,
    ) -> tuple[int, list[int], list[int]]:
        """One execution with its artifacts, events and contexts; (execution id, artifact ids, context ids)."""
        ...

    def put_lineage_subgraph(
        self,
        executions: Sequence[pb.Execution],
        artifacts: Sequence[pb.Artifact],
        contexts: Sequence[pb.Context],
        event_edges: Sequence[tuple[int | None, int | None, pb.Event]],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        """Executions, artifacts, contexts and the events between them (by index); their ids per kind."""
        ...

    def put_attributions_and_associations(
        self, attributions: Sequence[pb.Attribution], associations: Sequence[pb.Association]
    ) -> None:
        """Put artifacts and executions into contexts (an existing membership is kept)."""
        ...

    def put_parent_contexts(self, parent_contexts: Sequence[pb.ParentContext]) -> None:
        """Link child contexts to parents. INVALID_ARGUMENT: a cycle. ALREADY_EXISTS: the link exists."""
        ...

    def get_contexts_by_artifact(self, artifact_id: int) -> list[pb.Context]:
        """The contexts an artifact is attributed to."""
        ...

    def get_contexts_by_execution(self, execution_id: int) -> list[pb.Context]:
        """The contexts an execution is associated with."""
        ...

    def get_parent_contexts_by_context(self, context_id: int) -> list[pb.Context]:
        """A context's parents."""
        ...

    def get_children_contexts_by_context(self, context_id: int) -> list[pb.Context]:
        """A context's children."""
        ...

    def get_parent_contexts_by_contexts(self, context_ids: Sequence[int]) -> dict[int, list[pb.Context]]:
        """Each context id's parents (an empty list for one without)."""
        ...

    def get_children_contexts_by_contexts(self, context_ids: Sequence[int]) -> dict[int, list[pb.Context]]:
        """Each context id's children (an empty list for one without)."""
        ...

    def get_events_by_execution_ids(self, execution_ids: Sequence[int]) -> list[pb.Event]:
        """The events of those executions."""
        ...

    def get_events_by_artifact_ids(self, artifact_ids: Sequence[int]) -> list[pb.Event]:
        """The events of those artifacts."""
        ...

    # --- lineage --------------------------------------------------------------------------------

    def get_lineage_subgraph(
        self, query_options: pb.LineageSubgraphQueryOptions, field_mask_paths: Sequence[str] | None = None
    ) -> pb.LineageGraph:
        """MLMD's lineage subgraph: hydrated nodes, and only the types those nodes use."""
        ...

    def get_lineage_graph(self, query_options: pb.LineageGraphQueryOptions) -> pb.LineageGraph:
        """The deprecated GetLineageGraph."""
        ...

    def lineage_page(self, **walk: Any) -> Any:
        """One page of mlineage's own lineage walk (hops, cursor, tombstones), as
        ``mlineage.lineage.lineage`` builds it: embedded, or over gRPC (HistoryService.GetLineage)."""
        ...

    # --- metric series (mlineage's own, not MLMD's) ---------------------------------------------

    def put_metric_series(self, series: Sequence[mpb.MetricSeries]) -> int:
        """Store metric points; how many were new. NOT_FOUND: an unknown execution; points already stored are skipped."""
        ...

    def get_metric_series(self, execution_ids: Sequence[int], names: Sequence[str] = ()) -> list[mpb.MetricSeries]:
        """Every point of the named metrics (all when ``names`` is empty) of ``execution_ids``."""
        ...

    # --- history (mlineage's own) ---

    def get_artifact_history(self, artifact_id: int) -> list[Revision]:
        """Every revision of an artifact, oldest first; NOT_FOUND for an id no artifact ever had."""
        ...

    def get_execution_history(self, execution_id: int) -> list[Revision]:
        """Every revision of an execution, oldest first."""
        ...

    def get_context_history(self, context_id: int) -> list[Revision]:
        """Every revision of a context, oldest first."""
        ...

    def delete_artifacts(self, artifact_ids: Sequence[int]) -> int:
        """Delete artifacts (kept in history, tombstones in lineage); NOT_FOUND, deleting nothing, for a missing id."""
        ...

    def delete_executions(self, execution_ids: Sequence[int]) -> int:
        """Delete executions (see delete_artifacts)."""
        ...

    def delete_contexts(self, context_ids: Sequence[int]) -> int:
        """Delete contexts (see delete_artifacts)."""
        ...


if TYPE_CHECKING:  # only the type checker reads this: at run time nothing here imports SQLAlchemy
    from mlineage.metadata.store import Store

    def _implemented_by_store(store: Store) -> StoreInterface:
        return store  # the type checker holds Store to StoreInterface here


__all__ = ["StoreInterface"]
