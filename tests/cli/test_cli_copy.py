"""`mlineage copy`, `export` and `restore` on real SQLite files and PostgreSQL: every table identical, history included."""

from __future__ import annotations

import json
import math
import os
import pty
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import postgres_database
from google.protobuf import any_pb2
from purge_scenarios import write_runs
from sqlalchemy import create_engine, func, select, text

from mlineage.auth.identity import Role
from mlineage.auth.namespaces import create_namespace
from mlineage.auth.tokens import create_token
from mlineage.cli import main
from mlineage.metadata import store_copy
from mlineage.metadata.database_copy import Progress, copy_database
from mlineage.metadata.databases import Database
from mlineage.metadata.engine import normalize_url
from mlineage.metadata.openlineage_events import RawEvent
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb
from mlineage.schema import tables as t


def write_history_scenario(url: str) -> None:
    """Runs, every property value type, an update, a type evolution, a deletion, metric points, an OpenLineage event."""
    store = Store(url)
    try:
        ids = write_runs(store, "run", [pb.Artifact.LIVE, pb.Artifact.DELETED])
        [dataset_type] = store.get_artifact_types_by_id([store.get_artifacts_by_id([ids["run0/examples"]])[0].type_id])
        dataset_type.properties["rows"] = pb.INT
        store.put_artifact_type(dataset_type, can_add_fields=True)  # a types_history row
        dataset_type.properties["split"] = pb.STRING
        store.put_artifact_type(dataset_type, can_add_fields=True)  # a type_properties_history row
        [examples] = store.get_artifacts_by_id([ids["run0/examples"]])
        examples.properties["rows"].int_value = 120
        examples.custom_properties["ratio"].double_value = 0.25
        examples.custom_properties["inf"].double_value = math.inf
        examples.custom_properties["note"].string_value = "ünïcode ✓"
        examples.custom_properties["ok"].bool_value = True
        examples.custom_properties["meta"].struct_value.update({"a": [1, "b", {"c": None}]})
        examples.custom_properties["any"].proto_value.Pack(pb.Value(int_value=7))
        store.put_artifacts([examples])  # artifacts_history, artifact_properties_history
        examples.custom_properties["ratio"].double_value = 0.5
        store.put_artifacts([examples])
        [parent] = store.put_contexts([pb.Context(type_id=store.get_contexts_by_id([ids["run0/run"]])[0].type_id,
                                                  name="sweep")])
        store.put_parent_contexts([pb.ParentContext(child_id=ids["run0/run"], parent_id=parent)])
        store.put_parent_contexts([pb.ParentContext(child_id=ids["run1/run"], parent_id=parent)])
        runs = store.get_contexts_by_id([ids["run0/run"], ids["run1/run"]])
        for run in runs:
            run.custom_properties["owner"].string_value = "team"
        store.put_contexts(runs)  # context_properties, and their history once run1 is deleted
        [trainer] = store.get_executions_by_id([ids["run0/trainer"]])
        for epochs in (5, 6):
            trainer.custom_properties["epochs"].int_value = epochs
            store.put_executions([trainer])  # execution_properties and their history
        store.delete_artifacts([ids["run1/pushed"]])  # events_history, attributions gone with it
        store.delete_contexts([ids["run1/run"]])  # associations_history, parent_contexts_history
        store.put_metric_series([mpb.MetricSeries(execution_id=ids["run0/trainer"], name="loss", seq=[1, 2, 3],
                                                  step=[10, 20, 30], value=[0.9, float("nan"), 0.1])])
        with store.transaction() as tx:
            tx.add_openlineage_event(RawEvent(event_time="2026-12-01T10:00:00Z", event_type="COMPLETE", run_id="r-1",
                                              job_namespace="ns", job_name="job", producer="test",
                                              payload=json.dumps({"eventType": "COMPLETE", "run": {"runId": "r-1"}})))
        create_namespace(store, "team-a", "a team")  # namespaces
        create_token(store, namespace="team-a", role=Role.WRITER, name="ci")  # tokens (a hash, a text id)
    finally:
        store.close()


def all_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (compared independently of store_copy: SQLAlchemy, sorted in Python)."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            found = {}
            for table in t.metadata.sorted_tables:
                rows = [tuple(row) for row in connection.execute(select(table))]
                keys = [table.c.keys().index(c.name) for c in table.primary_key.columns]
                found[table.name] = sorted(rows, key=lambda row, keys=keys: tuple(row[i] for i in keys))
            return found
    finally:
        engine.dispose()


