"""mlineage.integrations.training without a framework: record_training's params, epoch series, model, inputs, GPUs."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import zipfile

import pytest

import mlineage
from mlineage import errors
from mlineage.client.records import from_value
from mlineage.integrations import training
from mlineage.proto import metadata_store_pb2 as pb

HISTORY = {"loss": [0.9, 0.5, 0.31], "accuracy": [0.55, 0.7, 0.81], "val_loss": [1.0, 0.62, 0.4]}


def _props(node) -> dict:
    values = {name: from_value(value) for name, value in node.custom_properties.items()}
    values.update({name: from_value(value) for name, value in node.properties.items()})
    return values


def _keras_file(path) -> str:
    """A file laid out as Keras 3 saves a model (config.json, model.weights.h5 in a zip)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential"}))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    return str(path)


def _upstream(tmp_path, url: str):
    """A Transform step's outputs: the examples it read and the transform graph it wrote."""
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("Transform") as step:
            examples = step.input("Examples", uri=str(tmp_path / "examples"), span=1)
            graph = step.output("TransformGraph", uri=str(tmp_path / "transform_graph"))
    return run, examples, graph


def _trainer(store, name: str = "Trainer"):
    [execution] = [e for e in store.get_executions() if e.custom_properties["step"].string_value == name]
    return execution


