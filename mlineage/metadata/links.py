"""Access to attributions (artifact in context) and associations (execution in context)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select

from mlineage.metadata import dialect, executor, history
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, NodeKind
from mlineage.metadata.nodes import node_select, rows_to_messages
from mlineage.schema import tables as t


def membership_table(kind: NodeKind):
    """The table linking nodes of ``kind`` (artifact or execution) to contexts."""
    return t.attributions if kind is ARTIFACT else t.associations


def _insert_ignoring_duplicates(dialect_name: str, table):
    """INSERT that skips a link already there, in the given dialect."""
    return dialect.insert_ignoring_duplicates(dialect_name, table)


def link(connection: executor.AnyConnection, kind: NodeKind, pairs: Iterable[tuple[int, int]]) -> None:
    """Insert the (context_id, node id) links of nodes of ``kind`` that do not exist yet (MLMD: a
    no-op when present). Raises the driver's IntegrityError for an id that does not exist."""
    rows = sorted(set(pairs))
    if not rows:
        return
    table = membership_table(kind)
    change = history.change_id(connection)
    executor.execute_many(
        connection,
        ("link", table.name),
        lambda dialect_name: _insert_ignoring_duplicates(dialect_name, table).values(
            context_id=bindparam("p_context"),
            change_id=bindparam("p_change"),
            **{kind.owner_column: bindparam("p_node")},
        ),
        [{"p_context": c, "p_node": i, "p_change": change} for c, i in rows],
    )


def _contexts_of_statement(kind: NodeKind) -> executor.Builder:
    table = membership_table(kind)

    def build(_dialect: str):
        member = select(table.c.context_id).where(table.c[kind.owner_column] == bindparam("p_node"))
        return node_select(CONTEXT).where(CONTEXT.table.c.id.in_(member)).order_by(CONTEXT.table.c.id)

    return build


def contexts_of(connection: executor.AnyConnection, kind: NodeKind, node_id: int) -> list:
    """The contexts (messages, by id) an artifact or execution belongs to; [] for none or no such node."""
    rows = executor.fetch(connection, ("contexts_of", kind.name), _contexts_of_statement(kind), {"p_node": node_id})
    return rows_to_messages(connection, CONTEXT, rows)


__all__ = ["contexts_of", "link", "membership_table"]
