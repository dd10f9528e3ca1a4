"""JSON Schemas of protobuf messages, generated from their descriptors for /openapi.json.

One generator for every message the REST API reads or writes, so the OpenAPI
document cannot drift from the ``.proto`` model. The schemas describe the
JSON that ``protojson`` writes (proto field names, int64 as strings, enums by
name) and what it reads back; a message becomes ``#/components/schemas/<name>``
where ``<name>`` is its full name without the package (``Artifact``,
``Event.Path.Step``), and references stay references, so recursive messages
(``ArtifactStructType``) are fine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from mlineage.api.rest.protojson import is_repeated
from mlineage.metadata.limits import MAX_NAME_LENGTH, MAX_TEXT_LENGTH

_T = FieldDescriptor
_INT64 = (_T.TYPE_INT64, _T.TYPE_SINT64, _T.TYPE_SFIXED64)
_UINT64 = (_T.TYPE_UINT64, _T.TYPE_FIXED64)
_INT32 = (_T.TYPE_INT32, _T.TYPE_SINT32, _T.TYPE_SFIXED32)
_UINT32 = (_T.TYPE_UINT32, _T.TYPE_FIXED32)


def _integer(low: int, high: int, fmt: str, as_string: bool) -> dict[str, Any]:
    number = {"type": "integer", "format": fmt, "minimum": low, "maximum": high}
    if not as_string:
        return number
    # Written as a decimal string; read from a string or a number.
    return {"anyOf": [{"type": "string", "pattern": "^-?[0-9]+$"}, number], "format": fmt}


_SCALARS: dict[int, dict[str, Any]] = {}
for _type in _INT64:
    _SCALARS[_type] = _integer(-(2**63), 2**63 - 1, "int64", True)
for _type in _UINT64:
    _SCALARS[_type] = _integer(0, 2**64 - 1, "uint64", True)
for _type in _INT32:
    _SCALARS[_type] = _integer(-(2**31), 2**31 - 1, "int32", False)
for _type in _UINT32:
    _SCALARS[_type] = _integer(0, 2**32 - 1, "uint32", False)
_FLOAT = {"anyOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}
_SCALARS[_T.TYPE_DOUBLE] = {**_FLOAT, "format": "double"}
_SCALARS[_T.TYPE_FLOAT] = {**_FLOAT, "format": "float"}
_SCALARS[_T.TYPE_BOOL] = {"type": "boolean"}
_SCALARS[_T.TYPE_STRING] = {"type": "string"}
_SCALARS[_T.TYPE_BYTES] = {"type": "string", "format": "byte", "description": "base64"}

# Well-known types have their own JSON forms in the mapping.
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True, "description": "any JSON object"},
    "google.protobuf.Value": {"description": "any JSON value"},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
        "description": "a packed message: its type URL in @type and its fields, or its base64 bytes in "
        "`serialized` when the server does not know the type",
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "comma-separated field paths, e.g. `uri,custom_properties.note`",
    },
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
}
for _name, _type in (
    ("DoubleValue", _T.TYPE_DOUBLE),
    ("FloatValue", _T.TYPE_FLOAT),
    ("Int64Value", _T.TYPE_INT64),
    ("UInt64Value", _T.TYPE_UINT64),
    ("Int32Value", _T.TYPE_INT32),
    ("UInt32Value", _T.TYPE_UINT32),
    ("BoolValue", _T.TYPE_BOOL),
    ("StringValue", _T.TYPE_STRING),
    ("BytesValue", _T.TYPE_BYTES),
):
    _WELL_KNOWN[f"google.protobuf.{_name}"] = _SCALARS[_type]


# The store's limits on the text fields of nodes and types (metadata/limits.py), stated in the schema.
_LIMITED_MESSAGES = {"Artifact", "Execution", "Context", "ArtifactType", "ExecutionType", "ContextType"}
_TEXT_LIMITS = {
    "name": MAX_NAME_LENGTH,
    "external_id": MAX_NAME_LENGTH,
    "version": MAX_NAME_LENGTH,
    "uri": MAX_TEXT_LENGTH,
    "description": MAX_TEXT_LENGTH,
}
_NO_NUL = "no NUL characters"


def _limits(field: FieldDescriptor) -> dict[str, Any]:
    """Extra schema keywords for a field the store limits (none for others)."""
    if field.containing_type.name not in _LIMITED_MESSAGES:
        return {}
    if field.type == _T.TYPE_STRING and field.name in _TEXT_LIMITS:
        return {"maxLength": _TEXT_LIMITS[field.name], "description": f"at most {_TEXT_LIMITS[field.name]:,} "
                f"characters, {_NO_NUL}"}
    if field.name in ("properties", "custom_properties"):
        return {"propertyNames": {"maxLength": MAX_NAME_LENGTH}, "description": f"property names: at most "
                f"{MAX_NAME_LENGTH} characters, {_NO_NUL}; string values: {_NO_NUL}; the whole node "
                "serialized: at most the server's node size limit (4 MiB less 64 KiB by default)"}
    return {}


def schema_name(descriptor: Descriptor) -> str:
    """The component name of a message: its full name without the package."""
    package = descriptor.file.package
    full = descriptor.full_name
    return full[len(package) + 1 :] if package and full.startswith(package + ".") else full


def ref(descriptor: Descriptor, prefix: str = "#/components/schemas/") -> dict[str, str]:
    return {"$ref": prefix + schema_name(descriptor)}


class SchemaSet:
    """JSON Schemas for a growing set of messages and every message they reach."""

    def __init__(self, prefix: str = "#/components/schemas/") -> None:
        self.prefix = prefix
        self.schemas: dict[str, dict[str, Any]] = {}

    def add(self, descriptors: Iterable[Descriptor]) -> None:
        for descriptor in descriptors:
            self._message(descriptor)

    def reference(self, descriptor: Descriptor) -> dict[str, Any]:
        """A schema for ``descriptor``: a $ref to its component (added if new), or an inline well-known form."""
        if descriptor.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[descriptor.full_name])
        self._message(descriptor)
        return ref(descriptor, self.prefix)

    def _message(self, descriptor: Descriptor) -> None:
        name = schema_name(descriptor)
        if name in self.schemas or descriptor.full_name in _WELL_KNOWN:
            return
        properties: dict[str, Any] = {}
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        self.schemas[name] = schema  # before the fields: recursion ends here
        description = _oneof_note(descriptor)
        if description:
            schema["description"] = description
        for field in descriptor.fields:
            properties[field.name] = {**self._field(field), **_limits(field)}

    def _field(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.type == _T.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self._single(value_field)}
        single = self._single(field)
        if is_repeated(field):
            return {"type": "array", "items": single}
        return single

    def _single(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.type in (_T.TYPE_MESSAGE, _T.TYPE_GROUP):
            return self.reference(field.message_type)
        if field.type == _T.TYPE_ENUM:
            names = [value.name for value in field.enum_type.values]
            return {
                "anyOf": [{"type": "string", "enum": names}, {"type": "integer", "format": "int32"}],
                "description": f"{field.enum_type.full_name}: a name, or a number (written as a number "
                "only when it has no name)",
            }
        return dict(_SCALARS[field.type])


def _oneof_note(descriptor: Descriptor) -> str:
    """Oneofs as prose: JSON Schema has no compact "at most one of these properties"."""
    return "; ".join(
        f"at most one of {', '.join(field.name for field in oneof.fields)}"
        for oneof in descriptor.oneofs
        if len(oneof.fields) > 1
    )
