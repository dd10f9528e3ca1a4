"""Access to ``parent_contexts``: the context hierarchy's edges, its lock, and walks up it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, bindparam, insert, select, text

from mlineage.metadata import dialect, executor, history
from mlineage.schema import tables as t

#: The PostgreSQL advisory lock that serialises changes to the context hierarchy.
_HIERARCHY_LOCK = 7265110


def lock_hierarchy(connection: executor.AnyConnection) -> None:
    """Serialise hierarchy changes until the transaction ends (PostgreSQL; SQLite has one writer anyway),
    so that two concurrent calls cannot close a cycle together. Raises only the driver's errors."""
    if connection.dialect.name == "postgresql":
        executor.fetch(connection, "lock_hierarchy", lambda _: text(f"SELECT pg_advisory_xact_lock({_HIERARCHY_LOCK})"), {})
    elif connection.dialect.name == "mysql":
        # MySQL's named locks outlive the transaction; a row lock does not: the schema's one version row.
        executor.fetch(
            connection, "lock_hierarchy", lambda _: text("SELECT version_num FROM alembic_version FOR UPDATE"), {}
        )


def edge_exists(connection: executor.AnyConnection, child_id: int, parent_id: int) -> bool:
    """Whether ``child_id`` already has ``parent_id`` as a parent."""
    edges = t.parent_contexts
    rows = executor.fetch(
        connection,
        "parent_edge_exists",
        lambda _: select(edges.c.child_id).where(
            and_(edges.c.child_id == bindparam("p_child"), edges.c.parent_id == bindparam("p_parent"))
        ),
        {"p_child": child_id, "p_parent": parent_id},
    )
    return bool(rows)


def ancestors(connection: executor.AnyConnection, context_id: int) -> set[int]:
    """Every ancestor of ``context_id`` (parents, their parents, …), by one recursive query."""

    def build(_dialect: str):
        edges = t.parent_contexts
        seed = (
            select(edges.c.parent_id.label("id"))
            .where(edges.c.child_id == bindparam("p_context"))
            .cte("ancestors", recursive=True)
        )
        seed = seed.union(select(edges.c.parent_id).join(seed, edges.c.child_id == seed.c.id))
        return select(seed.c.id)

    return {row[0] for row in executor.fetch(connection, "context_ancestors", build, {"p_context": context_id})}


def insert_edge(connection: executor.AnyConnection, child_id: int, parent_id: int) -> None:
    """Insert one edge; raises the driver's IntegrityError for a stored edge or a missing context."""
    executor.execute_many(
        connection,
        "insert_parent_edge",
        lambda _: insert(t.parent_contexts).values(
            child_id=bindparam("p_child"), parent_id=bindparam("p_parent"), change_id=bindparam("p_change")
        ),
        [{"p_child": child_id, "p_parent": parent_id, "p_change": history.change_id(connection)}],
    )


def related(connection: executor.AnyConnection, context_ids: Sequence[int], *, parents: bool) -> list[tuple[int, int]]:
    """(context id, its parent id) pairs of ``context_ids`` (``parents``), or (context id, child id), unordered."""
    edges = t.parent_contexts
    source, target = (edges.c.child_id, edges.c.parent_id) if parents else (edges.c.parent_id, edges.c.child_id)
    pairs: list[tuple[int, int]] = []
    for part in dialect.chunks(list(context_ids), dialect.LARGE_BATCH):
        pairs.extend(
            (row[0], row[1])
            for row in executor.fetch(
                connection,
                ("related_contexts", parents),
                lambda dialect_name: select(source, target).where(dialect.ids_match(dialect_name, source)),
                {"ids": dialect.ids_param(connection.dialect.name, part)},
            )
        )
    return pairs


__all__ = ["ancestors", "edge_exists", "insert_edge", "lock_hierarchy", "related"]
