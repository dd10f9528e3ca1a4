"""The caller's namespace: every read the executor runs inside :func:`scoped` sees that namespace's rows only.

The adapters (api/, through mlineage.auth) resolve the caller's namespace once per
request and run it inside ``scoped(namespace)``; the store then writes new rows
into it (``Store.namespace``) and the executor rewrites every SELECT it builds so
that each namespaced table is replaced by its rows of that namespace: the node and
type tables and their history twins, OpenLineage events and the change log by their
``namespace`` column, the link tables (events, attributions, associations, parent
contexts) and metric points through the nodes they belong to. A node of another
namespace is therefore absent (NOT_FOUND, an empty list, a walk that stops), never
FORBIDDEN, and its existence does not leak. Writes that name nodes by id read them
first through the same rewrite, so a link across namespaces cannot be made.

Outside a scope (in-process use, a server without authentication) statements run
as written: the store's own namespace applies where the store applies it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import String, Table, bindparam, exists, or_, select
from sqlalchemy.sql import CompoundSelect, Select
from sqlalchemy.sql.util import ClauseAdapter

from mlineage.schema import tables as t

_SCOPE: contextvars.ContextVar[str | None] = contextvars.ContextVar("mlineage_namespace", default=None)


@contextlib.contextmanager
def scoped(namespace: str | None) -> Iterator[str | None]:
    """Run the block in ``namespace`` (None: unscoped)."""
    token = _SCOPE.set(namespace)
    try:
        yield namespace
    finally:
        _SCOPE.reset(token)


def current() -> str | None:
    """The namespace of the running scope, or None."""
    return _SCOPE.get()


_OWN = (t.types, t.artifacts, t.executions, t.contexts, t.openlineage_events, t.changes,
        t.types_history, t.artifacts_history, t.executions_history, t.contexts_history)  # fmt: skip
# link table -> (its column naming a node, the node table, the node's history table)
_LINKS: tuple[tuple[Table, str, Table, Table], ...] = (
    (t.events, "artifact_id", t.artifacts, t.artifacts_history),
    (t.attributions, "context_id", t.contexts, t.contexts_history),
    (t.associations, "context_id", t.contexts, t.contexts_history),
    (t.parent_contexts, "child_id", t.contexts, t.contexts_history),
    (t.metric_points, "execution_id", t.executions, t.executions_history),
    (t.events_history, "artifact_id", t.artifacts, t.artifacts_history),
    (t.attributions_history, "context_id", t.contexts, t.contexts_history),
    (t.associations_history, "context_id", t.contexts, t.contexts_history),
    (t.parent_contexts_history, "child_id", t.contexts, t.contexts_history),
)

_ADAPTERS: dict[str, ClauseAdapter] = {}
_LOCK = threading.Lock()


def _adapter(namespace: str) -> ClauseAdapter:
    found = _ADAPTERS.get(namespace)
    if found is not None:
        return found

    def value() -> Any:
        return bindparam("ns_scope", value=namespace, type_=String(), unique=True)

    adapter: ClauseAdapter | None = None
    for table in _OWN:
        rows = select(*table.c).where(table.c.namespace == value()).subquery(f"{table.name}_ns")
        step = ClauseAdapter(rows)
        adapter = step if adapter is None else adapter.chain(step)
    for link, column, nodes, node_history in _LINKS:
        # A link belongs to the namespace of its node (in history the node may be deleted: history only),
        # found by a correlated primary-key lookup per link row, so a read costs what its answer costs.
        def owned_by(table: Table, link: Table = link, column: str = column) -> Any:
            owner = table.alias(f"{link.name}_{table.name}_owner")
            return exists().where(owner.c.id == link.c[column], owner.c.namespace == value())

        owned = owned_by(nodes)
        if link.name.endswith("_history"):
            owned = or_(owned, owned_by(node_history))
        rows = select(*link.c).where(owned).subquery(f"{link.name}_ns")
        assert adapter is not None
        adapter = adapter.chain(ClauseAdapter(rows))
    assert adapter is not None
    with _LOCK:
        if len(_ADAPTERS) > 1024:
            _ADAPTERS.clear()
        _ADAPTERS[namespace] = adapter
    return adapter


def scoped_statement(statement: Any, namespace: str) -> Any:
    """``statement`` reading only ``namespace``'s rows (a SELECT; other statements as they are)."""
    if not isinstance(statement, Select | CompoundSelect):
        return statement
    return _adapter(namespace).traverse(statement)
