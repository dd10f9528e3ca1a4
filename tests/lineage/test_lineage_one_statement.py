"""The plain walk and the one-statement walk (a recursive CTE) answer exactly what the frontier walk answers.

Every node of the scenario graphs and of a random DAG with diamonds and
shared inputs is a starting point, in every direction and at hop limits from
0 past the graph's depth; the two walks must agree on nodes, the hop of each,
their order and the edges. GetLineageSubgraph without ending nodes uses
the one-statement walk where the database supports it (PostgreSQL) and the
plain walk elsewhere; its answer stays MLMD's (tests/test_lineage_mlmd.py).
"""

from __future__ import annotations

import random
import runpy

import pytest
from paths import SUPPORT

from mlineage.metadata.lineage_engine import one_statement
from mlineage.metadata.lineage_engine.mlmd import subgraph_walk
from mlineage.metadata.lineage_engine.reads import EventReader
from mlineage.metadata.lineage_engine.traversal import Direction, plain_walk, traverse
from mlineage.proto import metadata_store_pb2 as pb

scenarios = runpy.run_path(str(SUPPORT / "lineage_scenarios.py"))
HOPS = (0, 1, 2, 3, 5, 8, 100)


def _random_dag(seed: int) -> dict:
    rng = random.Random(seed)
    artifacts = {f"r{i}": ("Examples", None) for i in range(30)}
    executions = {f"q{i}": ("Trainer", None) for i in range(20)}
    events = []
    for i in range(20):
        inputs = rng.sample(range(min(30, 2 * i + 2)), k=min(3, 2 * i + 2))
        outputs = rng.sample(range(30), k=2)
        events += [(f"r{a}", f"q{i}", "INPUT") for a in inputs]
        events += [(f"r{a}", f"q{i}", "OUTPUT") for a in outputs if a not in inputs]
    return {"artifacts": artifacts, "executions": executions, "events": events, "contexts": {}}


def _full_rows(connection, edges) -> list[tuple]:
    reader = EventReader(connection)
    try:
        return reader.event_rows([edge.id for edge in edges])
    finally:
        reader.close()


def _agree(connection, **start) -> None:
    for direction in Direction:
        for hops in HOPS:
            frontier = traverse(connection, direction=direction, max_hops=hops, **start)
            plain = plain_walk(connection, direction=direction, max_hops=hops, **start)
            where = f"{start} {direction.name} hops={hops}"
            assert list(plain.artifacts.items()) == list(frontier.artifacts.items()), where
            assert list(plain.executions.items()) == list(frontier.executions.items()), where
            assert plain.events == sorted(frontier.events) and plain.hops == frontier.hops, where
            assert plain.event_rows == {row[0]: row for row in _full_rows(connection, frontier.events)}, where
            if not one_statement.supported(connection):
                continue
            statement = one_statement.walk(connection, direction=direction, max_hops=hops, **start)
            assert list(statement.artifacts.items()) == list(frontier.artifacts.items()), where
            assert list(statement.executions.items()) == list(frontier.executions.items()), where
            assert statement.events == sorted(frontier.events), where
            assert statement.event_rows == {row[0]: row for row in _full_rows(connection, frontier.events)}, where


@pytest.mark.parametrize("graph_name", [*scenarios["GRAPHS"], "random"])
def test_plain_and_one_statement_walks_match_the_frontier_walk(store, graph_name):
    graph = _random_dag(7) if graph_name == "random" else scenarios["GRAPHS"][graph_name]()
    ids = scenarios["build_graph"](store, pb, graph)
    with store.reading() as connection:
        for artifact_id in ids["artifact"].values():
            _agree(connection, artifact_ids=[artifact_id])
        for execution_id in ids["execution"].values():
            _agree(connection, execution_ids=[execution_id])
        _agree(connection, artifact_ids=list(ids["artifact"].values())[:3])


