"""lineage() through a server (grpc://, HistoryService.GetLineage) answers what it answers on the database itself.

Each query runs on the embedded store (SQLite, PostgreSQL) and on a GrpcStore of a server over that
same store; the answers must be equal whole: the hydrated graph, each node's hop, truncation, the
cursor (a cursor from one goes on in the other), tombstones of deleted nodes, and the errors.
"""

from __future__ import annotations

import runpy

import pytest
from paths import SUPPORT

import mlineage
from mlineage.api.grpc.server import build_server
from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.lineage.query import lineage
from mlineage.proto import metadata_store_pb2 as pb

scenarios = runpy.run_path(str(SUPPORT / "lineage_scenarios.py"))


@pytest.fixture
def served(store):
    """(the embedded store, a GrpcStore of a server over it, the built graphs' ids by name)."""
    ids = {name: scenarios["build_graph"](store, pb, scenarios["GRAPHS"][name]()) for name in ("chain", "fan")}
    server, port = build_server(store, host="127.0.0.1", port=0, max_workers=4)
    server.start()
    remote = mlineage.connect(f"grpc://127.0.0.1:{port}")
    try:
        yield store, remote, ids
    finally:
        remote.close()
        server.stop(0)


def _same(embedded, remote, **query) -> None:
    local, far = lineage(embedded, **query), lineage(remote, **query)
    assert far.graph == local.graph, query
    assert list(far.hops.items()) == list(local.hops.items()), query
    assert (far.truncated, far.cursor, far.tombstones) == (local.truncated, local.cursor, local.tombstones)
    assert (far.starting, far.direction, far.max_hops) == (local.starting, local.direction, local.max_hops)
    return local


def test_every_kind_of_query_answers_the_same_through_a_server(served):
    embedded, remote, ids = served
    chain, fan = ids["chain"], ids["fan"]
    queries = [
        {"artifact_ids": [chain["artifact"]["a3"]], "direction": "up"},
        {"artifact_ids": [chain["artifact"]["d0"]], "direction": "down", "max_hops": 3},
        {"execution_ids": [chain["execution"]["x2"]]},
        {"artifact_ids": [chain["artifact"]["d0"]], "direction": "down", "ending_artifacts": "type = 'Model'"},
        {"artifact_ids": [chain["artifact"]["d0"]], "direction": "down", "ending_artifacts": "type = 'Model'",
         "include_ending": False},
        {"artifact_ids": [chain["artifact"]["d0"]], "direction": "down", "ending_executions": "type = 'Trainer'"},
        {"artifact_ids": [fan["artifact"]["merged"]], "direction": "down", "artifact_states": ["LIVE"],
         "execution_states": ["COMPLETE"]},
        {"artifact_ids": [fan["artifact"]["merged"]], "artifact_types": ["Examples", "Dataset"]},
        {"artifact_ids": [fan["artifact"]["merged"]], "artifact_types": []},
        {"artifact_ids": [fan["artifact"]["merged"]], "execution_types": ["Trainer"], "with_contexts": False},
    ]  # fmt: skip
    answers = [_same(embedded, remote, **query) for query in queries]
    # Not vacuous: the queries answer different, non-empty graphs.
    assert all(answer.graph.artifacts for answer in answers)
    assert len({answer.graph.SerializeToString(deterministic=True) for answer in answers}) >= 7
    assert len(answers[3].graph.artifacts) == len(answers[4].graph.artifacts) + 1  # the ending Model left out
    assert not answers[-1].graph.contexts and answers[0].graph.contexts


def test_pages_and_cursors_are_the_same_through_a_server(served):
    embedded, remote, ids = served
    start = [ids["fan"]["artifact"]["ds1"]]
    seen: list[str] = []
    cursor = None
    pages = 0
    while pages < 10:
        # Both stores go on from the cursor of the page before (the cursors are equal, so either's).
        answer = _same(embedded, remote, artifact_ids=start, max_nodes=5, cursor=cursor)
        pages += 1
        seen += [n.name for n in (*answer.graph.artifacts, *answer.graph.executions)]
        if not answer.truncated:
            break
        cursor = answer.cursor
    assert pages > 2 and len(seen) == len(set(seen)) == 23
    with pytest.raises(InvalidArgumentError, match="belongs to another query"):
        lineage(remote, artifact_ids=start, max_nodes=5, cursor=cursor, direction="down")


def test_a_walk_through_deleted_nodes_has_the_same_tombstones_through_a_server(served):
    embedded, remote, ids = served
    chain = ids["chain"]
    embedded.delete_executions([chain["execution"]["x2"]])
    answer = _same(embedded, remote, artifact_ids=[chain["artifact"]["a3"]], direction="up")
    [tombstone] = answer.tombstones
    assert (tombstone.kind, tombstone.id, tombstone.name) == ("execution", chain["execution"]["x2"], "x2")
    assert chain["artifact"]["d0"] in {a.id for a in answer.graph.artifacts}  # walked on past it


def test_errors_through_a_server_are_the_embedded_stores(served):
    embedded, remote, ids = served
    for store in (embedded, remote):
        with pytest.raises(NotFoundError, match="artifact 999999"):
            lineage(store, artifact_ids=[999999])
        with pytest.raises(InvalidArgumentError):
            lineage(store, artifact_ids=[ids["chain"]["artifact"]["d0"]], ending_artifacts="type = ")
        with pytest.raises(InvalidArgumentError, match="not one this server issued"):
            lineage(store, artifact_ids=[ids["chain"]["artifact"]["d0"]], max_nodes=2, cursor="bogus")
        with pytest.raises(InvalidArgumentError, match="negative"):
            lineage(store, artifact_ids=[ids["chain"]["artifact"]["d0"]], max_hops=-1)
