"""Who changed what: the change log (``changes``) with the nodes and types each change wrote or deleted.

Every write transaction records one ``changes`` row with the caller's identity
(``actor``: ``token:<id> (name)``, ``cert:<subject>``, or none without
authentication), its surface and peer. A change wrote the node versions whose
``change_id`` is it (the live row, or a version since superseded in ``*_history``)
and deleted those closed by it and not written again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlineage.metadata import auth_access
from mlineage.metadata.store import Store


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
    store: Store, *, since_ms: int, actor: str | None = None, namespace: str | None = None, limit: int = 1000
) -> list[AuditEntry]:
    """Changes recorded at or after ``since_ms`` (of one actor, one namespace), oldest first, at most ``limit``."""
    with store.reading() as connection:
        rows = auth_access.changes_since(connection, since_ms, actor, namespace, limit)
        entries = {row[0]: AuditEntry(*row) for row in rows}
        if not entries:
            return []
        touched = auth_access.touched_by_changes(connection, min(entries), max(entries))
    for kind, written, closed, live_ids in touched:
        for change_id, node_id in sorted(written):
            if change_id in entries:
                entries[change_id].wrote.append(f"{kind}:{node_id}")
        for change_id, node_id in sorted(closed):
            # A version closed by a change that did not write the node again: the node was deleted then.
            if change_id in entries and (change_id, node_id) not in written and node_id not in live_ids:
                entries[change_id].deleted.append(f"{kind}:{node_id}")
    return list(entries.values())
