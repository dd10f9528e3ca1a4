"""Round trips to PostgreSQL per read: no BEGIN, ROLLBACK or ping around single reads; dead connections replaced.

Counted on the wire with libpq's protocol trace of every pooled connection:
each ReadyForQuery the server sends ends one round trip.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator

import psycopg
import pytest
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


class Wire:
    """The frontend queries and the round trips of a traced stretch of calls."""

    def __init__(self, text_: str) -> None:
        lines = text_.splitlines()
        self.round_trips = sum(1 for line in lines if line.startswith("B") and "\tReadyForQuery" in line)
        self.commands = [line.split('"')[1] for line in lines if line.startswith("F") and "\tQuery\t" in line]


@contextlib.contextmanager
def traced(store) -> Iterator[list[Wire]]:
    """Trace every connection the store checks out while inside; the Wire is appended on exit."""
    out: list[Wire] = []
    trace = tempfile.TemporaryFile()
    flags = psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE

    def on_checkout(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(flags)

    def on_checkin(dbapi_connection, _record) -> None:
        if dbapi_connection is not None and not dbapi_connection.closed:
            dbapi_connection.pgconn.untrace()

    event.listen(store.engine, "checkout", on_checkout)
    event.listen(store.engine, "checkin", on_checkin)
    try:
        yield out
    finally:
        event.remove(store.engine, "checkout", on_checkout)
        event.remove(store.engine, "checkin", on_checkin)
        trace.seek(0)
        out.append(Wire(trace.read().decode("utf-8", "replace")))
        trace.close()


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
        types = pg_store.get_artifact_types_by_id([expected[0].type_id])
    assert got == expected and types[0].properties["span"] == pb.INT
    commands = [command.split()[0].upper() for command in wire[0].commands]
    assert "BEGIN" not in commands and "ROLLBACK" not in commands, commands
    assert "SELECT" not in commands, commands  # no "SELECT 1" ping: the connection was used a moment ago
    # A get by id: its nodes and their properties; types by id: types and their properties.
    assert wire[0].round_trips <= 4


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
