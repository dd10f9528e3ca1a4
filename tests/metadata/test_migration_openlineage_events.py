"""Revision 0003 (openlineage_events) upgrades a populated database from the revision before it.

Data written at the previous revision stays readable through the Store, the new table takes
OpenLineage events, and the downgrade removes only that table.
"""

from __future__ import annotations

import uuid

import pytest
from conftest import postgres_database
from mysql_databases import mysql_database
from sqlalchemy import MetaData, create_engine, insert, inspect, select

from mlineage.integrations import openlineage
from mlineage.metadata.engine import normalize_url
from mlineage.metadata.store import Store
from mlineage.migrations import runner

REVISION = "0003"


def _previous() -> str:
    return runner.script_directory().get_revision(REVISION).down_revision


def _database(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    if backend == "mysql":
        return mysql_database("mlineage_migrate")
    return postgres_database("mlineage_migrate")


def _populate(engine) -> dict[str, int]:
    """Rows as a store at the previous revision holds them, written through that revision's tables."""
    tables = MetaData()
    tables.reflect(engine)
    assert "openlineage_events" not in tables.tables
    with engine.begin() as connection:
        type_id = connection.execute(
            insert(tables.tables["types"]).values(kind=1, name="Model", version="").returning(tables.tables["types"].c.id)
        ).scalar_one()
        execution_type = connection.execute(
            insert(tables.tables["types"]).values(kind=0, name="Trainer", version="").returning(tables.tables["types"].c.id)
        ).scalar_one()
        artifact_id = connection.execute(
            insert(tables.tables["artifacts"])
            .values(type_id=type_id, uri="/models/1", name="m1", create_time_since_epoch=1, last_update_time_since_epoch=1)
            .returning(tables.tables["artifacts"].c.id)
        ).scalar_one()
        connection.execute(
            insert(tables.tables["artifact_properties"]).values(
                artifact_id=artifact_id, name="note", is_custom=True, value_type=3, string_value="kept"
            )
        )
        execution_id = connection.execute(
            insert(tables.tables["executions"])
            .values(type_id=execution_type, last_known_state=3, create_time_since_epoch=1, last_update_time_since_epoch=1)
            .returning(tables.tables["executions"].c.id)
        ).scalar_one()
        connection.execute(
            insert(tables.tables["events"]).values(
                artifact_id=artifact_id, execution_id=execution_id, type=4, milliseconds_since_epoch=1
            )
        )
    return {"artifact": artifact_id, "execution": execution_id}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_upgrade_keeps_old_rows_and_adds_the_raw_event_table(backend, tmp_path):
    url = normalize_url(_database(backend, tmp_path))
    engine = create_engine(url)
    try:
        runner.upgrade(engine, _previous())
        ids = _populate(engine)
        assert runner.schema_status(engine).state is runner.SchemaState.BEHIND
        runner.upgrade(engine)
        assert runner.current_revision(engine) == runner.head_revision()
        assert "openlineage_events" in inspect(engine).get_table_names()

        store = Store(url)
        try:
            [artifact] = store.get_artifacts_by_id([ids["artifact"]])
            assert artifact.uri == "/models/1" and artifact.custom_properties["note"].string_value == "kept"
            [event] = store.get_events_by_execution_ids([ids["execution"]])
            assert event.artifact_id == ids["artifact"]
            run_id = str(uuid.uuid4())
            openlineage.record_event(
                store,
                {
                    "eventType": "COMPLETE", "eventTime": "2024-01-01T00:00:00Z", "producer": "https://example.org/p",
                    "run": {"runId": run_id}, "job": {"namespace": "ns", "name": "job"},
                    "outputs": [{"namespace": "file", "name": "/models/1"}],
                },
            )  # fmt: skip
            raw, _ = openlineage.raw_events(store, run_id=run_id)
            assert [event["eventType"] for event in raw] == ["COMPLETE"]
        finally:
            store.close()

        _downgrade(engine, _previous())
        assert "openlineage_events" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            tables = MetaData()
            tables.reflect(connection)
            uris = connection.execute(select(tables.tables["artifacts"].c.uri)).scalars().all()
        assert "/models/1" in uris
    finally:
        engine.dispose()


def _downgrade(engine, revision: str) -> None:
    from alembic import command

    config = runner.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
