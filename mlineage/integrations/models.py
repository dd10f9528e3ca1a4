"""Model files: which framework and format they are, their size and checksum, and their signature when cheap.

No framework is imported. Formats are told from names and magic bytes
(SavedModel, Keras ``.keras``/``.h5``, ONNX, TorchScript, PyTorch pickles,
TensorRT plans, TFLite, safetensors, GGUF, OpenVINO, Triton model
directories). Signatures are read from the protobuf wire format directly: a
SavedModel's ``saved_model.pb`` (signature names, inputs and outputs with
dtypes and shapes, tags) and an ONNX model's graph inputs and outputs, seeking
past the graph and the weights rather than loading them.

The checksum is the sha256 of the file; for a directory, of every file's
relative path, size and contents in path order.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
CHUNK = 1024 * 1024

# TensorFlow's DataType enum (types.proto), the common part.
TF_DTYPES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string", 8: "complex64",
    9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 18: "complex128", 19: "float16", 20: "resource",
    21: "variant", 22: "uint32", 23: "uint64",
}
# ONNX's TensorProto.DataType.
ONNX_DTYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string", 9: "bool",
    10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16",
}
TRITON_PLATFORMS = {
    "tensorrt_plan": ("tensorrt", "tensorrt_plan"), "onnxruntime_onnx": ("onnx", "onnx"),
    "pytorch_libtorch": ("pytorch", "torchscript"), "tensorflow_savedmodel": ("tensorflow", "saved_model"),
    "tensorflow_graphdef": ("tensorflow", "tensorflow_graphdef"),
}


@dataclass
class ModelDescription:
    path: str
    format: str | None
    framework: str | None
    size_bytes: int
    file_count: int
    sha256: str
    signature: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def properties(self) -> dict[str, Any]:
        """Custom properties for the model artifact."""
        props: dict[str, Any] = {
            "size_bytes": self.size_bytes,
            "file_count": self.file_count,
            "sha256": self.sha256,
        }
        if self.format:
            props["format"] = self.format
        if self.framework:
            props["framework"] = self.framework
        if self.signature:
            props["signature"] = self.signature
            names = self.signature.get("signatures")
            if isinstance(names, dict):
                props["signature_names"] = ",".join(sorted(names))
        props.update(self.extra)
        return props


# --- files, size, checksum -------------------------------------------------------------------------


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())


def checksum(path: str | os.PathLike) -> tuple[str, int, int]:
    """(sha256 hex, total bytes, file count) of a file or a directory tree."""
    root = Path(path)
    digest = hashlib.sha256()
    total = 0
    files = _files(root)
    for file in files:
        size = file.stat().st_size
        total += size
        if root.is_dir():
            digest.update(file.relative_to(root).as_posix().encode() + b"\0" + str(size).encode() + b"\0")
        with open(file, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest(), total, len(files)


# --- protobuf wire format --------------------------------------------------------------------------


class WireReader:
    """Reads protobuf fields from a seekable file without loading what it skips."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    def _varint(self) -> int:
        result = shift = 0
        while True:
            byte = self.handle.read(1)
            if not byte:
                raise ValueError("truncated varint")
            result |= (byte[0] & 0x7F) << shift
            if not byte[0] & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise ValueError("varint too long")

    def fields(self, start: int, end: int):
        """(number, wire type, value) for the fields in [start, end); length-delimited values are (offset, length)."""
        self.handle.seek(start)
        while self.handle.tell() < end:
            key = self._varint()
            number, wire = key >> 3, key & 7
            if wire == 0:
                yield number, wire, self._varint()
            elif wire == 1:
                yield number, wire, struct.unpack("<q", self.handle.read(8))[0]
            elif wire == 2:
                length = self._varint()
                offset = self.handle.tell()
                if offset + length > end:
                    raise ValueError("field runs past its message")
                yield number, wire, (offset, length)
                self.handle.seek(offset + length)
            elif wire == 5:
                yield number, wire, struct.unpack("<i", self.handle.read(4))[0]
            else:
                raise ValueError(f"unsupported wire type {wire}")

    def read(self, span: tuple[int, int]) -> bytes:
        position = self.handle.tell()
        self.handle.seek(span[0])
        data = self.handle.read(span[1])
        self.handle.seek(position)
        return data

    def string(self, span: tuple[int, int]) -> str:
        return self.read(span).decode("utf-8", errors="replace")


