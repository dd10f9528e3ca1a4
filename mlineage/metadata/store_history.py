"""The store's history rules: reads as of a moment, the revisions of a node, deletion.

``Store`` inherits these methods; they use only the store's transactions and the
access functions (``history``, ``nodes``, ``types``), as the rest of the store does.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from mlineage.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mlineage.metadata import history
from mlineage.metadata import nodes as node_access
from mlineage.metadata import types as type_access
from mlineage.metadata.as_of import AsOfStore, now_ms, parse_moment
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.revisions import Change, Revision, changed_paths, diff

if TYPE_CHECKING:
    from sqlalchemy import Connection

# The most revisions one history read answers (a node changed more often is read in pages).
MAX_REVISIONS = 10_000


_Method = TypeVar("_Method", bound=Callable[..., Any])
_IN_ORDER_TRIES = 5


def in_order(method: _Method) -> _Method:
    """Decorate a store's single write call: run it again (recording a newer change) when it rolled
    back with ``history.OutOfOrderWrite``, up to five times. Inside a unit of work the whole unit must
    be retried, by its caller: the error goes up as is (ABORTED)."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(_IN_ORDER_TRIES):
            try:
                return method(self, *args, **kwargs)
            except history.OutOfOrderWrite:
                joined = getattr(getattr(self, "_in_transaction", None), "tx", None)
                if joined is not None or attempt == _IN_ORDER_TRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    return run  # type: ignore[return-value]



