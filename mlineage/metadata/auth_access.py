"""Access functions of authentication's tables: tokens (hashes only), namespaces, and the change log read as an audit.

Each function runs its statements through the executor on the caller's
connection (``store.reading()`` for reads, ``tx.connection`` of
``store.transaction()`` for writes); the rules live in ``mlineage.auth``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, union, update

from mlineage.metadata import executor
from mlineage.schema import tables as t

TOKEN_COLUMNS = (
    t.tokens.c.id, t.tokens.c.name, t.tokens.c.namespace, t.tokens.c.role, t.tokens.c.created_ms,
    t.tokens.c.expires_ms, t.tokens.c.revoked_ms, t.tokens.c.salt, t.tokens.c.secret_hash,
)  # fmt: skip
COUNTED: tuple[tuple[str, Table], ...] = (
    ("types", t.types), ("artifacts", t.artifacts), ("executions", t.executions), ("contexts", t.contexts),
)  # fmt: skip
_AUDITED: tuple[tuple[str, Table, Table], ...] = (
    ("type", t.types, t.types_history),
    ("artifact", t.artifacts, t.artifacts_history),
    ("execution", t.executions, t.executions_history),
    ("context", t.contexts, t.contexts_history),
)


# --- tokens ----------------------------------------------------------------------------------------


def insert_token(connection: Any, row: Mapping[str, Any]) -> None:
    """Insert one token row (its hash and salt, never its secret)."""
    executor.run(connection, lambda _d: insert(t.tokens), dict(row))


def all_tokens(connection: Any) -> list[tuple]:
    """Every token row (TOKEN_COLUMNS), oldest first."""
    return executor.fetch(
        connection, ("auth.all_tokens",),
        lambda _d: select(*TOKEN_COLUMNS).order_by(t.tokens.c.created_ms, t.tokens.c.id), {},
    )  # fmt: skip


def token_by_id(connection: Any, token_id: str) -> tuple | None:
    """The token row with this id, or None."""
    rows = executor.fetch(
        connection, ("auth.token_by_id",),
        lambda _d: select(*TOKEN_COLUMNS).where(t.tokens.c.id == bindparam("t_id")), {"t_id": token_id},
    )  # fmt: skip
    return rows[0] if rows else None


def active_tokens_named(connection: Any, key: str) -> list[tuple]:
    """Unrevoked token rows whose id or name is ``key``."""
    return executor.fetch(
        connection, ("auth.active_tokens_named",),
        lambda _d: select(*TOKEN_COLUMNS).where(
            ((t.tokens.c.id == bindparam("key")) | (t.tokens.c.name == bindparam("key")))
            & t.tokens.c.revoked_ms.is_(None)
        ),
        {"key": key},
    )  # fmt: skip


def revoke_tokens(connection: Any, token_ids: Sequence[str], now_ms: int) -> None:
    """Mark tokens revoked at ``now_ms``."""
    executor.execute_many(
        connection, ("auth.revoke_tokens",),
        lambda _d: update(t.tokens).where(t.tokens.c.id == bindparam("t_id")).values(revoked_ms=bindparam("now")),
        [{"t_id": token_id, "now": now_ms} for token_id in token_ids],
    )  # fmt: skip


def revoke_namespace_tokens(connection: Any, namespace: str, now_ms: int) -> None:
    """Revoke every active token of a namespace."""
    executor.run(
        connection,
        lambda _d: update(t.tokens).where(t.tokens.c.namespace == bindparam("ns"), t.tokens.c.revoked_ms.is_(None))
        .values(revoked_ms=bindparam("now")),
        {"ns": namespace, "now": now_ms},
    )  # fmt: skip


# --- namespaces ------------------------------------------------------------------------------------


def insert_namespace(connection: Any, name: str, created_ms: int, description: str | None) -> None:
    executor.run(connection, lambda _d: insert(t.namespaces),
                 {"name": name, "created_ms": created_ms, "description": description})  # fmt: skip


def delete_namespace_row(connection: Any, name: str) -> None:
    executor.run(connection, lambda _d: delete(t.namespaces).where(t.namespaces.c.name == bindparam("ns")),
                 {"ns": name})  # fmt: skip


def created_namespaces(connection: Any) -> dict[str, tuple[int, str | None]]:
    """name -> (created_ms, description) of the namespaces made by ``mlineage namespace create``."""
    rows = executor.fetch(
        connection, ("auth.namespaces",),
        lambda _d: select(t.namespaces.c.name, t.namespaces.c.created_ms, t.namespaces.c.description), {},
    )  # fmt: skip
    return {row[0]: (row[1], row[2]) for row in rows}


def used_namespaces(connection: Any) -> set[str]:
    """Namespaces that some type, node or token names."""
    rows = executor.fetch(
        connection, ("auth.namespaces_used",),
        lambda _d: union(*(select(table.c.namespace).distinct() for _label, table in COUNTED),
                         select(t.tokens.c.namespace).distinct()),
        {},
    )  # fmt: skip
    return {row[0] for row in rows}


def _count_of(table: Table) -> executor.Builder:
    return lambda _d: select(func.count()).select_from(table).where(table.c.namespace == bindparam("ns"))


def namespace_counts(connection: Any, name: str) -> dict[str, int]:
    """How many types, artifacts, executions, contexts and active tokens a namespace holds."""
    counts: dict[str, int] = {}
    for label, table in COUNTED:
        [(count,)] = executor.fetch(connection, ("auth.namespace_count", label), _count_of(table), {"ns": name})
        counts[label] = int(count)
    [(tokens,)] = executor.fetch(
        connection, ("auth.namespace_tokens",),
        lambda _d: select(func.count()).select_from(t.tokens)
        .where(t.tokens.c.namespace == bindparam("ns"), t.tokens.c.revoked_ms.is_(None)),
        {"ns": name},
    )  # fmt: skip
    counts["tokens"] = int(tokens)
    return counts


# --- audit -----------------------------------------------------------------------------------------


def changes_since(
    connection: Any, since_ms: int, actor: str | None, namespace: str | None, limit: int
) -> list[tuple]:
    """(id, recorded_ms, namespace, surface, actor, peer) of changes at or after ``since_ms``, by id."""
    changes = t.changes
    conditions = [changes.c.recorded_ms >= bindparam("since")]
    params: dict[str, object] = {"since": since_ms, "limit": limit}
    if actor is not None:
        conditions.append(changes.c.actor == bindparam("actor"))
        params["actor"] = actor
    if namespace is not None:
        conditions.append(changes.c.namespace == bindparam("namespace"))
        params["namespace"] = namespace
    return executor.fetch(
        connection, ("auth.changes_since", actor is not None, namespace is not None),
        lambda _d: select(changes.c.id, changes.c.recorded_ms, changes.c.namespace, changes.c.surface,
                          changes.c.actor, changes.c.peer)
        .where(*conditions).order_by(changes.c.id).limit(bindparam("limit")),
        params,
    )  # fmt: skip


def _written_by(table: Table) -> executor.Builder:
    return lambda _d: select(table.c.change_id, table.c.id).where(
        table.c.change_id.between(bindparam("low"), bindparam("high"))
    )


def _closed_by(history: Table) -> executor.Builder:
    return lambda _d: select(history.c.closed_by, history.c.id).where(
        history.c.closed_by.between(bindparam("low"), bindparam("high"))
    )


def _live(live: Table) -> executor.Builder:
    return lambda _d: select(live.c.id).where(live.c.id.in_(bindparam("ids", expanding=True)))


def touched_by_changes(
    connection: Any, low: int, high: int
) -> list[tuple[str, set[tuple[int, int]], list[tuple[int, int]], set[int]]]:
    """Per kind (type, artifact, execution, context): the (change, id) versions written by changes
    ``low..high``, the (change, id) versions they closed, and which of the closed ids are live now."""
    found = []
    params = {"low": low, "high": high}
    for kind, live, history in _AUDITED:
        written: set[tuple[int, int]] = set()
        for table in (live, history):
            rows = executor.fetch(connection, ("auth.audit_written", table.name), _written_by(table), params)
            written.update((row[0], row[1]) for row in rows)
        closed = [(row[0], row[1]) for row in
                  executor.fetch(connection, ("auth.audit_closed", history.name), _closed_by(history), params)]  # fmt: skip
        closed_ids = sorted({node_id for _change, node_id in closed})
        live_ids = {row[0] for row in executor.run(connection, _live(live), {"ids": closed_ids})} if closed_ids else set()
        found.append((kind, written, closed, live_ids))
    return found
