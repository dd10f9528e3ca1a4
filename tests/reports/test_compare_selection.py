"""Selecting runs: names, ids, a filter, the last N of a pipeline, a sweep's trials, MLflow-shaped runs; bad input."""

from __future__ import annotations

import pytest

from mlineage.errors import InvalidArgumentError
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb
from mlineage.reports import compare, select_runs


def _names(refs) -> list[str]:
    return [ref.name for ref in refs]


def test_runs_by_name_and_by_id_in_the_order_given(taxi_store):
    by_name = select_runs(taxi_store, ["taxi/r3", "taxi/r1"])
    assert _names(by_name) == ["taxi/r3", "taxi/r1"]
    by_id = select_runs(taxi_store, [by_name[1].context_id, str(by_name[0].context_id)])
    assert _names(by_id) == ["taxi/r1", "taxi/r3"]


def test_last_n_runs_of_a_pipeline(taxi_store):
    assert _names(select_runs(taxi_store, pipeline="taxi")) == ["taxi/r1", "taxi/r2", "taxi/r3"]
    assert _names(select_runs(taxi_store, pipeline="taxi", last=2)) == ["taxi/r2", "taxi/r3"]


def test_filter_over_run_contexts(taxi_store):
    refs = select_runs(taxi_store, filter_query="custom_properties.git_commit.string_value = 'c0ffee2'")
    assert _names(refs) == ["taxi/r2", "taxi/r3"]
    assert _names(select_runs(taxi_store, filter_query="name LIKE 'taxi/%'", last=1)) == ["taxi/r3"]


@pytest.mark.parametrize(
    ("selectors", "message"),
    [
        ({"runs": ["taxi/r9"]}, "unknown run 'taxi/r9'"),
        ({"runs": ["999999"]}, "unknown run '999999'"),
        ({"runs": ["taxi/r1"], "pipeline": "taxi"}, "choose one way to select runs, not runs and pipeline"),
        ({"pipeline": "taxi", "sweep": "s"}, "not pipeline and sweep"),
        ({"runs": ["taxi/r1"], "last": 1}, "last applies to a pipeline"),
        ({"pipeline": "taxi", "last": 0}, "last must be a positive number"),
        ({}, "name the runs to compare"),
        ({"pipeline": "nope"}, "unknown pipeline 'nope'"),
        ({"filter_query": "name = 'nothing'"}, "no run .* matches the filter"),
        ({"filter_query": "name = "}, "invalid filter"),
        ({"runs": ["taxi/r1", "taxi/r1"]}, "named twice"),
    ],
)
def test_bad_selections_are_named(taxi_store, selectors, message):
    with pytest.raises(InvalidArgumentError, match=message):
        compare(taxi_store, **selectors)


def _context_type(store, name: str) -> int:
    return store.put_context_type(pb.ContextType(name=name), can_add_fields=True)


def test_a_sweep_is_the_child_contexts_of_its_context(store):
    sweep_type, trial_type = _context_type(store, "katib.Experiment"), _context_type(store, "katib.Trial")
    execution_type = store.put_execution_type(pb.ExecutionType(name="Trial"))
    [sweep_id] = store.put_contexts([pb.Context(type_id=sweep_type, name="lr-sweep")])
    for index, lr in enumerate([0.1, 0.03, 0.01]):
        [trial_id] = store.put_contexts([pb.Context(type_id=trial_type, name=f"lr-sweep-trial-{index}")])
        store.put_parent_contexts([pb.ParentContext(child_id=trial_id, parent_id=sweep_id)])
        execution = pb.Execution(type_id=execution_type, last_known_state=pb.Execution.COMPLETE)
        execution.custom_properties["param.lr"].double_value = lr
        execution.custom_properties["param.layers"].int_value = 2 + index
        [execution_id] = store.put_executions([execution])
        store.put_attributions_and_associations([], [pb.Association(context_id=trial_id, execution_id=execution_id)])
        store.put_metric_series([mpb.MetricSeries(execution_id=execution_id, name="val_accuracy", seq=[1, 2],
                                                  step=[1, 2], value=[0.5, 0.9 - lr], timestamp_ms=[1, 2])])
    comparison = compare(store, sweep="lr-sweep")
    assert comparison.names == ["lr-sweep-trial-0", "lr-sweep-trial-1", "lr-sweep-trial-2"]
    assert comparison.sweep == "lr-sweep"
    assert comparison.params["Trial.lr"].tolist() == [0.1, 0.03, 0.01]
    assert [type(v) for v in comparison.params["Trial.layers"]] == [int, int, int]  # not widened to float
    assert comparison.best("val_accuracy") == "lr-sweep-trial-2"
    assert set(comparison.summary["type"]) == {"katib.Trial"}
    with pytest.raises(InvalidArgumentError, match="unknown sweep"):
        compare(store, sweep="no-such-sweep")


