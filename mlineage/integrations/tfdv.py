"""TFDV's outputs (statistics, schema, anomalies) as TFX's ExampleStatistics, Schema and ExampleAnomalies artifacts.

One call per output, from inside a step (``tfx_step`` opens it as TFX's node, see ``tfx_types``)::

    with tfx_step(run, "StatisticsGen") as step:
        examples = step.input("Examples", uri=data_uri, span=3)
        stats = tfdv.record_statistics(step, "/pipeline/StatisticsGen/statistics/7", examples=examples)
    with tfx_step(run, "SchemaGen") as step:
        schema = tfdv.record_schema(step, schema_proto, uri=schema_uri, statistics=stats)

Each takes the object TFDV returns (``DatasetFeatureStatisticsList``,
``Schema``, ``Anomalies``) or the files StatisticsGen, SchemaGen and
ExampleValidator write: ``Split-<s>/FeatureStats.pb`` (or the pre-0.29
``<s>/stats_tfrecord``, or ``FeatureStats.pb`` at the root as Transform writes
it), ``schema.pbtxt``, ``Split-<s>/SchemaDiff.pb`` (binary ``Anomalies``). The
artifacts get TFX's type names and declared properties (``span``,
``split_names`` as a JSON list) plus the summaries people filter and compare
on, as custom properties:

* statistics: ``num_examples`` and ``num_examples.<split>``, ``num_features``
  and ``num_features.<split>``, ``missing_ratio.<split>.<feature>``,
  ``max_missing_ratio``, ``features_with_missing``;
* schema: ``num_features``, ``feature_names``, ``required_features``,
  ``schema_sha256`` (of the canonical text, to see a schema change);
* anomalies: ``num_anomalies`` and ``num_anomalies.<split>``,
  ``anomaly_names`` (comma-separated, sorted), ``blessed`` (TFX's JSON-valued
  ``{split: 1|0}``, a struct), ``data_missing``.

``split_names`` follows the order of the input's (the examples' for statistics, the statistics' for
anomalies), as TFX's StatisticsGen and ExampleValidator copy it.

Everything is read with ``tensorflow-metadata`` and protobuf alone, never
TensorFlow or TFDV, so a step (or a server) need not carry them. Every file is
read and checked before anything is recorded: bad input is one
``InvalidArgumentError`` naming the file, and nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlineage import errors
from mlineage.integrations.tfx_types import declare_artifact_type, encode_split_names

STATS_FILE = "FeatureStats.pb"
LEGACY_STATS_FILE = "stats_tfrecord"
SCHEMA_FILE = "schema.pbtxt"
ANOMALIES_FILE = "SchemaDiff.pb"
SPLIT_PREFIX = "Split-"
DEFAULT_SPLIT = "all"


def _protos():
    try:
        from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise errors.FailedPreconditionError(
            "reading TFDV outputs needs the tensorflow-metadata package (pip install tensorflow-metadata)"
        ) from exc
    return statistics_pb2, schema_pb2, anomalies_pb2


# --- reading files ---------------------------------------------------------------------------------


def _masked_crc32c(data: bytes) -> int:
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_CRC_TABLE: list[int] = []


def _crc32c(data: bytes) -> int:
    if not _CRC_TABLE:
        for n in range(256):
            c = n
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _CRC_TABLE.append(c)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def read_tfrecords(path: str | os.PathLike) -> list[bytes]:
    """The records of an uncompressed TFRecord file, their checksums checked (ValueError when corrupt)."""
    data = Path(path).read_bytes()
    records, offset = [], 0
    while offset < len(data):
        if offset + 12 > len(data):
            raise ValueError("truncated record header")
        (length,) = struct.unpack_from("<Q", data, offset)
        (length_crc,) = struct.unpack_from("<I", data, offset + 8)
        if _masked_crc32c(data[offset:offset + 8]) != length_crc:
            raise ValueError("record length checksum mismatch: not a TFRecord file")
        start = offset + 12
        end = start + length
        if end + 4 > len(data):
            raise ValueError("truncated record")
        payload = data[start:end]
        (data_crc,) = struct.unpack_from("<I", data, end)
        if _masked_crc32c(payload) != data_crc:
            raise ValueError("record checksum mismatch")
        records.append(payload)
        offset = end + 4
    return records


def _bad(path: Path, what: str, detail: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(f"{path} is not {what}: {detail}")


def _parse_binary(message_class, path: Path, what: str):
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _bad(path, what, exc.strerror or str(exc)) from None
    message = message_class()
    try:
        message.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError, or a RuntimeWarning-turned-error of a C parser
        raise _bad(path, what, f"it does not parse ({exc})") from None
    return message


def _parse_text(message_class, path: Path, what: str):
    from google.protobuf import text_format

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, what, str(exc)) from None
    try:
        return text_format.Parse(text, message_class())
    except text_format.ParseError as exc:
        raise _bad(path, what, f"it does not parse ({exc})") from None


def _looks_like_text(path: Path) -> bool:
    head = path.read_bytes()[:256]
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return decoded.strip() == "" or decoded.lstrip()[:1].isalpha() or decoded.lstrip()[:1] == "#"


def _stats_file(path: Path):
    statistics_pb2 = _protos()[0]
    what = "a TFDV statistics file"
    if path.name == LEGACY_STATS_FILE or path.suffix == ".tfrecord":
        try:
            records = read_tfrecords(path)
        except (OSError, ValueError) as exc:
            raise _bad(path, what, str(exc)) from None
        if len(records) != 1:
            raise _bad(path, what, f"a statistics TFRecord holds one record, this one {len(records)}")
        message = statistics_pb2.DatasetFeatureStatisticsList()
        try:
            message.ParseFromString(records[0])
        except Exception as exc:
            raise _bad(path, what, f"its record does not parse ({exc})") from None
        return message
    if path.suffix in (".pbtxt", ".txt"):
        return _parse_text(statistics_pb2.DatasetFeatureStatisticsList, path, what)
    message = _parse_binary(statistics_pb2.DatasetFeatureStatisticsList, path, what)
    if not message.datasets:
        raise _bad(path, what, "it holds no datasets")
    return message


def _split_dirs(root: Path) -> dict[str, Path]:
    return {p.name[len(SPLIT_PREFIX):]: p for p in sorted(root.iterdir())
            if p.is_dir() and p.name.startswith(SPLIT_PREFIX)}


def load_statistics(path: str | os.PathLike) -> dict[str, Any]:
    """{split: DatasetFeatureStatisticsList} read from a statistics file or a StatisticsGen output directory."""
    root = Path(path)
    what = "a TFDV statistics output"
    if root.is_file():
        return {DEFAULT_SPLIT: _stats_file(root)}
    if not root.is_dir():
        raise _bad(root, what, "no such file or directory")
    found: dict[str, Any] = {}
    for split, directory in _split_dirs(root).items():
        candidate = directory / STATS_FILE
        if candidate.is_file():
            found[split] = _stats_file(candidate)
        elif (directory / LEGACY_STATS_FILE).is_file():
            found[split] = _stats_file(directory / LEGACY_STATS_FILE)
    if not found and (root / STATS_FILE).is_file():  # Transform's statistics artifacts: no split folder
        found[DEFAULT_SPLIT] = _stats_file(root / STATS_FILE)
    if not found:  # before TFX 0.29: <uri>/<split>/stats_tfrecord
        for directory in sorted(p for p in root.iterdir() if p.is_dir()):
            if (directory / LEGACY_STATS_FILE).is_file():
                found[directory.name] = _stats_file(directory / LEGACY_STATS_FILE)
    if not found:
        raise _bad(root, what, f"no {SPLIT_PREFIX}<split>/{STATS_FILE}, {STATS_FILE} or <split>/{LEGACY_STATS_FILE}")
    return found


def load_schema(path: str | os.PathLike):
    """The Schema in ``schema.pbtxt`` (or in the only file of a SchemaGen output directory)."""
    schema_pb2 = _protos()[1]
    target = Path(path)
    if target.is_dir():
        files = [p for p in target.iterdir() if p.is_file()]
        if (target / SCHEMA_FILE).is_file():
            target = target / SCHEMA_FILE
        elif len(files) == 1:
            target = files[0]
        else:
            raise _bad(target, "a TFDV schema output", f"no {SCHEMA_FILE} in it")
    elif not target.is_file():
        raise _bad(target, "a TFDV schema", "no such file or directory")
    schema = _parse_text(schema_pb2.Schema, target, "a TFDV schema (text Schema)")
    if not schema.feature and not schema.sparse_feature:
        raise _bad(target, "a TFDV schema", "it declares no features")
    return schema


def _anomalies_file(path: Path):
    anomalies_pb2 = _protos()[2]
    what = "a TFDV anomalies file"
    if path.suffix in (".pbtxt", ".txt") or (path.name != ANOMALIES_FILE and _looks_like_text(path)):
        return _parse_text(anomalies_pb2.Anomalies, path, what)
    return _parse_binary(anomalies_pb2.Anomalies, path, what)


def load_anomalies(path: str | os.PathLike) -> dict[str, Any]:
    """{split: Anomalies} from ``SchemaDiff.pb`` (binary, as ExampleValidator writes it), a text file, or an
    ExampleValidator output directory (``Split-<s>/SchemaDiff.pb``)."""
    root = Path(path)
    what = "a TFDV anomalies output"
    if root.is_file():
        return {DEFAULT_SPLIT: _anomalies_file(root)}
    if not root.is_dir():
        raise _bad(root, what, "no such file or directory")
    found = {split: _anomalies_file(d / ANOMALIES_FILE) for split, d in _split_dirs(root).items()
             if (d / ANOMALIES_FILE).is_file()}
    if not found and (root / ANOMALIES_FILE).is_file():
        found[DEFAULT_SPLIT] = _anomalies_file(root / ANOMALIES_FILE)
    if not found:
        raise _bad(root, what, f"no {SPLIT_PREFIX}<split>/{ANOMALIES_FILE} or {ANOMALIES_FILE}")
    return found


# --- summaries -------------------------------------------------------------------------------------


def _as(message_class, value: Any, what: str):
    """``value`` as our ``message_class``: TFDV's objects are tensorflow-metadata messages, reparsed to be safe."""
    if isinstance(value, message_class):
        return value
    if hasattr(value, "SerializeToString"):
        return message_class.FromString(value.SerializeToString())
    raise errors.InvalidArgumentError(f"expected {what} or a path, got {type(value).__name__}")


