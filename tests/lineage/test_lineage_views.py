"""Lineage views (networkx, DOT, GraphML, Mermaid, node-link JSON, tree), questions and `mlineage lineage`."""

from __future__ import annotations

import io
import json
import runpy
from contextlib import redirect_stderr, redirect_stdout

import networkx as nx
import pytest
from paths import SUPPORT

from mlineage.cli import main
from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.lineage import export, questions
from mlineage.lineage.query import lineage
from mlineage.lineage.tree import render_tree
from mlineage.metadata.lineage_engine.traversal import Direction
from mlineage.proto import metadata_store_pb2 as pb

scenarios = runpy.run_path(str(SUPPORT / "lineage_scenarios.py"))


@pytest.fixture
def build(store):
    def _build(graph_name: str) -> dict[str, dict[str, int]]:
        return scenarios["build_graph"](store, pb, scenarios["GRAPHS"][graph_name]())

    return _build


def names(messages) -> list[str]:
    return [m.name for m in messages]


# --- networkx and text views --------------------------------------------------------------------


def test_networkx_graph_follows_the_data_with_node_attributes(store, build):
    ids = build("shared")
    ma = ids["artifact"]["ma"]
    [model] = store.get_artifacts_by_id([ma])
    model.custom_properties["accuracy"].double_value = 0.9
    store.put_artifacts([model])
    graph = export.to_networkx(lineage(store, artifact_ids=[ma], direction="up"))
    assert isinstance(graph, nx.MultiDiGraph)
    model = graph.nodes[("artifact", ma)]
    assert model["type"] == "Model" and model["name"] == "ma" and model["uri"] == "/data/ma"
    assert model["state"] == "LIVE" and model["custom_properties"] == {"accuracy": 0.9}
    assert model["contexts"] == ["runA"] and model["hop"] == 0 and model["starting"]
    xa, shared = ("execution", ids["execution"]["xa"]), ("artifact", ids["artifact"]["shared"])
    assert graph.has_edge(shared, xa, key="INPUT") and graph.has_edge(xa, ("artifact", ma), key="OUTPUT")
    assert graph.edges[shared, xa, "INPUT"]["path"] == ["shared@xa"]
    assert nx.is_directed_acyclic_graph(graph) and graph.number_of_nodes() == 5


def test_text_views_parse_back(store, build):
    ids = build("diamond")
    answer = lineage(store, artifact_ids=[ids["artifact"]["metrics"]], direction="up")
    graph = export.to_networkx(answer)
    graphml = export.to_graphml(graph)
    back = nx.read_graphml(io.StringIO(graphml))
    assert back.number_of_nodes() == graph.number_of_nodes() and back.number_of_edges() == graph.number_of_edges()
    assert back.nodes[f"artifact:{ids['artifact']['m1']}"]["type"] == "Model"
    data = json.loads(export.to_json(graph))
    assert len(data["nodes"]) == graph.number_of_nodes() and len(data["edges"]) == graph.number_of_edges()
    relinked = nx.node_link_graph(data, edges="edges")
    assert relinked.number_of_edges() == graph.number_of_edges()
    dot = export.to_dot(graph)
    assert dot.startswith('digraph "lineage" {') and dot.count(" -> ") == graph.number_of_edges()
    assert '"Model m1\\nLIVE", shape=ellipse' in dot and 'shape=box' in dot and 'style="bold"' in dot
    mermaid = export.to_mermaid(graph)
    assert mermaid.startswith("flowchart LR") and mermaid.count(" -->|") == graph.number_of_edges()
    assert f'a{ids["artifact"]["metrics"]}(["Metrics metrics"])' in mermaid


def test_views_of_an_mlmd_lineage_graph_message(store, build):
    ids = build("chain")
    options = pb.LineageSubgraphQueryOptions(max_num_hops=2)
    options.starting_artifacts.filter_query = "name = 'a2'"
    graph = export.to_networkx(store.get_lineage_subgraph(options))
    assert set(graph.nodes) == {("artifact", ids["artifact"][n]) for n in ("a1", "a2", "a3")} | {
        ("execution", ids["execution"][n]) for n in ("x2", "x3")
    }