def test_mlflow_shaped_runs_count_too(store):
    """Runs as api/mlflow/mapping.py stores them: an mlflow.Run execution and context under an mlflow.Experiment."""
    experiment_type = _context_type(store, "mlflow.Experiment")
    run_context_type = _context_type(store, "mlflow.Run")
    run_type = store.put_execution_type(pb.ExecutionType(
        name="mlflow.Run", properties={"run_id": pb.STRING, "run_name": pb.STRING, "status": pb.STRING,
                                       "start_time": pb.INT, "end_time": pb.INT}))
    [experiment_id] = store.put_contexts([pb.Context(type_id=experiment_type, name="churn")])
    for index, (depth, f1) in enumerate([(4, 0.71), (8, 0.78)]):
        run_id = f"{index:032x}"
        [context_id] = store.put_contexts([pb.Context(type_id=run_context_type, name=run_id)])
        store.put_parent_contexts([pb.ParentContext(child_id=context_id, parent_id=experiment_id)])
        execution = pb.Execution(type_id=run_type, name=run_id, last_known_state=pb.Execution.COMPLETE)
        execution.properties["run_id"].string_value = run_id
        execution.properties["run_name"].string_value = f"depth-{depth}"
        execution.properties["status"].string_value = "FINISHED"
        execution.properties["start_time"].int_value = 1_700_000_000_000 + index * 10_000
        execution.properties["end_time"].int_value = 1_700_000_005_000 + index * 10_000
        execution.custom_properties["param.max_depth"].string_value = str(depth)
        [execution_id] = store.put_executions([execution])
        store.put_attributions_and_associations([], [
            pb.Association(context_id=context_id, execution_id=execution_id),
            pb.Association(context_id=experiment_id, execution_id=execution_id),
        ])
        store.put_metric_series([mpb.MetricSeries(execution_id=execution_id, name="f1", seq=[1], step=[0],
                                                  value=[f1], timestamp_ms=[1])])
    comparison = compare(store, pipeline="churn")
    assert comparison.params["run.max_depth"].tolist() == ["4", "8"]
    assert "run.run_id" not in comparison.params.columns  # MLflow's bookkeeping is not a param
    assert comparison.best("f1") == f"{1:032x}"
    assert comparison.summary["label"].tolist() == ["depth-4", "depth-8"]
    assert comparison.steps["duration_s"].tolist() == [5.0, 5.0]


def test_openlineage_runs_of_a_job_are_its_executions(store):
    from fastapi.testclient import TestClient

    from mlineage.api.rest.app import create_app

    client = TestClient(create_app(store))
    run_ids = ["0b6d1c3e-0000-4000-8000-000000000001", "0b6d1c3e-0000-4000-8000-000000000002"]
    for index, (run_id, dataset) in enumerate(zip(run_ids, ["events_2026_11", "events_2026_12"], strict=True)):
        for event_type, second in (("START", 0), ("COMPLETE", 5)):
            answer = client.post("/api/v1/lineage", json={
                "eventType": event_type, "eventTime": f"2026-12-01T10:0{index}:0{second}Z",
                "producer": "https://example.com/spark", "run": {"runId": run_id},
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "job": {"namespace": "spark", "name": "daily_agg"},
                "inputs": [{"namespace": "s3://lake", "name": dataset}],
                "outputs": [{"namespace": "s3://lake", "name": f"agg_{index}"}],
            })
            assert answer.status_code == 201, answer.text
    comparison = compare(store, pipeline="spark/daily_agg")
    assert comparison.names == run_ids
    assert comparison.summary["state"].tolist() == ["COMPLETE", "COMPLETE"]
    assert comparison.params.empty  # the run's ids and job names are bookkeeping, not params
    inputs = comparison.artifacts[comparison.artifacts["direction"] == "input"]
    assert inputs["uri"].tolist() == ["s3://lake/events_2026_11", "s3://lake/events_2026_12"]
    assert comparison.lineage_difference().changes == [
        f"openlineage.Dataset: {run_ids[1]} read s3://lake/events_2026_12, {run_ids[0]} read s3://lake/events_2026_11"]
