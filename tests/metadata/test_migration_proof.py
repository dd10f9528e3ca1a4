"""The migration proof: a database written at any revision upgrades to head and reads back every record exactly.

For every Alembic revision R from the first (read from the revision files, so a
new revision is covered without editing this file), on SQLite and PostgreSQL:
a database is built at R and populated through SQL on its tables as they are at
R (tests/support/migration_proof.py: every property value type, events with
paths, contexts and their links, metric points, OpenLineage events and history
where R has them), upgraded to head, and then read through the head Store and
through the unmodified ml-metadata client against `mlineage serve`: every
record field by field. A revision that adds a table without adding its records
to the proof fails here (every table must hold a row).

Also: the last revision's downgrade for each revision (R-1 -> R -> R-1 leaves
every row of R-1 as it was, and the database upgrades again to head and reads
back), and two processes upgrading one PostgreSQL database at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import postgres_database
from grpc_server import mlineage_server
from migration_proof import (
    assert_store_reads,
    client_dump,
    fields,
    reflected,
    store_dump,
    table_rows,
    unwritten_tables,
    write_records,
)
from mysql_databases import mysql_database
from paths import SUPPORT
from sqlalchemy import text

from mlineage.metadata.engine import make_engine, normalize_url
from mlineage.metadata.store import Store
from mlineage.migrations import runner
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import metadata

REVISIONS = [revision for revision, _down, _message in runner.history()]
HEAD = runner.head_revision()
UPGRADER_SCRIPT = SUPPORT / "migration_upgrader.py"


def _url(backend: str, tmp_path: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    if backend == "mysql":
        return normalize_url(mysql_database(f"mlineage_{name}"))
    return normalize_url(postgres_database(f"mlineage_{name}"))


def test_revisions_are_one_chain_from_the_first_to_head():
    assert REVISIONS and REVISIONS[-1] == HEAD
    assert [down for _rev, down, _msg in runner.history()] == [None, *REVISIONS[:-1]]


@pytest.mark.mlmd
@pytest.mark.parametrize("revision", REVISIONS)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_records_written_at_a_revision_read_back_after_the_upgrade_to_head(backend, revision, tmp_path):
    url = _url(backend, tmp_path, f"proof_{revision}")
    engine = make_engine(url)
    try:
        runner.upgrade(engine, revision)
        written = write_records(engine)
        empty = unwritten_tables(engine)
        assert empty == [], f"tables of revision {revision} the proof writes no row to (add their records to " \
            f"tests/support/migration_proof.py): {empty}"
        runner.upgrade(engine)
        assert runner.current_revision(engine) == HEAD
    finally:
        engine.dispose()

    with Store(url) as store:
        assert_store_reads(store, written)
        expected = store_dump(store)
        # The upgraded database takes new records after the old ones (ids, sequences, history).
        [new_id] = store.put_artifacts([pb.Artifact(type_id=written.artifact_types[0].id, uri="/after")])
        assert new_id > max(a.id for a in written.artifacts)
        assert [r.operation for r in store.get_artifact_history(new_id)] == ["create"]
        store.delete_artifacts([new_id])

    with mlineage_server(url) as server:
        seen = client_dump(server.target)
    assert seen == expected, "the ml-metadata client reads the upgraded database differently from the store"
    assert seen["artifacts"] == [fields(a) for a in written.artifacts]
    assert seen["events"] == [fields(e) for e in sorted(
        written.events, key=lambda e: (e.artifact_id, e.execution_id, e.type))]  # fmt: skip


@pytest.mark.parametrize("revision", REVISIONS[1:])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_downgrading_a_revision_keeps_the_records_of_the_revision_before(backend, revision, tmp_path):
    previous = runner.script_directory().get_revision(revision).down_revision
    url = _url(backend, tmp_path, f"down_{revision}")
    engine = make_engine(url)
    try:
        runner.upgrade(engine, previous)
        written = write_records(engine)
        before = table_rows(engine)
        runner.upgrade(engine, revision)
        runner.downgrade(engine, previous)
        assert runner.current_revision(engine) == previous
        assert table_rows(engine) == before
        runner.upgrade(engine)
    finally:
        engine.dispose()
    with Store(url) as store:
        assert_store_reads(store, written)


def _upgraders(url: str, count: int, go: Path) -> list[subprocess.Popen]:
    return [
        subprocess.Popen([sys.executable, str(UPGRADER_SCRIPT), url, str(go)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
        for _ in range(count)
    ]


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
@pytest.mark.parametrize("start", [None, REVISIONS[-2] if len(REVISIONS) > 1 else None], ids=["empty", "behind"])
def test_processes_upgrading_one_server_database_at_once_take_turns(backend, start, tmp_path):
    url = _url(backend, tmp_path, "concurrent")
    written = None
    if start is not None:
        engine = make_engine(url)
        try:
            runner.upgrade(engine, start)
            written = write_records(engine)
        finally:
            engine.dispose()
    go = tmp_path / "go"
    processes = _upgraders(url, 3, go)
    time.sleep(0.2)
    ready = [p for p in processes if p.poll() is None]
    assert len(ready) == 3, [p.communicate() for p in processes]
    go.write_text("go")  # each process has its engine connected and waits for this file
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"an upgrader failed:\n{err[-3000:]}"
        results.append(json.loads(out.splitlines()[-1]))
    upgraded = [r for r in results if r["upgraded"]]
    assert len(upgraded) == 1, results  # one upgrades; the others wait for it and find head
    assert all(r["after"] == HEAD for r in results)
    waited = [r for r in results if not r["upgraded"]]
    assert all(r["finished"] >= upgraded[0]["finished"] for r in waited), results
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
            system_types = connection.execute(text("SELECT count(*) FROM types WHERE name LIKE 'mlmd.%'")).scalar()
        assert versions == [HEAD] and system_types == 9  # one version row; the system types seeded once
        assert set(metadata.tables) <= set(reflected(engine).tables)
    finally:
        engine.dispose()
    if written is not None:
        with Store(url) as store:
            assert_store_reads(store, written)