def marks(url: str) -> dict[str, int]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            return store_copy.sequence_marks(connection, t.metadata.sorted_tables)
    finally:
        engine.dispose()


def _same(a: dict[str, list[tuple]], b: dict[str, list[tuple]]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert len(a[name]) == len(b[name]), name
        for row_a, row_b in zip(a[name], b[name], strict=True):
            assert len(row_a) == len(row_b)
            for x, y in zip(row_a, row_b, strict=True):
                assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), (name, row_a, row_b)


@pytest.fixture
def source(tmp_path, sqlite_template) -> str:
    import shutil

    path = tmp_path / "source.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    write_history_scenario(url)
    return url


def test_the_scenario_fills_every_table(source):
    rows = all_rows(source)
    empty = sorted(name for name, found in rows.items() if not found)
    assert empty == []


@pytest.mark.postgres
def test_copy_sqlite_to_postgresql_and_back_is_identical_in_every_table(source, tmp_path, capsys):
    before = all_rows(source)
    pg = postgres_database("mlineage_copy")
    assert main(["copy", "--from", source, "--to", pg, "--batch-size", "3"]) == 0
    out = capsys.readouterr().out
    assert "rows written" in out and "artifacts_history" in out
    _same(before, all_rows(pg))
    back = f"sqlite:///{tmp_path / 'back.db'}"
    assert main(["copy", "--from", pg, "--to", back, "--create"]) == 0
    _same(before, all_rows(back))
    assert marks(back) == marks(source)
    assert marks(pg) == marks(source)
    # An export of the PostgreSQL copy restores into SQLite identically too.
    backup = tmp_path / "from_pg.zip"
    assert main(["export", "--db", pg, "-o", str(backup)]) == 0
    restored = f"sqlite:///{tmp_path / 'restored.db'}"
    assert main(["restore", str(backup), "--db", restored, "--create"]) == 0
    _same(before, all_rows(restored))
    assert marks(restored) == marks(source)
    # The copies are stores: a new artifact gets an id past every id the source ever issued.
    for url in (pg, back):
        store = Store(url)
        try:
            [new_id] = store.put_artifacts([pb.Artifact(type_id=10, uri="/new")])
            assert new_id == marks(source)["artifacts"] + 1
            assert [a.uri for a in store.get_artifacts_by_id([new_id])] == ["/new"]
            # History reads as it did: the revisions of the updated artifact.
            assert len(store.get_artifact_history(1)) == 3
        finally:
            store.close()


@pytest.mark.postgres
def test_rerunning_a_copy_changes_nothing_and_finishes_an_interrupted_one(source, capsys):
    pg = postgres_database("mlineage_copy")
    assert main(["copy", "--from", source, "--to", pg]) == 0
    copied, copied_marks = all_rows(pg), marks(pg)
    capsys.readouterr()
    assert main(["copy", "--from", source, "--to", pg]) == 0
    assert "0 rows written" in capsys.readouterr().out
    assert all_rows(pg) == copied and marks(pg) == copied_marks
    # An interruption: the last tables lost (as a kill after the first tables' batches leaves them).
    engine = create_engine(normalize_url(pg))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM openlineage_events"))
        connection.execute(text("DELETE FROM metric_points WHERE seq > 1"))
    engine.dispose()
    assert main(["copy", "--from", source, "--to", pg, "--batch-size", "1"]) == 0
    assert "3 rows written" in capsys.readouterr().out  # two points, one event
    _same(all_rows(source), all_rows(pg))


def test_copy_into_a_target_holding_other_data_is_refused_and_writes_nothing(source, tmp_path, capsys):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    store = Store(other)
    store.put_artifact_type(pb.ArtifactType(name="Elsewhere"))
    store.close()
    before = all_rows(other)
    assert main(["copy", "--from", source, "--to", other]) == 2
    err = capsys.readouterr().err
    assert "the target holds data that is not a copy of this source (changes: the row with key (1,)" in err
    assert "Traceback" not in err and "constraint" not in err
    assert all_rows(other) == before