def test_one_statement_walk_reads_memberships(store):
    ids = scenarios["build_graph"](store, pb, scenarios["GRAPHS"]["shared"]())
    with store.reading() as connection:
        if not one_statement.supported(connection):
            # SQLite walks hop by hop (one JSON-array CTE measured slower there), MySQL too (the one
            # statement is PostgreSQL's SQL text): nothing to compare.
            assert connection.dialect.name in ("sqlite", "mysql")
            return
        from mlineage.metadata.lineage_engine.graph import memberships

        for artifact_id in ids["artifact"].values():
            walk = one_statement.walk(connection, artifact_ids=[artifact_id], max_hops=100, with_memberships=True)
            expected = memberships(connection, list(walk.artifacts), list(walk.executions))
            assert (walk.attributions, walk.associations) == expected


def test_lineage_subgraph_walks_in_one_statement_where_supported(store):
    ids = scenarios["build_graph"](store, pb, scenarios["GRAPHS"]["long"]())
    q = pb.LineageSubgraphQueryOptions
    options = q(starting_artifacts=q.StartingNodes(filter_query=f"id = {ids['artifact']['c60']}"), max_num_hops=100)
    ending = q(
        starting_artifacts=q.StartingNodes(filter_query=f"id = {ids['artifact']['c60']}"),
        ending_artifacts=q.EndingNodes(filter_query="name = 'c10'"),
    )
    with store.reading() as connection:
        walk = subgraph_walk(connection, options, store.namespace)
        assert isinstance(walk, one_statement.StatementWalk) == one_statement.supported(connection)
        assert walk.events == sorted(walk.events)  # the plain and one-statement walks, not the frontier walk
        assert len(walk.artifacts) == 51 and len(walk.executions) == 50
        # Ending nodes are the frontier walk's.
        assert not isinstance(subgraph_walk(connection, ending, store.namespace), one_statement.StatementWalk)


def test_starting_filters_with_lists_are_compiled_per_text(store):
    # Starting filters run as statements compiled once per text; IN lists are part of the text.
    ids = scenarios["build_graph"](store, pb, scenarios["GRAPHS"]["chain"]())
    q = pb.LineageSubgraphQueryOptions
    names = {}
    for first, second in (("d0", "a1"), ("a2", "a3"), ("d0", "a1")):
        wanted = f"id IN ({ids['artifact'][first]}, {ids['artifact'][second]})"
        options = q(starting_artifacts=q.StartingNodes(filter_query=wanted), max_num_hops=0)
        graph = store.get_lineage_subgraph(options)
        names[(first, second)] = sorted(a.name for a in graph.artifacts)
        assert names[(first, second)] == sorted([first, second])


def test_the_one_statement_walk_answers_a_row_per_hop_not_one_per_node(store, monkeypatch):
    # The driver parses every row in Python: each hop's frontiers and each kind of membership come back
    # as arrays, so the rows beyond the events are a few per hop, however many nodes a hop reaches.
    from mlineage.metadata import executor

    ids = scenarios["build_graph"](store, pb, scenarios["GRAPHS"]["many"]())  # 105 inputs of one execution
    answered: list[int] = []
    fetch_text = executor.fetch_text
    monkeypatch.setattr(executor, "fetch_text", lambda *args: answered.append(len(rows := fetch_text(*args))) or rows)
    with store.reading() as connection:
        if not one_statement.supported(connection):
            assert connection.dialect.name in ("sqlite", "mysql")  # they walk hop by hop
            return
        walk = one_statement.walk(
            connection,
            artifact_ids=[ids["artifact"]["out"]],
            direction=Direction.UPSTREAM,
            max_hops=100,
            with_memberships=True,
        )
        frontier = traverse(connection, artifact_ids=[ids["artifact"]["out"]], direction=Direction.UPSTREAM, max_hops=100)
    assert list(walk.artifacts.items()) == list(frontier.artifacts.items()) and len(walk.artifacts) == 106
    assert list(walk.executions.items()) == list(frontier.executions.items()) and walk.hops == 2
    [rows] = answered
    # Beyond the events: a row per hop (0..2, and the empty one the walk stopped at), one per kind of membership.
    assert rows - len(walk.events) <= walk.hops + 2 + 2
