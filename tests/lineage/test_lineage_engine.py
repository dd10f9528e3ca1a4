"""The traversal engine on hand-built graphs with known answers, on SQLite and PostgreSQL.

Graphs (tests/lineage_scenarios.py):
  chain:   d0 -> x1 -> a1 -> x2 -> a2 -> x3 -> a3
  diamond: d0 -> split -> {train, eval}; train -> t1 -> m1, train -> t2 -> m2; {m1, m2, eval} -> judge -> metrics
  fan:     ds1..ds5 -> merge -> merged -> fit1..fit4 -> m1..m4 -> ev1..ev4 -> r1..r4
  cycle:   a1 -> x1 -> a2 -> x2 -> a1 (and x2 -> a3, a2 -> x1)
"""

from __future__ import annotations

import base64
import json
import runpy
import zlib

import pytest
from paths import SUPPORT

from mlineage.errors import InvalidArgumentError
from mlineage.metadata.lineage_engine import reads, traversal
from mlineage.metadata.lineage_engine.traversal import (
    Direction,
    Ending,
    filter_test,
    traverse,
    type_state_test,
)
from mlineage.proto import metadata_store_pb2 as pb

scenarios = runpy.run_path(str(SUPPORT / "lineage_scenarios.py"))
UP, DOWN, BOTH = Direction.UPSTREAM, Direction.DOWNSTREAM, Direction.BOTH


@pytest.fixture
def build(store):
    def _build(graph_name: str) -> dict[str, dict[str, int]]:
        return scenarios["build_graph"](store, pb, scenarios["GRAPHS"][graph_name]())

    return _build


def _names(ids):
    return {kind: {v: k for k, v in by_name.items()} for kind, by_name in ids.items()}


def walk(store, ids, *, artifacts=(), executions=(), **options):
    """The walk as {name: hop} and its edges as {(artifact, execution, type)}."""
    names = _names(ids)
    with store.reading() as connection:
        result = traverse(
            connection,
            artifact_ids=[ids["artifact"][a] for a in artifacts],
            execution_ids=[ids["execution"][e] for e in executions],
            **options,
        )
    nodes = {names["artifact"][i]: h for i, h in result.artifacts.items()}
    nodes.update({names["execution"][i]: h for i, h in result.executions.items()})
    edges = {(names["artifact"][e.artifact_id], names["execution"][e.execution_id], e.type) for e in result.events}
    return nodes, edges, result


IN, OUT = pb.Event.INPUT, pb.Event.OUTPUT


@pytest.mark.parametrize(
    ("direction", "hops", "expected"),
    [
        (UP, 0, {"a2": 0}),
        (UP, 1, {"a2": 0, "x2": 1}),
        (UP, 2, {"a2": 0, "x2": 1, "a1": 2}),
        (UP, 100, {"a2": 0, "x2": 1, "a1": 2, "x1": 3, "d0": 4}),
        (DOWN, 2, {"a2": 0, "x3": 1, "a3": 2}),
        (DOWN, 1, {"a2": 0, "x3": 1}),
        (BOTH, 1, {"a2": 0, "x2": 1, "x3": 1}),
        (BOTH, 2, {"a2": 0, "x2": 1, "x3": 1, "a1": 2, "a3": 2}),
    ],
)
def test_chain_directions_and_hops_count_artifact_to_execution_as_one(store, build, direction, hops, expected):
    ids = build("chain")
    nodes, _, result = walk(store, ids, artifacts=["a2"], direction=direction, max_hops=hops)
    assert nodes == expected
    assert not result.truncated and result.cursor is None


def test_walk_from_an_execution_alternates_kinds(store, build):
    ids = build("chain")
    nodes, edges, _ = walk(store, ids, executions=["x2"], direction=UP, max_hops=3)
    assert nodes == {"x2": 0, "a1": 1, "x1": 2, "d0": 3}
    assert edges == {("a1", "x2", IN), ("a1", "x1", OUT), ("d0", "x1", IN)}


def test_diamond_nodes_are_visited_once_at_their_shortest_distance(store, build):
    ids = build("diamond")
    nodes, edges, _ = walk(store, ids, artifacts=["metrics"], direction=UP)
    assert nodes == {
        "metrics": 0, "judge": 1, "m1": 2, "m2": 2, "eval": 2, "t1": 3, "t2": 3, "split": 3,
        "train": 4, "cache": 4, "d0": 4,
    }  # fmt: skip
    # One-way walks keep edges into already visited nodes too (train -> split is found from both trainers).
    assert ("train", "split", OUT) in edges and ("eval", "split", pb.Event.DECLARED_OUTPUT) in edges
    assert ("cache", "t1", IN) in edges and ("cache", "t1", OUT) in edges
    assert len(edges) == 13