def test_copy_refuses_a_source_behind_head_and_a_missing_target(source, tmp_path, capsys):
    old = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{old}")
    from mlineage.migrations import runner

    runner.upgrade(engine, "0003")
    engine.dispose()
    target = tmp_path / "target.db"
    assert main(["copy", "--from", f"sqlite:///{old}", "--to", f"sqlite:///{target}", "--create"]) == 2
    assert "upgrade it first with `mlineage db upgrade --db URL`" in capsys.readouterr().err
    assert not target.exists()
    assert main(["copy", "--from", source, "--to", f"sqlite:///{target}"]) == 2
    assert "or pass --create" in capsys.readouterr().err
    assert not target.exists()
    assert main(["copy", "--from", source, "--to", source]) == 2
    assert "the same database" in capsys.readouterr().err


@pytest.mark.parametrize("target_backend", ["sqlite", "postgresql"])
def test_export_then_restore_is_identical_in_every_table(source, tmp_path, capsys, target_backend):
    backup = tmp_path / "backup.mlineage.zip"
    assert main(["export", "--db", source, "-o", str(backup)]) == 0
    assert "exported" in capsys.readouterr().out
    with zipfile.ZipFile(backup) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
    assert manifest["format"] == "mlineage-export" and manifest["format_version"] == 1
    assert {e["name"] for e in manifest["tables"]} == {table.name for table in t.metadata.sorted_tables}
    if target_backend == "sqlite":
        target = f"sqlite:///{tmp_path / 'restored.db'}"
        argv = ["restore", str(backup), "--db", target, "--create"]
    else:
        target = postgres_database("mlineage_restore")
        argv = ["restore", str(backup), "--db", target]
    assert main(argv) == 0
    assert "restored" in capsys.readouterr().out
    _same(all_rows(source), all_rows(target))
    assert marks(target) == marks(source)
    # A second restore into it: it holds data now.
    assert main(argv) == 2
    assert "the target holds data" in capsys.readouterr().err
    _same(all_rows(source), all_rows(target))


def test_restore_of_an_older_revision_upgrades_to_head(tmp_path, capsys):
    from mlineage.migrations import runner

    old = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{old}")
    runner.upgrade(engine, "0003")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO types (id, namespace, kind, name, version, base_type) "
                                "VALUES (10, 'default', 1, 'Old', '', 0)"))
        connection.execute(text("INSERT INTO artifacts (id, namespace, type_id, uri, create_time_since_epoch, "
                                "last_update_time_since_epoch, system_metadata) VALUES (5, 'default', 10, '/old', 1, 2, "
                                ":meta)"), {"meta": any_pb2.Any(type_url="t/x", value=b"\x00\xff").SerializeToString()})
    engine.dispose()
    backup = tmp_path / "old.zip"
    assert main(["export", "--db", f"sqlite:///{old}", "-o", str(backup)]) == 0
    target = tmp_path / "new.db"
    assert main(["restore", str(backup), "--db", f"sqlite:///{target}", "--create"]) == 0
    assert f"then upgraded to {runner.head_revision()}" in capsys.readouterr().out
    store = Store(f"sqlite:///{target}")
    try:
        [artifact] = store.get_artifacts_by_id([5])
        assert (artifact.uri, artifact.create_time_since_epoch, artifact.last_update_time_since_epoch) == ("/old", 1, 2)
        assert len(store.get_artifact_history(5)) == 1
        assert artifact.system_metadata.value == b"\x00\xff"
        [new_id] = store.put_artifacts([pb.Artifact(type_id=10, uri="/new")])
        assert new_id == 6
    finally:
        store.close()


def _count_tables(path: Path) -> int:
    if not path.exists():
        return -1
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(text("sqlite_master"))).scalar_one()
    finally:
        engine.dispose()