def test_record_training_writes_params_epoch_series_inputs_and_the_inspected_model(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _, examples, graph = _upstream(tmp_path, url)
    model_path = _keras_file(tmp_path / "model.keras")
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("Trainer") as step:
            recorded = training.record_training(
                step, params={"learning_rate": 0.01, "batch_size": 32, "layers": [8, 4]},
                metrics_by_epoch=HISTORY, model_path=model_path,
                inputs=[graph, examples, f"Schema:{tmp_path / 'schema'}"],
            )
    assert recorded.epochs == 3 and recorded.last_metrics["loss"] == 0.31
    store = mlineage.connect(url)
    execution = _trainer(store)
    values = _props(execution)
    assert values["param.learning_rate"] == 0.01 and values["param.batch_size"] == 32
    assert "param.layers" not in values  # not a scalar
    assert values["metric.loss"] == 0.31 and values["metric.accuracy"] == 0.81
    series = {s.name: (list(s.step), list(s.value)) for s in store.get_metric_series([execution.id])}
    assert series == {name: ([1, 2, 3], values_) for name, values_ in HISTORY.items()}

    events = store.get_events_by_execution_ids([execution.id])
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    types_ = {t.id: t.name for t in store.get_artifact_types()}
    inputs = {e.path.steps[0].key: artifacts[e.artifact_id] for e in events if e.type == pb.Event.INPUT}
    assert set(inputs) == {"examples", "transform_graph", "schema"}
    assert inputs["transform_graph"].external_id == graph.key  # the Transform step's own artifact, not a copy
    assert inputs["examples"].external_id == examples.key
    assert types_[inputs["schema"].type_id] == "Schema"
    [model_event] = [e for e in events if e.type == pb.Event.OUTPUT]
    model = artifacts[model_event.artifact_id]
    assert types_[model.type_id] == "Model" and model.uri == model_path
    assert model_event.path.steps[0].key == "model"
    model_values = _props(model)
    assert model_values["format"] == "keras" and model_values["framework"] == "keras"
    assert len(model_values["sha256"]) == 64 and model_values["size_bytes"] > 0
    assert model_values["epochs_trained"] == 3 and model_values["metric.val_loss"] == 0.4
    model_type = store.get_artifact_type("Model")
    assert model_type.base_type == pb.ArtifactType.MODEL  # TFX's type
    assert "trained_on_gpus" not in model_values  # the step did not ask for GPUs


def test_per_epoch_dicts_and_history_shape_record_the_same_series(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    per_epoch = [{name: series[i] for name, series in HISTORY.items()} for i in range(3)]
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("A") as step:
            training.record_training(step, metrics_by_epoch=HISTORY)
        with run.step("B") as step:
            training.record_training(step, metrics_by_epoch=per_epoch, model_uri="gs://b/models/7")
    store = mlineage.connect(url)

    def series(name):
        return {s.name: (list(s.step), list(s.value)) for s in store.get_metric_series([_trainer(store, name).id])}

    assert series("A") == series("B")
    [model] = store.get_artifacts_by_type("Model")
    assert model.uri == "gs://b/models/7" and "sha256" not in _props(model)  # a remote model is not inspected


@pytest.mark.parametrize("case", ["not_a_number", "not_series", "missing_model", "bad_input", "not_an_artifact"])
def test_bad_input_is_one_clear_error_and_records_nothing(tmp_path, case):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    arguments: dict = {"params": {"learning_rate": 0.1}, "metrics_by_epoch": HISTORY,
                       "inputs": [f"Examples:{tmp_path}"]}
    expected = {
        "not_a_number": "metric 'loss' has a value that is not a number: 'high'",
        "not_series": "metrics_by_epoch['loss'] is not a list of per-epoch values",
        "missing_model": f"no model at {tmp_path / 'nowhere.keras'}",
        "bad_input": "input 'gs://bucket/examples' is not TYPE:URI",
        "not_an_artifact": "input 42 is not an artifact",
    }[case]
    if case == "not_a_number":
        arguments["metrics_by_epoch"] = {"loss": [0.5, "high"]}
    elif case == "not_series":
        arguments["metrics_by_epoch"] = {"loss": 0.5}
    elif case == "missing_model":
        arguments["model_path"] = tmp_path / "nowhere.keras"
    elif case == "bad_input":
        arguments["inputs"] = [f"Examples:{tmp_path}", "gs://bucket/examples"]
    else:
        arguments["inputs"] = [42]
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("Trainer") as step:
            with pytest.raises(errors.InvalidArgumentError) as info:
                training.record_training(step, **arguments)
    assert str(info.value).startswith(expected)
    store = mlineage.connect(url)
    execution = _trainer(store)
    assert store.get_artifacts() == []
    assert store.get_metric_series([execution.id]) == []
    assert not any(name.startswith("param.") for name in execution.custom_properties)


def test_parse_input_takes_type_colon_uri_and_type_equals_uri():
    assert training.parse_input("Examples:gs://b/taxi/3") == ("Examples", "gs://b/taxi/3")
    assert training.parse_input("TransformGraph=/pipe/Transform/transform_graph/5") == (
        "TransformGraph", "/pipe/Transform/transform_graph/5")
    for bad in ("Examples", ":/x", "Examples:", "gs://b/x", "two words:/x"):
        with pytest.raises(errors.InvalidArgumentError):
            training.parse_input(bad)


def _one_gpu_nvml() -> types.ModuleType:
    """A pynvml module answering for one H200 at 60 % utilisation."""

    class NVMLError(Exception):
        pass

    module = types.ModuleType("pynvml")
    module.NVMLError = NVMLError  # type: ignore[attr-defined]
    memory = types.SimpleNamespace(total=150754820096, used=1 << 30, free=150754820096 - (1 << 30))
    for name, answer in {
        "nvmlInit": None, "nvmlShutdown": None, "nvmlSystemGetDriverVersion": "550.90.07",
        "nvmlSystemGetCudaDriverVersion": 12040, "nvmlDeviceGetCount": 1, "nvmlDeviceGetName": "NVIDIA H200",
        "nvmlDeviceGetUUID": "GPU-5a8e2c3f-91d4-4b7e-a0c6-2f1e9d8b7c6a", "nvmlDeviceGetMemoryInfo": memory,
        "nvmlDeviceGetCudaComputeCapability": (9, 0),
        "nvmlDeviceGetPciInfo": types.SimpleNamespace(busId="00000000:19:00.0"),
        "nvmlDeviceGetEnforcedPowerLimit": 700000, "nvmlDeviceGetHandleByIndex": "handle-0",
        "nvmlDeviceGetUtilizationRates": types.SimpleNamespace(gpu=60, memory=40),
    }.items():
        setattr(module, name, lambda *args, _answer=answer: _answer)
    return module


def test_a_training_step_on_a_gpu_has_its_gpu_job_and_the_model_names_the_gpu(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _one_gpu_nvml())
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("Trainer", gpus=1, sample_interval=0.01) as step:
            import time

            time.sleep(0.05)
            training.record_training(step, metrics_by_epoch=HISTORY, model_path=_keras_file(tmp_path / "m.keras"))
    store = mlineage.connect(url)
    values = _props(_trainer(store))
    assert values["gpus_allocated"] == 1 and values["gpu_utilization_mean_pct"] == 60
    assert 0 < values["gpu_hours"] < 0.01
    [model] = store.get_artifacts_by_type("Model")
    assert _props(model)["trained_on_gpus"] == 1 and _props(model)["gpu_names"] == "NVIDIA H200"


def test_importing_the_training_module_imports_no_keras_or_tensorflow():
    code = ("import sys, mlineage.integrations.training as t; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'tf_keras')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_model_run_uri_is_a_model_run_output_beside_the_model_as_tfx_trainer_writes(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _, examples, graph = _upstream(tmp_path, url)
    with mlineage.run("taxi", run_id="r1", url=url) as run:
        with run.step("Trainer") as step:
            recorded = training.record_training(step, metrics_by_epoch=HISTORY, inputs=[graph, examples],
                                                model_path=_keras_file(tmp_path / "model.keras"),
                                                model_run_uri=str(tmp_path / "logs"))
    assert recorded.model_run.type_name == "ModelRun" and recorded.model_run.uri == str(tmp_path / "logs")
    store = mlineage.connect(url)
    events = store.get_events_by_execution_ids([_trainer(store).id])
    types = {t.id: t.name for t in store.get_artifact_types()}
    outputs = {(e.path.steps[0].key, types[a.type_id], a.uri)
               for e in events if e.type == pb.Event.OUTPUT
               for a in store.get_artifacts_by_id([e.artifact_id])}
    assert outputs == {("model", "Model", str(tmp_path / "model.keras")),
                       ("model_run", "ModelRun", str(tmp_path / "logs"))}
