"""The import's statements on the target store: rows with their ids kept, in bulk, and what the target holds.

Every function runs on the connection of a store transaction (``tx.connection``)
through the executor, as the rest of the access tier does. Rows are written as
they come from ``mlmd_source`` (the columns of ``schema.tables`` by name), with
``change_id`` 0: records from before mlineage kept their history, whose first
known version counts from their create time (``metadata/history.py``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, literal_column, select

from mlineage.metadata import database, dialect, executor
from mlineage.proto import SYSTEM_TYPE_BASE_TYPES
from mlineage.schema import tables as t

# The nine mlmd.* system types mlineage seeds (as ids 1-9; an MLMD database made before MLMD
# seeded them holds them under later ids), known by name as the store knows them.
SYSTEM_TYPE_NAMES = frozenset(SYSTEM_TYPE_BASE_TYPES)


@dataclass(frozen=True)
class TargetContents:
    """What a target store holds besides the seeded system types."""

    types: int
    nodes: int
    events: int
    links: int
    metric_points: int
    openlineage_events: int
    # Distinct (surface, actor, peer) of its recorded changes.
    changes: frozenset[tuple[str, str | None, str | None]]

    @property
    def empty(self) -> bool:
        return not (self.types or self.nodes or self.events or self.links or self.metric_points
                    or self.openlineage_events or self.changes)  # fmt: skip


def _count(table: Table, where: Any = None) -> Any:
    statement = select(func.count()).select_from(table)
    return (statement.where(where) if where is not None else statement).scalar_subquery()


def target_contents(connection: executor.AnyConnection) -> TargetContents:
    """Counts of the target's rows (types beyond the system types) and its distinct change authors."""
    (row,) = executor.fetch(
        connection,
        ("import.contents",),
        lambda _d: select(
            _count(t.types, t.types.c.name.not_in(SYSTEM_TYPE_NAMES)),
            _count(t.artifacts),
            _count(t.executions),
            _count(t.contexts),
            _count(t.events),
            _count(t.attributions),
            _count(t.associations),
            _count(t.parent_contexts),
            _count(t.metric_points),
            _count(t.openlineage_events),
        ),  # fmt: skip
        {},
    )
    changes = executor.fetch(
        connection,
        ("import.change_authors",),
        lambda _d: select(t.changes.c.surface, t.changes.c.actor, t.changes.c.peer).distinct(),
        {},
    )
    types, artifacts, executions, contexts, events, attributions, associations, parents, points, ol = row
    return TargetContents(
        types=int(types),
        nodes=int(artifacts) + int(executions) + int(contexts),
        events=int(events),
        links=int(attributions) + int(associations) + int(parents),
        metric_points=int(points),
        openlineage_events=int(ol),
        changes=frozenset((r[0], r[1], r[2]) for r in changes),
    )


def type_keys(connection: executor.AnyConnection) -> dict[int, tuple[int, str, str]]:
    """Every type's (kind, name, version) by id."""
    rows = executor.fetch(
        connection,
        ("import.type_keys",),
        lambda _d: select(t.types.c.id, t.types.c.kind, t.types.c.name, t.types.c.version),
        {},
    )
    return {int(r[0]): (int(r[1]), r[2], r[3]) for r in rows}


def move_types(connection: executor.AnyConnection, moves: dict[int, int]) -> None:
    """Give types new ids (old -> new), in two steps so that ids may trade places; only for types no row
    refers to yet (the system types of a target that holds nothing else)."""
    if not moves:
        return
    types = t.types
    statement = ("import.move_type", lambda _d: types.update().where(types.c.id == bindparam("p_old")).values(
        id=bindparam("p_new")
    ))  # fmt: skip
    executor.execute_many(connection, *statement, [{"p_old": old, "p_new": -old} for old in moves])
    executor.execute_many(
        connection, *statement, [{"p_old": -old, "p_new": new} for old, new in moves.items()]
    )


def max_id(connection: executor.AnyConnection, table: Table) -> int:
    """The largest id of ``table`` (0 when empty)."""
    (row,) = executor.fetch(
        connection,
        ("import.max_id", table.name),
        lambda _d: select(func.coalesce(func.max(table.c.id), 0)),
        {},
    )
    return int(row[0])