def _feature_name(feature) -> str:
    if feature.HasField("path") and feature.path.step:
        return ".".join(feature.path.step)
    return feature.name


def _common_stats(feature):
    kind = feature.WhichOneof("stats")
    if kind is None:
        return None
    return getattr(feature, kind).common_stats


@dataclass
class SplitStatistics:
    """One split's summary: example count, features, each feature's missing ratio."""

    num_examples: int
    weighted_num_examples: float
    features: dict[str, str] = field(default_factory=dict)  # name -> type name
    missing_ratio: dict[str, float] = field(default_factory=dict)


def summarize_statistics(stats) -> SplitStatistics:
    """The default slice of a DatasetFeatureStatisticsList, summed up (TFDV's ``get_default_slice``)."""
    statistics_pb2 = _protos()[0]
    datasets = list(stats.datasets)
    if not datasets:
        raise errors.InvalidArgumentError("the statistics hold no datasets")
    dataset = datasets[0] if len(datasets) == 1 else next(
        (d for d in datasets if d.name == "All Examples"), datasets[0])
    summary = SplitStatistics(int(dataset.num_examples), float(dataset.weighted_num_examples))
    type_names = statistics_pb2.FeatureNameStatistics.Type
    for feature in dataset.features:
        name = _feature_name(feature)
        summary.features[name] = type_names.Name(feature.type)
        common = _common_stats(feature)
        if common is None:
            continue
        nested = bool(feature.HasField("path") and len(feature.path.step) > 1)
        denominator = (common.num_missing + common.num_non_missing) if nested or not dataset.num_examples \
            else dataset.num_examples
        summary.missing_ratio[name] = (common.num_missing / denominator) if denominator else 0.0
    return summary