def test_tree_shows_history_and_refers_back_to_shared_nodes(store, build):
    ids = build("diamond")
    answer = lineage(store, artifact_ids=[ids["artifact"]["metrics"]], direction=Direction.UPSTREAM)
    text = render_tree(answer)
    lines = text.splitlines()
    assert lines[0].startswith("Metrics metrics [artifact")
    assert lines[1].startswith("└── Evaluator judge [execution")
    assert any("Examples train" in line and "(shown above)" in line for line in lines)
    assert sum("Examples train [" in line and "shown above" not in line for line in lines) == 1
    both = render_tree(lineage(store, artifact_ids=[ids["artifact"]["train"]], max_hops=2))
    assert "  upstream:" in both and "  downstream:" in both


# --- questions ----------------------------------------------------------------------------------


def test_upstream_datasets_and_models_trained_from(store, build):
    ids = build("diamond")
    found = questions.upstream_datasets(store, ids["artifact"]["m1"])
    assert names(found) == ["train", "cache", "d0"]  # nearest first
    assert names(questions.models_trained_from(store, ids["artifact"]["d0"])) == ["m1", "m2"]
    assert names(questions.models_trained_from(store, ids["artifact"]["eval"])) == []
    assert names(questions.upstream_datasets(store, ids["artifact"]["m1"], type_names=("Examples",))) == ["train"]


def test_models_by_mlmd_base_type(store):
    model_type = store.put_artifact_type(pb.ArtifactType(name="SavedModel", base_type=pb.ArtifactType.MODEL))
    data_type = store.put_artifact_type(pb.ArtifactType(name="Table", base_type=pb.ArtifactType.DATASET))
    step = store.put_execution_type(pb.ExecutionType(name="Fit"))
    table, model = store.put_artifacts([pb.Artifact(type_id=data_type, name="t"), pb.Artifact(type_id=model_type)])
    [fit] = store.put_executions([pb.Execution(type_id=step)])
    store.put_events([pb.Event(artifact_id=table, execution_id=fit, type=pb.Event.INPUT),
                      pb.Event(artifact_id=model, execution_id=fit, type=pb.Event.OUTPUT)])  # fmt: skip
    assert [m.id for m in questions.models_trained_from(store, table)] == [model]
    assert [d.id for d in questions.upstream_datasets(store, model)] == [table]


def test_executions_reading_an_artifact(store, build):
    ids = build("diamond")
    readers = questions.executions_reading(store, ids["artifact"]["train"])
    assert names(readers) == ["t1", "t2"]  # INPUT and INTERNAL_INPUT; split only wrote it
    assert names(questions.executions_reading(store, ids["artifact"]["cache"])) == ["t1"]
    assert questions.executions_reading(store, ids["artifact"]["metrics"]) == []
    with pytest.raises(NotFoundError):
        questions.executions_reading(store, 12345)


def test_path_between_two_nodes(store, build):
    ids = build("diamond")
    d0, metrics = ("artifact", ids["artifact"]["d0"]), ("artifact", ids["artifact"]["metrics"])
    path = questions.path_between(store, d0, metrics)
    assert path.direction is Direction.DOWNSTREAM
    assert path.nodes[0] == d0 and path.nodes[-1] == metrics and len(path.nodes) == 5
    assert len(path.events) == 4
    back = questions.path_between(store, metrics, d0)
    assert back.direction is Direction.UPSTREAM
    assert back.nodes[0] == metrics and back.nodes[-1] == d0 and len(back.nodes) == 5
    m1, m2 = ("artifact", ids["artifact"]["m1"]), ("artifact", ids["artifact"]["m2"])
    sideways = questions.path_between(store, m1, m2)
    assert sideways.direction is Direction.BOTH and len(sideways.nodes) == 3  # m1 -> judge <- m2
    assert questions.path_between(store, d0, metrics, max_hops=3) is None
    assert questions.path_between(store, d0, d0).nodes == [d0]


