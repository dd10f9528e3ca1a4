"""Message classes for foreign protos (TFMA's outputs, TensorFlow's SavedModel) built from their field numbers.

TFMA's ``MetricsForSlice`` and ``ValidationResult`` ship only inside
``tensorflow-model-analysis``, whose proto package imports TensorFlow; a
SavedModel's ``saved_model.pb`` is a TensorFlow proto. Reading the few fields
an integration needs does not justify that import (seconds and gigabytes), so
the integrations declare the subset they read (field names, numbers, types:
the wire facts, which protobuf guarantees stable) and get real message classes
from a private descriptor pool (proto2, so a scalar set to zero is told apart
from one not set): fields outside the subset are skipped by the parser, and nothing clashes with the real classes when TFMA is imported in the
same process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, wrappers_pb2

# A field: (name, number, type, repeated). type: a scalar name below, a message of the same file by its
# name ("MetricKey"), or a fully qualified message (".google.protobuf.DoubleValue").
Field = tuple[str, int, str, bool]

_SCALARS: dict[str, int] = {
    "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
    "float": descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
}


def _file_proto(file_name: str, package: str, messages: Mapping[str, Sequence[Field]]) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name=file_name, package=package, syntax="proto2")  # proto2: scalars have presence
    proto.dependency.append(wrappers_pb2.DESCRIPTOR.name)
    for message_name, fields in messages.items():
        message = proto.message_type.add(name=message_name)
        for name, number, kind, repeated in fields:
            field = message.field.add(name=name, number=number)
            field.label = (descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED if repeated
                           else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
            if kind in _SCALARS:
                field.type = _SCALARS[kind]  # type: ignore[assignment]
            else:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                field.type_name = kind if kind.startswith(".") else f".{package}.{kind}"
    return proto


def message_classes(file_name: str, package: str, messages: Mapping[str, Sequence[Field]]) -> dict[str, Any]:
    """{message name: class} for ``messages`` declared in their own descriptor pool (``package`` names them)."""
    from google.protobuf import message_factory

    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    pool.Add(_file_proto(file_name, package, messages))
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
            for name in messages}


__all__ = ["Field", "message_classes"]
