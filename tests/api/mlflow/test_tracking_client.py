"""The real mlflow client against `mlineage serve` (SQLite and PostgreSQL) answers what it gets from `mlflow server`.

One scenario script (tests/support/mlflow_tracking_client.py) runs against both
servers: experiments and runs made, params/metrics/tags one by one and batched,
search_runs filters, order and pages, metric history pages, deleted runs hidden
and restored, MLflow's limits and error codes. The answers must be equal; the
runs MLflow's client logged must then be ordinary MLMD nodes in the store.
"""

from __future__ import annotations

from grpc_server import mlineage_server
from mlflow_tracking_support import differences, run_tracking_scenario

import mlineage
from mlineage.proto import metadata_store_pb2 as pb


def test_the_reference_answers_are_what_the_scenario_expects(mlflow_reference):
    # Pins MLflow's own answers, so the comparison below cannot pass on two empty outputs.
    search = mlflow_reference["search_runs"]
    assert search["loss_and_lr"] == ["r4", "r1"]
    assert search["default_order"] == ["r5", "r4", "r3", "r2", "r1"]
    assert search["pages"] == [["r1", "r2"], ["r3", "r4"], ["r5"]]
    assert mlflow_reference["history_pages"] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert mlflow_reference["deleted_run"]["deleted_only"] == ["r3"]
    assert mlflow_reference["errors"]["param_changed"] == "INVALID_PARAMETER_VALUE"
    assert mlflow_reference["errors"]["raw_1001_metrics"] == "INVALID_PARAMETER_VALUE"
    assert mlflow_reference["errors"]["missing_run"] == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow_reference["latest_ties"] == {"tie": 3.0, "nan_tie": 1.0, "late_nan": "NaN"}


def test_mlflow_client_gets_from_mlineage_what_mlflow_server_answers(mlflow_python, mlflow_reference, store_url,
                                                                      tmp_path):
    with mlineage_server(store_url, http=True) as server:
        answers = run_tracking_scenario(mlflow_python, f"http://{server.host}:{server.http_port}", tmp_path)
    assert differences(mlflow_reference, answers) == []

    # The runs the client logged are MLMD nodes: executions of type mlflow.Run in their experiment's context.
    store = mlineage.connect(store_url)
    try:
        experiment = store.get_context_by_type_and_name("mlflow.Experiment", "exp-a")
        assert experiment is not None
        runs = store.get_executions_by_context(experiment.id)
        by_name = {run.properties["run_name"].string_value: run for run in runs}
        assert {"r1-renamed", "r2", "r3", "r4", "r5", "fluent"} <= set(by_name)
        r2 = by_name["r2"]
        assert r2.custom_properties["param.lr"].string_value == "0.01"
        assert r2.custom_properties["tag.kind"].string_value == "batch"
        assert r2.last_known_state == pb.Execution.COMPLETE
        assert by_name["r5"].last_known_state == pb.Execution.FAILED
        [loss] = store.get_metric_series([r2.id], ["loss"])
        assert list(loss.step) == [0, 1] and list(loss.value) == [1.5, 0.5]
        run_context = store.get_context_by_type_and_name("mlflow.Run", r2.name)
        assert run_context is not None
        assert [c.id for c in store.get_parent_contexts_by_context(run_context.id)] == [experiment.id]
        assert {c.id for c in store.get_contexts_by_execution(r2.id)} == {run_context.id, experiment.id}
        assert any(e.name == r2.name for e in store.get_executions_by_type("mlflow.Run"))
        assert "exp-a" in {c.name for c in store.get_contexts_by_type("mlflow.Experiment")}
    finally:
        store.close()
