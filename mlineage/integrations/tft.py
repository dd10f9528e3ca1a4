"""TF.Transform's output directory as TFX's TransformGraph artifact, and the transformed data as Examples.

One call from inside the transform step::

    with tfx_step(run, "Transform") as step:  # or run.step("Transform")
        result = tft.record_transform(step, "/pipeline/Transform/transform_graph/5",
                                      examples=examples, schema=schema,
                                      transformed_examples_uri="/pipeline/Transform/transformed_examples/5")

``output_dir`` is what ``tft_beam.WriteTransformFn`` (or TFX's Transform)
writes: ``transform_fn/`` (a SavedModel, with vocabularies in ``assets/``)
and ``transformed_metadata/schema.pbtxt`` (the output schema, text). The
step gets, with TFX's keys and type names:

* inputs ``examples`` (Examples) and ``schema`` (Schema), when given;
* output ``transform_graph``: a ``TransformGraph`` whose custom properties
  are the input and output feature specs (JSON ``{feature: {"kind":
  "FixedLenFeature"|"VarLenFeature"|"SparseFeature", "dtype", "shape"}}``, as
  ``TFTransformOutput.raw_feature_spec()`` / ``transformed_feature_spec()``
  would give them), the feature names and counts, each vocabulary's size
  (``vocabulary_size.<name>``), and the SavedModel's sha256 and size;
* output ``transformed_examples``: ``Examples`` (span and split names from
  the input examples or the ``Split-<s>`` folders), when given.

The input feature spec comes from the raw schema given (a Schema artifact at
a local path, ``schema.pbtxt``, or a ``Schema`` message), else from the
output directory's ``metadata/``. TensorFlow is never imported: the schemas
are read with ``tensorflow-metadata``, the SavedModel's few needed fields
with a declared subset of its proto. Every file is read and checked before
anything is recorded: bad input is one ``InvalidArgumentError`` naming the
path, and nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mlineage import errors
from mlineage.integrations import tfdv
from mlineage.integrations.protoschema import message_classes
from mlineage.integrations.tfx_types import declare_artifact_type, encode_split_names

TRANSFORM_FN_DIR = "transform_fn"
TRANSFORMED_METADATA_DIR = "transformed_metadata"
RAW_METADATA_DIR = "metadata"
SAVED_MODEL_FILE = "saved_model.pb"
ASSET_MAP_FILE = "asset_map"
SPLIT_PREFIX = "Split-"

# tensorflow_metadata.v0.FeatureType -> the dtype TF.Transform's feature specs give it.
_DTYPES = {1: "string", 2: "int64", 3: "float32"}  # BYTES, INT, FLOAT

_saved_model_classes: dict[str, Any] = {}


def _saved_model_class():
    """tensorflow.SavedModel, only as far as its meta graphs' tags and signatures (no TensorFlow import)."""
    if not _saved_model_classes:
        _saved_model_classes.update(message_classes("mlineage/integrations/saved_model_subset.proto",
                                                    "mlineage_saved_model_subset", {
            "SavedModel": [("saved_model_schema_version", 1, "int64", False), ("meta_graphs", 2, "MetaGraphDef", True)],
            "MetaGraphDef": [("meta_info_def", 1, "MetaInfoDef", False), ("signature_def", 5, "SignatureEntry", True)],
            "MetaInfoDef": [("tags", 4, "string", True), ("tensorflow_version", 5, "string", False)],
            "SignatureEntry": [("key", 1, "string", False), ("value", 2, "SignatureDef", False)],
            "SignatureDef": [("inputs", 1, "TensorEntry", True), ("outputs", 2, "TensorEntry", True),
                             ("method_name", 3, "string", False)],
            "TensorEntry": [("key", 1, "string", False)],
        }))
    return _saved_model_classes["SavedModel"]


