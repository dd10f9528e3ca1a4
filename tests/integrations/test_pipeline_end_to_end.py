"""examples/pipeline_end_to_end.py run twice through a real `mlineage serve` (TFX environment): lineage and comparison.

The first run uses the example's default data; the second ``--shift``s it under another run id. Both
record over gRPC (through the client's journal) into one server; the test then reads the server's
SQLite file with mlineage's own lineage walk: each pushed model's upstream lineage reaches the raw
examples through every step, the runs are two run contexts, and their statistics and AUC differ.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from grpc_server import mlineage_server
from paths import REPO_ROOT
from test_tfx_environment import tfx_python

import mlineage
from mlineage.integrations.tfx_types import TFX_COMPONENT_TYPES
from mlineage.lineage import lineage
from mlineage.proto import metadata_store_pb2 as pb

EXAMPLE = REPO_ROOT / "examples" / "pipeline_end_to_end.py"
RUNS = (("e2e-base", ()), ("e2e-shifted", ("--shift",)))
#: (from, to) type edges every pushed model's upstream lineage has: artifact -> execution reading it,
#: execution -> artifact it wrote.
PATH_EDGES = {
    ("Examples", "StatisticsGen"), ("StatisticsGen", "ExampleStatistics"),
    ("ExampleStatistics", "SchemaGen"), ("SchemaGen", "Schema"),
    ("Examples", "Transform"), ("Schema", "Transform"), ("Transform", "TransformGraph"), ("Transform", "Examples"),
    ("TransformGraph", "Trainer"), ("Examples", "Trainer"), ("Trainer", "Model"),
    ("Model", "Evaluator"), ("Examples", "Evaluator"), ("Evaluator", "ModelBlessing"),
    ("ModelBlessing", "PUSHER"), ("Model", "PUSHER"), ("PUSHER", "PushedModel"),
    ("CsvExampleGen", "Examples"),
}
PUSHERS = {"tf_serving": "Pusher", "triton": "TritonPusher"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
           "MLINEAGE_JOURNAL_DIR": str(root / "journal")}
    reports = {}
    with mlineage_server(root) as server:
        for run_id, extra in RUNS:
            result = subprocess.run(
                [tfx_python(), str(EXAMPLE), "--url", f"grpc://{server.target}", "--workdir", str(root / run_id),
                 "--run-id", run_id, *extra],
                capture_output=True, text=True, timeout=300, env=env,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr[-4000:]
            reports[run_id] = {"summary": json.loads(result.stdout.strip().splitlines()[-1]),
                               "stdout": result.stdout}
        store = mlineage.connect(server.db_url)
        yield store, reports


def _type_edges(store, graph: pb.LineageGraph) -> set[tuple[str, str]]:
    """(from, to) edges between artifact type names and node ids (each execution's step, its TFX node)."""
    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    artifacts = {a.id: artifact_types[a.type_id] for a in graph.artifacts}
    executions = {e.id: e.custom_properties["step"].string_value for e in graph.executions}
    edges = set()
    for event in graph.events:
        if event.artifact_id not in artifacts or event.execution_id not in executions:
            continue
        a, e = artifacts[event.artifact_id], executions[event.execution_id]
        edges.add((a, e) if event.type in (pb.Event.INPUT, pb.Event.DECLARED_INPUT) else (e, a))
    return edges


@pytest.mark.parametrize("run_id", [r for r, _ in RUNS])
@pytest.mark.parametrize("server", sorted(PUSHERS))
def test_pushed_models_upstream_lineage_reaches_the_raw_examples_through_every_step(pipeline, run_id, server):
    store, reports = pipeline
    summary = reports[run_id]["summary"]
    pushed_id = summary["pushed"][server]["id"]
    [pushed] = store.get_artifacts_by_id([pushed_id])
    assert pushed.uri == summary["pushed"][server]["uri"]
    graph = lineage(store, artifact_ids=[pushed_id], direction="upstream", max_hops=40).graph
    types = {t.id: t.name for t in store.get_artifact_types()}
    found_types = {types[a.type_id] for a in graph.artifacts}
    assert {"Examples", "ExampleStatistics", "Schema", "TransformGraph", "Model", "ModelBlessing",
            "PushedModel"} <= found_types
    expected = {tuple(PUSHERS[server] if n == "PUSHER" else n for n in edge) for edge in PATH_EDGES}
    assert expected <= _type_edges(store, graph)
    # Each execution has its TFX component's class path as its type, and is in its node's context.
    execution_types = {t.id: t.name for t in store.get_execution_types()}
    for execution in graph.executions:
        node = execution.custom_properties["step"].string_value
        component = "Pusher" if node == "TritonPusher" else node
        assert execution_types[execution.type_id] == TFX_COMPONENT_TYPES[component]
        contexts = {(c.type, c.name) for c in store.get_contexts_by_execution(execution.id)}
        assert ("node", f"taxi_end_to_end.{node}") in contexts
    # The raw examples are on the walk, the ones this run's ExampleGen wrote.
    raw_uri = f"{summary['workdir']}/CsvExampleGen/examples/1"
    assert raw_uri in {a.uri for a in graph.artifacts}
    # The example's own printout (MLMD's GetLineageSubgraph through the server) has the same types.
    assert set(summary["pushed"][server]["artifact_types"]) == found_types
    # The Evaluator on the path wrote the ModelEvaluation beside the blessing (as TFX's Evaluator does).
    [evaluator] = [e for e in graph.executions if e.custom_properties["step"].string_value == "Evaluator"]
    outputs = store.get_artifacts_by_id([ev.artifact_id for ev in store.get_events_by_execution_ids([evaluator.id])
                                         if ev.type == pb.Event.OUTPUT])
    assert sorted(types[a.type_id] for a in outputs) == ["ModelBlessing", "ModelEvaluation"]
    assert f"{PUSHERS[server]} #" in reports[run_id]["stdout"] and "CsvExampleGen #" in reports[run_id]["stdout"]


def test_two_runs_are_two_run_contexts_of_one_pipeline(pipeline):
    store, reports = pipeline
    runs = store.get_contexts_by_type("pipeline_run")
    assert sorted(c.name for c in runs) == sorted(f"taxi_end_to_end/{r}" for r, _ in RUNS)
    for run_id, _ in RUNS:
        pushed_id = reports[run_id]["summary"]["pushed"]["tf_serving"]["id"]
        names = {c.name for c in store.get_contexts_by_artifact(pushed_id) if c.type == "pipeline_run"}
        assert names == {f"taxi_end_to_end/{run_id}"}
    assert [c.name for c in store.get_contexts_by_type("pipeline")] == ["taxi_end_to_end"]


def _in_run(store, type_name: str, run_id: str) -> pb.Artifact:
    [context] = [c for c in store.get_contexts_by_type("pipeline_run") if c.name.endswith(f"/{run_id}")]
    [found] = [a for a in store.get_artifacts_by_context(context.id) if a.type == type_name]
    return found


def test_comparing_the_runs_shows_the_shifted_data(pipeline):
    store, reports = pipeline
    (base, _), (shifted, _) = RUNS
    stats = {r: _in_run(store, "ExampleStatistics", r).custom_properties for r in (base, shifted)}
    for run_id in (base, shifted):  # what TFDV counted is what the run recorded
        assert stats[run_id]["num_examples.train"].int_value == reports[run_id]["summary"]["num_examples"]["train"]
    assert stats[base]["num_examples"].int_value == stats[shifted]["num_examples"].int_value == 300
    missing = {r: stats[r]["missing_ratio.train.fare"].double_value for r in (base, shifted)}
    assert missing[shifted] > missing[base] + 0.1
    auc = {r: _in_run(store, "ModelEvaluation", r).custom_properties["auc"].double_value for r in (base, shifted)}
    assert auc[base] != auc[shifted]
    assert all(0.5 < value <= 1.0 for value in auc.values())  # both passed the example's threshold
    blessed = {r: _in_run(store, "ModelBlessing", r).custom_properties["blessed"].int_value for r in (base, shifted)}
    assert blessed == {base: 1, shifted: 1}


def test_a_comparison_of_the_two_runs_shows_what_the_shifted_data_changed(pipeline):
    from mlineage.reports.comparison import compare

    store, reports = pipeline
    (base, _), (shifted, _) = RUNS
    comparison = compare(store, pipeline="taxi_end_to_end", last=2)
    names = {f"taxi_end_to_end/{r}" for r in (base, shifted)}
    assert set(comparison.names) == names
    differing = comparison.differs()["metrics"]
    [auc_key] = [k for k in differing if k.split(".")[-1] == "auc"]
    auc = {r: _in_run(store, "ModelEvaluation", r).custom_properties["auc"].double_value for r in (base, shifted)}
    finals = comparison.final_metrics
    for run_id in (base, shifted):  # the comparison's numbers are what TFMA computed in each run
        assert finals.loc[f"taxi_end_to_end/{run_id}", auc_key] == pytest.approx(auc[run_id])
    assert any(k.split(".")[-1] == "loss" for k in differing)  # the Keras training curves differ too
    # Each run read its own raw examples: the difference lists them, each used by one run only.
    changed = comparison.diff().artifacts
    raw = changed[(changed["type"] == "Examples") & (changed["step_name"] == "CsvExampleGen")]
    assert sorted(raw["uri"]) == sorted(f"{reports[r]['summary']['workdir']}/CsvExampleGen/examples/1"
                                        for r in (base, shifted))