def _message(data: bytes) -> WireReader:
    import io

    return WireReader(io.BytesIO(data))


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _tf_tensor_info(data: bytes) -> dict[str, Any]:
    reader = _message(data)
    info: dict[str, Any] = {}
    for number, wire, value in reader.fields(0, len(data)):
        if number == 1 and wire == 2:
            info["tensor"] = reader.string(value)
        elif number == 2 and wire == 0:
            info["dtype"] = TF_DTYPES.get(value, f"dtype_{value}")
        elif number == 3 and wire == 2:
            shape = reader.read(value)
            dims: list[int] = []
            unknown_rank = False
            inner = _message(shape)
            for n, w, v in inner.fields(0, len(shape)):
                if n == 2 and w == 2:
                    dim = inner.read(v)
                    size = -1
                    for dn, dw, dv in _message(dim).fields(0, len(dim)):
                        if dn == 1 and dw == 0:
                            size = _signed(dv)
                    dims.append(size)
                elif n == 3 and w == 0:
                    unknown_rank = bool(v)
            info["shape"] = None if unknown_rank else dims
        elif number in (4, 5):
            info["encoding"] = "sparse" if number == 4 else "composite"
    return info


def _map_entry(reader: WireReader, span: tuple[int, int]) -> tuple[str, bytes]:
    key, value = "", b""
    for number, wire, item in reader.fields(span[0], span[0] + span[1]):
        if number == 1 and wire == 2:
            key = reader.string(item)
        elif number == 2 and wire == 2:
            value = reader.read(item)
    return key, value


def _signature_def(data: bytes) -> dict[str, Any]:
    reader = _message(data)
    signature: dict[str, Any] = {"inputs": {}, "outputs": {}}
    for number, wire, value in reader.fields(0, len(data)):
        if number in (1, 2) and wire == 2:
            name, info = _map_entry(reader, value)
            signature["inputs" if number == 1 else "outputs"][name] = _tf_tensor_info(info)
            reader.handle.seek(value[0] + value[1])
        elif number == 3 and wire == 2:
            signature["method"] = reader.string(value)
    return signature


