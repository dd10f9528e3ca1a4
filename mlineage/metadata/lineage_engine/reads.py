"""Lineage reads: the events of a frontier, event rows, memberships and types, by id lists.

Every statement is a SQLAlchemy construct run through the executor, compiled
once per shape and cached, with ids and event types bound, never spliced, so
SQLite's statement cache and PostgreSQL's prepared statements are reused hop
after hop; the executor runs them on the driver's cursor, below SQLAlchemy's
per-statement overhead, which at fifty hops would be most of a query's time.
A hop's ids are an ``IN`` list on SQLite (one statement per list length;
measured faster there than a JSON array) and one array parameter on
PostgreSQL; the other reads take their ids as one parameter on both
(``dialect.ids_match``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from mlineage.metadata import dialect, executor
from mlineage.metadata.kinds import ARTIFACT, NodeKind
from mlineage.metadata.links import membership_table
from mlineage.schema import tables as t

_EVENTS = t.events
_EDGE_COLUMNS = (_EVENTS.c.id, _EVENTS.c.artifact_id, _EVENTS.c.execution_id, _EVENTS.c.type)
_FULL_COLUMNS = (*_EDGE_COLUMNS, _EVENTS.c.path, _EVENTS.c.milliseconds_since_epoch, _EVENTS.c.system_metadata)
_TYPE_COLUMNS = (
    t.types.c.id,
    t.types.c.kind,
    t.types.c.name,
    t.types.c.version,
    t.types.c.namespace,
    t.types.c.description,
    t.types.c.external_id,
    t.types.c.base_type,
    t.types.c.input_type,
    t.types.c.output_type,
)


class EventEdge(NamedTuple):
    """An event as the walk sees it; the full row (path, time) is read only for the answer."""

    id: int
    artifact_id: int
    execution_id: int
    type: int


@functools.lru_cache(maxsize=4096)
def _hop_statement(kind: NodeKind, count: int, types: tuple[int, ...] | None, full: bool) -> executor.Builder:
    column = _EVENTS.c.artifact_id if kind is ARTIFACT else _EVENTS.c.execution_id

    def build(dialect_name: str):
        conditions = [dialect.ids_in(dialect_name, column, count, "n")]
        if types is not None:
            conditions.append(dialect.ids_in(dialect_name, _EVENTS.c.type, len(types), "t"))
        return select(*(_FULL_COLUMNS if full else _EDGE_COLUMNS)).where(*conditions)

    return build


@functools.lru_cache(maxsize=64)
def _by_ids_statement(columns: tuple, column: Any) -> executor.Builder:
    return lambda dialect_name: select(*columns).where(dialect.ids_match(dialect_name, column))


@functools.lru_cache(maxsize=4096)
def _hop_shape(
    kind: NodeKind, count: int, types: tuple[int, ...] | None, full: bool, dialect_name: str
) -> tuple[tuple, executor.Builder, tuple[str, ...]]:
    """A hop statement's cache key, builder and (SQLite) parameter names: the ids', then the types'."""
    names = tuple(dialect.in_params(dialect_name, "n", range(count)))
    if types is not None:
        names += tuple(dialect.in_params(dialect_name, "t", types))
    return ("lineage_hop", kind.name, count, types, full), _hop_statement(kind, count, types, full), names


