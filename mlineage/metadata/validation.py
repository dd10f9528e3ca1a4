"""Checks of a write against ``metadata.limits``, made before any SQL, so SQLite and PostgreSQL answer alike.

The database would otherwise decide: SQLite stores a NUL character or a
100,000-character name that PostgreSQL refuses with its own message. Every
function here raises InvalidArgumentError, in the API's words, or returns.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from google.protobuf import struct_pb2

from mlineage.errors import InvalidArgumentError
from mlineage.metadata.kinds import NodeKind
from mlineage.metadata.limits import (
    DEFAULT_MAX_NODE_BYTES,
    MAX_NAME_LENGTH,
    MAX_NODE_BYTES_ENV,
    MAX_STRUCT_MESSAGE_DEPTH,
    MAX_STRUCT_OBJECT_DEPTH,
    MAX_TEXT_LENGTH,
)


def max_node_bytes(configured: int | None = None) -> int:
    """The node size limit: ``configured``, else MLINEAGE_MAX_NODE_BYTES, else the default."""
    if configured is not None:
        value, source = configured, "max_node_bytes"
    else:
        text = os.environ.get(MAX_NODE_BYTES_ENV, "").strip().replace("_", "")
        if not text:
            return DEFAULT_MAX_NODE_BYTES
        if not text.isdigit():
            raise InvalidArgumentError(f"{MAX_NODE_BYTES_ENV}={text!r} is not a number of bytes")
        value, source = int(text), MAX_NODE_BYTES_ENV
    if value < 1024:
        raise InvalidArgumentError(f"{source} must be at least 1024 bytes, got {value}")
    return value


def check_text(what: str, value: str, max_length: int) -> None:
    """A text field: at most ``max_length`` characters, no NUL."""
    if len(value) > max_length:
        raise InvalidArgumentError(f"{what} is {len(value):,} characters long; at most {max_length:,} are allowed")
    if "\0" in value:
        raise InvalidArgumentError(f"{what} contains a NUL character (\\0), which text fields cannot hold")


def check_name(what: str, value: str) -> None:
    check_text(what, value, MAX_NAME_LENGTH)


def _struct_depth(struct: struct_pb2.Struct) -> int:
    """Protobuf messages nested below the Struct itself, counted as the wire decoder counts them."""
    deepest = 0
    # (container, depth of the container's own message): a Struct entry adds 2 (entry, Value), a list item 1.
    stack: list[tuple[object, int]] = [(struct, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > deepest:
            deepest = depth
        if depth > MAX_STRUCT_MESSAGE_DEPTH:
            return depth
        if isinstance(container, struct_pb2.Struct):
            values: Iterable[struct_pb2.Value] = container.fields.values()
            value_depth = depth + 2
        else:
            values = container.values  # type: ignore[attr-defined]
            value_depth = depth + 1
        for value in values:
            which = value.WhichOneof("kind")
            if which == "struct_value":
                stack.append((value.struct_value, value_depth + 1))
            elif which == "list_value":
                stack.append((value.list_value, value_depth + 1))
            elif value_depth > deepest:
                deepest = value_depth
    return deepest


def check_properties(owner: str, message) -> None:
    """Property names and values of a node: names as names, strings without NUL, structs not too deep."""
    for map_name, values in (("properties", message.properties), ("custom_properties", message.custom_properties)):
        for name, value in values.items():
            check_name(f"the name of {owner}'s property {name[:40]!r}", name)
            which = value.WhichOneof("value")
            if which == "string_value":
                if "\0" in value.string_value:
                    raise InvalidArgumentError(
                        f"{map_name}[{name!r}] of {owner} is a string with a NUL character (\\0), which text "
                        "fields cannot hold"
                    )
            elif which == "struct_value" and _struct_depth(value.struct_value) > MAX_STRUCT_MESSAGE_DEPTH:
                raise InvalidArgumentError(
                    f"{map_name}[{name!r}] of {owner} is a struct_value nested too deeply: at most "
                    f"{MAX_STRUCT_OBJECT_DEPTH} levels of objects (MLMD's limit) are allowed"
                )


def check_node(kind: NodeKind, message, max_bytes: int, position: int | None = None) -> None:
    """One artifact, execution or context about to be written."""
    owner = f"the {kind.name}" if position is None else f"{kind.name} #{position}"
    if message.HasField("name"):
        check_name(f"the name of {owner}", message.name)
    if message.HasField("external_id"):
        check_name(f"the external_id of {owner}", message.external_id)
    if kind.has_uri and message.HasField("uri"):
        check_text(f"the uri of {owner}", message.uri, MAX_TEXT_LENGTH)
    check_properties(owner, message)
    size = message.ByteSize()
    if size > max_bytes:
        raise InvalidArgumentError(
            f"{owner} is {size:,} bytes serialized; a node may have at most {max_bytes:,} "
            f"(set {MAX_NODE_BYTES_ENV} to change it). Store large data at its uri, not in properties."
        )


def check_nodes(kind: NodeKind, messages: Iterable, max_bytes: int) -> None:
    for position, message in enumerate(messages):
        check_node(kind, message, max_bytes, position)


def check_type(kind: NodeKind, message) -> None:
    """An artifact, execution or context type about to be written."""
    owner = f"the {kind.name} type"
    check_name(f"the name of {owner}", message.name)
    if message.HasField("version"):
        check_name(f"the version of {owner} {message.name!r}", message.version)
    if message.HasField("external_id"):
        check_name(f"the external_id of {owner} {message.name!r}", message.external_id)
    if message.HasField("description"):
        check_text(f"the description of {owner} {message.name!r}", message.description, MAX_TEXT_LENGTH)
    for name in message.properties:
        check_name(f"a property name of {owner} {message.name!r}", name)


def storable(value: str) -> bool:
    """Whether a text key can match anything stored (nothing stored holds NUL): reads skip the rest."""
    return "\0" not in value