def test_bidirectional_walk_keeps_the_edges_to_new_nodes(store, build):
    ids = build("diamond")
    nodes, edges, _ = walk(store, ids, artifacts=["train"], direction=BOTH, max_hops=2)
    assert nodes == {"train": 0, "split": 1, "t1": 1, "t2": 1, "d0": 2, "eval": 2, "m1": 2, "m2": 2, "cache": 2}
    assert edges == {
        ("train", "split", OUT), ("train", "t1", IN), ("train", "t2", pb.Event.INTERNAL_INPUT),
        ("d0", "split", pb.Event.DECLARED_INPUT), ("eval", "split", pb.Event.DECLARED_OUTPUT),
        ("m1", "t1", OUT), ("m2", "t2", pb.Event.PENDING_OUTPUT), ("cache", "t1", IN), ("cache", "t1", OUT),
    }  # fmt: skip


def test_cycles_end(store, build):
    ids = build("cycle")
    for direction in (UP, DOWN, BOTH):
        nodes, _, _ = walk(store, ids, artifacts=["a1"], direction=direction)
        assert set(nodes) >= {"a1", "x1", "a2", "x2"}
    nodes, _, _ = walk(store, ids, artifacts=["a1"], direction=DOWN)
    assert nodes == {"a1": 0, "x1": 1, "a2": 2, "x2": 3, "a3": 4}


def test_several_starting_nodes_of_both_kinds(store, build):
    ids = build("fan")
    nodes, _, _ = walk(store, ids, artifacts=["m1", "m2"], executions=["ev4"], direction=DOWN)
    assert nodes == {"m1": 0, "m2": 0, "ev4": 0, "ev1": 1, "ev2": 1, "r4": 1, "r1": 2, "r2": 2}


def test_ending_nodes_stop_the_walk_and_are_kept_only_when_included(store, build):
    ids = build("chain")
    stop_a1 = filter_test({"artifact": "name = 'a1'"})
    nodes, edges, result = walk(store, ids, artifacts=["a3"], direction=UP, ending=Ending(artifacts=stop_a1))
    assert nodes == {"a3": 0, "x3": 1, "a2": 2, "x2": 3}
    assert ("a1", "x2", IN) not in {(a, e, t) for a, e, t in edges}
    assert result.ending_artifacts == {ids["artifact"]["a1"]}
    nodes, edges, _ = walk(
        store, ids, artifacts=["a3"], direction=UP, ending=Ending(artifacts=stop_a1, include_artifacts=True)
    )
    assert nodes == {"a3": 0, "x3": 1, "a2": 2, "x2": 3, "a1": 4}
    assert ("a1", "x2", IN) in edges


def test_a_starting_node_matching_the_ending_filter_is_not_expanded(store, build):
    ids = build("chain")
    ending = Ending(artifacts=filter_test({"artifact": "name = 'a2'"}), include_artifacts=True)
    nodes, edges, _ = walk(store, ids, artifacts=["a2"], ending=ending)
    assert nodes == {"a2": 0} and edges == set()


def test_type_and_state_filters_drop_nodes_and_prune_behind_them(store, build):
    ids = build("fan")
    keep = type_state_test(artifact_states=[pb.Artifact.LIVE])  # m2 and m4 are DELETED
    nodes, edges, _ = walk(store, ids, artifacts=["merged"], direction=DOWN, keep=keep)
    assert {"m1", "m3"} <= set(nodes) and not {"m2", "m4", "ev2", "ev4", "r2", "r4"} & set(nodes)
    assert all(a not in ("m2", "m4") for a, _, _ in edges)
    keep = type_state_test(execution_types=["ExampleGen", "Trainer"])
    nodes, _, _ = walk(store, ids, artifacts=["ds1"], direction=DOWN, keep=keep)
    assert set(nodes) == {"ds1", "merge", "merged", "fit1", "fit2", "fit3", "fit4", "m1", "m2", "m3", "m4"}


