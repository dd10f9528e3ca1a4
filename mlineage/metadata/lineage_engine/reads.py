"""Raw reads for lineage: the events of a frontier, event rows, memberships and types, by id lists."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Connection

from mlineage.metadata.kinds import ARTIFACT, NodeKind

#: Ids per IN list; well below SQLite's bound-parameter limit.
_BATCH = 900
#: Ids per JSON array or PostgreSQL array parameter.
_BIG_BATCH = 10_000
_FULL_COLUMNS = "id, artifact_id, execution_id, type, path, milliseconds_since_epoch, system_metadata"


class EventEdge(NamedTuple):
    """An event as the walk sees it; the full row (path, time) is read only for the answer."""

    id: int
    artifact_id: int
    execution_id: int
    type: int


class EventReader:
    """The lineage module's reads, on the driver connection of a SQLAlchemy connection.

    Statement texts are fixed (ids and event types are bound, never spliced), so
    SQLite's statement cache and PostgreSQL's prepared statements are reused hop
    after hop; going below SQLAlchemy saves its per-statement overhead, which at
    fifty hops would be most of a query's time.
    """

    def __init__(self, connection: Connection) -> None:
        if not connection.in_transaction():
            connection.begin()  # one snapshot for the whole walk
        self._cursor = connection.connection.cursor()
        self._postgres = connection.dialect.name == "postgresql"

    def statement(
        self, kind: NodeKind, ids: Sequence[int], types: tuple[int, ...] | None = None, *, full: bool = False
    ) -> tuple[str, tuple]:
        """The hop query (SQL text and parameters) for the events of ``ids``, optionally of some types
        (``full``: the columns of ``event_rows``, not only the edge's)."""
        column = "artifact_id" if kind is ARTIFACT else "execution_id"
        ids = list(ids)
        if self._postgres:
            where = f"{column} = ANY(%s)"
            params: tuple = (ids,)
            if types is not None:
                where += " AND type = ANY(%s)"
                params += (list(types),)
        else:
            where = f"{column} IN ({','.join('?' * len(ids))})"
            params = tuple(ids)
            if types is not None:
                where += f" AND type IN ({','.join('?' * len(types))})"
                params += tuple(types)
        columns = _FULL_COLUMNS if full else "id, artifact_id, execution_id, type"
        return f"SELECT {columns} FROM events WHERE {where}", params

    def events_of(
        self, kind: NodeKind, ids: Sequence[int], types: tuple[int, ...] | None = None, *, full: bool = False
    ) -> list:
        """Events of the given artifacts (or executions), optionally of some types only: EventEdges,
        or with ``full`` the rows ``event_rows`` answers (plain tuples)."""
        rows: list = []
        for start in range(0, len(ids), _BATCH):
            self._cursor.execute(*self.statement(kind, ids[start : start + _BATCH], types, full=full))
            found = self._cursor.fetchall()
            rows.extend(found if full else (EventEdge(*row) for row in found))
        return rows

    def ids_clause(self, column: str) -> str:
        # One statement text whatever the number of ids: a JSON array on SQLite, an array on PostgreSQL.
        if self._postgres:
            return f"{column} = ANY(%s)"
        return f"{column} IN (SELECT value FROM json_each(?))"

    def _by_ids(self, sql: str, ids: Sequence[int]) -> list[tuple]:
        rows: list[tuple] = []
        ids = list(ids)
        for start in range(0, len(ids), _BIG_BATCH):
            part = ids[start : start + _BIG_BATCH]
            self._cursor.execute(sql, (part if self._postgres else json.dumps(part),))
            rows.extend(self._cursor.fetchall())
        return rows

    def event_rows(self, event_ids: Sequence[int]) -> list[tuple]:
        """(id, artifact_id, execution_id, type, path, milliseconds_since_epoch, system_metadata) by id."""
        sql = f"SELECT {_FULL_COLUMNS} FROM events WHERE {self.ids_clause('id')}"
        return self._by_ids(sql, event_ids)

    def memberships(self, kind: NodeKind, ids: Sequence[int]) -> list[tuple[int, int]]:
        """(context_id, node id) attributions of artifacts, or associations of executions."""
        table, column = ("attributions", "artifact_id") if kind is ARTIFACT else ("associations", "execution_id")
        return self._by_ids(f"SELECT context_id, {column} FROM {table} WHERE {self.ids_clause(column)}", ids)

    def types(self, type_ids: Sequence[int]) -> tuple[list[tuple], list[tuple]]:
        """Type rows (the columns of ``TypeInfo``) and their (type_id, name, data_type) properties."""
        if not type_ids:
            return [], []
        types = self._by_ids(
            "SELECT id, kind, name, version, namespace, description, external_id, base_type, input_type, "
            f"output_type FROM types WHERE {self.ids_clause('id')}",
            type_ids,
        )
        properties = self._by_ids(
            f"SELECT type_id, name, data_type FROM type_properties WHERE {self.ids_clause('type_id')}", type_ids
        )
        return types, properties

    def close(self) -> None:
        self._cursor.close()


def events_between(connection: Connection, artifact_ids: Sequence[int], execution_ids: Sequence[int]) -> list:
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
