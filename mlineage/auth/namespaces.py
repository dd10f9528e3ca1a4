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

from mlineage.auth.tokens import check_namespace
from mlineage.errors import AlreadyExistsError, FailedPreconditionError, NotFoundError
from mlineage.metadata import auth_access, history, namespace_scope
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION
from mlineage.metadata.store import Store
from mlineage.schema.tables import DEFAULT_NAMESPACE

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
    with store.transaction() as tx:
        auth_access.insert_namespace(tx.connection, name, now, description)
    return NamespaceInfo(name, now, description, {})


def list_namespaces(store: Store) -> list[NamespaceInfo]:
    """Every namespace: ``default``, those created, and any that holds records or tokens; by name."""
    with store.reading() as connection:
        made = auth_access.created_namespaces(connection)
        names = sorted({DEFAULT_NAMESPACE, *made, *auth_access.used_namespaces(connection)})
        infos = []
        for name in names:
            created_ms, description = made.get(name, (None, None))
            infos.append(NamespaceInfo(name, created_ms, description, auth_access.namespace_counts(connection, name)))
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
    with store.transaction() as tx:
        auth_access.delete_namespace_row(tx.connection, name)
        auth_access.revoke_namespace_tokens(tx.connection, name, int(time.time() * 1000))
    return found