def test_a_node_cap_answers_pages_that_add_up_to_the_whole_walk(store, build):
    ids = build("fan")
    full, full_edges, _ = walk(store, ids, artifacts=["ds1"], direction=BOTH)
    seen: dict[str, int] = {}
    seen_edges: set = set()
    cursor = None
    pages = 0
    while True:
        nodes, edges, result = walk(store, ids, artifacts=["ds1"], direction=BOTH, max_nodes=4, cursor=cursor)
        pages += 1
        assert len(nodes) <= 4
        assert not set(nodes) & set(seen), "a page repeated a node"
        assert not edges & seen_edges, "a page repeated an edge"
        seen.update(nodes)
        seen_edges |= edges
        if not result.truncated:
            assert result.cursor is None
            break
        cursor = result.cursor
    assert seen == full and seen_edges == full_edges
    assert pages == -(-len(full) // 4)


def test_starting_nodes_are_always_in_the_first_page(store, build):
    ids = build("fan")
    nodes, _, result = walk(store, ids, artifacts=["ds1", "ds2", "ds3"], max_nodes=2)
    assert set(nodes) == {"ds1", "ds2", "ds3"} and result.truncated


def test_a_cursor_must_come_from_the_same_query(store, build):
    ids = build("fan")
    _, _, result = walk(store, ids, artifacts=["ds1"], max_nodes=2)
    with pytest.raises(InvalidArgumentError, match="another direction or hop limit"):
        walk(store, ids, artifacts=["ds1"], max_nodes=2, cursor=result.cursor, direction=UP)
    with pytest.raises(InvalidArgumentError, match="not one this server issued"):
        walk(store, ids, artifacts=["ds1"], max_nodes=2, cursor="garbage")


def _rewritten(cursor: str, change) -> str:
    """``cursor`` with its JSON body changed by ``change`` (a client forging a token)."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    body = json.loads(raw if raw[:1] == b"{" else zlib.decompress(raw))
    change(body)
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(body).encode())).decode().rstrip("=")


def test_a_cursor_is_bound_to_the_starting_nodes_and_tests_of_its_query(store, build):
    ids = build("fan")
    _, _, result = walk(store, ids, artifacts=["ds1"], max_nodes=2)
    assert result.truncated
    message = "another query .*starting nodes"
    with pytest.raises(InvalidArgumentError, match=message):
        walk(store, ids, artifacts=["ds2"], max_nodes=2, cursor=result.cursor)
    with pytest.raises(InvalidArgumentError, match=message):
        walk(store, ids, artifacts=["ds1", "ds2"], max_nodes=2, cursor=result.cursor)
    with pytest.raises(InvalidArgumentError, match=message):
        walk(store, ids, artifacts=["ds1"], max_nodes=2, cursor=result.cursor, max_hops=3)
    with pytest.raises(InvalidArgumentError, match=message):
        walk(store, ids, artifacts=["ds1"], max_nodes=2, cursor=result.cursor, ending=Ending(include_artifacts=True))
    keep = type_state_test(execution_types=["Trainer"])
    with pytest.raises(InvalidArgumentError, match=message):
        walk(store, ids, artifacts=["ds1"], max_nodes=2, cursor=result.cursor, keep=keep)
    with pytest.raises(InvalidArgumentError, match=message):
        walk(store, ids, artifacts=["ds1"], max_nodes=2, cursor=result.cursor, bound=["type = 'Model'"])
    # The same query goes on, whatever the page size.
    nodes, _, _ = walk(store, ids, artifacts=["ds1"], max_nodes=100, cursor=result.cursor)
    assert nodes


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body.pop("f"),
        lambda body: body.pop("pe"),
        lambda body: body.pop("q"),
        lambda body: body.update(v=2),
        lambda body: body.update(hop="one"),
        lambda body: body.update(f={"artifact": []}),
        lambda body: body.update(f={"artifact": [], "execution": [], "context": []}),
        lambda body: body.update(s={"artifact": [[1, 2], [0]], "execution": [[], []]}),
        lambda body: body.update(p=[["context", 1, 0]]),
        lambda body: body.update(p=[["artifact", 2**63, 0]]),
        lambda body: body.update(p=[["artifact", True, 0]]),
        lambda body: body.update(pe=[["artifact", 1, [[1, 2]]]]),
        lambda body: body.update(pe={"a": 1}),
    ],
)
def test_a_forged_cursor_is_an_invalid_argument(store, build, change):
    ids = build("fan")
    _, _, result = walk(store, ids, artifacts=["ds1"], max_nodes=2)
    forged = _rewritten(result.cursor, change)
    with pytest.raises(InvalidArgumentError, match="not one this server issued"):
        walk(store, ids, artifacts=["ds1"], max_nodes=2, cursor=forged)
    # The rewriting itself keeps a cursor good.
    nodes, _, _ = walk(store, ids, artifacts=["ds1"], max_nodes=2, cursor=_rewritten(result.cursor, lambda body: None))
    assert nodes


def test_bad_limits_are_invalid_arguments(store, build):
    ids = build("chain")
    with pytest.raises(InvalidArgumentError):
        walk(store, ids, artifacts=["a2"], max_hops=-1)
    with pytest.raises(InvalidArgumentError):
        walk(store, ids, artifacts=["a2"], max_nodes=0)


def test_one_events_query_per_hop_and_side(store, build, monkeypatch):
    """The cost is one indexed query per hop (and per kind in the frontier), whatever the store holds."""
    ids = build("long")
    calls = []
    original = reads.EventReader.events_of

    def counting(self, kind, node_ids, types=None):
        calls.append(len(node_ids))
        return original(self, kind, node_ids, types)

    monkeypatch.setattr(reads.EventReader, "events_of", counting)
    nodes, _, result = walk(store, ids, artifacts=["c60"], direction=UP, max_hops=40)
    assert len(nodes) == 41 and result.hops == 40
    assert calls == [1] * 40


def test_neighbours_and_induced_edges(store, build):
    ids = build("diamond")
    with store.reading() as connection:
        pairs = traversal.neighbours(connection, traversal.ARTIFACT, [ids["artifact"]["train"]], DOWN)
        assert sorted(e for _, e in pairs) == sorted([ids["execution"]["t1"], ids["execution"]["t2"]])
        edges = reads.events_between(
            connection, [ids["artifact"]["m1"], ids["artifact"]["m2"]], [ids["execution"]["judge"]]
        )
        assert len(edges) == 2
