"""Revision 0002 (metric_points): upgrading a database that holds data written at 0001 keeps it all."""

from __future__ import annotations

import pytest
from conftest import postgres_database
from mysql_databases import mysql_database
from sqlalchemy import insert, inspect, select, text

from mlineage.metadata import metrics
from mlineage.metadata.engine import make_engine
from mlineage.metadata.store import Store
from mlineage.migrations import runner
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb
from mlineage.schema import tables as t


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    if request.param == "mysql":
        return mysql_database("mlineage_mig0002")
    return postgres_database("mlineage_mig0002")


def test_upgrade_from_0001_keeps_executions_and_adds_metric_points(empty_url):
    engine = make_engine(empty_url)
    runner.upgrade(engine, "0001")
    with engine.begin() as connection:
        type_id = connection.execute(
            insert(t.types).values(kind=t.KIND_EXECUTION, name="Trainer", namespace="default").returning(t.types.c.id)
        ).scalar_one()
        execution_id = connection.execute(
            insert(t.executions).values(type_id=type_id, namespace="default", external_id="e-1", last_known_state=3,
                                        create_time_since_epoch=1, last_update_time_since_epoch=2)
            .returning(t.executions.c.id)
        ).scalar_one()
        connection.execute(insert(t.execution_properties).values(
            execution_id=execution_id, name="lr", is_custom=True, value_type=2, double_value=0.1))
    assert "metric_points" not in inspect(engine).get_table_names()

    runner.upgrade(engine, "0002")
    assert runner.current_revision(engine) == "0002"
    with engine.begin() as connection:
        connection.execute(insert(t.metric_points), [
            {"execution_id": execution_id, "name": "loss", "seq": i, "step": i * 10, "value": 1.0 / i,
             "timestamp_ms": 1000 + i} for i in range(1, 4)
        ])
        # The primary key holds (execution, name, seq) unique, which replays rely on.
        with pytest.raises(Exception):  # noqa: B017 - IntegrityError from either driver
            with connection.begin_nested():
                connection.execute(insert(t.metric_points).values(
                    execution_id=execution_id, name="loss", seq=1, step=0, value=0.0, timestamp_ms=0))

    runner.upgrade(engine)  # on to head
    store = Store(engine)
    [execution] = store.get_executions_by_external_ids(["e-1"])
    assert execution.last_known_state == pb.Execution.COMPLETE
    assert execution.custom_properties["lr"].double_value == 0.1
    assert metrics.put_metric_series(store, [mpb.MetricSeries(execution_id=execution_id, name="loss", seq=[3, 4],
                                                              value=[0.3, 0.25])]) == 1
    [series] = metrics.get_metric_series(store, [execution_id])
    assert list(series.seq) == [1, 2, 3, 4] and list(series.step) == [10, 20, 30, 4]
    store.close()


def test_downgrade_to_0001_drops_only_metric_points(empty_url):
    engine = make_engine(empty_url)
    runner.upgrade(engine, "0002")
    from alembic import command

    config = runner.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    tables = set(inspect(engine).get_table_names())
    assert "metric_points" not in tables and {"executions", "types"} <= tables
    with engine.connect() as connection:
        assert connection.execute(select(text("count(*)")).select_from(t.types)).scalar() == 9  # MLMD's system types
