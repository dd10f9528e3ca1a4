"""The gRPC service's by-id cache on PostgreSQL: valid while the server's snapshot is unchanged.

Pinned here: cached answers equal the uncached service's for every request shape;
a repeated get is one round trip (the snapshot) and reads no node; a commit by
another store on the same database (another replica), by plain SQL outside
mlineage, or a type that grew, is seen by the next get; a write not yet
committed is not, and is once it commits.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from pg_wire import traced
from test_grpc_by_id_cache import _call, _requests, assert_store_and_replica_commits_seen

import mlineage
from mlineage.api.grpc.service import MetadataStoreServicer
from mlineage.metadata.engine import normalize_url
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc
from tests.conftest import _reset_postgres


@pytest.fixture
def populated(postgres_store_url) -> Iterator[tuple[str, Store, dict]]:
    _reset_postgres(postgres_store_url)
    store = mlineage.connect(postgres_store_url)
    dataset = store.put_artifact_type(pb.ArtifactType(name="Dataset", properties={"span": pb.INT}))
    model = store.put_artifact_type(pb.ArtifactType(name="Model"))
    trainer = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    run = store.put_context_type(pb.ContextType(name="Run"))
    artifacts = []
    for i in range(6):
        artifact = pb.Artifact(type_id=dataset if i % 2 else model, uri=f"/d/{i}", name=f"a{i}")
        if i % 2:
            artifact.properties["span"].int_value = i
        artifact.custom_properties["tag"].string_value = f"t{i}"
        artifacts.append(artifact)
    ids = {
        "artifacts": store.put_artifacts(artifacts),
        "executions": store.put_executions([pb.Execution(type_id=trainer, name=f"x{i}") for i in range(3)]),
        "contexts": store.put_contexts([pb.Context(type_id=run, name=f"r{i}") for i in range(2)]),
        "types": {"Dataset": dataset, "Model": model, "Trainer": trainer, "Run": run},
    }
    yield postgres_store_url, store, ids
    store.close()


def _psycopg_url(url: str) -> str:
    return normalize_url(url).replace("postgresql+psycopg://", "postgresql://")


def test_cached_answers_are_the_uncached_answers(populated):
    _, store, ids = populated
    cached, plain = MetadataStoreServicer(store, cache=True), MetadataStoreServicer(store, cache=False)
    assert cached._cache is not None and plain._cache is None
    for _ in range(2):  # a miss, then a hit
        for name, request in _requests(ids):
            assert _call(cached, name, request) == _call(plain, name, request), (name, request)


def _repeated_at_one_snapshot(url: str, store: Store, call, first, monkeypatch) -> tuple[list[int], list]:
    """Repeat ``call`` (cached: it answers ``first``) once more with the wire traced; the cache's
    snapshot reads during that repetition, and the store's traced wire.

    The snapshot is the whole server's: a write in any database of it (another test process, a
    background job) moves it and the call rightly reads again. Measure a call the snapshot did not
    move across, as seen from a connection of the test's own."""
    from mlineage.api.grpc import by_id_cache

    reads: list[int] = []
    original = by_id_cache._SnapshotReader.read
    monkeypatch.setattr(by_id_cache._SnapshotReader, "read", lambda self: reads.append(1) or original(self))
    with psycopg.connect(_psycopg_url(url), autocommit=True) as watch:
        for _attempt in range(20):
            before = watch.execute("SELECT pg_current_snapshot()::text").fetchone()
            assert call() == first  # cached at this snapshot
            reads.clear()
            with traced(store) as wire:
                assert call() == first
            if watch.execute("SELECT pg_current_snapshot()::text").fetchone() == before:
                return reads, wire
    pytest.fail("the server's snapshot moved during every one of 20 calls")


def test_a_repeated_get_is_one_snapshot_read_and_reads_no_node(populated, monkeypatch):
    url, store, ids = populated
    servicer = MetadataStoreServicer(store, cache=True)
    request = svc.GetArtifactsByIDRequest(artifact_ids=ids["artifacts"], populate_artifact_types=True)
    first = _call(servicer, "GetArtifactsByID", request)
    reads, wire = _repeated_at_one_snapshot(url, store, lambda: _call(servicer, "GetArtifactsByID", request), first,
                                            monkeypatch)
    # One look at the snapshot (on the cache's own connection) for the artifacts and their types;
    # nothing through the store's pool.
    assert reads == [1] and wire[0].round_trips == 0