def statistics_properties(splits: Mapping[str, Any]) -> dict[str, Any]:
    """The custom properties of an ExampleStatistics artifact for {split: statistics}."""
    props: dict[str, Any] = {}
    total = 0
    names: set[str] = set()
    ratios: list[float] = []
    missing_features: set[str] = set()
    for split, stats in splits.items():
        summary = summarize_statistics(stats)
        total += summary.num_examples
        names.update(summary.features)
        props[f"num_examples.{split}"] = summary.num_examples
        props[f"num_features.{split}"] = len(summary.features)
        for feature, ratio in sorted(summary.missing_ratio.items()):
            props[f"missing_ratio.{split}.{feature}"] = float(ratio)
            ratios.append(ratio)
            if ratio > 0:
                missing_features.add(feature)
    props["num_examples"] = total
    props["num_features"] = len(names)
    props["feature_names"] = ",".join(sorted(names))
    props["max_missing_ratio"] = float(max(ratios, default=0.0))
    props["features_with_missing"] = len(missing_features)
    return props


def schema_properties(schema) -> dict[str, Any]:
    """The custom properties of a Schema artifact."""
    from google.protobuf import text_format

    names = sorted(f.name for f in schema.feature)
    required = sorted(f.name for f in schema.feature
                      if f.HasField("presence") and f.presence.min_fraction == 1.0)
    domains = sum(1 for f in schema.feature if f.WhichOneof("domain_info") is not None)
    canonical = text_format.MessageToString(schema, as_utf8=True)
    return {
        "num_features": len(names),
        "feature_names": ",".join(names),
        "required_features": ",".join(required),
        "num_required_features": len(required),
        "features_with_domain": domains + len(schema.string_domain),
        "default_environment": ",".join(schema.default_environment) or None,
        "schema_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
    }