def _bad(path: Path, detail: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(f"{path} is not a TF.Transform output: {detail}")


def feature_spec(schema: Any) -> dict[str, dict[str, Any]]:
    """The feature spec TF.Transform derives from ``schema`` (``schema_utils.schema_as_feature_spec``), as JSON:
    a feature with a shape is a FixedLenFeature, one without a VarLenFeature, a sparse feature a SparseFeature
    (its index and value columns then are not features of their own)."""
    spec: dict[str, dict[str, Any]] = {}
    by_name = {f.name: f for f in schema.feature}
    used: set[str] = set()
    for sparse in schema.sparse_feature:
        value = by_name.get(sparse.value_feature.name)
        used.add(sparse.value_feature.name)
        used.update(i.name for i in sparse.index_feature)
        spec[sparse.name] = {
            "kind": "SparseFeature",
            "dtype": _DTYPES.get(value.type if value is not None else 0, "unknown"),
            "index_key": [i.name for i in sparse.index_feature],
            "value_key": sparse.value_feature.name,
            "shape": [int(d.size) for d in sparse.dense_shape.dim],
        }
    for feature in schema.feature:
        if feature.name in used:
            continue
        dtype = _DTYPES.get(feature.type, "unknown")
        if feature.HasField("shape"):
            spec[feature.name] = {"kind": "FixedLenFeature", "dtype": dtype,
                                  "shape": [int(d.size) for d in feature.shape.dim]}
        else:
            spec[feature.name] = {"kind": "VarLenFeature", "dtype": dtype}
    return dict(sorted(spec.items()))


@dataclass
class TransformOutput:
    """What a TF.Transform output directory holds, read and checked."""

    root: Path
    output_schema: Any
    raw_schema: Any | None
    saved_model_sha256: str
    saved_model_bytes: int
    tags: list[str] = field(default_factory=list)
    signature_outputs: list[str] = field(default_factory=list)
    vocabularies: dict[str, int] = field(default_factory=dict)  # asset file name -> entries
    asset_map: dict[str, str] = field(default_factory=dict)


def _read_saved_model(path: Path) -> tuple[str, int, list[str], list[str]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _bad(path.parent.parent, f"{path} cannot be read ({exc.strerror or exc})") from None
    message = _saved_model_class()()
    try:
        message.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError
        raise _bad(path.parent.parent, f"{path} is not a SavedModel ({exc})") from None
    if not message.meta_graphs:
        raise _bad(path.parent.parent, f"{path} is not a SavedModel (no meta graph)")
    tags: list[str] = []
    outputs: set[str] = set()
    for graph in message.meta_graphs:
        tags.extend(t for t in graph.meta_info_def.tags if t not in tags)
        for entry in graph.signature_def:
            if not entry.key.startswith("__"):  # __saved_model_init_op is not a signature a caller uses
                outputs.update(o.key for o in entry.value.outputs)
    return hashlib.sha256(data).hexdigest(), len(data), tags, sorted(outputs)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def load_transform_output(path: str | os.PathLike) -> TransformOutput:
    """Read a TF.Transform output directory (``transform_fn/``, ``transformed_metadata/schema.pbtxt``)."""
    root = Path(path)
    if not root.is_dir():
        raise _bad(root, "no such directory")
    saved_model = root / TRANSFORM_FN_DIR / SAVED_MODEL_FILE
    schema_file = root / TRANSFORMED_METADATA_DIR / tfdv.SCHEMA_FILE
    missing = [str(p.relative_to(root)) for p in (saved_model, schema_file) if not p.is_file()]
    if missing:
        raise _bad(root, f"no {' or '.join(missing)} in it")
    digest, size, tags, outputs = _read_saved_model(saved_model)
    try:
        output_schema = tfdv.load_schema(schema_file)
    except errors.InvalidArgumentError as exc:
        raise _bad(root, str(exc)) from None
    raw_schema = None
    if (root / RAW_METADATA_DIR / tfdv.SCHEMA_FILE).is_file():
        try:
            raw_schema = tfdv.load_schema(root / RAW_METADATA_DIR / tfdv.SCHEMA_FILE)
        except errors.InvalidArgumentError as exc:
            raise _bad(root, str(exc)) from None
    asset_map: dict[str, str] = {}
    map_file = root / TRANSFORMED_METADATA_DIR / ASSET_MAP_FILE
    if map_file.is_file():
        try:
            loaded = json.loads(map_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise _bad(root, f"{map_file} is not JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise _bad(root, f"{map_file} is not a JSON object")
        asset_map = {str(k): str(v) for k, v in loaded.items()}
    assets = root / TRANSFORM_FN_DIR / "assets"
    vocabularies = {p.name: _count_lines(p) for p in sorted(assets.iterdir()) if p.is_file()} \
        if assets.is_dir() else {}
    return TransformOutput(root, output_schema, raw_schema, digest, size, tags, outputs, vocabularies, asset_map)


def transform_properties(output: TransformOutput, raw_schema: Any | None = None) -> dict[str, Any]:
    """The custom properties of a TransformGraph artifact (``raw_schema`` wins over the output's ``metadata/``)."""
    raw = raw_schema if raw_schema is not None else output.raw_schema
    out_spec = feature_spec(output.output_schema)
    props: dict[str, Any] = {
        "output_feature_spec": json.dumps(out_spec, sort_keys=True),
        "output_feature_names": ",".join(out_spec),
        "num_output_features": len(out_spec),
        "transform_fn_sha256": output.saved_model_sha256,
        "transform_fn_bytes": output.saved_model_bytes,
        "transform_fn_tags": ",".join(output.tags),
        "transform_fn_outputs": ",".join(output.signature_outputs),
        "vocabularies": ",".join(output.vocabularies),
        "num_vocabularies": len(output.vocabularies),
    }
    for name, size in output.vocabularies.items():
        props[f"vocabulary_size.{name}"] = size
    if raw is not None:
        in_spec = feature_spec(raw)
        props.update(input_feature_spec=json.dumps(in_spec, sort_keys=True),
                     input_feature_names=",".join(in_spec), num_input_features=len(in_spec))
    return props


class TransformResult(NamedTuple):
    """What ``record_transform`` recorded: the TransformGraph and (when given) the transformed Examples."""

    transform_graph: Any
    transformed_examples: Any | None


def _raw_schema(schema: Any) -> tuple[Any | None, str | None]:
    """(the raw Schema message or None, the uri to link as the step's schema input or None)."""
    if schema is None:
        return None, None
    if isinstance(schema, (str, os.PathLike)):
        return tfdv.load_schema(schema), os.fspath(schema)
    if hasattr(schema, "type_name") and hasattr(schema, "uri"):  # an ArtifactRef: read it when it is local
        local = schema.uri[len("file://"):] if (schema.uri or "").startswith("file://") else schema.uri
        if local and "://" not in local and os.path.exists(local):
            return tfdv.load_schema(local), None
        return None, None
    from tensorflow_metadata.proto.v0 import schema_pb2

    return tfdv._as(schema_pb2.Schema, schema, "a Schema"), None


def _splits(uri: str | None, split_names: list[str] | None, examples: Any) -> list[str] | None:
    if split_names is not None:
        return list(split_names)
    if uri and os.path.isdir(uri):
        found = sorted(p.name[len(SPLIT_PREFIX):] for p in Path(uri).iterdir()
                       if p.is_dir() and p.name.startswith(SPLIT_PREFIX))
        if found:  # in the examples' order, as TFX's Transform writes the splits it was given
            return tfdv._split_order(found, examples)
    encoded = getattr(examples, "properties", {}).get("split_names") if examples is not None else None
    if isinstance(encoded, str):
        try:
            decoded = json.loads(encoded)
        except ValueError:
            return None
        return [str(s) for s in decoded] if isinstance(decoded, list) else None
    return None


def record_transform(step: Any, output_dir: str | os.PathLike, *, examples: Any = None, schema: Any = None,
                     transformed_examples_uri: str | None = None, uri: str | None = None,
                     split_names: list[str] | None = None, span: int | None = None,
                     key: str = "transform_graph", **properties: Any) -> TransformResult:
    """Record a TF.Transform output directory as the step's TransformGraph, linked to the ``examples`` and raw
    ``schema`` it read (ArtifactRefs or URIs / a ``schema.pbtxt`` path / a ``Schema``), and the transformed
    data at ``transformed_examples_uri`` as its Examples. ``uri`` defaults to ``output_dir``."""
    output = load_transform_output(output_dir)
    raw, schema_uri = _raw_schema(schema)
    props = transform_properties(output, raw)  # every file read before anything is recorded
    props.update(properties)
    for type_name in ("Examples", "Schema", "TransformGraph"):
        declare_artifact_type(step, type_name)
    linked = tfdv._link_inputs(step, examples=examples,
                               schema=schema_uri if schema_uri is not None else
                               (schema if hasattr(schema, "type_name") else None))
    graph = step.output("TransformGraph", uri=uri or os.fspath(output_dir), key=key, **props)
    transformed = None
    if transformed_examples_uri is not None:
        source = linked.get("examples")
        example_props: dict[str, Any] = {}
        found_span = tfdv._span(span, examples, source)
        if found_span is not None:
            example_props["span"] = found_span
        splits = _splits(transformed_examples_uri, split_names,
                         examples if getattr(examples, "properties", None) else source)
        if splits is not None:
            example_props["split_names"] = encode_split_names(splits)
        transformed = step.output("Examples", uri=transformed_examples_uri, key="transformed_examples",
                                  **example_props)
    return TransformResult(graph, transformed)


__all__ = ["TransformOutput", "TransformResult", "feature_spec", "load_transform_output", "record_transform",
           "transform_properties"]