def _rewrite(backup: Path, out: Path, *, manifest=None, member: tuple[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(backup) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "manifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
            if member is not None and info.filename == member[0]:
                data = member[1]
            dst.writestr(info.filename, data)


def test_restore_refuses_bad_files_with_a_clear_error_and_writes_nothing(source, tmp_path, capsys):
    backup = tmp_path / "backup.zip"
    assert main(["export", "--db", source, "-o", str(backup)]) == 0
    capsys.readouterr()
    with zipfile.ZipFile(backup) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    not_export = tmp_path / "notes.txt"
    not_export.write_text("hello\n")
    newer = tmp_path / "newer.zip"
    _rewrite(backup, newer, manifest={**manifest, "format_version": 99, "mlineage_version": "9.0"})
    future = tmp_path / "future.zip"
    _rewrite(backup, future, manifest={**manifest, "schema_revision": "9999"})
    damaged = tmp_path / "damaged.zip"
    _rewrite(backup, damaged, member=("tables/artifacts.ndjson", b'{"id": 1}\n'))
    cases = {
        not_export: "is not an mlineage export",
        source.removeprefix("sqlite:///"): "is not an mlineage export",  # a database, not an export
        newer: "export format version 99, written by a newer mlineage (9.0)",
        future: "schema revision 9999, which this mlineage does not know",
        damaged: "is damaged: artifacts holds 1 rows",
        tmp_path / "missing.zip": "no export file at",
    }
    for path, message in cases.items():
        target = tmp_path / "target.db"
        assert main(["restore", str(path), "--db", f"sqlite:///{target}", "--create"]) == 2, path
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (path, err)
        assert _count_tables(target) == -1  # not even created


def test_export_refuses_a_database_that_is_not_mlineage(tmp_path, capsys):
    empty = tmp_path / "empty.db"
    engine = create_engine(f"sqlite:///{empty}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE Artifact (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    out = tmp_path / "x.zip"
    assert main(["export", "--db", f"sqlite:///{empty}", "-o", str(out)]) == 2
    assert "is not an mlineage database" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "x.zip.partial").exists()


class _StopAfter(Progress):
    """Interrupts a copy after ``batches`` batches went in (as Ctrl-C or a kill between two commits would)."""

    def __init__(self, batches: int) -> None:
        self.left = batches

    def advance(self, table: str, rows: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt


@pytest.mark.parametrize("target_backend", ["sqlite", "postgresql"])
def test_a_copy_interrupted_between_batches_then_rerun_is_the_same_as_one_copy(source, tmp_path, target_backend):
    target = (f"sqlite:///{tmp_path / 'target.db'}" if target_backend == "sqlite"
              else postgres_database("mlineage_copy"))
    if target_backend == "sqlite":
        Database(target, create=True).close()
    for stop_after in (3, 12, 33):  # the last cut falls inside a table (types) with this scenario
        with Database(source) as from_db, Database(target) as to_db, pytest.raises(KeyboardInterrupt):
            copy_database(from_db, to_db, batch_size=2, progress=_StopAfter(stop_after))
    partial = all_rows(target)
    assert 0 < sum(map(len, partial.values())) < sum(map(len, all_rows(source).values()))
    with Database(source) as from_db, Database(target) as to_db:
        summary = copy_database(from_db, to_db, batch_size=2)
    assert summary.written == summary.rows - sum(tally.present for tally in summary.tables.values())
    assert any(tally.present and tally.written for tally in summary.tables.values())  # a table finished
    _same(all_rows(source), all_rows(target))
    assert marks(target) == marks(source)


def test_a_progress_bar_on_a_terminal_and_a_summary_at_the_end(source, tmp_path):
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlineage.cli", "copy", "--from", source, "--to",
         f"sqlite:///{tmp_path / 'target.db'}", "--create"],
        stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True,
    )  # fmt: skip
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0
    shown = output.decode(errors="replace")
    artifacts = len(all_rows(source)["artifacts"])
    assert f"{artifacts}/{artifacts}" in shown and "artifacts_history" in shown, shown  # the bar, complete
    assert "rows written" in shown and "written    present" in shown


def test_no_progress_bar_when_not_on_a_terminal(source, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlineage.cli", "copy", "--from", source, "--to",
         f"sqlite:///{tmp_path / 'target.db'}", "--create"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_a_copy_of_a_source_written_to_since_is_refused_and_left_as_it_was(source, tmp_path, capsys):
    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert main(["copy", "--from", source, "--to", target, "--create"]) == 0
    copied = all_rows(target)
    store = Store(source)
    [artifact] = store.get_artifacts_by_id([1])
    artifact.uri = "/moved"
    store.put_artifacts([artifact])
    store.close()
    capsys.readouterr()
    assert main(["copy", "--from", source, "--to", target]) == 2
    err = capsys.readouterr().err
    assert "not a copy of this source" in err and "needs a new target" in err
    assert all_rows(target) == copied
