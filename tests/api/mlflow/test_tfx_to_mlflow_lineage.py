"""One pipeline across two clients: TFX-style Examples written by the real ml-metadata client, read by an MLflow run.

The Examples artifact is recorded over MLMD's gRPC API (ExampleGen's output, in a
pipeline and a pipeline-run context); an MLflow training run then logs
``mlflow.log_input(mlflow.data.from_pandas(..., source=<the same URI>))`` and a
scikit-learn model. Same URI, same artifact: the run's execution reads the TFX
artifact itself, so MLMD's GetLineageSubgraph (asked by the ml-metadata client) from
the MLflow model reaches the ExampleGen execution and its Examples. SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BACKENDS, postgres_database
from grpc_server import require_mlmd_python
from mlflow_artifacts_support import (
    base_url,
    mlineage_http_server,
    require_mlflow_python,
    run_mlflow_scenario,
    run_mlmd_script,
)

import mlineage
from mlineage import metadata_store_pb2 as pb

pytestmark = pytest.mark.timeout(600)

EXAMPLES_URI = "gs://taxi-pipeline/CsvExampleGen/examples/1"


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path) -> tuple[str | Path, str]:
    if request.param == "sqlite":
        return tmp_path, f"sqlite:///{tmp_path / 'mlineage.db'}"
    url = postgres_database("mlineage_tfx_mlflow")
    return url, url


def test_the_lineage_of_an_mlflow_model_reaches_the_examples_tfx_wrote(database, tmp_path):
    mlmd_python = require_mlmd_python()
    mlflow_python = require_mlflow_python()
    db, url = database
    with mlineage_http_server(db, tmp_path / "artifacts") as server:
        written = run_mlmd_script(mlmd_python, "write_examples", server.target, tmp_path, "--uri", EXAMPLES_URI)
        trained = run_mlflow_scenario(mlflow_python, "tfx_input", base_url(server), tmp_path / "client",
                                      examples_uri=EXAMPLES_URI)
        graph = run_mlmd_script(mlmd_python, "lineage", server.target, tmp_path, "--model-uri", trained["model_uri"])

    # MLflow's client sees its dataset input as it logged it.
    (dataset_input,) = trained["inputs"]
    assert dataset_input["name"] == "taxi-examples" and dataset_input["tags"] == {"mlflow.data.context": "training"}
    assert EXAMPLES_URI in dataset_input["source"]

    # The ml-metadata client's upstream lineage of the model: run, examples, ExampleGen.
    assert ["Examples", EXAMPLES_URI] in graph["artifacts"]
    assert ["Model", trained["model_uri"]] in graph["artifacts"]
    assert ["mlflow.Run", trained["run_id"]] in graph["executions"]
    assert ["CsvExampleGen", ""] in graph["executions"]
    assert [written["examples_id"], written["example_gen_id"], "OUTPUT"] in graph["events"]

    store = mlineage.connect(url)
    try:
        # No second artifact for the same URI: the run read the TFX one.
        (examples,) = store.get_artifacts_by_uri(EXAMPLES_URI)
        assert examples.id == written["examples_id"]
        run = store.get_execution_by_type_and_name("mlflow.Run", trained["run_id"])
        events = {(e.artifact_id, e.type) for e in store.get_events_by_execution_ids([run.id])}
        model = store.get_artifact_by_type_and_name("Model", trained["model_id"])
        assert events == {(examples.id, pb.Event.INPUT), (model.id, pb.Event.OUTPUT)}
        # mlineage's own lineage read agrees: the model's upstream holds the TFX examples.
        subgraph = store.get_lineage_subgraph(_upstream_of(model.uri))
        assert {examples.id, model.id} <= {a.id for a in subgraph.artifacts}
        assert {run.id, written["example_gen_id"]} <= {e.id for e in subgraph.executions}
    finally:
        store.close()


def _upstream_of(uri: str) -> pb.LineageSubgraphQueryOptions:
    options = pb.LineageSubgraphQueryOptions(max_num_hops=6, direction=pb.LineageSubgraphQueryOptions.UPSTREAM)
    options.starting_artifacts.filter_query = f"uri = '{uri}'"
    return options
