"""Revision 0004 (history) upgrades a populated database from the revision before it.

What was written before history was kept becomes revision 1 of every node, valid
from its create time: it reads as before, its history has one revision, and reads
as of a moment after its creation show it; the next change is revision 2. The
downgrade removes the history tables and columns and keeps the data.
"""

from __future__ import annotations

import time

import pytest
from conftest import postgres_database
from mysql_databases import mysql_database
from sqlalchemy import MetaData, create_engine, insert, inspect, select

from mlineage.metadata.engine import normalize_url
from mlineage.metadata.store import Store
from mlineage.migrations import runner

REVISION = "0004"


def _previous() -> str:
    return runner.script_directory().get_revision(REVISION).down_revision


def _populate(engine, created_ms: int) -> int:
    tables = MetaData()
    tables.reflect(engine)
    assert "changes" not in tables.tables
    with engine.begin() as connection:
        types = tables.tables["types"]
        type_id = connection.execute(
            insert(types).values(kind=1, name="Model", version="").returning(types.c.id)
        ).scalar_one()
        artifacts = tables.tables["artifacts"]
        artifact_id = connection.execute(
            insert(artifacts)
            .values(
                type_id=type_id,
                uri="/models/1",
                name="m1",
                create_time_since_epoch=created_ms,
                last_update_time_since_epoch=created_ms,
            )
            .returning(artifacts.c.id)
        ).scalar_one()
        connection.execute(
            insert(tables.tables["artifact_properties"]).values(
                artifact_id=artifact_id, name="note", is_custom=True, value_type=3, string_value="kept"
            )
        )
    return artifact_id


def _downgrade(engine, revision: str) -> None:
    from alembic import command

    config = runner.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_old_rows_become_revision_one_and_read_as_of_their_creation(backend, tmp_path):
    url = normalize_url(
        f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite"
        else mysql_database("mlineage_history") if backend == "mysql" else postgres_database("mlineage_history")
    )
    engine = create_engine(url)
    created = time.time_ns() // 1_000_000 - 60_000
    try:
        runner.upgrade(engine, _previous())
        artifact_id = _populate(engine, created)
        runner.upgrade(engine)
        assert {"changes", "artifacts_history"} <= set(inspect(engine).get_table_names())

        store = Store(url)
        try:
            [artifact] = store.get_artifacts_by_id([artifact_id])
            assert artifact.uri == "/models/1" and artifact.custom_properties["note"].string_value == "kept"
            [first] = store.get_artifact_history(artifact_id)
            assert (first.revision, first.operation, first.time_ms, first.surface) == (
                1,
                "create",
                created,
                "migration",
            )
            assert store.as_of(created + 1).get_artifacts_by_id([artifact_id]) == [artifact]
            moment = time.time_ns() // 1_000_000
            time.sleep(0.003)
            artifact.uri = "/models/2"
            store.put_artifacts([artifact])
            assert [r.revision for r in store.get_artifact_history(artifact_id)] == [1, 2]
            assert store.as_of(moment).get_artifacts_by_id([artifact_id])[0].uri == "/models/1"
            with pytest.raises(Exception, match="before the store existed"):
                store.as_of(created - 1)
        finally:
            store.close()

        _downgrade(engine, _previous())
        assert "changes" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            tables = MetaData()
            tables.reflect(connection)
            assert "change_id" not in tables.tables["artifacts"].c
            uris = connection.execute(select(tables.tables["artifacts"].c.uri)).scalars().all()
        assert uris == ["/models/2"]
    finally:
        engine.dispose()