class EventReader:
    """The lineage engine's reads on one connection, in one snapshot (the walk's read transaction)."""

    def __init__(self, connection: executor.AnyConnection) -> None:
        if isinstance(connection, Connection) and not connection.in_transaction():
            connection.begin()  # one snapshot for the whole walk
        self._connection = connection
        self._dialect = connection.dialect.name
        self._postgres = self._dialect == "postgresql"
        self._reads = executor.Reads(connection)  # one cursor for the whole walk

    def _hop(self, kind: NodeKind, ids: Sequence[int], types: tuple[int, ...] | None, full: bool):
        if self._postgres:  # one statement whatever the count: ids and types as arrays
            key, build, _ = _hop_shape(kind, 0, types, full, self._dialect)
            params: dict[str, Any] = {"n": list(ids)} if types is None else {"n": list(ids), "t": list(types)}
            return key, build, params
        key, build, names = _hop_shape(kind, len(ids), types, full, self._dialect)
        return key, build, dict(zip(names, (*ids, *types) if types is not None else ids, strict=True))

    def statement(
        self, kind: NodeKind, ids: Sequence[int], types: tuple[int, ...] | None = None, *, full: bool = False
    ) -> tuple[str, Any]:
        """The hop query (SQL text and its parameters as the driver takes them) for the events of
        ``ids``, optionally of some types (``full``: the columns of ``event_rows``); for EXPLAIN."""
        key, build, params = self._hop(kind, list(ids), types, full)
        return executor.statement_text(self._connection, key, build, params)

    def events_of(
        self, kind: NodeKind, ids: Sequence[int], types: tuple[int, ...] | None = None, *, full: bool = False
    ) -> list:
        """Events of the given artifacts (or executions), optionally of some types only: EventEdges,
        or with ``full`` the rows ``event_rows`` answers (plain tuples). Raises the driver's errors."""
        rows: list = []
        for start in range(0, len(ids), dialect.HOP_BATCH):
            key, build, params = self._hop(kind, ids[start : start + dialect.HOP_BATCH], types, full)
            found = self._reads.fetch(key, build, params)
            rows.extend(found if full else (EventEdge(*row) for row in found))
        return rows

    def _by_ids(self, key: str, build: executor.Builder, ids: Sequence[int]) -> list[tuple]:
        rows: list[tuple] = []
        for part in dialect.chunks(list(ids), dialect.BIG_BATCH):
            rows.extend(self._reads.fetch(key, build, {"ids": dialect.ids_param(self._dialect, part)}))
        return rows

    def event_rows(self, event_ids: Sequence[int]) -> list[tuple]:
        """(id, artifact_id, execution_id, type, path, milliseconds_since_epoch, system_metadata) by id."""
        return self._by_ids("lineage_event_rows", _by_ids_statement(_FULL_COLUMNS, _EVENTS.c.id), event_ids)

    def memberships(self, kind: NodeKind, ids: Sequence[int]) -> list[tuple[int, int]]:
        """(context_id, node id) attributions of artifacts, or associations of executions."""
        table = membership_table(kind)
        column = table.c[kind.owner_column]
        build = _by_ids_statement((table.c.context_id, column), column)
        return self._by_ids(f"lineage_memberships_{kind.name}", build, ids)

    def memberships_statement(self, kind: NodeKind, ids: Sequence[int]) -> tuple[str, Any]:
        """The memberships query (SQL text and its parameters as the driver takes them), for EXPLAIN."""
        table = membership_table(kind)
        column = table.c[kind.owner_column]
        build = _by_ids_statement((table.c.context_id, column), column)
        params = {"ids": dialect.ids_param(self._dialect, ids)}
        return executor.statement_text(self._connection, f"lineage_memberships_{kind.name}", build, params)

    def types(self, type_ids: Sequence[int]) -> tuple[list[tuple], list[tuple]]:
        """Type rows (the columns of ``TypeInfo``) and their (type_id, name, data_type) properties."""
        if not type_ids:
            return [], []
        props = t.type_properties
        types = self._by_ids("lineage_types", _by_ids_statement(_TYPE_COLUMNS, t.types.c.id), type_ids)
        properties = self._by_ids(
            "lineage_type_properties",
            _by_ids_statement((props.c.type_id, props.c.name, props.c.data_type), props.c.type_id),
            type_ids,
        )
        return types, properties

    def close(self) -> None:
        """Release the reader's cursor."""
        self._reads.close()


def events_between(
    connection: executor.AnyConnection, artifact_ids: Sequence[int], execution_ids: Sequence[int]
) -> list:
    """EventEdges whose artifact and execution are both in the given sets (the induced edges), by id."""
    if not artifact_ids or not execution_ids:
        return []
    wanted = set(execution_ids)
    reader = EventReader(connection)
    try:
        edges = [row for row in reader.events_of(ARTIFACT, sorted(set(artifact_ids))) if row.execution_id in wanted]
    finally:
        reader.close()
    return sorted(edges)