def _reason_name(value: int) -> str:
    anomaly_info = _protos()[2].AnomalyInfo
    try:
        return anomaly_info.Type.Name(value)
    except ValueError:  # a reason newer than this tensorflow-metadata
        return f"TYPE_{value}"


def anomaly_names(anomalies) -> list[str]:
    """The anomalous features (and ``__dataset__`` for a dataset-level anomaly), sorted."""
    names = sorted(anomalies.anomaly_info)
    if anomalies.HasField("dataset_anomaly_info"):
        names.append("__dataset__")
    return names


def anomalies_properties(splits: Mapping[str, Any]) -> dict[str, Any]:
    """The custom properties of an ExampleAnomalies artifact for {split: Anomalies}."""
    props: dict[str, Any] = {}
    blessed: dict[str, int] = {}
    every: set[str] = set()
    total = 0
    missing = False
    for split, anomalies in splits.items():
        names = anomaly_names(anomalies)
        total += len(names)
        every.update(names)
        props[f"num_anomalies.{split}"] = len(names)
        props[f"anomaly_names.{split}"] = ",".join(names)
        # TFX's ExampleValidator: not blessed when anomaly_info is non-empty or dataset_anomaly_info is set.
        blessed[split] = 0 if names else 1
        missing = missing or bool(anomalies.data_missing)
        for name in names:
            info = anomalies.dataset_anomaly_info if name == "__dataset__" else anomalies.anomaly_info[name]
            reasons = ",".join(sorted({_reason_name(r.type) for r in info.reason}))
            props[f"anomaly.{split}.{name}"] = info.short_description or reasons
            props[f"anomaly_reasons.{split}.{name}"] = reasons
    props["num_anomalies"] = total
    props["anomaly_names"] = ",".join(sorted(every))
    props["blessed"] = dict(sorted(blessed.items()))  # a struct, as TFX's JSON-valued custom property
    props["data_missing"] = int(missing)
    return props


# --- recording -------------------------------------------------------------------------------------


def _split_map(value: Any, message_class, what: str, split: str | None, loader) -> tuple[dict[str, Any], str | None]:
    """({split: message}, local uri or None) from a path, a message, or a {split: message} mapping."""
    if isinstance(value, (str, os.PathLike)):
        found = loader(value)
        if split is not None and list(found) == [DEFAULT_SPLIT]:
            found = {split: found[DEFAULT_SPLIT]}
        return found, os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): _as(message_class, v, what) for k, v in value.items()}, None
    return {split or DEFAULT_SPLIT: _as(message_class, value, what)}, None


def _link_inputs(step: Any, **inputs: Any) -> dict[str, Any]:
    """Link each given input (an ArtifactRef, or a URI of an artifact of that key's type) to the step."""
    linked = {}
    types = {"examples": "Examples", "statistics": "ExampleStatistics", "schema": "Schema"}
    for key, value in inputs.items():
        if value is None:
            continue
        if isinstance(value, (str, os.PathLike)):
            linked[key] = step.input(types[key], uri=os.fspath(value), key=key)
        else:
            linked[key] = step.input(value.type_name, uri=value.uri, external_id=value.key, key=key)
    return linked


def _span(span: int | None, *refs: Any) -> int | None:
    if span is not None:
        return int(span)
    for ref in refs:
        found = getattr(ref, "properties", {}).get("span") if ref is not None else None
        if found is not None:
            return int(found)
    return None


