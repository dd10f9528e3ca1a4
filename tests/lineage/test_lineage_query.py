"""lineage() (hydrated answers, filters, pages) and the deprecated GetLineageGraph, on both backends."""

from __future__ import annotations

import runpy

import pytest
from paths import SUPPORT

from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.lineage.query import direction_of, lineage
from mlineage.metadata.lineage_engine.traversal import Direction
from mlineage.proto import metadata_store_pb2 as pb

scenarios = runpy.run_path(str(SUPPORT / "lineage_scenarios.py"))


@pytest.fixture
def build(store):
    def _build(graph_name: str) -> dict[str, dict[str, int]]:
        return scenarios["build_graph"](store, pb, scenarios["GRAPHS"][graph_name]())

    return _build


def names(messages) -> list[str]:
    return sorted(m.name for m in messages)


# --- lineage() ----------------------------------------------------------------------------------


def test_lineage_answers_full_nodes_with_their_contexts_types_and_hops(store, build):
    ids = build("shared")
    answer = lineage(store, artifact_ids=[ids["artifact"]["ma"]], direction="up")
    assert names(answer.graph.artifacts) == ["ma", "raw", "shared"]
    assert names(answer.graph.executions) == ["ingest", "xa"]
    assert all(a.uri and a.type for a in answer.graph.artifacts)
    assert names(answer.graph.contexts) == ["exp", "pipeline", "runA"]
    assert {t.name for t in answer.graph.artifact_types} == {"Dataset", "Model"}
    assert {t.name for t in answer.graph.context_types} == {"Experiment", "Pipeline", "PipelineRun"}
    assert len(answer.graph.events) == 4 and all(e.path.steps for e in answer.graph.events)
    assert answer.hops[("artifact", ids["artifact"]["raw"])] == 4
    assert answer.starting == [("artifact", ids["artifact"]["ma"])]
    assert not answer.truncated and answer.cursor is None


def test_lineage_state_and_type_filters_take_names(store, build):
    ids = build("fan")
    answer = lineage(store, artifact_ids=[ids["artifact"]["merged"]], direction="down", artifact_states=["LIVE"],
                     execution_states=["COMPLETE"])  # fmt: skip
    # m2 and m4 are DELETED, ev4 FAILED, the metrics have no state: all dropped, and the walk pruned behind them.
    assert names(answer.graph.artifacts) == ["m1", "m3", "merged"]
    assert names(answer.graph.executions) == ["ev1", "ev3", "fit1", "fit2", "fit3", "fit4"]
    answer = lineage(store, artifact_ids=[ids["artifact"]["merged"]], direction="both", artifact_types=["Examples",
                     "Dataset"])  # fmt: skip
    assert names(answer.graph.artifacts) == ["ds1", "ds2", "ds3", "ds4", "ds5", "merged"]
    with pytest.raises(InvalidArgumentError, match="unknown state"):
        lineage(store, artifact_ids=[ids["artifact"]["merged"]], artifact_states=["SHINY"])


def test_lineage_ending_filters(store, build):
    ids = build("chain")
    start = [ids["artifact"]["d0"]]
    answer = lineage(store, artifact_ids=start, direction="down", ending_artifacts="type = 'Model'")
    assert names(answer.graph.artifacts) == ["a1", "a2", "d0"]
    answer = lineage(store, artifact_ids=start, direction="down", ending_artifacts="type = 'Model'",
                     include_ending=False)  # fmt: skip
    assert names(answer.graph.artifacts) == ["a1", "d0"]
    answer = lineage(store, artifact_ids=start, direction="down", ending_executions="type = 'Trainer'")
    assert names(answer.graph.executions) == ["x1", "x2"]


def test_lineage_pages(store, build):
    ids = build("fan")
    seen: list[str] = []
    cursor = None
    while True:
        answer = lineage(store, artifact_ids=[ids["artifact"]["ds1"]], max_nodes=5, cursor=cursor)
        seen += [n.name for n in (*answer.graph.artifacts, *answer.graph.executions)]
        if not answer.truncated:
            break
        cursor = answer.cursor
    assert len(seen) == len(set(seen)) == 23


def test_lineage_cursor_belongs_to_its_query(store, build):
    ids = build("fan")
    ds1, ds2 = ids["artifact"]["ds1"], ids["artifact"]["ds2"]
    first = lineage(store, artifact_ids=[ds1], max_nodes=5, artifact_states=["LIVE", "PENDING"])
    assert first.truncated and first.cursor
    other_queries = [
        {"artifact_ids": [ds2], "artifact_states": ["LIVE", "PENDING"]},
        {"artifact_ids": [ds1], "artifact_states": ["LIVE"]},
        {"artifact_ids": [ds1]},
        {"artifact_ids": [ds1], "artifact_states": ["LIVE", "PENDING"], "ending_artifacts": "type = 'Model'"},
        {"artifact_ids": [ds1], "artifact_states": ["LIVE", "PENDING"], "execution_types": ["Trainer"]},
        {"artifact_ids": [ds1], "artifact_states": ["LIVE", "PENDING"], "include_ending": False},
        {"artifact_ids": [ds1], "artifact_states": ["LIVE", "PENDING"], "direction": "down"},
    ]
    for query in other_queries:
        with pytest.raises(InvalidArgumentError, match="belongs to another query"):
            lineage(store, max_nodes=5, cursor=first.cursor, **query)
    # The same query, its filters written otherwise (a state by number, in another order), goes on.
    rest = lineage(store, artifact_ids=[ds1], max_nodes=50, artifact_states=[pb.Artifact.PENDING, "LIVE"],
                   cursor=first.cursor)  # fmt: skip
    assert not rest.truncated
    with pytest.raises(InvalidArgumentError, match="not one this server issued"):
        lineage(store, artifact_ids=[ds1], max_nodes=5, cursor=first.cursor[:-8])


