"""The store's purge and retention rules: delete what a filter selects (keeping what live models came from), drop old history.

``Store`` inherits :meth:`PurgeMethods.purge`. A purge decides everything from one
read (the candidates, the nodes to keep), then deletes through the store's own
deletion (``delete_nodes``: history kept, lineage tombstones) in bounded batches,
one write transaction each, so no purge holds a long lock on a shared database.
Its history retention hard-removes the ``*_history`` rows of versions ended more
than a window ago, in batches too: reads as of a moment after the window answer
as before; reads of earlier moments lose what was removed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.metadata import history
from mlineage.metadata import nodes as node_access
from mlineage.metadata.as_of import now_ms
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, KINDS, NodeKind
from mlineage.metadata.listing import PageRequest, list_rows

if TYPE_CHECKING:
    from sqlalchemy import Connection

# Rows read per page while the candidates are listed (the listing's own ceiling).
_PAGE = 1000
# Enough hops for any pipeline: the walk ends when its frontier is empty, long before this.
_UPSTREAM_HOPS = 1_000_000
# A list row's columns (nodes.node_select): id, type name, name, create time, uri.
_ID, _TYPE_NAME, _NAME, _CREATED, _URI = 0, 2, 3, 5, 8

_DURATION = re.compile(r"\s*(\d{1,15})\s*(ms|s|m|h|d)\s*")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
#: The longest window a purge takes (ten thousand years): every moment since the epoch is inside it.
MAX_DURATION_MS = 10_000 * 365 * 86_400_000


def parse_duration(text: str | int) -> int:
    """A duration as milliseconds: ``90d``, ``12h``, ``30m``, ``45s``, ``500ms`` (or an int of ms).

    INVALID_ARGUMENT for anything else, a negative duration included.
    """
    if isinstance(text, bool):
        raise InvalidArgumentError("a duration must be a number and a unit (90d, 12h, 30m, 45s, 500ms)")
    if isinstance(text, int):
        return _window("a duration", text)
    if not isinstance(text, str):
        raise InvalidArgumentError("a duration must be a number and a unit (90d, 12h, 30m, 45s, 500ms)")
    match = _DURATION.fullmatch(text)
    if match is None:
        shown = text[:64]
        hint = "durations cannot be negative" if shown.strip().startswith("-") else "use e.g. 90d, 12h, 30m, 45s, 500ms"
        raise InvalidArgumentError(f"{shown!r} is not a duration: {hint}")
    return _window(f"the duration {text.strip()!r}", int(match.group(1)) * _UNIT_MS[match.group(2)])


@dataclass(frozen=True)
class PurgedNode:
    """One node a purge selected: its id, its type's name, its name and (artifacts) its URI."""

    id: int
    type: str
    name: str | None
    uri: str | None


@dataclass(frozen=True)
class PurgeResult:
    """What a purge selected and did.

    ``count``: the nodes selected (a dry run and a real run with the same arguments agree);
    ``sample``: the first of them, oldest first; ``deleted``: how many the run deleted (0 on a
    dry run; fewer than ``count`` only if others deleted some meanwhile); ``history_rows``: the
    history rows older than the retention window; ``history_rows_removed``: how many of them the
    run removed (0 on a dry run).
    """

    kind: str | None
    dry_run: bool
    count: int
    sample: tuple[PurgedNode, ...] = field(default_factory=tuple)
    deleted: int = 0
    history_rows: int = 0
    history_rows_removed: int = 0

    def to_json(self) -> dict[str, Any]:
        """The result as JSON values (what REST answers and ``mlineage purge --format json`` prints)."""
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "count": self.count,
            "sample": [{"id": n.id, "type": n.type, "name": n.name, "uri": n.uri} for n in self.sample],
            "deleted": self.deleted,
            "history_rows": self.history_rows,
            "history_rows_removed": self.history_rows_removed,
        }


def _kind_of(kind: str | None) -> NodeKind | None:
    if kind is None:
        return None
    if isinstance(kind, str):
        found = KINDS.get(kind) or next((k for k in KINDS.values() if k.plural == kind), None)
        if found is not None:
            return found
    raise InvalidArgumentError(f"unknown kind {str(kind)[:64]!r}: one of artifacts, executions, contexts")


