"""A rolling upgrade: a server of the previous revision keeps reading and writing after the database moved to head.

docs/upgrading.md says how a schema change is written so that this holds (expand
first, contract a release later). The previous release's server is stood in for
by its statements: the tables and columns the revision before head knew
(reflected from the database at that revision before it is upgraded). With the
database at head, and a head `mlineage serve` on it, the old statements write
every kind of record (tests/support/migration_proof.py) and read them and the
head's records back; the head store and the unmodified ml-metadata client read
the old server's records field by field, as they read their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import postgres_database
from grpc_server import mlineage_server
from migration_proof import assert_store_reads, client_dump, fields, reflected, store_dump, write_records
from mysql_databases import mysql_database
from sqlalchemy import MetaData, select

from mlineage.metadata.engine import make_engine, normalize_url
from mlineage.metadata.store import Store
from mlineage.migrations import runner
from mlineage.proto import metadata_store_pb2 as pb

HEAD = runner.head_revision()
PREVIOUS = runner.script_directory().get_revision(HEAD).down_revision


def _columns(tables: MetaData) -> set[tuple[str, str]]:
    return {(table.name, column.name) for table in tables.tables.values() for column in table.c}


@pytest.mark.mlmd
@pytest.mark.skipif(PREVIOUS is None, reason="one revision: no previous release to keep serving")
@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_the_previous_revisions_statements_keep_working_against_the_head_schema(backend, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'rolling.db'}" if backend == "sqlite" else normalize_url(
        mysql_database("mlineage_rolling") if backend == "mysql" else postgres_database("mlineage_rolling"))  # fmt: skip
    engine = make_engine(url)
    try:
        runner.upgrade(engine, PREVIOUS)
        old = reflected(engine)  # what the previous release's statements know
        runner.upgrade(engine)  # the new release's `mlineage db upgrade`, under the old server
        head = reflected(engine)
        # Expand, never contract: head keeps every table and column the previous revision had (it may add
        # none, as an index-only revision such as 0006 does).
        assert _columns(old) <= _columns(head), "the head revision is not additive over the one before"
        assert set(old.tables) <= set(head.tables), "the head revision dropped a table the old statements use"

        with mlineage_server(url) as server:  # a replica already on the new release
            before = client_dump(server.target)
            assert before["artifacts"] == []

            # The old replica writes every kind of record it knows, naming only its columns.
            written = write_records(engine, old)
            artifacts = old.tables["artifacts"]
            with engine.connect() as connection:
                rows = connection.execute(select(artifacts.c.id, artifacts.c.uri).order_by(artifacts.c.id)).all()
            assert [tuple(r) for r in rows] == [(a.id, a.uri) for a in written.artifacts]

            with Store(url) as store:
                assert_store_reads(store, written)
                expected = store_dump(store)
                # The new release writes; the old replica reads it with its own statements and updates it.
                [new_id] = store.put_artifacts([pb.Artifact(
                    type_id=written.artifact_types[0].id, uri="/new", custom_properties={"k": pb.Value(int_value=5)})])  # fmt: skip
                properties = old.tables["artifact_properties"]
                with engine.begin() as connection:
                    row = connection.execute(select(artifacts).where(artifacts.c.id == new_id)).mappings().one()
                    assert row["uri"] == "/new"
                    value = connection.execute(select(properties.c.int_value).where(
                        properties.c.artifact_id == new_id, properties.c.name == "k")).scalar_one()  # fmt: skip
                    assert value == 5
                    connection.execute(artifacts.update().where(artifacts.c.id == new_id).values(
                        uri="/new/by-old", last_update_time_since_epoch=row["last_update_time_since_epoch"] + 1))  # fmt: skip
                [updated] = store.get_artifacts_by_id([new_id])
                assert updated.uri == "/new/by-old" and updated.custom_properties["k"].int_value == 5
                # What docs/upgrading.md warns of: the old replica's write is not versioned (it knows no
                # history), so the node's one revision now holds what the old replica wrote.
                history = store.get_artifact_history(new_id)
                assert [(r.revision, r.node.uri) for r in history] == [(1, "/new/by-old")]
                store.delete_artifacts([new_id])

            seen = client_dump(server.target)  # the head server, running throughout, sees the old writes
        assert seen == expected
        assert seen["artifacts"] == [fields(a) for a in written.artifacts]
    finally:
        engine.dispose()
