"""mlineage's protobuf model: MLMD-compatible messages in package ``mlineage.v1``.

The ``*_pb2*.py`` modules are generated from the ``.proto`` files beside them by
``scripts/gen_protos.py``; edit the ``.proto`` files, never the generated code.

MLMD names system base types ("mlmd.Model", ...) through an EnumValueOptions
extension that we cannot declare (its number would clash with ml_metadata's in
a shared descriptor pool), so the mapping lives here instead.
"""

from __future__ import annotations

from typing import Literal

from mlineage.proto import metadata_store_pb2, metadata_store_service_pb2


def __getattr__(name: str):
    # The gRPC stubs import grpc (~0.15 s); load them only for code that uses them.
    if name == "metadata_store_service_pb2_grpc":
        import importlib

        return importlib.import_module("mlineage.proto.metadata_store_service_pb2_grpc")
    raise AttributeError(name)

__all__ = [
    "SYSTEM_TYPE_BASE_TYPES",
    "SYSTEM_TYPE_NAMES",
    "TypeKind",
    "metadata_store_pb2",
    "metadata_store_service_pb2",
    "metadata_store_service_pb2_grpc",
]

TypeKind = Literal["artifact", "execution"]

_ArtifactBase = metadata_store_pb2.ArtifactType.SystemDefinedBaseType
_ExecutionBase = metadata_store_pb2.ExecutionType.SystemDefinedBaseType

#: (type kind, SystemDefinedBaseType value) -> name of the system type MLMD seeds.
SYSTEM_TYPE_NAMES: dict[tuple[TypeKind, int], str] = {
    ("artifact", _ArtifactBase.Value("DATASET")): "mlmd.Dataset",
    ("artifact", _ArtifactBase.Value("MODEL")): "mlmd.Model",
    ("artifact", _ArtifactBase.Value("METRICS")): "mlmd.Metrics",
    ("artifact", _ArtifactBase.Value("STATISTICS")): "mlmd.Statistics",
    ("execution", _ExecutionBase.Value("TRAIN")): "mlmd.Train",
    ("execution", _ExecutionBase.Value("TRANSFORM")): "mlmd.Transform",
    ("execution", _ExecutionBase.Value("PROCESS")): "mlmd.Process",
    ("execution", _ExecutionBase.Value("EVALUATE")): "mlmd.Evaluate",
    ("execution", _ExecutionBase.Value("DEPLOY")): "mlmd.Deploy",
}

#: System type name -> (type kind, SystemDefinedBaseType value); the inverse of SYSTEM_TYPE_NAMES.
SYSTEM_TYPE_BASE_TYPES: dict[str, tuple[TypeKind, int]] = {
    name: key for key, name in SYSTEM_TYPE_NAMES.items()
}