def _window(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be a whole number of milliseconds")
    if value < 0:
        raise InvalidArgumentError(f"{name} must not be negative, got {value}")
    if value > MAX_DURATION_MS:
        raise InvalidArgumentError(f"{name} is longer than {MAX_DURATION_MS} ms (ten thousand years)")
    return value


def _query(name: str, value: Any, kind: NodeKind) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a filter query (text)")
    # Imported here, as listing does: the filter parser loads on first use.
    from mlineage.metadata.filter_query import compile_filter

    try:
        compile_filter(kind.name, value)  # the filter language's INVALID_ARGUMENT, before anything runs
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{name}: {exc.message}") from None
    return value


class PurgeMethods:
    """Purge and history retention, mixed into ``Store``."""

    if TYPE_CHECKING:  # what the methods use of Store
        @property
        def namespace(self) -> str: ...
        def _read(self) -> contextlib.AbstractContextManager[Connection]: ...
        def _write(self) -> contextlib.AbstractContextManager[Connection]: ...
        def delete_nodes(self, kind: NodeKind, ids: Sequence[int]) -> int: ...

    def purge(
        self,
        kind: str | None,
        filter_query: str | None = None,
        *,
        older_than_ms: int | None = None,
        keep_upstream_of: str | None = None,
        dry_run: bool = True,
        history_older_than_ms: int | None = None,
        batch_size: int = 500,
        sample_size: int = 10,
    ) -> PurgeResult:
        """Delete the nodes of ``kind`` that ``filter_query`` selects, and old history if asked.

        Candidates are the nodes of ``kind`` ("artifacts", "executions", "contexts")
        that the MLMD filter query matches (None or "" matches every node), created
        more than ``older_than_ms`` ago when given. ``keep_upstream_of`` (an artifact
        filter query) keeps every artifact and execution upstream of, or equal to, an
        artifact it matches, walking through deleted nodes too (artifacts and
        executions only). ``history_older_than_ms`` hard-removes the history rows of
        versions ended more than that long ago. ``kind=None`` purges no node (history
        retention alone).

        A dry run (the default) changes nothing and answers the count and a sample
        (``sample_size``, oldest first). A real run decides the same nodes, then deletes
        them in batches of ``batch_size``, one transaction each, and answers the same
        count. INVALID_ARGUMENT, changing nothing, for an unknown kind, a malformed
        filter, a negative duration or batch size.
        """
        node_kind = _kind_of(kind)
        older = None if older_than_ms is None else _window("older_than_ms", older_than_ms)
        retention = None if history_older_than_ms is None else _window("history_older_than_ms", history_older_than_ms)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError("batch_size must be a positive whole number")
        if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 0:
            raise InvalidArgumentError("sample_size must not be negative")
        if node_kind is None:
            if filter_query is not None or older is not None or keep_upstream_of is not None:
                raise InvalidArgumentError("a filter, older_than or keep_upstream_of needs a kind of node")
            if retention is None:
                raise InvalidArgumentError("nothing to purge: give a kind of node or history_older_than")
        else:
            filter_query = _query("filter", filter_query, node_kind)
            keep_upstream_of = _query("keep_upstream_of", keep_upstream_of, ARTIFACT)
            if keep_upstream_of is not None and node_kind is CONTEXT:
                raise InvalidArgumentError("keep_upstream_of keeps artifacts and executions; contexts have no lineage")
        now = now_ms()
        history_before = None if retention is None else now - retention

        candidates: list[tuple] = []
        history_rows = 0
        with self._read() as connection:
            if node_kind is not None:
                candidates = _candidates(
                    connection, node_kind, filter_query or "", self.namespace,
                    None if older is None else now - older,
                )
                if keep_upstream_of is not None and candidates:
                    kept = _upstream_of(connection, node_kind, keep_upstream_of, self.namespace)
                    candidates = [row for row in candidates if row[_ID] not in kept]
            if history_before is not None:
                history_rows = sum(
                    history.count_history_before(connection, table, self.namespace, history_before)
                    for table in history.HISTORY_TABLE_ORDER
                )
        sample = tuple(
            PurgedNode(int(row[_ID]), row[_TYPE_NAME], row[_NAME], row[_URI]) for row in candidates[:sample_size]
        )
        result = PurgeResult(
            kind=None if node_kind is None else node_kind.plural,
            dry_run=bool(dry_run),
            count=len(candidates),
            sample=sample,
            history_rows=history_rows,
        )
        if dry_run:
            return result
        deleted = 0
        if node_kind is not None:
            ids = sorted(int(row[_ID]) for row in candidates)
            for start in range(0, len(ids), batch_size):
                deleted += self._delete_batch(node_kind, ids[start : start + batch_size])
        removed = 0
        if history_before is not None:
            removed = self._remove_history(history_before, batch_size)
        return PurgeResult(
            kind=result.kind, dry_run=False, count=result.count, sample=sample, deleted=deleted,
            history_rows=history_rows, history_rows_removed=removed,
        )

    def _delete_batch(self, kind: NodeKind, ids: list[int]) -> int:
        """Delete one batch (one transaction); nodes someone else deleted since the purge's read are skipped."""
        try:
            return self.delete_nodes(kind, ids)
        except NotFoundError:
            with self._read() as connection:
                present = node_access.existing_ids(connection, kind, set(ids))
            return self.delete_nodes(kind, [i for i in ids if i in present])

    def _remove_history(self, before_ms: int, batch_size: int) -> int:
        """Hard-remove history ended before ``before_ms``: at most ``batch_size`` rows per transaction."""
        removed = 0
        for table in history.HISTORY_TABLE_ORDER:
            while True:
                with self._write() as connection:
                    count = history.remove_history_before(
                        connection, table, self.namespace, before_ms, batch_size
                    )
                removed += count
                if count < batch_size:
                    break
        return removed


def _candidates(
    connection: Connection, kind: NodeKind, filter_query: str, namespace: str, created_before: int | None
) -> list[tuple]:
    """The list rows of the nodes the filter selects, created before ``created_before``, oldest first."""
    found: list[tuple] = []
    for rows in _pages(connection, kind, filter_query, namespace):
        for row in rows:
            if created_before is not None and row[_CREATED] >= created_before:
                return found
            found.append(row)
    return found


def _pages(connection: Connection, kind: NodeKind, filter_query: str, namespace: str) -> Iterator[list[tuple]]:
    """Every node the filter selects, in pages ordered by create time (then id)."""
    after: tuple | None = None
    while True:
        request = PageRequest(_PAGE, "create_time_since_epoch", True, filter_query, after)
        rows = list_rows(connection, kind, request, namespace)
        page = rows[:_PAGE]
        if page:
            yield page
        if len(rows) <= _PAGE:
            return
        after = (page[-1][_CREATED], page[-1][_ID])


def _upstream_of(connection: Connection, kind: NodeKind, artifact_filter: str, namespace: str) -> set[int]:
    """The ids of ``kind``'s nodes upstream of (or equal to) the artifacts ``artifact_filter`` matches."""
    # Imported here, as store.py's lineage reads import the engine.
    from mlineage.metadata.lineage_engine.traversal import Direction, traverse

    roots = [int(row[_ID]) for rows in _pages(connection, ARTIFACT, artifact_filter, namespace) for row in rows]
    if not roots:
        return set()
    # Through deleted nodes too: what a live model came from stays, even past a tombstone.
    walking = history.walking_deleted_edges() if history.any_deleted_edges(connection) else contextlib.nullcontext()
    with walking:
        walk = traverse(connection, artifact_ids=roots, direction=Direction.UPSTREAM, max_hops=_UPSTREAM_HOPS)
    if kind is EXECUTION:
        return set(walk.executions)
    return set(walk.artifacts)


__all__ = ["MAX_DURATION_MS", "PurgeMethods", "PurgeResult", "PurgedNode", "parse_duration"]
