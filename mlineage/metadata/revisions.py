"""A node's revision as every store answers it (the database store and the gRPC client): no SQLAlchemy here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Fields of a node that are the store's bookkeeping, not something a caller changed.
_BOOKKEEPING = {"id", "type_id", "type", "create_time_since_epoch", "last_update_time_since_epoch"}


@dataclass(frozen=True)
class Revision:
    """One revision of a node: when, by whom, what changed, and the node as it was then.

    ``operation`` is "create", "update" or "delete"; ``node`` is None for "delete".
    ``changed`` names the fields and properties that differ from the revision before
    ("uri", "properties.accuracy", "custom_properties.note"; everything for "create").
    """

    revision: int
    operation: str
    time_ms: int
    surface: str
    actor: str | None
    peer: str | None
    changed: tuple[str, ...]
    node: Any = field(default=None, compare=False)


def changed_paths(before: Any, after: Any) -> tuple[str, ...]:
    """The fields and property keys in which two versions of a node differ (None: nothing before)."""
    paths: list[str] = []
    descriptor = after.DESCRIPTOR
    for fd in descriptor.fields:
        if fd.name in _BOOKKEEPING:
            continue
        if fd.name in ("properties", "custom_properties"):
            old = dict(getattr(before, fd.name)) if before is not None else {}
            new = dict(getattr(after, fd.name))
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    paths.append(f"{fd.name}.{key}")
            continue
        has = after.HasField(fd.name) if fd.has_presence else True
        if before is None:
            if has:
                paths.append(fd.name)
            continue
        had = before.HasField(fd.name) if fd.has_presence else True
        if had != has or getattr(before, fd.name) != getattr(after, fd.name):
            paths.append(fd.name)
    return tuple(paths)


@dataclass(frozen=True)
class Change:
    """One field or property that differs between two revisions: its path, and its value in each (None: unset)."""

    path: str
    before: Any
    after: Any


def value_at(node: Any, path: str) -> Any:
    """A node's value at a path of ``changed_paths`` (a Value message for a property), None when unset."""
    if node is None:
        return None
    field_name, _, key = path.partition(".")
    if key:
        values = getattr(node, field_name)
        return values[key] if key in values else None
    descriptor = node.DESCRIPTOR.fields_by_name[field_name]
    if descriptor.has_presence and not node.HasField(field_name):
        return None
    return getattr(node, field_name)


def diff(before: Any, after: Any) -> list[Change]:
    """What changed from one version of a node to another (either may be None: not there)."""
    if after is None:
        paths = changed_paths(None, before) if before is not None else ()
    else:
        paths = changed_paths(before, after)
    return [Change(path, value_at(before, path), value_at(after, path)) for path in paths]
