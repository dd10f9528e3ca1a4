"""GetLineageSubgraph's type fields from the gRPC service's by-id cache: MLMD's answer, never a stale one.

The server answers every type of the store in a lineage subgraph's
``*_types`` fields. While the database is unchanged the service keeps their
wire form and reads only the walk; pinned here: the answers equal the
uncached service's for every read mask; a repeated query reads no type
table; a type committed by anyone (the same store, another connection,
plain sqlite3) is in the next answer.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event

import mlineage
from mlineage.api.grpc.service import MetadataStoreServicer, _serialize
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

_Q = pb.LineageSubgraphQueryOptions

MASKS = (
    (),
    ("artifact_types",),
    ("events", "context_types"),
    ("artifacts", "execution_types", "artifact_types", "context_types"),
    ("artifacts", "not_a_field"),
    ("not_a_field",),
    ("", "executions", "artifact_types"),
)


class _Context:
    def abort(self, code, details):
        raise AssertionError(f"{code}: {details}")


def _subgraph(servicer: MetadataStoreServicer, start: int, mask=()) -> svc.GetLineageSubgraphResponse:
    request = svc.GetLineageSubgraphRequest(
        lineage_subgraph_query_options=_Q(
            starting_artifacts=_Q.StartingNodes(filter_query=f"id = {start}"), max_num_hops=10
        )
    )
    request.read_mask.paths.extend(mask)
    return svc.GetLineageSubgraphResponse.FromString(_serialize(servicer.GetLineageSubgraph(request, _Context())))


@pytest.fixture
def pipeline(tmp_path):
    url = f"sqlite:///{tmp_path / 'lineage.db'}"
    store = mlineage.connect(url)
    data = store.put_artifact_type(pb.ArtifactType(name="Data", properties={"span": pb.INT}))
    model = store.put_artifact_type(pb.ArtifactType(name="Model"))
    train = store.put_execution_type(pb.ExecutionType(name="Train"))
    run = store.put_context_type(pb.ContextType(name="Run"))
    [raw, trained] = store.put_artifacts([pb.Artifact(type_id=data, uri="/raw"), pb.Artifact(type_id=model, uri="/m")])
    [execution] = store.put_executions([pb.Execution(type_id=train)])
    [context] = store.put_contexts([pb.Context(type_id=run, name="r1")])
    store.put_events([
        pb.Event(artifact_id=raw, execution_id=execution, type=pb.Event.INPUT),
        pb.Event(artifact_id=trained, execution_id=execution, type=pb.Event.OUTPUT),
    ])  # fmt: skip
    store.put_attributions_and_associations(
        [pb.Attribution(context_id=context, artifact_id=raw)], [pb.Association(context_id=context, execution_id=execution)]
    )
    yield url, store, raw
    store.close()


def test_answers_with_held_types_are_the_uncached_answers(pipeline):
    _, store, raw = pipeline
    cached, plain = MetadataStoreServicer(store, cache=True), MetadataStoreServicer(store, cache=False)
    for _ in range(2):  # a miss, then a hit
        for mask in MASKS:
            assert _subgraph(cached, raw, mask) == _subgraph(plain, raw, mask), mask
    assert {t.name for t in _subgraph(cached, raw).lineage_subgraph.artifact_types} >= {"Data", "Model"}


def test_a_repeated_query_reads_no_type(pipeline):
    _, store, raw = pipeline
    statements: list[str] = []
    store.engine.dispose()  # new pooled connections get the trace
    event.listen(store.engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    servicer = MetadataStoreServicer(store, cache=True)
    first = _subgraph(servicer, raw)
    assert any(" types" in sql for sql in statements)
    statements.clear()
    assert _subgraph(servicer, raw) == first
    assert statements and not any(" types" in sql or "type_properties" in sql for sql in statements)


def test_a_type_committed_by_anyone_is_in_the_next_answer(pipeline):
    url, store, raw = pipeline
    servicer = MetadataStoreServicer(store, cache=True)

    def names(kind: str) -> set[str]:
        return {t.name for t in getattr(_subgraph(servicer, raw).lineage_subgraph, kind)}

    assert "Schema" not in names("artifact_types")
    store.put_artifact_type(pb.ArtifactType(name="Schema"))
    assert "Schema" in names("artifact_types")

    other = mlineage.connect(url)  # another process or server on the same file
    other.put_execution_type(pb.ExecutionType(name="Evaluate"))
    other.close()
    assert "Evaluate" in names("execution_types")

    db = sqlite3.connect(url.removeprefix("sqlite:///"))  # outside mlineage altogether
    db.execute("UPDATE types SET name = 'Runs' WHERE name = 'Run'")
    db.commit()
    db.close()
    assert "Runs" in names("context_types") and "Run" not in names("context_types")


def test_a_type_committed_while_the_walk_runs_is_not_answered_from_before(pipeline):
    url, store, raw = pipeline
    servicer = MetadataStoreServicer(store, cache=True)
    _subgraph(servicer, raw)  # the types are held
    walk = servicer._lineage_subgraph

    def walk_then_commit(request, paths, *, with_types=True, **options):
        response = walk(request, paths, with_types=with_types, **options)
        if not with_types:  # the answer from held types: another writer commits right after the walk
            other = mlineage.connect(url)
            other.put_artifact_type(pb.ArtifactType(name="Data", properties={"span": pb.INT, "split": pb.STRING}),
                                    can_add_fields=True)  # fmt: skip
            other.close()
        return response

    servicer._lineage_subgraph = walk_then_commit
    [data] = [t for t in _subgraph(servicer, raw).lineage_subgraph.artifact_types if t.name == "Data"]
    assert "split" in data.properties  # read again after the commit, not the types held from before
