"""compare(): the numbers in each frame, diff, best (ties, missing, NaN), the lineage difference; both backends."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import ACCURACY, AUC, LOSS

from mlineage.errors import InvalidArgumentError
from mlineage.reports import compare

RUNS = ["taxi/r1", "taxi/r2", "taxi/r3"]


@pytest.fixture
def comparison(taxi_store):
    return compare(taxi_store, pipeline="taxi")


def test_runs_are_listed_oldest_first_with_state_steps_and_code_version(comparison):
    summary = comparison.summary
    assert comparison.names == RUNS
    assert list(summary.index) == RUNS
    assert list(summary["state"]) == ["COMPLETE"] * 3
    assert list(summary["steps"]) == [3, 3, 2]
    assert list(summary["git_commit"]) == ["c0ffee1", "c0ffee2", "c0ffee2"]
    assert list(summary["type"]) == ["pipeline_run"] * 3
    assert (summary["duration_s"] >= 0).all()


def test_params_per_step_as_logged(comparison):
    params = comparison.params
    assert list(params.columns) == ["Trainer.batch_size", "Trainer.learning_rate", "Trainer.optimizer"]
    assert params["Trainer.learning_rate"].tolist() == [0.1, 0.01, 0.01]
    assert params["Trainer.batch_size"].tolist() == [256, 256, 512]
    assert all(isinstance(v, int) for v in params["Trainer.batch_size"])
    long = comparison.params_long
    assert len(long) == 9 and set(long["step_name"]) == {"Trainer"}


def test_final_and_best_metrics_from_series_and_from_the_evaluation_artifact(comparison):
    final = comparison.final_metrics
    assert final.loc["taxi/r1", "accuracy"] == pytest.approx(ACCURACY["r1"][-1])
    assert final.loc["taxi/r2", "loss"] == pytest.approx(LOSS["r2"][-1])
    assert math.isnan(final.loc["taxi/r3", "loss"])  # the last point is NaN
    assert final.loc["taxi/r1", "auc"] == pytest.approx(AUC["r1"])
    assert final.loc["taxi/r2", "example_count"] == 1000
    assert math.isnan(final.loc["taxi/r3", "auc"])  # r3 ran no Evaluator
    assert "num_slices" not in final.columns  # not named in metric_names
    best = comparison.best_metrics
    assert comparison.metric_modes["loss"] == "min" and comparison.metric_modes["accuracy"] == "max"
    assert best.loc["taxi/r3", "loss"] == pytest.approx(0.5)  # NaN points skipped
    assert best.loc["taxi/r1", "accuracy"] == pytest.approx(0.7)
    rows = comparison.metrics.set_index(["run", "metric"])
    assert rows.loc[("taxi/r1", "accuracy"), "points"] == 3
    assert rows.loc[("taxi/r1", "accuracy"), "last_step"] == 300
    assert rows.loc[("taxi/r1", "auc"), "source"] == "artifact"
    assert rows.loc[("taxi/r1", "auc"), "step_name"] == "Evaluator"


def test_series_in_long_form(comparison):
    series = comparison.series
    assert list(series.columns) == ["run", "step_name", "metric", "step", "value", "timestamp_ms"]
    accuracy = series[(series["run"] == "taxi/r2") & (series["metric"] == "accuracy")]
    assert accuracy["step"].tolist() == [100, 200, 300]
    assert accuracy["value"].tolist() == pytest.approx(ACCURACY["r2"])
    assert set(series["step_name"]) == {"Trainer"}
    assert len(series) == 3 * 3 * 2 + 1  # accuracy and loss for three runs, r3's one diverged point
    only = comparison.read_series(["loss"])
    assert set(only["metric"]) == {"loss"} and len(only) == 9


def test_inputs_and_outputs_per_step_with_the_runs_that_share_them(comparison):
    artifacts = comparison.artifacts
    examples = artifacts[(artifacts["type"] == "Examples") & (artifacts["step_name"] == "Ingest")]
    assert examples["span"].tolist() == [3, 4, 4]
    assert examples["uri"].tolist() == ["/data/taxi/span-3", "/data/taxi/span-4", "/data/taxi/span-4"]
    assert examples["shared_by"].tolist() == ["taxi/r1", "taxi/r2,taxi/r3", "taxi/r2,taxi/r3"]
    assert examples["runs_sharing"].tolist() == [1, 2, 2]
    models = artifacts[(artifacts["type"] == "Model") & (artifacts["direction"] == "output")]
    assert models["uri"].tolist() == ["/models/taxi/r1", "/models/taxi/r2", "/models/taxi/r3"]
    assert models["key"].tolist() == ["model"] * 3


def test_step_states_times_and_gpus(comparison):
    steps = comparison.steps
    assert steps[steps["run"] == "taxi/r1"]["step_name"].tolist() == ["Ingest", "Trainer", "Evaluator"]
    assert set(steps["state"]) == {"COMPLETE"}
    assert steps["started"].notna().all() and steps["ended"].notna().all()
    assert (steps["ended"] >= steps["started"]).all()
    assert (steps["duration_s"] >= 0).all()
    gpus = comparison.gpus
    assert gpus["run"].tolist() == ["taxi/r3"] and gpus["gpus_requested"].tolist() == [1]
    assert comparison.environment["git_commit"].notna().all()


def test_diff_keeps_only_what_differs(comparison):
    diff = comparison.diff()
    assert list(diff.params.columns) == ["Trainer.batch_size", "Trainer.learning_rate"]
    assert "accuracy" in diff.final_metrics.columns  # 0.7, 0.8, 0.8
    assert "Trainer.optimizer" not in set(diff.params_long["step_name"] + "." + diff.params_long["name"])
    assert set(diff.artifacts["runs_sharing"]) <= {1, 2}
    assert "git_commit" in diff.summary.columns and "state" not in diff.summary.columns
    assert comparison.differs()["params"] == ["Trainer.batch_size", "Trainer.learning_rate"]


def test_diff_of_identical_runs_is_empty(taxi_store):
    same = compare(taxi_store, runs=["taxi/r2"])
    assert same.diff().params.empty and same.diff().final_metrics.columns.empty


def test_best_ties_go_to_the_first_listed_and_nan_or_missing_take_no_part(comparison):
    assert comparison.best_runs("accuracy", "max") == ["taxi/r2", "taxi/r3"]
    assert comparison.best("accuracy", "max") == "taxi/r2"
    assert comparison.best("loss", "min") == "taxi/r2"  # r3's final loss is NaN
    assert comparison.best("loss", "min", by="best") == "taxi/r2"  # 0.3 < r3's best 0.5
    assert comparison.best("auc", "max") == "taxi/r2"  # r3 has no auc
    assert comparison.best("auc", "min") == "taxi/r1"
    assert comparison.best("diverged", "max") is None  # only NaN
    with pytest.raises(InvalidArgumentError, match="no run has a metric named 'f1'"):
        comparison.best("f1")
    with pytest.raises(InvalidArgumentError, match="mode"):
        comparison.best("auc", "biggest")


def test_lineage_difference_names_the_examples_span(comparison):
    difference = comparison.lineage_difference("taxi/r1", "taxi/r2")
    assert difference.only_a["type"].tolist() == ["Examples"]
    assert difference.only_b["type"].tolist() == ["Examples"]
    assert difference.only_a["uri"].tolist() == ["/data/taxi/span-3"]
    assert difference.only_b["uri"].tolist() == ["/data/taxi/span-4"]
    assert difference.changes == ["Examples: taxi/r2 read span=4 (/data/taxi/span-4), taxi/r1 read span=3 "
                                  "(/data/taxi/span-3)"]
    same_data = comparison.lineage_difference("taxi/r2", "taxi/r3")  # one Examples artifact, read by both
    assert "Examples" not in set(same_data.frame["type"])
    assert same_data.changes == ["Model: only taxi/r2 read /models/taxi/r2"]  # r3 ran no Evaluator
    assert same_data.only_a["produced_by_run"].tolist() == [True]
    with pytest.raises(InvalidArgumentError, match="not a run of this comparison"):
        comparison.lineage_difference("taxi/r1", "taxi/r9")


def test_frames_are_pandas(comparison):
    for frame in (comparison.summary, comparison.params, comparison.final_metrics, comparison.best_metrics,
                  comparison.metrics, comparison.series, comparison.artifacts, comparison.steps, comparison.gpus,
                  comparison.environment):
        assert isinstance(frame, pd.DataFrame)
