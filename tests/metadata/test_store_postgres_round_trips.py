"""Round trips to PostgreSQL per read: no BEGIN, ROLLBACK or ping around single reads; dead connections replaced.

Counted on the wire with libpq's protocol trace of every pooled connection:
each ReadyForQuery the server sends ends one round trip.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from pg_wire import traced
from sqlalchemy import create_engine, event, text

import mlineage
from mlineage.metadata import engine as engine_module
from mlineage.metadata.engine import normalize_url
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from tests.conftest import _reset_postgres


@pytest.fixture
def pg_store(postgres_store_url) -> Iterator[Store]:
    _reset_postgres(postgres_store_url)
    store = mlineage.connect(postgres_store_url)
    yield store
    store.close()


def _artifacts(store, count: int = 10) -> list[int]:
    type_id = store.put_artifact_type(pb.ArtifactType(name="Data", properties={"span": pb.INT}))
    return store.put_artifacts(
        [
            pb.Artifact(type_id=type_id, uri=f"/d/{i}", properties={"span": pb.Value(int_value=i)})
            for i in range(count)
        ]
    )


def test_a_get_by_id_sends_no_begin_rollback_or_ping(pg_store) -> None:
    ids = _artifacts(pg_store)
    expected = pg_store.get_artifacts_by_id(ids)
    with traced(pg_store) as wire:
        got = pg_store.get_artifacts_by_id(ids)
    assert got == expected and got[3].properties["span"].int_value == 3
    commands = [command.split()[0].upper() for command in wire[0].commands]
    assert "BEGIN" not in commands and "ROLLBACK" not in commands, commands
    assert "SELECT" not in commands, commands  # no "SELECT 1" ping: the connection was used a moment ago
    assert wire[0].round_trips == 1  # the nodes and their properties in one statement


def test_types_by_id_are_one_round_trip(pg_store) -> None:
    ids = _artifacts(pg_store, 1)
    type_id = pg_store.get_artifacts_by_id(ids)[0].type_id
    with traced(pg_store) as wire:
        types = pg_store.get_artifact_types_by_id([type_id, type_id])
    assert [t.name for t in types] == ["Data", "Data"] and types[0].properties["span"] == pb.INT
    assert wire[0].round_trips == 1  # the types and their declared properties in one statement


def test_artifacts_with_their_types_are_two_round_trips(pg_store) -> None:
    ids = _artifacts(pg_store, 4)
    with traced(pg_store) as wire:
        pairs = pg_store.get_artifacts_and_types_by_artifact_ids(ids)
    assert [a.id for a, _ in pairs] == ids and pairs[0][1].properties["span"] == pb.INT
    assert wire[0].round_trips == 2


def test_a_lineage_subgraph_is_one_round_trip(pg_store) -> None:
    from mlineage.metadata.lineage_engine.mlmd import lineage_subgraph

    ids = _artifacts(pg_store, 2)
    execution_type = pg_store.put_execution_type(pb.ExecutionType(name="Step"))
    [execution] = pg_store.put_executions([pb.Execution(type_id=execution_type)])
    pg_store.put_events(
        [
            pb.Event(artifact_id=ids[0], execution_id=execution, type=pb.Event.INPUT),
            pb.Event(artifact_id=ids[1], execution_id=execution, type=pb.Event.OUTPUT),
        ]
    )
    q = pb.LineageSubgraphQueryOptions
    options = q(starting_artifacts=q.StartingNodes(filter_query=f"id = {ids[1]}"), max_num_hops=10)
    # The read mask ml-metadata's client sends (it reads the types by id afterwards).
    mask = ["artifacts", "executions", "contexts", "events", "attributions", "associations"]
    expected = lineage_subgraph(pg_store, options, mask, dehydrated=True)
    with traced(pg_store) as wire:
        graph = lineage_subgraph(pg_store, options, mask, dehydrated=True)
    assert graph == expected and sorted(a.id for a in graph.artifacts) == ids and len(graph.events) == 2
    # The starting nodes' filter, the walk, its events and memberships: one statement.
    assert wire[0].round_trips == 1, wire[0].commands
    missing = q(starting_artifacts=q.StartingNodes(filter_query="id = 999999"))
    with pytest.raises(mlineage.errors.NotFoundError, match="Cannot find qualified nodes"):
        lineage_subgraph(pg_store, missing, dehydrated=True)


def test_a_connection_the_server_closed_is_replaced_after_an_idle_spell(pg_store, monkeypatch) -> None:
    ids = _artifacts(pg_store, 3)
    expected = pg_store.get_artifacts_by_id(ids)
    admin = create_engine(normalize_url(pg_store.engine.url.render_as_string(hide_password=False)))
    with admin.begin() as connection:  # as a server restart would: every other session ends
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    assert pg_store.get_artifacts_by_id(ids) == expected
    assert [a.id for a in pg_store.get_artifacts()] == ids


def test_a_lineage_walk_on_a_connection_that_dies_is_unavailable_not_a_driver_error(pg_store) -> None:
    from mlineage.metadata.lineage_engine.mlmd import lineage_subgraph

    ids = _artifacts(pg_store, 1)
    admin = psycopg.connect(normalize_url(str(pg_store.engine.url.render_as_string(hide_password=False))).replace(
        "postgresql+psycopg://", "postgresql://"
    ), autocommit=True)

    def killed(dbapi_connection, _record, _proxy) -> None:  # the server ends the session under the walk
        admin.execute("SELECT pg_terminate_backend(%s)", (dbapi_connection.info.backend_pid,))

    q = pb.LineageSubgraphQueryOptions
    options = q(starting_artifacts=q.StartingNodes(filter_query=f"id = {ids[0]}"), max_num_hops=10)
    event.listen(pg_store.engine, "checkout", killed)
    try:
        with pytest.raises(mlineage.errors.UnavailableError, match="database unavailable"):
            lineage_subgraph(pg_store, options, dehydrated=True)
    finally:
        event.remove(pg_store.engine, "checkout", killed)
        admin.close()
    assert lineage_subgraph(pg_store, options, dehydrated=True).artifacts[0].id == ids[0]
