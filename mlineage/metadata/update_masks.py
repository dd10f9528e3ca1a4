"""Update masks: which fields and properties an update writes (MLMD's rules), and REST's stricter check.

Without a mask a node is replaced, as MLMD does: uri, state, external_id and
both property maps take the given values (absent ones are cleared); a context
takes the given name, an artifact or execution keeps the name it was inserted
with (or none). With a mask only the named paths change; ``properties.k``
with no ``k`` in the message deletes ``k``; paths that name no field are
ignored (a mask of only those changes nothing). The store reads a mask here
(``node_changes``); ``nodes.update_node`` writes what it found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlineage.errors import InvalidArgumentError
from mlineage.metadata.kinds import NodeKind
from mlineage.metadata.nodes import node_row


@dataclass(frozen=True)
class NodeChanges:
    """What an update changes: node columns (name -> new value), and property keys
    ((is_custom, name)) to delete and to write from the message."""

    values: dict[str, Any] = field(default_factory=dict)
    to_delete: list[tuple[bool, str]] = field(default_factory=list)
    to_write: list[tuple[bool, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.values or self.to_delete or self.to_write)


def _mask_paths(mask: Sequence[str]) -> tuple[set[str], set[tuple[bool, str]], set[bool]]:
    """Split update-mask paths into node fields, property keys and whole property maps."""
    fields: set[str] = set()
    keys: set[tuple[bool, str]] = set()
    whole_maps: set[bool] = set()
    for path in mask:
        if path in ("properties", "custom_properties"):
            whole_maps.add(path == "custom_properties")
        elif path.startswith("properties."):
            keys.add((False, path[len("properties.") :]))
        elif path.startswith("custom_properties."):
            keys.add((True, path[len("custom_properties.") :]))
        else:
            fields.add(path)
    return fields, keys, whole_maps


UPDATABLE_FIELDS = {"uri", "state", "last_known_state", "external_id", "name", "system_metadata", "type_id"}
IGNORED_FIELDS = {"id", "type", "create_time_since_epoch", "last_update_time_since_epoch"}


def _names_a_field(kind: NodeKind, path: str) -> bool:
    """Whether a plain (non-property) mask path is a field of the kind's message."""
    if path in IGNORED_FIELDS:
        return True
    if path not in UPDATABLE_FIELDS:
        return False
    if path == "uri":
        return kind.has_uri
    if path in ("state", "last_known_state"):
        return path == kind.state_field
    return True


def mask_path_problems(kind: NodeKind, mask: Sequence[str]) -> list[str]:
    """The paths of ``mask`` that name no field of the kind (MLMD ignores them; REST refuses them)."""
    fields, _, _ = _mask_paths(mask)
    return sorted(path for path in fields if not _names_a_field(kind, path))


def check_mask_strictly(kind: NodeKind, mask: Sequence[str]) -> None:
    """INVALID_ARGUMENT for a mask with a path that names no field (REST's rule, stricter than MLMD's)."""
    problems = mask_path_problems(kind, mask)
    if problems:
        raise InvalidArgumentError(
            f"update_mask path {problems[0]!r} is not a field of {kind.title}; the paths are "
            + ", ".join(sorted(p for p in UPDATABLE_FIELDS if _names_a_field(kind, p) and p != "type_id"))
            + ", properties, properties.KEY, custom_properties and custom_properties.KEY"
        )



def node_changes(kind: NodeKind, stored, message, mask: Sequence[str]) -> NodeChanges:
    """What updating ``stored`` (a message read from the database) from ``message`` with ``mask``
    changes (see the module notes); empty (false) when nothing would change."""
    values: dict[str, Any] = {}
    new = node_row(kind, message, "")
    new.pop("namespace")
    new.pop("type_id")
    old = node_row(kind, stored, "")
    old.pop("namespace")
    old.pop("type_id")

    if mask:
        fields, keys, whole_maps = _mask_paths(mask)
        for path in fields:
            # As MLMD: a path that names no field ("", a typo, another kind's field) changes nothing,
            # and the valid paths beside it still apply (REST refuses such masks before this).
            if path in IGNORED_FIELDS or path == "type_id" or not _names_a_field(kind, path):
                continue
            if path == "name":
                if kind.name_required and new["name"] != old["name"]:
                    values["name"] = new["name"]
                continue
            if new[path] != old[path]:
                values[path] = new[path]
        replace_maps = whole_maps
        for is_custom in whole_maps:  # a bare map path overrides key paths of that map
            keys = {key for key in keys if key[0] != is_custom}
    else:
        for column, value in new.items():
            if column == "name":
                if kind.name_required and value != old["name"]:
                    values["name"] = value
                continue
            if value != old[column]:
                values[column] = value
        keys = set()
        replace_maps = {False, True}

    # Property changes: compute the wanted state of the affected keys and diff with the stored one.
    stored_props = {
        (is_custom, name): value
        for is_custom, values_map in ((False, stored.properties), (True, stored.custom_properties))
        for name, value in values_map.items()
    }
    given_props = {
        (is_custom, name): value
        for is_custom, values_map in ((False, message.properties), (True, message.custom_properties))
        for name, value in values_map.items()
    }
    affected = set(keys)
    for is_custom in replace_maps:
        affected |= {key for key in stored_props if key[0] == is_custom}
        affected |= {key for key in given_props if key[0] == is_custom}
    to_delete = [key for key in affected if key in stored_props and key not in given_props]
    to_write = [key for key in affected if key in given_props and given_props[key] != stored_props.get(key)]
    return NodeChanges(values, to_delete, to_write)