def _split_order(splits: Sequence[str], *refs: Any) -> list[str]:
    """``splits`` in the order of the first ref's ``split_names`` (as TFX's StatisticsGen and ExampleValidator
    copy their input's), splits it does not name after them in their own order."""
    for ref in refs:
        encoded = getattr(ref, "properties", {}).get("split_names") if ref is not None else None
        if not encoded:
            continue
        try:
            order = [str(name) for name in json.loads(encoded)]
        except (TypeError, ValueError):
            continue
        return [s for s in order if s in splits] + [s for s in splits if s not in order]
    return list(splits)


def _check_splits(splits: Mapping[str, Any]) -> None:
    import re

    for name in splits:
        if not re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9_-]*)?", name):
            raise errors.InvalidArgumentError(f"split name {name!r} is not one TFX allows ([A-Za-z0-9][A-Za-z0-9_-]*)")


def record_statistics(step: Any, statistics: Any, *, examples: Any = None, uri: str | None = None,
                      split: str | None = None, span: int | None = None, key: str = "statistics",
                      **properties: Any):
    """Record TFDV statistics as an ExampleStatistics output of ``step``, linked to the ``examples`` read.

    ``statistics``: a StatisticsGen output directory or a statistics file, a ``DatasetFeatureStatisticsList``
    (its split is ``split``, default ``all``), or a mapping {split: statistics}. ``span`` defaults to the
    examples' span. Returns the artifact's ``ArtifactRef``.
    """
    statistics_pb2 = _protos()[0]
    splits, local = _split_map(statistics, statistics_pb2.DatasetFeatureStatisticsList,
                               "a DatasetFeatureStatisticsList", split, load_statistics)
    _check_splits(splits)
    props = statistics_properties(splits)  # every file read and summed up before anything is recorded
    declare_artifact_type(step, "ExampleStatistics")
    inputs = _link_inputs(step, examples=examples)
    props.update(span=_span(span, examples, inputs.get("examples")),
                 split_names=encode_split_names(_split_order(list(splits), examples, inputs.get("examples"))))
    props.update(properties)
    return step.output("ExampleStatistics", uri=uri or local, key=key, **props)


def record_schema(step: Any, schema: Any, *, statistics: Any = None, uri: str | None = None, key: str = "schema",
                  **properties: Any):
    """Record a TFDV schema (a ``Schema`` or ``schema.pbtxt``) as a Schema output, linked to its statistics."""
    schema_pb2 = _protos()[1]
    if isinstance(schema, (str, os.PathLike)):
        message, local = load_schema(schema), os.fspath(schema)
    else:
        message, local = _as(schema_pb2.Schema, schema, "a Schema"), None
    props = schema_properties(message)
    declare_artifact_type(step, "Schema")
    _link_inputs(step, statistics=statistics)
    props.update(properties)
    return step.output("Schema", uri=uri or local, key=key, **props)


def record_anomalies(step: Any, anomalies: Any, *, statistics: Any = None, schema: Any = None,
                     uri: str | None = None, split: str | None = None, span: int | None = None,
                     key: str = "anomalies", **properties: Any):
    """Record TFDV anomalies (``Anomalies``, ``SchemaDiff.pb`` or an ExampleValidator output directory) as an
    ExampleAnomalies output, linked to the statistics and schema they were validated with."""
    anomalies_pb2 = _protos()[2]
    splits, local = _split_map(anomalies, anomalies_pb2.Anomalies, "an Anomalies", split, load_anomalies)
    _check_splits(splits)
    props = anomalies_properties(splits)
    declare_artifact_type(step, "ExampleAnomalies")
    inputs = _link_inputs(step, statistics=statistics, schema=schema)
    props.update(span=_span(span, statistics, inputs.get("statistics")),
                 split_names=encode_split_names(_split_order(list(splits), statistics, inputs.get("statistics"))))
    props.update(properties)
    return step.output("ExampleAnomalies", uri=uri or local, key=key, **props)


__all__ = [
    "SplitStatistics", "anomalies_properties", "anomaly_names", "load_anomalies", "load_schema", "load_statistics",
    "read_tfrecords", "record_anomalies", "record_schema", "record_statistics", "schema_properties",
    "statistics_properties", "summarize_statistics",
]
