"""Property values: the ``Value`` message to typed columns of a property row, and back."""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import any_pb2, json_format, struct_pb2

from mlineage.errors import InvalidArgumentError

# PropertyType enum numbers (the same in MLMD).
UNKNOWN, INT, DOUBLE, STRING, STRUCT, PROTO, BOOLEAN = range(7)

VALUE_FIELD_TO_TYPE = {
    "int_value": INT,
    "double_value": DOUBLE,
    "string_value": STRING,
    "struct_value": STRUCT,
    "proto_value": PROTO,
    "bool_value": BOOLEAN,
}
TYPE_NAMES = {UNKNOWN: "UNKNOWN", INT: "INT", DOUBLE: "DOUBLE", STRING: "STRING", STRUCT: "STRUCT",
              PROTO: "PROTO", BOOLEAN: "BOOLEAN"}

EMPTY_ROW: dict[str, Any] = {
    "int_value": None,
    "double_value": None,
    "string_value": None,
    "bool_value": None,
    "struct_value": None,
    "proto_value": None,
}


def value_type(value) -> int:
    """The PropertyType of a ``Value`` message (UNKNOWN when no value is set)."""
    field = value.WhichOneof("value")
    return VALUE_FIELD_TO_TYPE[field] if field else UNKNOWN


def value_columns(value, property_name: str) -> tuple[int, dict[str, Any]]:
    """(value_type, column values) for one ``Value``; exactly one column is set."""
    field = value.WhichOneof("value")
    if field is None:
        raise InvalidArgumentError(f"property {property_name!r} has no value set")
    row = dict(EMPTY_ROW)
    if field == "struct_value":
        row["struct_value"] = json_format.MessageToJson(value.struct_value, indent=None, sort_keys=True)
    elif field == "proto_value":
        if not value.proto_value.type_url:
            raise InvalidArgumentError(f"property {property_name!r}: proto_value has no type_url")
        row["proto_value"] = value.proto_value.SerializeToString()
    else:
        row[field] = getattr(value, field)
    return VALUE_FIELD_TO_TYPE[field], row


def _double(stored: float | None, text: str | None) -> float:
    """A DOUBLE row's value: NULL is NaN, or on MySQL an infinity spelled in ``string_value``."""
    if stored is not None:
        return stored
    return float(text) if text in ("inf", "-inf") else math.nan


def fill_value(target, value_type_: int, row) -> None:
    """Set the ``Value`` message ``target`` from a property row (mapping or Row)."""
    if value_type_ == INT:
        target.int_value = row.int_value
    elif value_type_ == DOUBLE:
        # SQLite stores NaN as NULL; a DOUBLE row with no value is that NaN (or MySQL's infinity).
        target.double_value = _double(row.double_value, row.string_value)
    elif value_type_ == STRING:
        target.string_value = row.string_value
    elif value_type_ == BOOLEAN:
        target.bool_value = bool(row.bool_value)
    elif value_type_ == STRUCT:
        struct = struct_pb2.Struct()
        json_format.Parse(row.struct_value, struct)
        target.struct_value.CopyFrom(struct)
    elif value_type_ == PROTO:
        packed = any_pb2.Any()
        packed.ParseFromString(bytes(row.proto_value))
        target.proto_value.CopyFrom(packed)


def fill_value_tuple(target, row) -> None:
    """``fill_value`` for a raw property row: (owner, name, is_custom, value_type, int, double, string,
    bool, struct, proto)."""
    value_type_ = row[3]
    if value_type_ == INT:
        target.int_value = row[4]
    elif value_type_ == DOUBLE:
        target.double_value = _double(row[5], row[6])
    elif value_type_ == STRING:
        target.string_value = row[6]
    elif value_type_ == BOOLEAN:
        target.bool_value = bool(row[7])
    elif value_type_ == STRUCT:
        struct = struct_pb2.Struct()
        json_format.Parse(row[8], struct)
        target.struct_value.CopyFrom(struct)
    elif value_type_ == PROTO:
        packed = any_pb2.Any()
        packed.ParseFromString(bytes(row[9]))
        target.proto_value.CopyFrom(packed)
