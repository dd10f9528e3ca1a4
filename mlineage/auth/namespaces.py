"""Namespaces: made with ``mlineage namespace create``, listed with what they hold, deleted when empty (or purged).

``default`` always exists. A namespace holds types, nodes (artifacts, executions,
contexts), their history and OpenLineage events, and the tokens confined to it.
Deleting one removes its row and revokes its tokens; it must hold no live node
unless ``purge`` is asked, which first deletes every node in it (their history
stays, as for any deletion, until ``mlineage purge --history-older-than``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, delete, func, insert, select, union, update

from mlineage.auth.tokens import check_namespace
from mlineage.errors import AlreadyExistsError, FailedPreconditionError, NotFoundError
from mlineage.metadata import executor, history, namespace_scope
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION
from mlineage.metadata.store import Store
from mlineage.schema import tables as t
from mlineage.schema.tables import DEFAULT_NAMESPACE

_COUNTED = (("types", t.types), ("artifacts", t.artifacts), ("executions", t.executions), ("contexts", t.contexts))
_BATCH = 500


@dataclass(frozen=True)
class NamespaceInfo:
    """A namespace and what it holds now."""

    name: str
    created_ms: int | None  # None: never created explicitly (default, or written by a token of it)
    description: str | None
    counts: dict[str, int]  # types, artifacts, executions, contexts, tokens (active)

    @property
    def empty(self) -> bool:
        return not any(self.counts.get(kind) for kind in ("artifacts", "executions", "contexts"))


def create_namespace(store: Store, name: str, description: str | None = None) -> NamespaceInfo:
    """Record a new namespace; ALREADY_EXISTS if it exists, INVALID_ARGUMENT (ValueError) for a bad name."""
    check_namespace(name)
    if name == DEFAULT_NAMESPACE or name in {info.name for info in list_namespaces(store)}:
        raise AlreadyExistsError(f"namespace {name!r} already exists")
    now = int(time.time() * 1000)
    with store.engine.begin() as connection:
        executor.run(connection, lambda _d: insert(t.namespaces),
                     {"name": name, "created_ms": now, "description": description})  # fmt: skip
    return NamespaceInfo(name, now, description, {})


def _count_of(table: Table) -> executor.Builder:
    return lambda _d: select(func.count()).select_from(table).where(table.c.namespace == bindparam("ns"))


def _counts(connection, name: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label, table in _COUNTED:
        [(count,)] = executor.fetch(
            connection, ("auth.namespace_count", label),
            _count_of(table),
            {"ns": name},
        )  # fmt: skip
        counts[label] = int(count)
    [(tokens,)] = executor.fetch(
        connection, ("auth.namespace_tokens",),
        lambda _d: select(func.count()).select_from(t.tokens)
        .where(t.tokens.c.namespace == bindparam("ns"), t.tokens.c.revoked_ms.is_(None)),
        {"ns": name},
    )  # fmt: skip
    counts["tokens"] = int(tokens)
    return counts


def list_namespaces(store: Store) -> list[NamespaceInfo]:
    """Every namespace: ``default``, those created, and any that holds records or tokens; by name."""
    with store.engine.connect() as connection:
        made = {row[0]: (row[1], row[2]) for row in executor.fetch(
            connection, ("auth.namespaces",),
            lambda _d: select(t.namespaces.c.name, t.namespaces.c.created_ms, t.namespaces.c.description), {},
        )}  # fmt: skip
        used = {row[0] for row in executor.fetch(
            connection, ("auth.namespaces_used",),
            lambda _d: union(*(select(table.c.namespace).distinct() for _label, table in _COUNTED),
                             select(t.tokens.c.namespace).distinct()),
            {},
        )}  # fmt: skip
        names = sorted({DEFAULT_NAMESPACE, *made, *used})
        infos = []
        for name in names:
            created_ms, description = made.get(name, (None, None))
            infos.append(NamespaceInfo(name, created_ms, description, _counts(connection, name)))
        return infos


def delete_namespace(store: Store, name: str, *, purge: bool = False) -> NamespaceInfo:
    """Delete a namespace (revoking its tokens); FAILED_PRECONDITION if it holds nodes and not ``purge``."""
    if name == DEFAULT_NAMESPACE:
        raise FailedPreconditionError("the default namespace cannot be deleted")
    found = {info.name: info for info in list_namespaces(store)}.get(name)
    if found is None:
        raise NotFoundError(f"no namespace {name!r}")
    if not found.empty and not purge:
        held = ", ".join(f"{found.counts[k]} {k}" for k in ("artifacts", "executions", "contexts") if found.counts[k])
        raise FailedPreconditionError(f"namespace {name!r} holds {held}: delete them first, or pass --purge")
    if purge:
        with namespace_scope.scoped(name), history.calling_as("cli", actor="mlineage namespace delete --purge"):
            for kind in (EXECUTION, ARTIFACT, CONTEXT):
                while True:
                    nodes, _token = store.list_nodes(kind.name, None)
                    ids = [node.id for node in nodes][:_BATCH]
                    if not ids:
                        break
                    store.delete_nodes(kind, ids)
    now = int(time.time() * 1000)
    with store.engine.begin() as connection:
        executor.run(connection, lambda _d: delete(t.namespaces).where(t.namespaces.c.name == bindparam("ns")),
                     {"ns": name})  # fmt: skip
        executor.run(
            connection,
            lambda _d: update(t.tokens).where(t.tokens.c.namespace == bindparam("ns"), t.tokens.c.revoked_ms.is_(None))
            .values(revoked_ms=bindparam("now")),
            {"ns": name, "now": now},
        )  # fmt: skip
    return found
