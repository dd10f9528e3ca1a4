"""Who changed what: the change log (``changes``) with the nodes and types each change wrote or deleted.

Every write transaction records one ``changes`` row with the caller's identity
(``actor``: ``token:<id> (name)``, ``cert:<subject>``, or none without
authentication), its surface and peer. A change wrote the node versions whose
``change_id`` is it (the live row, or a version since superseded in ``*_history``)
and deleted those closed by it and not written again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, Table, bindparam, select

from mlineage.metadata import executor
from mlineage.schema import tables as t

_KINDS: tuple[tuple[str, Table, Table], ...] = (
    ("type", t.types, t.types_history),
    ("artifact", t.artifacts, t.artifacts_history),
    ("execution", t.executions, t.executions_history),
    ("context", t.contexts, t.contexts_history),
)


@dataclass
class AuditEntry:
    """One change: when, in which namespace, from which surface, by whom, and the nodes it touched."""

    change_id: int
    recorded_ms: int
    namespace: str
    surface: str
    actor: str | None
    peer: str | None
    wrote: list[str] = field(default_factory=list)  # "artifact:12", "type:3", …
    deleted: list[str] = field(default_factory=list)


def audit_log(
    engine: Engine, *, since_ms: int, actor: str | None = None, namespace: str | None = None, limit: int = 1000
) -> list[AuditEntry]:
    """Changes recorded at or after ``since_ms`` (of one actor, one namespace), oldest first, at most ``limit``."""
    changes = t.changes
    conditions = [changes.c.recorded_ms >= bindparam("since")]
    params: dict[str, object] = {"since": since_ms, "limit": limit}
    if actor is not None:
        conditions.append(changes.c.actor == bindparam("actor"))
        params["actor"] = actor
    if namespace is not None:
        conditions.append(changes.c.namespace == bindparam("namespace"))
        params["namespace"] = namespace
    key = ("auth.audit_log", actor is not None, namespace is not None)
    with engine.connect() as connection:
        rows = executor.fetch(
            connection, key,
            lambda _d: select(changes.c.id, changes.c.recorded_ms, changes.c.namespace, changes.c.surface,
                              changes.c.actor, changes.c.peer)
            .where(*conditions).order_by(changes.c.id).limit(bindparam("limit")),
            params,
        )  # fmt: skip
        entries = {row[0]: AuditEntry(*row) for row in rows}
        if entries:
            _touched(connection, entries)
    return list(entries.values())


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


def _touched(connection, entries: dict[int, AuditEntry]) -> None:
    low, high = min(entries), max(entries)
    for kind, live, history in _KINDS:
        written: set[tuple[int, int]] = set()
        for table in (live, history):
            rows = executor.fetch(
                connection, ("auth.audit_written", table.name),
                _written_by(table),
                {"low": low, "high": high},
            )  # fmt: skip
            written.update((row[0], row[1]) for row in rows)
        closed = executor.fetch(
            connection, ("auth.audit_closed", history.name),
            _closed_by(history),
            {"low": low, "high": high},
        )  # fmt: skip
        closed_ids = sorted({row[1] for row in closed})
        live_ids = {row[0] for row in executor.run(connection, _live(live), {"ids": closed_ids})} if closed_ids else set()
        for change_id, node_id in sorted(written):
            if change_id in entries:
                entries[change_id].wrote.append(f"{kind}:{node_id}")
        for change_id, node_id in sorted(closed):
            # A version closed by a change that did not write the node again: the node was deleted then.
            if change_id in entries and (change_id, node_id) not in written and node_id not in live_ids:
                entries[change_id].deleted.append(f"{kind}:{node_id}")
