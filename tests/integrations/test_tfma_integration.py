"""mlineage.integrations.tfma on real TFMA evaluations made in the TFX environment (one subprocess for the module).

tests/support/tfma_integration.py runs tfma.analyze_raw_data three times on one DataFrame (an AUC
threshold the model fails, sliced by city; one it passes; none), records each, and reports TFMA's
own metrics and validation result beside the store's.
"""

from __future__ import annotations

import pytest
from tfx_scripts import recorded_artifact, run_tfx_script


@pytest.fixture(scope="module")
def answer(tmp_path_factory) -> dict:
    return run_tfx_script("tfma_integration.py", tmp_path_factory.mktemp("tfma"))


_artifact = recorded_artifact


def test_importing_the_tfma_and_tft_integrations_loads_no_tensorflow_or_tfma(answer):
    assert answer["imported_heavy"] == []


def test_model_evaluation_carries_tfma_overall_and_per_slice_metrics(answer):
    evaluation = _artifact(answer, "ModelEvaluation", "/Evaluator/evaluation/9")
    truth = answer["truth"]["failing"]["slices"]
    assert set(truth) == {"Overall", "city:lyon", "city:nice", "city:paris"}
    for metric, value in truth["Overall"].items():
        assert evaluation[f"c:{metric}"] == pytest.approx(value)  # TFMA's AUC, accuracy, example count
    assert evaluation["c:auc"] == pytest.approx(truth["Overall"]["auc"])
    for slice_name, metrics in truth.items():
        for metric, value in metrics.items():
            assert evaluation[f"c:slice.{slice_name}.{metric}"] == pytest.approx(value)
            assert evaluation["c:slices"][slice_name]["metrics"][metric] == pytest.approx(value)
    assert evaluation["c:slices"]["city:paris"]["key"] == [["city", "paris"]]
    assert evaluation["c:slice_names"] == "Overall,city:lyon,city:nice,city:paris"
    assert evaluation["c:example_count"] == 240
    assert evaluation["c:tfma_version"] == answer["tfma"]
    assert (evaluation["c:label_key"], evaluation["c:prediction_key"]) == ("label", "prediction")


def test_per_slice_metrics_are_queryable_with_a_filter(answer):
    assert answer["by_slice"] == [f"{answer['workdir']}/Evaluator/evaluation/9"]


def test_failed_threshold_gives_an_unblessed_blessing_naming_the_failures(answer):
    blessing = _artifact(answer, "ModelBlessing", "/Evaluator/evaluation/9/blessing")
    truth = answer["truth"]["failing"]
    assert truth["validation_ok"] is False
    assert blessing["c:blessed"] == 0
    assert blessing["c:num_failures"] == len(truth["failures"]) == 4
    assert blessing["c:failed_metrics"] == "Overall.auc,city:lyon.auc,city:nice.auc,city:paris.auc"
    assert "auc on Overall: " in blessing["c:failed_thresholds"]
    assert "wanted >= 0.99" in blessing["c:failed_thresholds"]
    rows = {row["slice"]: row for row in blessing["c:failures"]["value"]}
    assert rows["Overall"]["value"] == pytest.approx(truth["slices"]["Overall"]["auc"])
    assert rows["Overall"]["threshold"] == {"value": {"lower_bound": 0.99}}
    assert blessing["c:current_model"] == answer["model"]["uri"]
    assert blessing["c:current_model_id"] == answer["model"]["id"]
    assert answer["unblessed"] == [f"{answer['workdir']}/Evaluator/evaluation/9/blessing"]


def test_passed_threshold_is_blessed_with_its_baseline_and_no_threshold_gives_no_blessing(answer):
    assert answer["truth"]["passing"]["validation_ok"] is True
    blessing = _artifact(answer, "ModelBlessing", "/Evaluator/blessing/10")
    assert (blessing["c:blessed"], blessing["c:num_failures"], blessing["c:failed_metrics"]) == (1, 0, "")
    assert blessing["c:baseline_model"].endswith("/Trainer/model/2")
    assert isinstance(blessing["c:baseline_model_id"], int)
    assert answer["results"]["plain"][1] is None  # as TFX's Evaluator: no thresholds, no blessing
    assert not [k for k in answer["recorded"] if k.startswith("ModelBlessing|") and "/11" in k]


def test_evaluator_step_is_linked_with_tfx_keys(answer):
    steps = answer["steps"]
    assert sorted((t, slot) for t, _, slot in steps["Evaluator"]["inputs"]) == [("Examples", "examples"),
                                                                                ("Model", "model")]
    assert sorted((t, slot) for t, _, slot in steps["Evaluator"]["outputs"]) == [("ModelBlessing", "blessing"),
                                                                                 ("ModelEvaluation", "evaluation")]
    assert sorted(slot for _, _, slot in steps["EvaluatorPassing"]["inputs"]) == ["baseline_model", "model"]
    [model_input] = [uri for t, uri, _ in steps["Evaluator"]["inputs"] if t == "Model"]
    assert model_input == answer["model"]["uri"]  # the Trainer's model, not a new one


def test_bad_input_is_one_error_naming_the_path_and_records_nothing(answer):
    work = answer["workdir"]
    failures = answer["failures"]
    assert failures["not_tfma"] == f"{work}/not_tfma is not a TFMA evaluation output: no metrics-*.tfrecord in it"
    assert failures["corrupt"].startswith(f"{work}/corrupt_tfma/metrics-00000-of-00001.tfrecord is not a TFMA")
    assert failures["bad_config"].startswith(f"{work}/bad_config/eval_config.json is not TFMA's eval config")
    assert failures["nowhere"] == f"{work}/nowhere is not a TFMA evaluation output: no such directory"
    assert failures["forced_blessing"].startswith(f"{work}/not_tfma is not a TFMA evaluation output")
    before, after = answer["counts"]
    assert before == after