def test_every_commit_is_seen_by_the_next_get(populated):
    url, store, ids = populated
    servicer = MetadataStoreServicer(store, cache=True)
    artifact_id, request = assert_store_and_replica_commits_seen(url, store, servicer, ids)

    # Through plain SQL, outside mlineage, first uncommitted (not seen), then committed (seen).
    with psycopg.connect(_psycopg_url(url)) as db:
        db.execute("UPDATE artifacts SET uri = '/moved' WHERE id = %s", (artifact_id,))
        assert _call(servicer, "GetArtifactsByID", request).artifacts[0].uri == "/d/1"
        db.commit()
        assert _call(servicer, "GetArtifactsByID", request).artifacts[0].uri == "/moved"
        db.execute("DELETE FROM artifact_properties WHERE artifact_id = %s", (artifact_id,))
        db.commit()
    assert not _call(servicer, "GetArtifactsByID", request).artifacts[0].properties


def test_a_server_restart_is_survived_by_the_next_gets(populated, monkeypatch):
    from sqlalchemy import create_engine, text

    from mlineage.metadata import engine as engine_module

    _, store, ids = populated
    servicer = MetadataStoreServicer(store, cache=True)
    request = svc.GetExecutionsByIDRequest(execution_ids=ids["executions"])
    expected = _call(servicer, "GetExecutionsByID", request)
    admin = create_engine(normalize_url(store.engine.url.render_as_string(hide_password=False)))
    with admin.begin() as connection:  # every other session ends, the cache's own connections too
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # as after an idle second
    # The snapshot cannot be read on the dead connection: the get reads through the store.
    assert _call(servicer, "GetExecutionsByID", request) == expected
    # The next one reads the snapshot on a new connection (and hits the cache).
    assert _call(servicer, "GetExecutionsByID", request) == expected
    assert isinstance(servicer._cache.current(), str)


# --- GetLineageSubgraph's types: the walk's statement reads the snapshot they are held at -------------


@pytest.fixture
def pipeline(populated):
    url, store, ids = populated
    raw, trained = ids["artifacts"][:2]
    execution = ids["executions"][0]
    store.put_events([
        pb.Event(artifact_id=raw, execution_id=execution, type=pb.Event.INPUT),
        pb.Event(artifact_id=trained, execution_id=execution, type=pb.Event.OUTPUT),
    ])  # fmt: skip
    store.put_attributions_and_associations(
        [pb.Attribution(context_id=ids["contexts"][0], artifact_id=raw)],
        [pb.Association(context_id=ids["contexts"][0], execution_id=execution)],
    )
    return url, store, raw


def _lineage(servicer: MetadataStoreServicer, start: int, mask=()) -> svc.GetLineageSubgraphResponse:
    q = pb.LineageSubgraphQueryOptions
    request = svc.GetLineageSubgraphRequest(
        lineage_subgraph_query_options=q(starting_artifacts=q.StartingNodes(filter_query=f"id = {start}"), max_num_hops=10)
    )
    request.read_mask.paths.extend(mask)
    return _call(servicer, "GetLineageSubgraph", request)


def test_lineage_answers_with_held_types_are_the_uncached_answers(pipeline):
    _, store, raw = pipeline
    cached, plain = MetadataStoreServicer(store, cache=True), MetadataStoreServicer(store, cache=False)
    for _ in range(2):  # a miss, then a hit
        for mask in ((), ("artifact_types",), ("events", "context_types"), ("artifacts", "execution_types")):
            assert _lineage(cached, raw, mask) == _lineage(plain, raw, mask), mask
    assert {t.name for t in _lineage(cached, raw).lineage_subgraph.artifact_types} >= {"Dataset", "Model"}


def test_a_repeated_lineage_query_with_types_is_one_round_trip(pipeline, monkeypatch):
    url, store, raw = pipeline
    servicer = MetadataStoreServicer(store, cache=True)
    first = _lineage(servicer, raw)  # every field: the types too
    assert first.lineage_subgraph.artifact_types and first.lineage_subgraph.events
    reads, wire = _repeated_at_one_snapshot(url, store, lambda: _lineage(servicer, raw), first, monkeypatch)
    # The walk's one statement, which also answered its snapshot: no look at it of its own.
    assert reads == [] and wire[0].round_trips == 1, (reads, wire[0].round_trips)


def test_a_type_committed_before_the_walk_is_in_the_answer(pipeline):
    url, store, raw = pipeline
    servicer = MetadataStoreServicer(store, cache=True)
    assert "Schema" not in {t.name for t in _lineage(servicer, raw).lineage_subgraph.artifact_types}
    with psycopg.connect(_psycopg_url(url)) as db:  # outside mlineage: only the snapshot can tell
        db.execute("UPDATE types SET name = 'Schema' WHERE name = 'Model'")
        db.commit()
    names = {t.name for t in _lineage(servicer, raw).lineage_subgraph.artifact_types}
    assert "Schema" in names and "Model" not in names