def test_lineage_needs_existing_starting_nodes(store, build):
    build("chain")
    with pytest.raises(InvalidArgumentError):
        lineage(store)
    with pytest.raises(NotFoundError, match="artifact 999"):
        lineage(store, artifact_ids=[999])
    with pytest.raises(InvalidArgumentError, match="unknown direction"):
        direction_of("sideways")
    assert direction_of("upstream") is Direction.UPSTREAM


# --- GetLineageGraph ----------------------------------------------------------------------------


def graph_options(filter_query: str, **kwargs) -> pb.LineageGraphQueryOptions:
    options = pb.LineageGraphQueryOptions(**kwargs)
    options.artifacts_options.filter_query = filter_query
    return options


def test_lineage_graph_walks_both_ways_from_the_query_artifacts(store, build):
    build("chain")
    options = graph_options("name = 'a2'")
    options.stop_conditions.max_num_hops = 2
    graph = store.get_lineage_graph(options)
    assert names(graph.artifacts) == ["a1", "a2", "a3"]
    assert names(graph.executions) == ["x2", "x3"]
    assert len(graph.events) == 4
    # MLMD's QueryLineageGraph returns no contexts, leaves its mlmd.* system types out of the node
    # types, and returns every context type.
    assert not graph.contexts and not graph.attributions and not graph.associations
    assert {t.name for t in graph.artifact_types} == {"Dataset", "Examples", "Schema", "Model", "Metrics"}
    assert "mlmd.Train" not in {t.name for t in graph.execution_types}
    assert {t.name for t in graph.context_types} == {"Pipeline", "PipelineRun", "Experiment"}
    options.stop_conditions.max_num_hops = 0
    assert names(store.get_lineage_graph(options).artifacts) == ["a2"]


def test_lineage_graph_boundaries_drop_nodes_and_prune(store, build):
    build("chain")
    options = graph_options("name = 'a3'")
    options.stop_conditions.boundary_artifacts = "name != 'a1'"
    graph = store.get_lineage_graph(options)
    assert names(graph.artifacts) == ["a2", "a3"] and names(graph.executions) == ["x2", "x3"]
    options = graph_options("name = 'a3'")
    options.stop_conditions.boundary_executions = "type != 'Trainer'"
    graph = store.get_lineage_graph(options)
    assert names(graph.artifacts) == ["a2", "a3"] and names(graph.executions) == ["x3"]


def test_lineage_graph_defaults_to_20_hops_and_20_nodes(store, build):
    build("long")
    graph = store.get_lineage_graph(graph_options("name = 'c0'"))
    assert len(graph.artifacts) + len(graph.executions) == 20
    graph = store.get_lineage_graph(graph_options("name = 'c0'", max_node_size=0))
    assert len(graph.artifacts) + len(graph.executions) == 21  # 20 hops at most, even when more are asked
    options = graph_options("name = 'c0'", max_node_size=-1)
    options.stop_conditions.max_num_hops = 50
    assert len(store.get_lineage_graph(options).executions) == 10
    # Events only join the nodes returned.
    graph = store.get_lineage_graph(graph_options("name = 'c0'", max_node_size=5))
    kept = {a.id for a in graph.artifacts}, {e.id for e in graph.executions}
    assert len(graph.events) == 4
    assert all(e.artifact_id in kept[0] and e.execution_id in kept[1] for e in graph.events)


def test_lineage_graph_returns_every_query_artifact_even_past_the_cap(store, build):
    build("fan")
    graph = store.get_lineage_graph(graph_options("type = 'Dataset'", max_node_size=3))
    assert names(graph.artifacts) == ["ds1", "ds2", "ds3", "ds4", "ds5"] and not graph.executions


def test_lineage_graph_errors(store, build):
    build("chain")
    with pytest.raises(InvalidArgumentError, match="Missing query_nodes"):
        store.get_lineage_graph(pb.LineageGraphQueryOptions())
    with pytest.raises(NotFoundError, match="does not match any nodes"):
        store.get_lineage_graph(graph_options("name = 'nothing'"))
    options = graph_options("name = 'a2'")
    options.stop_conditions.max_num_hops = -1
    with pytest.raises(InvalidArgumentError, match="negative"):
        store.get_lineage_graph(options)
