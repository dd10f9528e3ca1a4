"""Dump generated protobuf modules' messages, enums and services as package-free JSON.

Used by tests/test_wire_compat.py in-process for mlineage's modules and, as a
script, under the ml-metadata environment (protobuf 4.25) for MLMD's:

    python tests/descriptor_dump.py ml_metadata.proto.metadata_store_pb2 ...

Only wire-relevant facts are kept (names, numbers, types, labels, defaults,
oneofs, packing, map entries, reserved and extension ranges), never comments
or the package, so two packages that encode the same bytes dump identically.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def mlmd_python() -> str | None:
    """The python of an environment with ml-metadata installed, if there is one."""
    configured = os.environ.get("MLINEAGE_MLMD_PYTHON")
    if configured:
        return configured
    default = REPO_ROOT / ".venvs" / "mlmd" / "bin" / "python"
    return str(default) if default.exists() else None


def _strip(type_name: str, package: str) -> str:
    prefix = f".{package}."
    return type_name[len(prefix) :] if type_name.startswith(prefix) else type_name.lstrip(".")


def _enum(enum: Any) -> dict[str, int]:
    return {value.name: value.number for value in enum.value}


def _message(message: Any, package: str, scope: str, out: dict[str, Any]) -> None:
    full_name = f"{scope}{message.name}"
    fields = {}
    for field in message.field:
        fields[field.name] = {
            "number": field.number,
            "type": field.type,
            "label": field.label,
            "type_name": _strip(field.type_name, package) if field.type_name else None,
            "default": field.default_value if field.HasField("default_value") else None,
            "oneof": message.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None,
            "packed": field.options.packed,
            "deprecated": field.options.deprecated,
        }
    out["messages"][full_name] = {
        "fields": fields,
        "map_entry": message.options.map_entry,
        "deprecated": message.options.deprecated,
        "extension_ranges": [[r.start, r.end] for r in message.extension_range],
        "reserved_ranges": [[r.start, r.end] for r in message.reserved_range],
    }
    for enum in message.enum_type:
        out["enums"][f"{full_name}.{enum.name}"] = _enum(enum)
    for nested in message.nested_type:
        _message(nested, package, f"{full_name}.", out)


def dump_modules(module_names: list[str]) -> dict[str, Any]:
    """Messages (recursively nested), enums and service methods of the given _pb2 modules."""
    from google.protobuf import descriptor_pb2

    out: dict[str, Any] = {"messages": {}, "enums": {}, "methods": {}}
    for module_name in module_names:
        file_proto = descriptor_pb2.FileDescriptorProto()
        importlib.import_module(module_name).DESCRIPTOR.CopyToProto(file_proto)
        package = file_proto.package
        for enum in file_proto.enum_type:
            out["enums"][enum.name] = _enum(enum)
        for message in file_proto.message_type:
            _message(message, package, "", out)
        for service in file_proto.service:
            for method in service.method:
                out["methods"][f"{service.name}.{method.name}"] = {
                    "input": _strip(method.input_type, package),
                    "output": _strip(method.output_type, package),
                    "client_streaming": method.client_streaming,
                    "server_streaming": method.server_streaming,
                    "deprecated": method.options.deprecated,
                }
    return out


if __name__ == "__main__":
    json.dump(dump_modules(sys.argv[1:]), sys.stdout, indent=1, sort_keys=True)