def saved_model_signature(saved_model_pb: str | os.PathLike) -> dict[str, Any]:
    """Tags, TensorFlow version and SignatureDefs of each MetaGraph of a ``saved_model.pb``.

    SavedModel: meta_graphs = 2; MetaGraphDef: meta_info_def = 1 (tags = 4,
    tensorflow_version = 5), signature_def = 5 (map<string, SignatureDef>);
    the graph (2) and object graph (7) are skipped unread.
    """
    signatures: dict[str, Any] = {}
    tags: list[str] = []
    versions: set[str] = set()
    with open(saved_model_pb, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        reader = WireReader(handle)
        graphs = [value for number, wire, value in reader.fields(0, size) if number == 2 and wire == 2]
        for offset, length in graphs:
            for number, wire, value in list(reader.fields(offset, offset + length)):
                if number == 1 and wire == 2:
                    info = _message(reader.read(value))
                    for n, w, v in info.fields(0, value[1]):
                        if n == 4 and w == 2:
                            tags.append(info.string(v))
                        elif n == 5 and w == 2:
                            versions.add(info.string(v))
                elif number == 5 and wire == 2:
                    name, data = _map_entry(reader, value)
                    if not name.startswith("__"):  # __saved_model_init_op is machinery, not an API
                        signatures[name] = _signature_def(data)
    result: dict[str, Any] = {"tags": sorted(set(tags)), "signatures": signatures}
    if versions:
        result["tensorflow_version"] = sorted(versions)[-1]
    return result


def _onnx_value_info(data: bytes) -> tuple[str, dict[str, Any]]:
    reader = _message(data)
    name = ""
    info: dict[str, Any] = {}
    for number, wire, value in reader.fields(0, len(data)):
        if number == 1 and wire == 2:
            name = reader.string(value)
        elif number == 2 and wire == 2:  # TypeProto
            type_data = reader.read(value)
            type_reader = _message(type_data)
            for tn, tw, tv in type_reader.fields(0, len(type_data)):
                if tn != 1 or tw != 2:  # only tensor_type
                    info["kind"] = {4: "sequence", 5: "map", 8: "sparse_tensor", 9: "optional"}.get(tn, "other")
                    continue
                tensor = type_reader.read(tv)
                tensor_reader = _message(tensor)
                for en, ew, ev in tensor_reader.fields(0, len(tensor)):
                    if en == 1 and ew == 0:
                        info["dtype"] = ONNX_DTYPES.get(ev, f"dtype_{ev}")
                    elif en == 2 and ew == 2:
                        shape = tensor_reader.read(ev)
                        dims: list[Any] = []
                        shape_reader = _message(shape)
                        for sn, sw, sv in shape_reader.fields(0, len(shape)):
                            if sn == 1 and sw == 2:
                                dim = shape_reader.read(sv)
                                entry: Any = None
                                dim_reader = _message(dim)
                                for dn, dw, dv in dim_reader.fields(0, len(dim)):
                                    if dn == 1 and dw == 0:
                                        entry = _signed(dv)
                                    elif dn == 2 and dw == 2:
                                        entry = dim_reader.string(dv)
                                dims.append(entry)
                        info["shape"] = dims
    return name, info


def onnx_signature(path: str | os.PathLike) -> dict[str, Any]:
    """Graph inputs (less initializers) and outputs of an ONNX model, plus IR version, opsets, producer.

    ModelProto: ir_version = 1, producer_name = 2, producer_version = 3,
    graph = 7, opset_import = 8; GraphProto: initializer = 5 (TensorProto,
    name = 8), input = 11, output = 12 (ValueInfoProto).
    """
    result: dict[str, Any] = {"inputs": {}, "outputs": {}}
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        reader = WireReader(handle)
        graph = None
        opsets = {}
        for number, wire, value in list(reader.fields(0, size)):
            if number == 1 and wire == 0:
                result["ir_version"] = value
            elif number == 2 and wire == 2:
                result["producer_name"] = reader.string(value)
            elif number == 3 and wire == 2:
                result["producer_version"] = reader.string(value)
            elif number == 7 and wire == 2:
                graph = value
            elif number == 8 and wire == 2:
                opset = _message(reader.read(value))
                domain, version = "", None
                for n, w, v in opset.fields(0, value[1]):
                    if n == 1 and w == 2:
                        domain = opset.string(v)
                    elif n == 2 and w == 0:
                        version = v
                opsets[domain or "ai.onnx"] = version
        if opsets:
            result["opsets"] = opsets
        if graph is None:
            return result
        initializers = set()
        inputs: list[tuple[str, dict]] = []
        for number, wire, value in list(reader.fields(graph[0], graph[0] + graph[1])):
            if number == 5 and wire == 2:
                for n, w, v in list(reader.fields(value[0], value[0] + value[1])):
                    if n == 8 and w == 2:
                        initializers.add(reader.string(v))
            elif number in (11, 12) and wire == 2:
                name, info = _onnx_value_info(reader.read(value))
                if number == 11:
                    inputs.append((name, info))
                else:
                    result["outputs"][name] = info
        result["inputs"] = {name: info for name, info in inputs if name not in initializers}
    return result


# --- detection -------------------------------------------------------------------------------------


def _head(path: Path, size: int = 16) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def _zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _safetensors_header(path: Path) -> dict[str, Any] | None:
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            return None
        (length,) = struct.unpack("<Q", raw)
        if length > 100 * 1024 * 1024:
            return None
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            return None
    if not isinstance(header, dict):
        return None
    tensors = {k: v for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    parameters = 0
    for tensor in tensors.values():
        count = 1
        for dim in tensor.get("shape", []):
            count *= int(dim)
        parameters += count
    return {"tensor_count": len(tensors), "parameter_count": parameters,
            "dtypes": sorted({t.get("dtype", "?") for t in tensors.values()})}


def detect_file(path: Path) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """(format, framework, signature) of one file."""
    suffix = path.suffix.lower()
    head = _head(path)
    if suffix == ".keras" or (head.startswith(b"PK") and suffix not in (".pt", ".pth", ".zip", ".torchscript",
                                                                        ".ptl")):
        names = _zip_names(path)
        if "config.json" in names and any(n.endswith(".weights.h5") or n == "model.weights.h5" for n in names):
            return "keras", "keras", None
    if head.startswith(HDF5_MAGIC):
        return ("keras_h5", "keras", None) if suffix in (".h5", ".hdf5", ".keras") else ("hdf5", None, None)
    if suffix in (".pt", ".pth", ".torchscript", ".ptl", ".zip") and head.startswith(b"PK"):
        names = _zip_names(path)
        if any("/code/" in n or n.endswith("/constants.pkl") for n in names):
            return "torchscript", "pytorch", None
        if any(n.endswith("/data.pkl") for n in names):
            return "pytorch_state_dict", "pytorch", None
    if suffix in (".pt", ".pth", ".bin") and head[:1] == b"\x80":
        return "pytorch_pickle", "pytorch", None
    if suffix in (".plan", ".engine", ".trt"):
        return "tensorrt_plan", "tensorrt", None
    if head[4:8] == b"TFL3":
        return "tflite", "tensorflow", None
    if head.startswith(b"GGUF"):
        return "gguf", None, None
    if suffix == ".safetensors":
        return "safetensors", None, _safetensors_header(path)
    if suffix == ".onnx":
        try:
            return "onnx", "onnx", onnx_signature(path)
        except (ValueError, struct.error):
            return "onnx", "onnx", None
    if path.name == "saved_model.pb":
        return "saved_model", "tensorflow", saved_model_signature(path)
    if suffix in (".pb", ".graphdef"):
        return "tensorflow_graphdef", "tensorflow", None
    if suffix in (".pkl", ".pickle", ".joblib"):
        return "pickle", None, None
    if suffix == ".xml" and path.with_suffix(".bin").exists():
        return "openvino", "openvino", None
    if suffix in (".json", ".ubj") and path.stem.startswith(("xgb", "xgboost")):
        return "xgboost", "xgboost", None
    return None, None, None


def _triton_platform(config: Path) -> tuple[str | None, str | None]:
    import re

    text = config.read_text(errors="replace")
    for key in ("platform", "backend"):
        match = re.search(rf'^\s*{key}\s*:\s*"([^"]+)"', text, re.MULTILINE)
        if match:
            value = match.group(1)
            framework, fmt = TRITON_PLATFORMS.get(value, (value, value))
            return framework, fmt
    return None, None


def detect_directory(path: Path) -> tuple[str | None, str | None, dict[str, Any] | None, dict[str, Any]]:
    """(format, framework, signature, extra) of a model directory."""
    extra: dict[str, Any] = {}
    if (path / "saved_model.pb").exists():
        return "saved_model", "tensorflow", saved_model_signature(path / "saved_model.pb"), extra
    if (path / "saved_model.pbtxt").exists():
        return "saved_model", "tensorflow", None, extra
    if (path / "config.pbtxt").exists():
        framework, fmt = _triton_platform(path / "config.pbtxt")
        versions = sorted(int(p.name) for p in path.iterdir() if p.is_dir() and p.name.isdigit()
                          and not p.name.startswith("0"))
        extra["triton_versions"] = versions
        if fmt:
            extra["triton_platform"] = fmt
        return "triton_model", framework, None, extra
    if (path / "MLmodel").exists():
        return "mlflow_model", None, None, extra
    if (path / "config.json").exists() and any(path.glob("*.safetensors")) | any(path.glob("pytorch_model*.bin")):
        weights = sorted(path.glob("*.safetensors"))
        signature = _safetensors_header(weights[0]) if len(weights) == 1 else None
        return "huggingface", "pytorch" if not any(path.glob("tf_model.h5")) else "tensorflow", signature, extra
    candidates = []
    for file in _files(path):
        fmt, framework, signature = detect_file(file)
        if fmt:
            candidates.append((file, fmt, framework, signature))
    if len(candidates) == 1:
        file, fmt, framework, signature = candidates[0]
        extra["model_file"] = file.relative_to(path).as_posix()
        return fmt, framework, signature, extra
    if (path / "model.onnx").is_dir() and (path / "model.onnx" / "model.onnx").exists():
        return "onnx", "onnx", onnx_signature(path / "model.onnx" / "model.onnx"), extra
    return None, None, None, extra


def describe_model(path: str | os.PathLike, *, signature: bool = True) -> ModelDescription:
    """Format, framework, size, sha256 and (when cheap) signature of a model file or directory."""
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no model at {root}")
    if root.is_dir():
        fmt, framework, sig, extra = detect_directory(root)
    else:
        fmt, framework, sig = detect_file(root)
        extra = {}
    digest, size, count = checksum(root)
    return ModelDescription(str(root), fmt, framework, size, count, digest, sig if signature else None, extra)


__all__ = ["ModelDescription", "checksum", "describe_model", "onnx_signature", "saved_model_signature"]