class HistoryMethods:
    """History reads and deletion, mixed into ``Store``."""

    if TYPE_CHECKING:  # what the methods use of Store
        _types: type_access.TypeCache

        @property
        def namespace(self) -> str: ...
        def _read(self) -> contextlib.AbstractContextManager[Connection]: ...
        def _write(self) -> contextlib.AbstractContextManager[Connection]: ...
        def _by_ids(self, kind: NodeKind, ids: Sequence[int]) -> list: ...

    # --- reads as of a moment ------------------------------------------------------------------

    def as_of(self, moment: str | int | float | datetime) -> AsOfStore:
        """A read-only view of the store as it was at ``moment`` (epoch ms, RFC 3339 text or an aware datetime).

        Every read of the view answers what the store answered then: nodes deleted
        since are whole, nodes created since are absent. INVALID_ARGUMENT for a moment
        in the future, before the store existed, or not a moment at all.
        """
        ms = parse_moment(moment)
        with self._read() as connection:
            point = history.resolve(connection, ms, self.namespace, now_ms())
        return AsOfStore(self, point)  # type: ignore[arg-type]  # self is a Store

    # --- revisions -----------------------------------------------------------------------------

    def node_history(self, kind: NodeKind, node_id: int) -> list[Revision]:
        """Every revision of a node of ``kind``, oldest first (a deleted one ends with its "delete")."""
        if isinstance(node_id, bool) or not isinstance(node_id, int):
            raise InvalidArgumentError(f"{kind.name} id must be an integer")
        with self._read() as connection:
            versions = history.versions_of(connection, kind.table, node_id)
            if not versions:
                raise NotFoundError(f"No {kind.name} found with id {node_id}")
            versions = versions[-MAX_REVISIONS:]
            wanted = [v.change_id for v in versions] + [v.closed_by for v in versions if v.closed_by]
            changes = history.changes_by_id(connection, wanted)
        revisions: list[Revision] = []
        previous = None
        for version in versions:
            change = changes.get(version.change_id)
            moment = change.recorded_ms if change is not None else int(version.create_time_ms or 0)
            with history.reading_as_of(history.AsOf(change_id=version.change_id, ms=moment)):
                found = self._by_ids(kind, [node_id])
            node = found[0] if found else None
            revisions.append(
                Revision(
                    revision=version.revision,
                    operation="create" if previous is None and version.revision == 1 else "update",
                    time_ms=moment,
                    surface=change.surface if change is not None else "migration",
                    actor=change.actor if change is not None else None,
                    peer=change.peer if change is not None else None,
                    changed=changed_paths(previous, node) if node is not None else (),
                    node=node,
                )
            )
            previous = node
        last = versions[-1]
        if last.closed_by is not None:  # closed and never followed: deleted
            change = changes.get(last.closed_by)
            revisions.append(
                Revision(
                    revision=last.revision + 1,
                    operation="delete",
                    time_ms=change.recorded_ms if change is not None else 0,
                    surface=change.surface if change is not None else "migration",
                    actor=change.actor if change is not None else None,
                    peer=change.peer if change is not None else None,
                    changed=(),
                    node=None,
                )
            )
        return revisions

    def get_artifact_history(self, artifact_id: int) -> list[Revision]:
        """Every revision of an artifact, oldest first (a deleted one ends with its "delete")."""
        return self.node_history(ARTIFACT, artifact_id)

    def get_execution_history(self, execution_id: int) -> list[Revision]:
        """Every revision of an execution, oldest first."""
        return self.node_history(EXECUTION, execution_id)

    def get_context_history(self, context_id: int) -> list[Revision]:
        """Every revision of a context, oldest first."""
        return self.node_history(CONTEXT, context_id)

    def diff_revisions(self, kind: NodeKind, node_id: int, first: int, second: int) -> list[Change]:
        """What changed in a node of ``kind`` from revision ``first`` to ``second``."""
        revisions = {revision.revision: revision for revision in self.node_history(kind, node_id)}
        for number in (first, second):
            if isinstance(number, bool) or not isinstance(number, int) or number not in revisions:
                known = f"1 to {max(revisions)}" if revisions else "none"
                raise NotFoundError(
                    f"{kind.name} {node_id} has no revision {number!r} (its revisions: {known})"
                )
        return diff(revisions[first].node, revisions[second].node)

    def diff_artifact_revisions(self, artifact_id: int, first: int, second: int) -> list[Change]:
        """What changed in an artifact from revision ``first`` to ``second`` (any two, either order)."""
        return self.diff_revisions(ARTIFACT, artifact_id, first, second)

    def diff_execution_revisions(self, execution_id: int, first: int, second: int) -> list[Change]:
        """What changed in an execution from revision ``first`` to ``second``."""
        return self.diff_revisions(EXECUTION, execution_id, first, second)

    def diff_context_revisions(self, context_id: int, first: int, second: int) -> list[Change]:
        """What changed in a context from revision ``first`` to ``second``."""
        return self.diff_revisions(CONTEXT, context_id, first, second)

    # --- deletion ------------------------------------------------------------------------------

    @in_order
    def delete_nodes(self, kind: NodeKind, ids: Sequence[int]) -> int:
        """Delete nodes of ``kind`` (see :meth:`delete_artifacts`); how many were deleted."""
        wanted: list[int] = []
        for value in ids:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidArgumentError(f"{kind.name} ids must be integers")
            if value not in wanted:
                wanted.append(value)
        if not wanted:
            return 0
        with self._write() as connection:
            history.lock_versions(connection, kind.table, wanted)  # before its change is recorded
            found = node_access.existing_ids(connection, kind, set(wanted))
            missing = [i for i in wanted if i not in found]
            if missing:
                raise NotFoundError(
                    f"No {kind.name} found with id {missing[0]}"
                    + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
                )
            change = history.change_id(connection)
            history.close_links(connection, kind, wanted, change)
            history.close_node_versions(connection, kind, wanted, change)
            node_access.delete_nodes(connection, kind, wanted)
        return len(wanted)

    def delete_artifacts(self, artifact_ids: Sequence[int]) -> int:
        """Delete artifacts: gone from every read and list, kept in history (as-of reads, lineage tombstones).

        NOT_FOUND, deleting nothing, when an id names no artifact. Returns how many were deleted.
        """
        return self.delete_nodes(ARTIFACT, artifact_ids)

    def delete_executions(self, execution_ids: Sequence[int]) -> int:
        """Delete executions (see :meth:`delete_artifacts`)."""
        return self.delete_nodes(EXECUTION, execution_ids)

    def delete_contexts(self, context_ids: Sequence[int]) -> int:
        """Delete contexts (see :meth:`delete_artifacts`); their members stay."""
        return self.delete_nodes(CONTEXT, context_ids)

    def _delete_type(self, kind: NodeKind, type_name: str, type_version: str | None) -> None:
        with self._write() as connection:
            info = type_access.find_type(connection, kind, type_name, type_version or "", self.namespace)
            if info is None:
                raise NotFoundError(f"No {kind.name} type found with name {type_name!r}")
            live = node_access.count_of_type(connection, kind, info.id)
            if live:
                raise FailedPreconditionError(
                    f"{kind.name} type {type_name!r} still has {live} live {kind.plural}: delete them first"
                )
            change = history.change_id(connection)
            history.close_type_versions(connection, [info.id], change)
            type_access.delete_type(connection, info.id)
        self._types.forget(info.id)

    def delete_artifact_type(self, type_name: str, type_version: str | None = None) -> None:
        """Delete an artifact type that no live artifact has (FAILED_PRECONDITION otherwise)."""
        self._delete_type(ARTIFACT, type_name, type_version)

    def delete_execution_type(self, type_name: str, type_version: str | None = None) -> None:
        """Delete an execution type that no live execution has."""
        self._delete_type(EXECUTION, type_name, type_version)

    def delete_context_type(self, type_name: str, type_version: str | None = None) -> None:
        """Delete a context type that no live context has."""
        self._delete_type(CONTEXT, type_name, type_version)
