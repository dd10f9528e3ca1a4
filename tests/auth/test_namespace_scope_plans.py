"""A namespace-scoped read costs what its answer costs: the rewritten statements keep their index lookups.

The scope's rewrite (metadata/namespace_scope.py) wraps each namespaced table in a
filtered subquery and each link table in a correlated owner lookup; SQLite's plans
for reads by id must stay index searches (no scan of the node tables, which on a
large store would make every event read cost the namespace's size).
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from mlineage.metadata.namespace_scope import scoped_statement
from mlineage.metadata.store import Store
from mlineage.schema import tables as t


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = tmp_path_factory.mktemp("plans") / "plans.db"
    Store(f"sqlite:///{path}").close()
    connection = sqlite3.connect(path)
    yield connection
    connection.close()


def _plan(connection: sqlite3.Connection, statement) -> str:
    compiled = scoped_statement(statement, "team-a").compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
    )
    return "\n".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {compiled}"))


@pytest.mark.parametrize(
    "statement",
    [
        select(t.events).where(t.events.c.artifact_id == 7),
        select(t.events).where(t.events.c.execution_id == 7),
        select(t.attributions).where(t.attributions.c.context_id == 7),
        select(t.metric_points).where(t.metric_points.c.execution_id == 7),
        select(t.artifacts).where(t.artifacts.c.id == 7),
        select(t.artifacts, t.types.c.name).join(t.types, t.types.c.id == t.artifacts.c.type_id)
        .where(t.artifacts.c.id == 7),
    ],
    ids=["events-by-artifact", "events-by-execution", "attributions", "metric-points", "artifact", "artifact-type"],
)
def test_scoped_reads_by_id_search_indexes(database, statement):
    plan = _plan(database, statement)
    assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan
    assert "SEARCH" in plan, plan
    # Not a list of every id of the namespace (an IN over it reads the whole namespace per statement).
    assert "LIST SUBQUERY" not in plan and "(namespace=?)" not in plan, plan


def test_the_rewrite_filters_by_namespace(database):
    compiled = str(scoped_statement(select(t.artifacts.c.id), "team-a").compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))  # fmt: skip
    assert "namespace = 'team-a'" in compiled
    insert = t.artifacts.insert()
    assert scoped_statement(insert, "team-a") is insert  # writes are not rewritten
