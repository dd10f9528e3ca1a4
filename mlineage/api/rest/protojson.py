"""The JSON form of mlineage's messages: the protobuf JSON mapping, one convention everywhere.

Decisions (documented in the OpenAPI description too):

* Field names are the proto field names (``type_id``, ``custom_properties``);
  input also accepts the lowerCamelCase names the mapping allows.
* 64-bit integers are written as JSON strings (``"id": "12"``), as the mapping
  prescribes, so that no JavaScript client loses precision; input accepts
  numbers or strings.
* Enums are written by name (``"state": "LIVE"``); input accepts names or numbers.
* Empty lists and maps are written (``"events": []``, ``"properties": {}``); unset
  optional fields are left out.
* Unknown fields in input are an error (400), never silently dropped.
* A ``google.protobuf.Any`` whose type this server does not know (a
  ``proto_value`` packed by a producer) cannot be written in the mapping; then
  the message's Any values are written as ``{"@type": URL, "serialized": BASE64}``
  instead of failing.
"""

from __future__ import annotations

import base64
import inspect
import json
import math
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from mlineage.errors import InvalidArgumentError
from mlineage.metadata.limits import MAX_JSON_DEPTH, MAX_STRUCT_OBJECT_DEPTH

M = TypeVar("M", bound=Message)

# Deeper input is refused, in the API's words, before it is read into messages (the store then
# refuses struct values deeper than MLMD takes).
MAX_DEPTH = MAX_JSON_DEPTH
_TOO_DEEP = (
    f"the JSON nests objects and arrays more than {MAX_JSON_DEPTH} levels deep (a struct_value may nest at "
    f"most {MAX_STRUCT_OBJECT_DEPTH} levels of objects)"
)


# Empty lists and maps are written ([] and {}), so a list answer always has its list; unset optional
# scalars are left out. (The option was called including_default_value_fields before protobuf 5.26.)
_PRINT_EMPTY = (
    "always_print_fields_with_no_presence"
    if "always_print_fields_with_no_presence" in inspect.signature(json_format.MessageToDict).parameters
    else "including_default_value_fields"
)
_OPTIONS = {"preserving_proto_field_name": True, _PRINT_EMPTY: True}


def to_dict(message: Message) -> dict[str, Any]:
    """The JSON object of a message (proto field names, int64 as strings, enums by name)."""
    try:
        return json_format.MessageToDict(message, **_OPTIONS)
    except Exception:  # noqa: BLE001 - an Any the mapping cannot write (unknown type, bad bytes)
        return _to_dict_with_opaque_any(message)


def to_json(message: Message) -> bytes:
    return dumps(to_dict(message))


def dumps(value: Any) -> bytes:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        # A non-finite number inside a struct (written over gRPC): JSON has none, write it as the
        # mapping writes non-finite doubles, as a string.
        text = json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def parse(value: Any, message_class: type[M], what: str | None = None) -> M:
    """A message from a decoded JSON value; INVALID_ARGUMENT for anything the mapping rejects."""
    name = what or message_class.DESCRIPTOR.name
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"the body must be a JSON object (a {name}), got {type(value).__name__}")
    message = message_class()
    try:
        json_format.ParseDict(value, message, ignore_unknown_fields=False, max_recursion_depth=MAX_DEPTH)
    except RecursionError:
        raise InvalidArgumentError(f"invalid {name}: {_TOO_DEEP}") from None
    except json_format.ParseError as exc:
        if "too deep" in str(exc):
            raise InvalidArgumentError(f"invalid {name}: {_TOO_DEEP}") from None
        raise InvalidArgumentError(f"invalid {name}: {_short(exc)}") from None
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
        raise InvalidArgumentError(f"invalid {name}: {_short(exc)}") from None
    return message


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether a decoded JSON value nests more than ``limit`` objects/arrays (iteratively: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(body: bytes, what: str = "request body") -> Any:
    """Decode a JSON request body; INVALID_ARGUMENT when it is not JSON."""
    if not body:
        raise InvalidArgumentError(f"the {what} is empty; a JSON object is required")
    try:
        value = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise InvalidArgumentError(f"the {what} cannot be taken: {_TOO_DEEP}") from None
    except ValueError as exc:
        raise InvalidArgumentError(f"the {what} is not valid JSON: {_short(exc)}") from None
    # Counting brackets is cheap; only a body with that many can nest that deep.
    if isinstance(value, dict | list) and body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
        if _depth_exceeds(value, MAX_JSON_DEPTH):
            raise InvalidArgumentError(f"the {what} cannot be taken: {_TOO_DEEP}")
    return value


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


def _to_dict_with_opaque_any(message: Message) -> dict[str, Any]:
    copy = type(message)()
    copy.CopyFrom(message)
    opaque: list[tuple[tuple, Message]] = []
    _take_unresolvable_anys(copy, (), opaque)
    result = json_format.MessageToDict(copy, **_OPTIONS)
    for path, any_message in opaque:
        target: Any = result
        for step in path[:-1]:
            target = target.setdefault(step, {}) if isinstance(step, str) else target[step]
        target[path[-1]] = {
            "@type": any_message.type_url,
            "serialized": base64.b64encode(any_message.value).decode(),
        }
    return result


def is_repeated(field: FieldDescriptor) -> bool:
    """Whether a field is repeated (protobuf 5+ has ``is_repeated``; 4.x only ``label``)."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return field.label == FieldDescriptor.LABEL_REPEATED


def _take_unresolvable_anys(message: Message, path: tuple, found: list) -> None:
    """Clear every Any in ``message``, remembering (JSON path, Any) to write them opaquely."""
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        name = field.name
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                for key in list(value):
                    _visit(value, key, value[key], (*path, name, str(key)), found)
        elif is_repeated(field):
            for index, item in enumerate(value):
                _take_unresolvable_anys(item, (*path, name, index), found)
        elif field.message_type.full_name == "google.protobuf.Any":
            held = type(value)()
            held.CopyFrom(value)
            found.append(((*path, name), held))
            message.ClearField(name)
        else:
            _take_unresolvable_anys(value, (*path, name), found)


def _visit(container, key, item: Message, path: tuple, found: list) -> None:
    if item.DESCRIPTOR.full_name == "google.protobuf.Any":
        held = type(item)()
        held.CopyFrom(item)
        found.append((path, held))
        item.Clear()
        return
    _take_unresolvable_anys(item, path, found)
