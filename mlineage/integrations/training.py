"""Training: a step's hyperparameters, per-epoch metric series, model artifact and GPU job, from Keras or by hand.

Two ways in, one record::

    with tfx_step(run, "Trainer", gpus=1) as step:  # or run.step(...): see tfx_types
        callback = training.MlineageCallback(step, inputs=[transform_graph, examples], model_path=model_dir)
        model.fit(x, y, epochs=3, callbacks=[callback])

    with tfx_step(run, "Trainer") as step:
        training.record_training(step, params={"learning_rate": 0.01}, metrics_by_epoch=history.history,
                                 model_path=model_dir, inputs=[transform_graph, examples])

What the step (an execution) gets:

* hyperparameters as ``param.<name>``: the ones given, and from Keras the fit
  arguments (``epochs``, ``steps_per_epoch``), the optimizer's name and scalar
  settings (``optimizer.learning_rate``, …), the loss and the parameter count;
* one metric series per metric, a point per epoch whose ``step`` is the epoch
  number counted from 1 (Keras' ``History`` index + 1), its last value also
  as ``metric.<name>``;
* input events to what it read (the transform graph, the examples):
  ``ArtifactRef`` values from earlier steps, ``(type, uri)`` pairs or
  ``"TYPE:URI"`` strings, under TFX Trainer's input keys (``examples``,
  ``transform_graph``, ``schema``, ``base_model``, ``hyperparameters``);
* the model, a ``Model`` output (TFX's type, key ``model``) described by the
  client's model inspection (``step.output_model``: format, framework, size,
  sha256, signature), plus ``epochs_trained``, the last value of each metric,
  and the GPUs it was trained on;
* with ``model_run_uri`` (TensorBoard logs, say), a ``ModelRun`` output under
  key ``model_run``, as TFX's Trainer writes beside the model;
* the GPU job is the client's: a step opened with ``gpus=N`` samples its
  devices and records utilisation, memory and GPU hours when it ends.

The Keras callback is a class made on first use: ``MlineageCallback`` (this
module's attribute) subclasses ``keras.callbacks.Callback``, so importing
this module imports neither Keras nor TensorFlow; ``keras_callback_class(base)``
makes one on another base (``tf_keras.callbacks.Callback``). Everything a call
is given is checked before anything is recorded: bad input is one
``InvalidArgumentError``, and nothing half-written.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlineage import errors
from mlineage.integrations.tfx_types import TFX_ARTIFACT_TYPES, declare_artifact_type

log = logging.getLogger("mlineage.integrations")

MODEL_TYPE = "Model"
MODEL_KEY = "model"
MODEL_RUN_TYPE = "ModelRun"
MODEL_RUN_KEY = "model_run"
# TFX Trainer's input keys by artifact type; any other type goes under its lower-cased name.
INPUT_KEYS = {
    "Examples": "examples",
    "TransformGraph": "transform_graph",
    "Schema": "schema",
    "Model": "base_model",
    "HyperParameters": "hyperparameters",
}
_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

InputSpec = Any  # an ArtifactRef, a (type, uri) pair, or "TYPE:URI"


# --- inputs ----------------------------------------------------------------------------------------


def parse_input(text: str) -> tuple[str, str]:
    """``(type, uri)`` from ``"TYPE:URI"`` (``TYPE=URI`` too, as ``mlineage run`` spells it)."""
    match = re.match(r"([^:=]*)[:=](.*)$", text, re.DOTALL)
    if match is None:
        raise errors.InvalidArgumentError(f"input {text!r} is not TYPE:URI (e.g. Examples:/data/taxi/3)")
    type_name, uri = match.group(1).strip(), match.group(2).strip()
    if not _TYPE_NAME.fullmatch(type_name) or not uri or uri.startswith("//"):
        raise errors.InvalidArgumentError(f"input {text!r} is not TYPE:URI (e.g. Examples:/data/taxi/3)")
    return type_name, uri


def _input_spec(value: InputSpec) -> Any:
    """An ArtifactRef as given, or a checked (type, uri) pair."""
    if isinstance(value, str):
        return parse_input(value)
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (str, os.PathLike)) for v in value):
        type_name, uri = str(value[0]), os.fspath(value[1])
        if not _TYPE_NAME.fullmatch(type_name) or not uri:
            raise errors.InvalidArgumentError(f"input {value!r} is not a (type, uri) pair")
        return type_name, uri
    if all(hasattr(value, name) for name in ("key", "type_name", "uri")):
        return value
    raise errors.InvalidArgumentError(
        f"input {value!r} is not an artifact: give an ArtifactRef, a (type, uri) pair or 'TYPE:URI'"
    )


def link_inputs(step: Any, inputs: Iterable[InputSpec]) -> list[Any]:
    """Link each input to ``step`` (an INPUT event under TFX Trainer's key for its type); returns the refs."""
    specs = [_input_spec(value) for value in inputs]  # all checked before the first is linked
    linked = []
    for spec in specs:
        if isinstance(spec, tuple):
            type_name, uri = spec
            if type_name in TFX_ARTIFACT_TYPES:
                declare_artifact_type(step, type_name)
            linked.append(step.input(type_name, uri=uri, key=INPUT_KEYS.get(type_name, type_name.lower())))
        else:
            key = INPUT_KEYS.get(spec.type_name, spec.type_name.lower())
            linked.append(step.input(spec.type_name, uri=spec.uri, external_id=spec.key, key=key))
    return linked


# --- values ----------------------------------------------------------------------------------------


def _scalar(value: Any) -> Any:
    """A property value for a hyperparameter: bool, int, float or str (numpy scalars unwrapped); None if not one."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return None
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return None


def _number(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise errors.InvalidArgumentError(f"metric {name!r} has a value that is not a number: {value!r}") from None


def epochs_from(metrics_by_epoch: Any) -> list[dict[str, float]]:
    """[{metric: value}, …] per epoch from a ``History.history``-like {metric: [values]} or a list of dicts."""
    if metrics_by_epoch is None:
        return []
    epochs: list[dict[str, float]] = []
    if isinstance(metrics_by_epoch, Mapping):
        for name, series in metrics_by_epoch.items():
            if isinstance(series, (str, bytes)) or not isinstance(series, Sequence):
                raise errors.InvalidArgumentError(
                    f"metrics_by_epoch[{name!r}] is not a list of per-epoch values"
                )
            for index, value in enumerate(series):
                while len(epochs) <= index:
                    epochs.append({})
                epochs[index][str(name)] = _number(str(name), value)
        return epochs
    if isinstance(metrics_by_epoch, Sequence) and not isinstance(metrics_by_epoch, (str, bytes)):
        for index, logs in enumerate(metrics_by_epoch):
            if not isinstance(logs, Mapping):
                raise errors.InvalidArgumentError(f"metrics_by_epoch[{index}] is not a {{metric: value}} mapping")
            epochs.append({str(name): _number(str(name), value) for name, value in logs.items()})
        return epochs
    raise errors.InvalidArgumentError(
        "metrics_by_epoch is neither {metric: [value per epoch]} (Keras' History.history) nor [{metric: value}]"
    )


# --- the recorder both ways share -----------------------------------------------------------------


@dataclass
class TrainingRecord:
    """What was recorded: the inputs linked, the epochs logged, the last metric values and the model."""

    inputs: list[Any] = field(default_factory=list)
    epochs: int = 0
    last_metrics: dict[str, float] = field(default_factory=dict)
    model: Any = None
    model_run: Any = None


class TrainingRecorder:
    """Records one training into ``step``: ``begin(params)``, ``epoch(n, metrics)`` per epoch, ``end(model)``."""

    def __init__(self, step: Any, *, params: Mapping[str, Any] | None = None, inputs: Iterable[InputSpec] = (),
                 model_path: str | os.PathLike | None = None, model_uri: str | None = None,
                 framework: str | None = None, format: str | None = None,  # noqa: A002
                 model_properties: Mapping[str, Any] | None = None, model_run_uri: str | None = None) -> None:
        if step is None:
            raise errors.InvalidArgumentError("a training is recorded into a step: pass the one from run.step(...)")
        self.step = step
        self.params = dict(params or {})
        self._inputs = [_input_spec(value) for value in inputs]
        self.model_path = os.fspath(model_path) if model_path is not None else None
        self.model_uri = model_uri
        self.model_run_uri = os.fspath(model_run_uri) if model_run_uri is not None else None
        self.framework = framework
        self.format = format
        self.model_properties = dict(model_properties or {})
        self.record = TrainingRecord()
        self._begun = False

    def begin(self, params: Mapping[str, Any] | None = None) -> None:
        """Link the inputs and log the hyperparameters (``params`` first, the constructor's win)."""
        if not self._begun:
            self._begun = True
            self.record.inputs = link_inputs(self.step, self._inputs)
        merged = {**(params or {}), **self.params}
        values = {name: _scalar(value) for name, value in merged.items()}
        skipped = sorted(name for name, value in values.items() if value is None and merged[name] is not None)
        if skipped:
            log.debug("mlineage: hyperparameters that are not scalars were left out: %s", ", ".join(skipped))
        values = {name: value for name, value in values.items() if value is not None}
        if values:
            self.step.log_params(values)

    def epoch(self, number: int, metrics: Mapping[str, Any]) -> None:
        """One point per metric at ``step=number`` (the epoch counted from 1)."""
        for name, value in metrics.items():
            try:
                number_value = float(value)
            except (TypeError, ValueError):
                log.debug("mlineage: metric %s of epoch %d is not a number (%r); left out", name, number, value)
                continue
            self.step.log_metric(str(name), number_value, step=int(number))
            self.record.last_metrics[str(name)] = number_value
        self.record.epochs = max(self.record.epochs, int(number))

    def end(self, model_path: str | os.PathLike | None = None, *, model_uri: str | None = None,
            **model_properties: Any) -> Any:
        """Record the model (if there is one) as the step's ``Model`` output; returns its ref or None."""
        path = os.fspath(model_path) if model_path is not None else self.model_path
        uri = model_uri or self.model_uri or path
        if uri is None:
            return None
        if path is not None and not os.path.exists(path):
            raise errors.InvalidArgumentError(f"no model at {path}")
        props: dict[str, Any] = {"epochs_trained": self.record.epochs}
        props.update({f"metric.{name}": value for name, value in self.record.last_metrics.items()})
        props.update(_gpu_facts(self.step))
        props.update(self.model_properties)
        props.update(model_properties)
        declare_artifact_type(self.step, MODEL_TYPE)
        self.record.model = self.step.output_model(uri, path=path, framework=self.framework, format=self.format,
                                                   type_name=MODEL_TYPE, key=MODEL_KEY, **props)
        if self.model_run_uri is not None:
            declare_artifact_type(self.step, MODEL_RUN_TYPE)
            self.record.model_run = self.step.output(MODEL_RUN_TYPE, uri=self.model_run_uri, key=MODEL_RUN_KEY)
        return self.record.model


def _gpu_facts(step: Any) -> dict[str, Any]:
    """Which GPUs the step's own probe found (the client's GPU sampling records their use on the step)."""
    props = getattr(step, "props", {}) or {}
    if "gpus_allocated" not in props:
        return {}
    facts: dict[str, Any] = {"trained_on_gpus": int(props["gpus_allocated"])}
    devices = (props.get("gpu") or {}).get("devices") or []
    names = sorted({str(d.get("name")) for d in devices if isinstance(d, Mapping) and d.get("name")})
    if names:
        facts["gpu_names"] = ",".join(names)
    return facts


def record_training(step: Any, *, params: Mapping[str, Any] | None = None, metrics_by_epoch: Any = None,
                    model_path: str | os.PathLike | None = None, model_uri: str | None = None,
                    inputs: Iterable[InputSpec] = (), framework: str | None = None,
                    format: str | None = None, model_run_uri: str | None = None,  # noqa: A002
                    **model_properties: Any) -> TrainingRecord:
    """Record a training that ran without the callback: hyperparameters, per-epoch metrics, the model, the inputs.

    ``metrics_by_epoch``: Keras' ``History.history`` shape ({metric: [value per epoch]}) or a list of
    {metric: value}, one per epoch. ``model_path``: the model's local file or directory (read for format,
    size, checksum, signature); ``model_uri``: where it lives if not there (defaults to the path). Everything
    is checked first; returns what was recorded.
    """
    epochs = epochs_from(metrics_by_epoch)
    if model_path is not None and not os.path.exists(model_path):
        raise errors.InvalidArgumentError(f"no model at {os.fspath(model_path)}")
    recorder = TrainingRecorder(step, params=params, inputs=inputs, model_path=model_path, model_uri=model_uri,
                                framework=framework, format=format, model_properties=model_properties,
                                model_run_uri=model_run_uri)
    recorder.begin()
    for index, metrics in enumerate(epochs):
        recorder.epoch(index + 1, metrics)
    recorder.end()
    return recorder.record


# --- Keras ------------------------------------------------------------------------------------------


def keras_facts(model: Any, fit_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Hyperparameters a Keras model and ``fit`` know: epochs, steps, optimizer settings, loss, parameter count."""
    facts: dict[str, Any] = {}
    fit_params = fit_params or {}
    if fit_params.get("epochs") is not None:
        facts["epochs"] = fit_params["epochs"]
    if fit_params.get("steps") is not None:
        facts["steps_per_epoch"] = fit_params["steps"]
    if model is None:
        return facts
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        try:
            config = optimizer.get_config()
        except Exception:  # noqa: BLE001 - an optimizer without a config still trains
            config = {}
        facts["optimizer"] = config.get("name") or type(optimizer).__name__
        for name, value in config.items():
            scalar = _scalar(value)
            if name != "name" and scalar is not None:
                facts[f"optimizer.{name}"] = scalar
    loss = getattr(model, "loss", None)
    if loss is not None:
        facts["loss"] = loss if isinstance(loss, str) else getattr(loss, "__name__", None) or type(loss).__name__
    try:
        facts["parameter_count"] = int(model.count_params())
    except Exception:  # noqa: BLE001 - an unbuilt model has no count yet
        pass
    return facts


def save_keras_model(model: Any, path: str) -> None:
    """Save ``model`` at ``path``: a ``.keras``/``.h5`` file, or else a SavedModel directory (for serving)."""
    if path.endswith((".keras", ".h5")):
        model.save(path)
    elif hasattr(model, "export"):  # Keras 3: the inference SavedModel (quietly: a step's output is its logs)
        try:
            model.export(path, verbose=False)
        except TypeError:  # a Keras 3 before export's verbose
            model.export(path)
    else:  # Keras 2 saves a SavedModel for a directory path
        model.save(path)


class _KerasAdapter:
    """The callback's behaviour; ``keras_callback_class`` mixes it into a Keras ``Callback``."""

    model: Any
    params: Any

    def __init__(self, step: Any, *, params: Mapping[str, Any] | None = None,
                 inputs: Iterable[InputSpec] = (), model_path: str | os.PathLike | None = None,
                 model_uri: str | None = None, save_model: bool = True, model_run_uri: str | None = None,
                 **model_properties: Any) -> None:
        super().__init__()
        self.recorder = TrainingRecorder(step, params=params, inputs=inputs, model_path=model_path,
                                         model_uri=model_uri, model_properties=model_properties,
                                         model_run_uri=model_run_uri)
        self.save_model = save_model
        self._epoch_offset = 0

    @property
    def step(self) -> Any:
        return self.recorder.step

    @property
    def record(self) -> TrainingRecord:
        return self.recorder.record

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch_offset = self.recorder.record.epochs  # a second fit() continues the series
        self.recorder.begin(keras_facts(getattr(self, "model", None), getattr(self, "params", None)))

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.recorder.epoch(self._epoch_offset + epoch + 1, logs or {})

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        path = self.recorder.model_path
        model = getattr(self, "model", None)
        if path is not None and not os.path.exists(path) and self.save_model and model is not None:
            save_keras_model(model, path)
        props: dict[str, Any] = {}
        if model is not None:
            try:
                props["parameter_count"] = int(model.count_params())
            except Exception:  # noqa: BLE001
                pass
        if path is not None or self.recorder.model_uri is not None:
            self.recorder.end(**props)


_callback_classes: dict[type, type] = {}


def _default_keras_base() -> type:
    try:
        import keras
    except ImportError:  # pragma: no cover - depends on the environment
        try:
            from tensorflow import keras  # type: ignore[no-redef]
        except ImportError as exc:
            raise errors.FailedPreconditionError("MlineageCallback needs Keras (pip install keras)") from exc
    return keras.callbacks.Callback


def keras_callback_class(base: type | None = None) -> type:
    """The ``MlineageCallback`` class on ``base`` (default ``keras.callbacks.Callback``), made once per base."""
    base = base or _default_keras_base()
    made = _callback_classes.get(base)
    if made is None:
        made = type("MlineageCallback", (_KerasAdapter, base), {
            "__module__": __name__,
            "__doc__": "A Keras callback recording a training into an mlineage step: hyperparameters at train "
                       "begin, a metric series point per epoch, the model (saved to ``model_path`` if it is not "
                       "there yet) at train end. ``MlineageCallback(step, inputs=[...], model_path=...)``.",
        })
        _callback_classes[base] = made
    return made


def __getattr__(name: str) -> Any:
    if name == "MlineageCallback":  # made on first use, so importing this module imports no Keras
        return keras_callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "INPUT_KEYS", "TrainingRecord", "TrainingRecorder", "epochs_from", "keras_callback_class", "keras_facts",
    "link_inputs", "parse_input", "record_training", "save_keras_model",
]