def row_count(connection: executor.AnyConnection, table: Table) -> int:
    """How many rows ``table`` holds."""
    (row,) = executor.fetch(
        connection, ("import.row_count", table.name), lambda _d: select(_count(table)), {}
    )
    return int(row[0])


def present_ids(connection: executor.AnyConnection, table: Table, ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` are ids of ``table``."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    rows = executor.fetch(
        connection,
        ("import.present_ids", table.name),
        lambda d: select(table.c.id).where(dialect.ids_match(d, table.c.id)),
        {"ids": dialect.ids_param(connection, wanted)},
    )
    return {int(r[0]) for r in rows}


def present_pairs(
    connection: executor.AnyConnection, table: Table, first: str, second: str, second_ids: Iterable[int]
) -> set[tuple[int, int]]:
    """The (first, second) keys of ``table`` whose ``second`` is among ``second_ids``."""
    wanted = sorted(set(second_ids))
    if not wanted:
        return set()
    rows = executor.fetch(
        connection,
        ("import.present_pairs", table.name, first, second),
        lambda d: select(table.c[first], table.c[second]).where(dialect.ids_match(d, table.c[second])),
        {"ids": dialect.ids_param(connection, wanted)},
    )
    return {(int(r[0]), int(r[1])) for r in rows}


def present_event_keys(
    connection: executor.AnyConnection, artifact_ids: Iterable[int]
) -> set[tuple[int, int, int]]:
    """The (artifact_id, execution_id, type) of the events of ``artifact_ids``."""
    wanted = sorted(set(artifact_ids))
    if not wanted:
        return set()
    events = t.events
    rows = executor.fetch(
        connection,
        ("import.event_keys",),
        lambda d: select(events.c.artifact_id, events.c.execution_id, events.c.type).where(
            dialect.ids_match(d, events.c.artifact_id)
        ),
        {"ids": dialect.ids_param(connection, wanted)},
    )
    return {(int(r[0]), int(r[1]), int(r[2])) for r in rows}


def insert_rows(connection: executor.AnyConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same columns, ids given) into ``table``, with ``change_id`` 0.

    Raises the driver's IntegrityError (as SQLAlchemy's) for a key that is taken; the
    caller's transaction is then to be rolled back.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    values = operator.itemgetter(*columns)
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, table, columns, values, rows)
        return
    names = tuple(f"p_{c}" for c in columns)
    executor.execute_many(
        connection,
        ("import.insert", table.name, columns),
        lambda _d: insert(table).values(
            {
                **{c: bindparam(n) for c, n in zip(columns, names, strict=True)},
                "change_id": literal_column("0"),
            }
        ),
        # itemgetter of one column gives the value, not a 1-tuple
        [dict(zip(names, values(row) if len(columns) > 1 else (values(row),), strict=True)) for row in rows],
    )


def _copy_rows(
    connection: executor.AnyConnection,
    table: Table,
    columns: tuple[str, ...],
    values: Callable[[dict[str, Any]], Any],
    rows: Sequence[dict[str, Any]],
) -> None:
    """PostgreSQL: the rows in one COPY (several times an executemany's speed for a batch of thousands)."""
    one = len(columns) == 1
    executor.copy_in(
        connection,
        table.name,
        (*columns, "change_id"),
        (((values(row),) if one else values(row)) + (0,) for row in rows),
    )


def widen_page_cache(connection: Any) -> None:
    """A larger SQLite page cache on the import's connection (64 MiB, against SQLite's 2 MiB): a bulk
    insert into tables of a million rows updates indexes all over the file (bench/import_bench.py)."""
    database.widen_page_cache(connection)


def advance_id_sequence(connection: executor.AnyConnection, table: Table) -> None:
    """After ids were given explicitly: the next id PostgreSQL generates is above the largest (SQLite's
    AUTOINCREMENT counter follows explicit ids by itself)."""
    if connection.dialect.name != "postgresql":
        return
    executor.fetch(
        connection,
        ("import.setval", table.name),
        lambda _d: select(
            func.setval(
                func.pg_get_serial_sequence(table.name, "id"),
                select(func.coalesce(func.max(table.c.id), 1)).scalar_subquery(),
                select(func.count()).select_from(table).scalar_subquery() > 0,
            )
        ),
        {},
    )
