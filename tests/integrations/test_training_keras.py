"""MlineageCallback on a tiny Keras model trained for three epochs in the TFX environment (one subprocess).

tests/support/training_keras.py fits the model with the callback and reports Keras' History beside
what the store holds: the series, the hyperparameters, the inputs and the exported model.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from paths import REPO_ROOT, SUPPORT
from test_tfx_environment import tfx_python


@pytest.fixture(scope="module")
def answer(tmp_path_factory) -> dict:
    python = tfx_python()
    workdir = tmp_path_factory.mktemp("keras")
    result = subprocess.run(
        [python, str(SUPPORT / "training_keras.py"), str(workdir)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["workdir"] = str(workdir)
    return data


def test_importing_the_training_integration_loads_no_keras_or_tensorflow(answer):
    assert answer["imported_heavy"] == []
    assert answer["is_callback"] is True  # a real keras.callbacks.Callback once used


def test_each_epoch_is_a_point_of_every_history_series(answer):
    history, series = answer["history"], answer["series"]
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert set(series) == set(history)
    for name, values in history.items():
        assert series[name]["step"] == [1, 2, 3]
        assert series[name]["value"] == pytest.approx(values, rel=1e-12)
        assert answer["params"][f"metric.{name}"] == pytest.approx(values[-1], rel=1e-12)


def test_hyperparameters_come_from_fit_the_optimizer_and_the_caller(answer):
    params = answer["params"]
    assert params["param.epochs"] == 3 and params["param.steps_per_epoch"] == 6  # 180 training rows / 32
    assert params["param.batch_size"] == 32  # given by the caller
    assert params["param.optimizer"] == "adam"
    assert params["param.optimizer.learning_rate"] == pytest.approx(0.01)
    assert params["param.loss"] == "binary_crossentropy"
    assert params["param.parameter_count"] == 4 * 8 + 8 + 8 + 1


def test_the_trainer_reads_the_transform_graph_and_examples_and_writes_the_model(answer, tmp_path):
    upstream = answer["upstream"]
    links = {(direction, key, type_name): external_id for direction, key, type_name, external_id in answer["links"]}
    assert links[("INPUT", "transform_graph", "TransformGraph")] == upstream["transform_graph"]
    assert links[("INPUT", "examples", "Examples")] == upstream["examples"]
    assert ("OUTPUT", "model", "Model") in links and len(links) == 3
    assert answer["state"] == "COMPLETE"


def test_the_model_is_saved_at_train_end_and_described_by_the_model_inspection(answer):
    saved = answer["models"][os.path.join(answer["workdir"], "model")]
    assert "saved_model.pb" in answer["model_dir"]
    assert saved["format"] == "saved_model" and saved["framework"] == "tensorflow"
    assert "serving_default" in saved["signature_names"].split(",")
    assert saved["signature"]["signatures"]["serving_default"]["inputs"]["keras_tensor"]["shape"] == [-1, 4]
    assert len(saved["sha256"]) == 64 and saved["epochs_trained"] == 3
    assert saved["parameter_count"] == 49
    assert saved["metric.val_loss"] == pytest.approx(answer["history"]["val_loss"][-1], rel=1e-12)
    keras_file = answer["models"][os.path.join(answer["workdir"], "model.keras")]
    assert keras_file["format"] == "keras" and keras_file["epochs_trained"] == 2
