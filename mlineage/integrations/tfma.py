"""TFMA's evaluation output as TFX's ModelEvaluation artifact, and its validation result as a ModelBlessing.

One call from inside the evaluation step::

    with tfx_step(run, "Evaluator") as step:  # or run.step("Evaluator")
        result = tfma.record_evaluation(step, "/pipeline/Evaluator/evaluation/9", model=model, baseline=baseline)
        result.evaluation.properties["auc"], result.blessing.properties["blessed"]

``output_dir`` is what TFMA's default writers (``tfma.run_model_analysis``,
``tfma.analyze_raw_data``, TFX's Evaluator) write: ``eval_config.json``,
``metrics-*-of-*.tfrecord`` (one ``MetricsForSlice`` per slice) and
``validations.tfrecord`` (one ``ValidationResult``). The step gets, with
TFX's keys and type names:

* inputs ``model`` and ``baseline_model`` (Model), ``examples`` (Examples), when given;
* output ``evaluation``: a ``ModelEvaluation`` whose custom properties are
  the candidate's overall metrics by name (``auc``, ``example_count``;
  ``<metric>_diff`` against the baseline; ``baseline.<metric>`` for the
  baseline's own), every slice's metrics as ``slice.<slice>.<metric>`` (the
  slice named as TFMA names it: ``Overall``, ``city:paris``,
  ``age_X_city:5_X_paris``), and the whole table as the struct ``slices``
  {slice: {"key": [[column, value]], "metrics": {…}, "bounds": {metric:
  [lower, upper]}}};
* output ``blessing``: a ``ModelBlessing`` when thresholds were configured
  (as TFX's Evaluator does), with TFX's ``blessed`` (1/0), ``current_model``,
  ``current_model_id``, ``baseline_model``, ``baseline_model_id``, plus
  ``rubber_stamp``, ``missing_thresholds``, ``num_failures``,
  ``failed_metrics`` (``<slice>.<metric>``, comma-separated),
  ``failed_thresholds`` (readable, ``;``-separated) and the struct ``failures``.

Nothing here imports TensorFlow or TFMA: the records are read with
mlineage's TFRecord reader and a declared subset of TFMA's protos
(``integrations.protoschema``). Every file is read and checked before
anything is recorded: bad input is one ``InvalidArgumentError`` naming the
path, and nothing half-written. Parquet outputs are not read.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mlineage import errors
from mlineage.integrations.protoschema import message_classes
from mlineage.integrations.tfdv import read_tfrecords
from mlineage.integrations.tfx_types import declare_artifact_type

EVAL_CONFIG_FILE = "eval_config.json"
LEGACY_EVAL_CONFIG_FILE = "eval_config"
METRICS_PREFIX = "metrics"
VALIDATIONS_PREFIX = "validations"
OVERALL = "Overall"
BASELINE_PREFIX = "baseline."

_DOUBLE = ".google.protobuf.DoubleValue"
_INT32 = ".google.protobuf.Int32Value"
_BOOL = ".google.protobuf.BoolValue"

# The fields of TFMA's metrics_for_slice.proto, validation_result.proto and config.proto that are read here.
_TFMA_SUBSET = {
    "SingleSliceKey": [("column", 1, "string", False), ("bytes_value", 2, "bytes", False),
                       ("float_value", 3, "float", False), ("int64_value", 4, "int64", False)],
    "SliceKey": [("single_slice_keys", 1, "SingleSliceKey", True)],
    "CrossSliceKey": [("baseline_slice_key", 1, "SliceKey", False), ("comparison_slice_key", 2, "SliceKey", False)],
    "SubKey": [("class_id", 1, _INT32, False), ("k", 2, _INT32, False), ("top_k", 3, _INT32, False)],
    "AggregationType": [("micro_average", 1, "bool", False), ("macro_average", 2, "bool", False),
                        ("weighted_macro_average", 3, "bool", False)],
    "MetricKey": [("name", 1, "string", False), ("output_name", 2, "string", False), ("sub_key", 3, "SubKey", False),
                  ("model_name", 4, "string", False), ("is_diff", 5, "bool", False),
                  ("aggregation_type", 6, "AggregationType", False), ("example_weighted", 7, _BOOL, False)],
    "BoundedValue": [("lower_bound", 1, _DOUBLE, False), ("upper_bound", 2, _DOUBLE, False),
                     ("value", 3, _DOUBLE, False)],
    "TDistributionValue": [("sample_mean", 1, _DOUBLE, False), ("unsampled_value", 4, _DOUBLE, False)],
    "MetricValue": [("double_value", 1, _DOUBLE, False), ("bounded_value", 2, "BoundedValue", False),
                    ("bytes_value", 6, "bytes", False), ("t_distribution_value", 9, "TDistributionValue", False),
                    ("debug_message", 10, "string", False)],
    "ConfidenceInterval": [("upper_bound", 1, "MetricValue", False), ("lower_bound", 2, "MetricValue", False)],
    "MetricKeyAndValue": [("key", 1, "MetricKey", False), ("value", 2, "MetricValue", False),
                          ("confidence_interval", 3, "ConfidenceInterval", False)],
    "MetricsEntry": [("key", 1, "string", False), ("value", 2, "MetricValue", False)],
    "MetricsForSlice": [("slice_key", 1, "SliceKey", False), ("metrics", 2, "MetricsEntry", True),
                        ("cross_slice_key", 3, "CrossSliceKey", False),
                        ("metric_keys_and_values", 51, "MetricKeyAndValue", True)],
    "GenericValueThreshold": [("lower_bound", 1, _DOUBLE, False), ("upper_bound", 2, _DOUBLE, False)],
    "GenericChangeThreshold": [("absolute", 1, _DOUBLE, False), ("relative", 2, _DOUBLE, False),
                               ("direction", 3, "int32", False)],
    "MetricThreshold": [("value_threshold", 1, "GenericValueThreshold", False),
                        ("change_threshold", 2, "GenericChangeThreshold", False)],
    "ValidationFailure": [("metric_key", 1, "MetricKey", False), ("metric_threshold", 2, "MetricThreshold", False),
                          ("metric_value", 3, "MetricValue", False), ("message", 4, "string", False)],
    "MetricsValidationForSlice": [("slice_key", 2, "SliceKey", False), ("failures", 3, "ValidationFailure", True),
                                  ("cross_slice_key", 4, "CrossSliceKey", False)],
    "SlicingSpec": [("feature_keys", 1, "string", True)],
    "ValidationResult": [("validation_ok", 1, "bool", False), ("metric_validations_per_slice", 2,
                                                                "MetricsValidationForSlice", True),
                         ("missing_slices", 3, "SlicingSpec", True), ("missing_thresholds", 6, "bool", False),
                         ("rubber_stamp", 7, "bool", False)],
}
_DIRECTIONS = {1: "LOWER_IS_BETTER", 2: "HIGHER_IS_BETTER"}

_classes: dict[str, Any] = {}


def _tfma(name: str):
    if not _classes:
        _classes.update(message_classes("mlineage/integrations/tfma_subset.proto", "mlineage_tfma_subset",
                                        _TFMA_SUBSET))
    return _classes[name]


def _bad(path: Path, detail: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(f"{path} is not a TFMA evaluation output: {detail}")


# --- names -----------------------------------------------------------------------------------------


def _slice_value(single) -> str:
    if single.HasField("bytes_value"):
        return single.bytes_value.decode("utf-8", "replace")
    if single.HasField("int64_value"):
        return str(single.int64_value)
    if single.HasField("float_value"):
        return str(single.float_value)
    return ""


def slice_key(key) -> list[list[str]]:
    """A SliceKey as [[column, value], …] (TFMA's slice tuple, values as text)."""
    return [[single.column, _slice_value(single)] for single in key.single_slice_keys]


def slice_name(pairs: list[list[str]]) -> str:
    """The slice as TFMA prints it (``slicer_lib.stringify_slice_key``): ``Overall``, ``c:v``, ``c1_X_c2:v1_X_v2``."""
    if not pairs:
        return OVERALL
    return "_X_".join(c for c, _ in pairs) + ":" + "_X_".join(v for _, v in pairs)


def _record_slice(record) -> tuple[str, list[list[str]]]:
    if record.HasField("cross_slice_key"):
        baseline = slice_key(record.cross_slice_key.baseline_slice_key)
        comparison = slice_key(record.cross_slice_key.comparison_slice_key)
        return f"{slice_name(baseline)}__vs__{slice_name(comparison)}", baseline + comparison
    pairs = slice_key(record.slice_key)
    return slice_name(pairs), pairs


def metric_name(key, candidate: str = "") -> str:
    """A MetricKey as one name: ``auc``, ``auc_diff``, ``micro_average_auc``, ``output/auc``, ``auc@classId:1``;
    a model's other than the candidate's is ``baseline.<name>``."""
    name = key.name
    if key.HasField("aggregation_type"):
        for kind in ("micro_average", "macro_average", "weighted_macro_average"):
            if getattr(key.aggregation_type, kind):
                name = f"{kind}_{name}"
    if key.is_diff:
        name = f"{name}_diff"
    if key.output_name:
        name = f"{key.output_name}/{name}"
    if key.HasField("sub_key"):
        for field_name, label in (("class_id", "classId"), ("k", "k"), ("top_k", "topK")):
            if key.sub_key.HasField(field_name):
                name = f"{name}@{label}:{getattr(key.sub_key, field_name).value}"
    if key.model_name and key.model_name != candidate:
        name = f"{BASELINE_PREFIX}{name}"
    return name


def _scalar(value) -> tuple[float | None, tuple[float, float] | None]:
    """(the value as a double or None when it is not a scalar, (lower, upper) bounds or None)."""
    if value.HasField("double_value"):
        return value.double_value.value, None
    if value.HasField("bounded_value"):
        bounded = value.bounded_value
        bounds = (bounded.lower_bound.value, bounded.upper_bound.value) \
            if bounded.HasField("lower_bound") and bounded.HasField("upper_bound") else None
        return bounded.value.value, bounds
    if value.HasField("t_distribution_value"):
        t = value.t_distribution_value
        return (t.unsampled_value.value if t.HasField("unsampled_value") else t.sample_mean.value), None
    return None, None


# --- reading ---------------------------------------------------------------------------------------


@dataclass
class SliceMetrics:
    """One slice's scalar metrics (candidate and baseline), with confidence bounds where TFMA computed them."""

    name: str
    key: list[list[str]]
    metrics: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass
class ValidationFailureRow:
    """One failed threshold: slice, metric, the threshold and the value TFMA measured."""

    slice: str
    metric: str
    threshold: dict[str, Any]
    value: float | None
    message: str

    def describe(self) -> str:
        parts = []
        for bound, op in (("lower_bound", ">="), ("upper_bound", "<=")):
            if bound in self.threshold.get("value", {}):
                parts.append(f"{op} {self.threshold['value'][bound]:g}")
        for bound in ("absolute", "relative"):
            if bound in self.threshold.get("change", {}):
                parts.append(f"change {bound} {self.threshold['change'][bound]:g} "
                             f"({self.threshold['change'].get('direction', 'UNKNOWN')})")
        measured = "no value" if self.value is None else f"{self.value:.6g}"
        return f"{self.metric} on {self.slice}: {measured}, wanted {' and '.join(parts) or 'a threshold'}"


@dataclass
class Validation:
    """TFMA's ValidationResult: blessed or not, and why."""

    ok: bool
    rubber_stamp: bool
    missing_thresholds: bool
    failures: list[ValidationFailureRow] = field(default_factory=list)
    missing_slices: list[list[str]] = field(default_factory=list)


@dataclass
class Evaluation:
    """A TFMA output directory, read and checked."""

    root: Path
    eval_run: dict[str, Any]
    slices: list[SliceMetrics]
    validation: Validation | None
    candidate: str = ""
    baseline: str | None = None

    @property
    def overall(self) -> SliceMetrics:
        found = [s for s in self.slices if s.name == OVERALL]
        return found[0] if found else SliceMetrics(OVERALL, [])

    @property
    def thresholds_configured(self) -> bool:
        return _has_thresholds(self.eval_run.get("evalConfig", self.eval_run))


def _has_thresholds(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k in ("threshold", "thresholds", "perSliceThresholds", "crossSliceThresholds") and v
                   for k, v in value.items()) or any(_has_thresholds(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_thresholds(v) for v in value)
    return False


def _shards(root: Path, prefix: str) -> list[Path]:
    """TFMA's shard files: ``<prefix>*.tfrecord``, else ``<prefix>*`` without a suffix (as tfma.load_* look)."""
    found = sorted(p for p in root.glob(f"{prefix}*.tfrecord") if p.is_file())
    if not found:
        found = sorted(p for p in root.glob(f"{prefix}*") if p.is_file() and not p.suffix)
    return found


def _records(path: Path, message_name: str) -> list[Any]:
    try:
        payloads = read_tfrecords(path)
    except (OSError, ValueError) as exc:
        raise errors.InvalidArgumentError(f"{path} is not a TFMA {message_name} TFRecord file: {exc}") from None
    messages = []
    for payload in payloads:
        message = _tfma(message_name)()
        try:
            message.ParseFromString(payload)
        except Exception as exc:  # protobuf's DecodeError
            raise errors.InvalidArgumentError(f"{path} holds a record that is not a TFMA {message_name} ({exc})") \
                from None
        messages.append(message)
    return messages


def _read_eval_run(root: Path) -> dict[str, Any]:
    for name in (EVAL_CONFIG_FILE, LEGACY_EVAL_CONFIG_FILE):
        path = root / name
        if path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise errors.InvalidArgumentError(f"{path} is not TFMA's eval config (JSON): {exc}") from None
            if not isinstance(loaded, dict):
                raise errors.InvalidArgumentError(f"{path} is not TFMA's eval config: not a JSON object")
            return loaded
    return {}


def _model_names(eval_run: dict[str, Any]) -> tuple[str, str | None]:
    specs = (eval_run.get("evalConfig") or {}).get("modelSpecs") or []
    candidate = next((s.get("name", "") for s in specs if isinstance(s, dict) and not s.get("isBaseline")), "")
    baseline = next((s.get("name", "") for s in specs if isinstance(s, dict) and s.get("isBaseline")), None)
    return candidate, baseline


def _threshold(message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if message.HasField("value_threshold"):
        out["value"] = {b: getattr(message.value_threshold, b).value for b in ("lower_bound", "upper_bound")
                        if message.value_threshold.HasField(b)}
    if message.HasField("change_threshold"):
        change = message.change_threshold
        out["change"] = {b: getattr(change, b).value for b in ("absolute", "relative") if change.HasField(b)}
        out["change"]["direction"] = _DIRECTIONS.get(change.direction, "UNKNOWN")
    return out


def _validation(path: Path, candidate: str) -> Validation:
    records = _records(path, "ValidationResult")
    if len(records) != 1:
        raise errors.InvalidArgumentError(f"{path} is not TFMA's validation result: it holds {len(records)} "
                                          "records, not one")
    result = records[0]
    failures = []
    for per_slice in result.metric_validations_per_slice:
        name, _ = _record_slice(per_slice)
        for failure in per_slice.failures:
            value, _bounds = _scalar(failure.metric_value)
            failures.append(ValidationFailureRow(name, metric_name(failure.metric_key, candidate),
                                                 _threshold(failure.metric_threshold), value, failure.message))
    return Validation(result.validation_ok, result.rubber_stamp, result.missing_thresholds, failures,
                      [list(s.feature_keys) for s in result.missing_slices])


def load_evaluation(path: str | os.PathLike) -> Evaluation:
    """Read a TFMA output directory: ``eval_config.json``, ``metrics-*.tfrecord``, ``validations.tfrecord``."""
    root = Path(path)
    if not root.is_dir():
        raise _bad(root, "no such directory")
    metric_files = _shards(root, METRICS_PREFIX)
    if not metric_files:
        parquet = sorted(root.glob(f"{METRICS_PREFIX}*.parquet"))
        detail = "its metrics are Parquet, which is not read here" if parquet else "no metrics-*.tfrecord in it"
        raise _bad(root, detail)
    eval_run = _read_eval_run(root)
    candidate, baseline = _model_names(eval_run)
    slices: dict[str, SliceMetrics] = {}
    for path_ in metric_files:
        for record in _records(path_, "MetricsForSlice"):
            name, pairs = _record_slice(record)
            row = slices.setdefault(name, SliceMetrics(name, pairs))
            for item in record.metric_keys_and_values:
                value, bounds = _scalar(item.value)
                if value is None or not math.isfinite(value):
                    continue  # confusion matrices, arrays, NaN: not a scalar to filter on
                metric = metric_name(item.key, candidate)
                row.metrics[metric] = value
                if bounds is None and item.HasField("confidence_interval"):
                    lower, _ = _scalar(item.confidence_interval.lower_bound)
                    upper, _ = _scalar(item.confidence_interval.upper_bound)
                    bounds = (lower, upper) if lower is not None and upper is not None else None
                if bounds is not None:
                    row.bounds[metric] = bounds
            for entry in record.metrics:  # TFMA v1's map<string, MetricValue>
                value, bounds = _scalar(entry.value)
                if value is not None and math.isfinite(value):
                    row.metrics.setdefault(entry.key, value)
    validation_files = _shards(root, VALIDATIONS_PREFIX)
    validation = _validation(validation_files[0], candidate) if validation_files else None
    ordered = sorted(slices.values(), key=lambda s: (s.name != OVERALL, s.name))
    return Evaluation(root, eval_run, ordered, validation, candidate, baseline)


# --- properties ------------------------------------------------------------------------------------


def evaluation_properties(evaluation: Evaluation) -> dict[str, Any]:
    """The custom properties of a ModelEvaluation artifact."""
    props: dict[str, Any] = dict(evaluation.overall.metrics)
    table: dict[str, Any] = {}
    for row in evaluation.slices:
        for metric, value in row.metrics.items():
            props[f"slice.{row.name}.{metric}"] = value
        table[row.name] = {"key": row.key, "metrics": row.metrics,
                           "bounds": {m: list(b) for m, b in row.bounds.items()}}
    config = evaluation.eval_run.get("evalConfig") or {}
    props.update(
        slices=table,
        slice_names=",".join(row.name for row in evaluation.slices),
        num_slices=len(evaluation.slices),
        metric_names=",".join(sorted(evaluation.overall.metrics)),
    )
    if evaluation.eval_run.get("version"):
        props["tfma_version"] = str(evaluation.eval_run["version"])
    if config:
        props["eval_config"] = json.dumps(config, sort_keys=True)
    specs = [s for s in config.get("modelSpecs") or [] if isinstance(s, dict) and not s.get("isBaseline")]
    for name in ("labelKey", "predictionKey", "signatureName"):
        if specs and specs[0].get(name):
            props[{"labelKey": "label_key", "predictionKey": "prediction_key",
                   "signatureName": "signature_name"}[name]] = str(specs[0][name])
    return props


def blessing_properties(validation: Validation) -> dict[str, Any]:
    """The custom properties of a ModelBlessing artifact for a ValidationResult."""
    return {
        "blessed": int(validation.ok),
        "rubber_stamp": int(validation.rubber_stamp),
        "missing_thresholds": int(validation.missing_thresholds),
        "num_failures": len(validation.failures),
        "failed_metrics": ",".join(sorted({f"{f.slice}.{f.metric}" for f in validation.failures})),
        "failed_thresholds": "; ".join(f.describe() for f in validation.failures),
        "failures": {"value": [{"slice": f.slice, "metric": f.metric, "threshold": f.threshold, "value": f.value,
                                "message": f.message} for f in validation.failures]},
        "missing_slices": ";".join(",".join(keys) or OVERALL for keys in validation.missing_slices),
    }


# --- recording -------------------------------------------------------------------------------------


class EvaluationResult(NamedTuple):
    """What ``record_evaluation`` recorded: the ModelEvaluation and (thresholds configured) the ModelBlessing."""

    evaluation: Any
    blessing: Any | None


def _link(step: Any, type_name: str, value: Any, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return step.input(type_name, uri=os.fspath(value), key=key)
    return step.input(value.type_name, uri=value.uri, external_id=value.key, key=key)


def _artifact_id(ref: Any) -> int | None:
    try:
        found = ref.id
    except errors.MlineageError:
        return None
    return int(found) if found is not None else None


def record_evaluation(step: Any, output_dir: str | os.PathLike, *, model: Any = None, baseline: Any = None,
                      examples: Any = None, uri: str | None = None, blessing_uri: str | None = None,
                      blessing: bool | None = None, key: str = "evaluation", **properties: Any) -> EvaluationResult:
    """Record a TFMA output directory as the step's ModelEvaluation, linked to the ``model`` evaluated, the
    ``baseline`` it was compared with and the ``examples`` (ArtifactRefs or URIs), and its validation result
    as a ModelBlessing (by default when thresholds were configured; ``blessing=True``/``False`` decides).
    ``uri`` defaults to ``output_dir``; ``blessing_uri`` to ``<output_dir>/blessing``."""
    evaluation = load_evaluation(output_dir)
    props = evaluation_properties(evaluation)  # every file read before anything is recorded
    props.update(properties)
    want_blessing = blessing if blessing is not None else (
        evaluation.validation is not None and (evaluation.thresholds_configured or not evaluation.eval_run))
    if want_blessing and evaluation.validation is None:
        raise _bad(Path(output_dir), "no validations.tfrecord in it, so there is no blessing to record")
    for type_name in ("Model", "Examples", "ModelEvaluation", "ModelBlessing"):
        declare_artifact_type(step, type_name)
    model_ref = _link(step, "Model", model, "model")
    baseline_ref = _link(step, "Model", baseline, "baseline_model")
    _link(step, "Examples", examples, "examples")
    evaluation_ref = step.output("ModelEvaluation", uri=uri or os.fspath(output_dir), key=key, **props)
    blessing_ref = None
    if want_blessing:
        assert evaluation.validation is not None  # checked above
        blessed = blessing_properties(evaluation.validation)
        for name, ref in (("current_model", model_ref), ("baseline_model", baseline_ref)):
            if ref is not None:
                blessed[name] = ref.uri
                found = _artifact_id(ref)
                if found is not None:
                    blessed[f"{name}_id"] = found
        blessing_ref = step.output("ModelBlessing", uri=blessing_uri or os.path.join(os.fspath(output_dir),
                                                                                      "blessing"),
                                   key="blessing", **blessed)
    return EvaluationResult(evaluation_ref, blessing_ref)


__all__ = ["Evaluation", "EvaluationResult", "SliceMetrics", "Validation", "ValidationFailureRow",
           "blessing_properties", "evaluation_properties", "load_evaluation", "metric_name", "record_evaluation",
           "slice_key", "slice_name"]