def test_downstream_impact_of_a_bad_dataset(store, build):
    ids = build("shared")
    impact = questions.downstream_impact(store, ids["artifact"]["raw"])
    assert sorted(names(impact.graph.artifacts)) == ["ma", "mb", "pa", "raw", "shared"]
    assert sorted(names(impact.graph.executions)) == ["ingest", "pusha", "xa", "xb"]
    assert sorted(names(impact.graph.contexts)) == ["exp", "pipeline", "runA", "runB"]
    first = questions.downstream_impact(store, ids["artifact"]["raw"], max_nodes=4)
    assert first.truncated
    rest = questions.downstream_impact(store, ids["artifact"]["raw"], max_nodes=100, cursor=first.cursor)
    assert len(first.graph.artifacts) + len(first.graph.executions) + len(rest.graph.artifacts) + len(
        rest.graph.executions
    ) == 9


def test_runs_a_node_belongs_to(store, build):
    ids = build("shared")
    assert sorted(names(questions.runs_of(store, ("execution", ids["execution"]["xa"])))) == ["pipeline", "runA"]
    run_a = store.get_context_by_type_and_name("PipelineRun", "runA")
    experiment = store.get_context_by_type_and_name("Experiment", "exp")
    store.put_parent_contexts([pb.ParentContext(child_id=run_a.id, parent_id=experiment.id)])
    found = questions.runs_of(store, ("artifact", ids["artifact"]["ma"]))
    assert sorted(names(found)) == ["exp", "runA"]
    assert names(questions.runs_of(store, ("artifact", ids["artifact"]["ma"]), ancestors=False)) == ["runA"]
    with pytest.raises(InvalidArgumentError):
        questions.runs_of(store, ("context", run_a.id))


# --- mlineage lineage ---------------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli_store(tmp_path, sqlite_template):
    """A SQLite store holding the chain graph, and its URL (the command is backend-agnostic)."""
    import shutil

    import mlineage

    shutil.copy(sqlite_template, tmp_path / "cli.db")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    opened = mlineage.connect(url)
    ids = scenarios["build_graph"](opened, pb, scenarios["GRAPHS"]["chain"]())
    opened.close()
    return url, ids


def test_lineage_command(cli_store):
    store_url, ids = cli_store
    code, out, _ = run_cli("lineage", "--db", store_url, "--artifact", str(ids["artifact"]["a2"]), "--direction", "up")
    assert code == 0
    assert out.splitlines()[0].startswith("Model a2 [artifact")
    assert "Dataset d0" in out and "Metrics a3" not in out
    code, out, _ = run_cli("lineage", "--db", store_url, "--artifact", "Model:a2", "--depth", "1")
    assert code == 0 and "Trainer x2" in out and "Evaluator x3" in out and "Examples a1" not in out
    code, out, _ = run_cli("lineage", "--db", store_url, "--artifact", "/data/a2", "--format", "json")
    assert code == 0 and len(json.loads(out)["nodes"]) == 7
    code, out, _ = run_cli("lineage", "--db", store_url, "--execution", "Trainer:x2", "--format", "dot")
    assert code == 0 and out.startswith("digraph")
    code, out, _ = run_cli("lineage", "--db", store_url, "--execution", str(ids["execution"]["x2"]),
                           "--format", "mermaid", "--direction", "down")  # fmt: skip
    assert code == 0 and out.startswith("flowchart LR") and "Metrics a3" in out and "Dataset d0" not in out
    code, out, _ = run_cli("lineage", "--db", store_url, "--artifact", "1", "--format", "graphml")
    assert code == 0 and nx.read_graphml(io.StringIO(out)).number_of_nodes() == 7
    code, out, err = run_cli("lineage", "--db", store_url, "--artifact", "1", "--max-nodes", "2", "--format", "json")
    assert code == 0 and "truncated" in err


def test_lineage_command_errors(cli_store, tmp_path):
    store_url, _ = cli_store
    code, _, err = run_cli("lineage", "--db", store_url, "--artifact", "Model:nope")
    assert code == 2 and "no artifact of type 'Model' named 'nope'" in err
    code, _, err = run_cli("lineage", "--db", store_url, "--artifact", "gs://nowhere")
    assert code == 2 and "no artifact has the uri" in err
    code, _, err = run_cli("lineage", "--db", store_url, "--artifact", "4242")
    assert code == 2 and "no such nodes: artifact 4242" in err
    code, _, err = run_cli("lineage", "--db", f"sqlite:///{tmp_path / 'absent.db'}", "--artifact", "1")
    assert code == 2 and "no database" in err
    assert not (tmp_path / "absent.db").exists()
