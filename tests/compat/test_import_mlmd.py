"""`mlineage import-mlmd`: real MLMD databases (schema v6-v10, SQLite, PostgreSQL, MariaDB) into mlineage, ids kept.

Each test imports a source made by the real ml-metadata 1.17.1 (the fixtures in
tests/data/mlmd/, copied from MLMD's own migrations, or a source the real client
builds in the test), serves the result with `mlineage serve`, and asks the
unmodified ml-metadata client the same questions it asks MLMD in-process on the
source (MLMD upgrades a copy of a v6-v9 file to read it, as it must): every type,
node, event and link, field by field, must be the same answer.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import POSTGRES_URL, postgres_database
from grpc_server import mlineage_server, require_mlmd_python
from mysql_databases import mysql_database
from paths import DATA, SUPPORT
from sqlalchemy import create_engine, text

from mlineage.cli import main
from mlineage.metadata.engine import normalize_url
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

pytestmark = pytest.mark.mlmd

FIXTURES = DATA / "mlmd"
SOURCE_SCRIPT = SUPPORT / "mlmd_import_source.py"
DATA_TABLES = [
    "types", "type_properties", "artifacts", "executions", "contexts", "artifact_properties",
    "execution_properties", "context_properties", "events", "attributions", "associations", "parent_contexts",
]  # fmt: skip


def mlmd_dump(*where: str) -> dict[str, Any]:
    """What the real client answers (see mlmd_import_source.dump): in-process on a source, or over gRPC."""
    python = require_mlmd_python()
    result = subprocess.run(
        [python, str(SOURCE_SCRIPT), "dump", *where], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def mlmd_build(*where: str, nodes: int = 0) -> None:
    python = require_mlmd_python()
    result = subprocess.run(
        [python, str(SOURCE_SCRIPT), "build", *where, "--nodes", str(nodes)], capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def import_mlmd(source: str, db: str, *extra: str) -> int:
    return main(["import-mlmd", source, "--db", db, "--no-progress", *extra])


def assert_same(mlmd: Any, mlineage: Any, allowed: set[str] = frozenset(), path: str = "") -> None:
    """Equal, field by field; ``allowed`` holds dotted paths (``*`` for any list index) that may differ."""
    generic = ".".join("*" if part.isdigit() else part for part in path.lstrip(".").split("."))
    if generic in allowed:
        return
    if isinstance(mlmd, dict) and isinstance(mlineage, dict):
        for key in sorted(set(mlmd) | set(mlineage)):
            assert_same(mlmd.get(key, "<absent>"), mlineage.get(key, "<absent>"), allowed, f"{path}.{key}")
        return
    if isinstance(mlmd, list) and isinstance(mlineage, list):
        assert len(mlmd) == len(mlineage), f"{path}: MLMD has {len(mlmd)} items, mlineage {len(mlineage)}"
        for index, (left, right) in enumerate(zip(mlmd, mlineage, strict=True)):
            assert_same(left, right, allowed, f"{path}.{index}")
        return
    assert mlmd == mlineage, f"{path}: MLMD {mlmd!r} != mlineage {mlineage!r}"


def served_dump(db_url: str) -> dict[str, Any]:
    with mlineage_server(db_url) as server:
        return mlmd_dump("--grpc", server.target)


def table_rows(db_url: str) -> dict[str, list]:
    """Every row of mlineage's data tables (history's ``changes`` aside), in key order."""
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as connection:
            return {
                name: sorted(tuple(row) for row in connection.execute(text(f"SELECT * FROM {name}")))
                for name in DATA_TABLES
            }
    finally:
        engine.dispose()


def change_rows(db_url: str) -> list[tuple]:
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text("SELECT surface, actor, peer FROM changes ORDER BY id"))]
    finally:
        engine.dispose()


def mlmd_postgres_source() -> tuple[str, str]:
    """A new PostgreSQL database for an MLMD source: (its URL, the HOST:PORT:DB:USER the client takes)."""
    url = postgres_database("mlmd_source")
    parsed = create_engine(normalize_url(url)).url
    return url, f"{parsed.host}:{parsed.port}:{parsed.database}:{parsed.username}"


# --- every fixture version ---------------------------------------------------------------------


FIXTURE_FILES = ["mlmd_v6_tfx.db", "mlmd_v7_tfx.db", "mlmd_v8_tfx.db", "mlmd_v9_tfx.db",
                 "mlmd_v10_tfx_legacy.db", "mlmd_v10_tfx.db", "mlmd_v10_demo.db"]  # fmt: skip


@pytest.mark.parametrize("fixture", FIXTURE_FILES)
def test_every_record_of_each_schema_version_reads_back_as_mlmd_answered(fixture, tmp_path):
    source = FIXTURES / fixture
    expected = mlmd_dump("--sqlite", str(source), "--upgrade")
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(f"sqlite:///{source}", db, "--create") == 0
    got = served_dump(db)
    assert got["artifacts"] and got["events"], "the fixture holds records"
    assert_same(expected, got)
    if fixture.startswith("mlmd_v10_tfx"):
        counts = json.loads((FIXTURES / "mlmd_tfx_expected.json").read_text())["counts"]
        assert {k: len(got[k]) for k in counts} == counts


# --- a source with every kind of record, on SQLite and on PostgreSQL -----------------------------


@pytest.fixture(scope="module")
def rich_sqlite_source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rich") / "mlmd.db"
    mlmd_build("--sqlite", str(path))
    return path


def test_every_value_type_state_and_link_reads_back_as_mlmd_answered(rich_sqlite_source, tmp_path, capsys):
    expected = mlmd_dump("--sqlite", str(rich_sqlite_source))
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(f"sqlite:///{rich_sqlite_source}", db, "--create") == 0
    summary = capsys.readouterr().out
    assert "imported MLMD schema v10" in summary and "artifacts          8" in summary
    got = served_dump(db)
    assert_same(expected, got)
    data = next(a for a in got["artifacts"] if a["id"] == "1")
    assert set(data["properties"]) == {"n", "x", "s", "st", "p", "b"}
    assert data["properties"]["p"]["proto_value"]["value"] == "packed"
    assert data["properties"]["st"]["struct_value"] == {"k": 0.0, "nested": {"l": [1.0, "two", None, True]}}
    assert {e["type"] for e in got["events"]} == set(pb.Event.Type.keys()) - {"UNKNOWN"}


def test_type_external_ids_base_types_and_struct_types_are_kept(rich_sqlite_source, tmp_path):
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(f"sqlite:///{rich_sqlite_source}", db, "--create") == 0
    store = Store(db)
    try:
        data = store.get_artifact_type("Data", type_version="v2")
        assert (data.id, data.external_id, data.base_type, data.description) == (10, "type:data", 1, "a dataset")
        train = store.get_execution_types_by_external_ids(["type:train"])[0]
        assert train.base_type == pb.ExecutionType.TRAIN
        assert train.input_type.dict.properties["examples"].simple.name == "Data"
        assert train.output_type.HasField("none")
        [context] = store.get_contexts_by_external_ids(["context:0"])
        assert context.name == "exp-0"
    finally:
        store.close()


def test_a_postgresql_mlmd_source_built_by_the_real_client(tmp_path):
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured")
    url, where = mlmd_postgres_source()
    mlmd_build("--postgresql", where)
    expected = mlmd_dump("--postgresql", where)
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(url, db, "--create") == 0
    assert_same(expected, served_dump(db))


def test_into_postgresql_and_new_ids_follow_the_imported_ones(rich_sqlite_source):
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured")
    db = postgres_database("mlineage_import")
    assert import_mlmd(f"sqlite:///{rich_sqlite_source}", db, "--create") == 0
    assert_same(mlmd_dump("--sqlite", str(rich_sqlite_source)), served_dump(db))
    store = Store(db)
    try:
        type_id = store.put_artifact_type(pb.ArtifactType(name="After"))
        [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id)])
        assert (type_id, artifact_id) == (14, 9)  # the next ids after the source's (types 10-13, artifacts 1-8)
    finally:
        store.close()


def test_new_ids_follow_the_imported_ones_on_sqlite(rich_sqlite_source, tmp_path):
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(f"sqlite:///{rich_sqlite_source}", db, "--create") == 0
    store = Store(db)
    try:
        type_id = store.put_artifact_type(pb.ArtifactType(name="After"))
        assert store.put_artifacts([pb.Artifact(type_id=type_id)]) == [9]
        assert type_id == 14
    finally:
        store.close()


# --- idempotence, resumption, history --------------------------------------------------------


def test_a_second_run_changes_nothing(tmp_path, capsys):
    source = f"sqlite:///{FIXTURES / 'mlmd_v10_tfx.db'}"
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(source, db, "--create", "--batch-size", "7") == 0
    rows, changes = table_rows(db), change_rows(db)
    capsys.readouterr()
    assert import_mlmd(source, db) == 0
    assert "(0 batches)" in capsys.readouterr().out
    assert table_rows(db) == rows and change_rows(db) == changes


def test_each_batch_is_one_change_by_the_import_and_rows_count_from_their_mlmd_times(tmp_path):
    source = FIXTURES / "mlmd_v10_tfx.db"
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(f"sqlite:///{source}", db, "--create", "--batch-size", "10") == 0
    changes = change_rows(db)
    assert changes and set(changes) == {("import", "mlineage import-mlmd", f"sqlite:///{source.resolve()}")}
    engine = create_engine(db)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM artifacts WHERE change_id != 0")).scalar() == 0
        first = connection.execute(text("SELECT min(create_time_since_epoch) FROM artifacts")).scalar()
    engine.dispose()
    mlmd_first = sqlite3.connect(source).execute("SELECT min(create_time_since_epoch) FROM Artifact").fetchone()[0]
    assert first == mlmd_first
    store = Store(db)
    try:
        # As of a moment long before the import ran: the records MLMD had made by then, as they are now.
        [artifact] = store.get_artifacts_by_id([1])
        past = store.as_of(artifact.create_time_since_epoch)
        assert past.get_artifacts_by_id([1]) == [artifact]
        [revision] = store.get_artifact_history(1)
        assert revision.revision == 1
    finally:
        store.close()


def test_a_kill_in_the_middle_then_a_rerun_equals_one_run(tmp_path):
    source_path = tmp_path / "big.db"
    mlmd_build("--sqlite", str(source_path), nodes=30000)
    source = f"sqlite:///{source_path}"
    once = f"sqlite:///{tmp_path / 'once.db'}"
    assert import_mlmd(source, once, "--create") == 0
    killed = tmp_path / "killed.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "mlineage.cli", "import-mlmd", source, "--db", f"sqlite:///{killed}", "--create",
         "--no-progress", "--batch-size", "200"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        try:
            connection = sqlite3.connect(f"file:{killed}?mode=ro", uri=True, timeout=0.1)
            seen = connection.execute("SELECT count(*) FROM artifacts").fetchone()[0]
            connection.close()
        except sqlite3.Error:
            continue
        if seen >= 2000:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL, f"the import ended before it was killed: {seen} artifacts"
    partial = table_rows(f"sqlite:///{killed}")
    assert 2000 <= len(partial["artifacts"]) < 30008
    assert import_mlmd(source, f"sqlite:///{killed}") == 0
    assert table_rows(f"sqlite:///{killed}") == table_rows(once)


# --- bad input: a clear error, nothing written ------------------------------------------------


@pytest.fixture
def empty_target(tmp_path) -> str:
    db = f"sqlite:///{tmp_path / 'target.db'}"
    Store(db).close()
    return db


def _refused(source: str, db: str, capsys, *words: str) -> None:
    before = table_rows(db), change_rows(db)
    capsys.readouterr()
    assert import_mlmd(source, db) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    assert (table_rows(db), change_rows(db)) == before


def test_a_source_that_is_not_an_mlmd_database(tmp_path, empty_target, capsys):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x INTEGER)").connection.commit()
    _refused(f"sqlite:///{other}", empty_target, capsys, "not an MLMD database")
    mlineage_db = tmp_path / "mlineage_source.db"
    Store(f"sqlite:///{mlineage_db}").close()
    _refused(f"sqlite:///{mlineage_db}", empty_target, capsys, "not an MLMD database", "mlineage database")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database file at all" * 100)
    _refused(f"sqlite:///{garbage}", empty_target, capsys, "not a readable MLMD database")
    _refused(f"sqlite:///{tmp_path / 'missing.db'}", empty_target, capsys, "no MLMD database at")
    _refused("mssql://user@localhost/mlmd", empty_target, capsys, "unsupported MLMD source")


@pytest.mark.parametrize("version", [5, 11])
def test_an_mlmd_schema_version_outside_6_to_10(version, tmp_path, empty_target, capsys):
    source = tmp_path / "mlmd.db"
    shutil.copy(FIXTURES / "mlmd_v10_tfx.db", source)
    connection = sqlite3.connect(source)
    connection.execute("UPDATE MLMDEnv SET schema_version = ?", (version,))
    connection.commit()
    connection.close()
    _refused(f"sqlite:///{source}", empty_target, capsys, f"schema version {version}", "6 to 10")


def test_a_target_that_holds_other_records(tmp_path, empty_target, capsys):
    store = Store(empty_target)
    type_id = store.put_artifact_type(pb.ArtifactType(name="Mine"))
    store.put_artifacts([pb.Artifact(type_id=type_id, uri="/mine")])
    store.close()
    _refused(f"sqlite:///{FIXTURES / 'mlmd_v10_tfx.db'}", empty_target, capsys, "already holds records")


def test_a_target_that_holds_another_sources_import(tmp_path, empty_target, capsys):
    assert import_mlmd(f"sqlite:///{FIXTURES / 'mlmd_v10_demo.db'}", empty_target) == 0
    _refused(f"sqlite:///{FIXTURES / 'mlmd_v10_tfx.db'}", empty_target, capsys, "already holds records")


def test_a_target_written_to_after_the_import_is_refused(tmp_path, empty_target, capsys):
    source = f"sqlite:///{FIXTURES / 'mlmd_v10_tfx.db'}"
    assert import_mlmd(source, empty_target) == 0
    store = Store(empty_target)
    [artifact] = store.get_artifacts_by_id([1])
    artifact.custom_properties["note"].string_value = "changed after the import"
    store.put_artifacts([artifact])
    store.close()
    _refused(source, empty_target, capsys, "already holds records")


def test_a_missing_target_needs_create(tmp_path, capsys):
    missing = tmp_path / "new.db"
    assert import_mlmd(f"sqlite:///{FIXTURES / 'mlmd_v10_tfx.db'}", f"sqlite:///{missing}") == 2
    assert "--create" in capsys.readouterr().err and not missing.exists()


def test_a_progress_bar_on_a_terminal_and_a_summary_at_the_end(tmp_path):
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlineage.cli", "import-mlmd", f"sqlite:///{FIXTURES / 'mlmd_v10_tfx.db'}",
         "--db", db, "--create"],
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
    assert "artifacts" in shown and "29/29" in shown and "66/66" in shown, shown  # the bar's rows, complete
    assert "imported MLMD schema v10" in shown and "imported    present    skipped" in shown


def test_no_progress_bar_when_not_on_a_terminal(tmp_path):
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "mlineage.cli", "import-mlmd", f"sqlite:///{FIXTURES / 'mlmd_v10_tfx.db'}",
         "--db", db, "--create"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "29/29" not in result.stdout and "imported MLMD schema v10" in result.stdout


def test_duplicate_events_before_v8_are_kept_as_mlmds_upgrade_keeps_them(tmp_path):
    source = tmp_path / "mlmd_v7.db"
    shutil.copy(FIXTURES / "mlmd_v7_tfx.db", source)
    connection = sqlite3.connect(source)
    artifact_id, execution_id, event_type = connection.execute(
        "SELECT artifact_id, execution_id, type FROM Event ORDER BY id LIMIT 1"
    ).fetchone()
    # v7 has no UNIQUE(artifact_id, execution_id, type): a second event of the same key, later, with its own path.
    cursor = connection.execute(
        "INSERT INTO Event (artifact_id, execution_id, type, milliseconds_since_epoch) VALUES (?, ?, ?, 42)",
        (artifact_id, execution_id, event_type),
    )
    connection.execute("INSERT INTO EventPath VALUES (?, 0, NULL, 'again')", (cursor.lastrowid,))
    connection.commit()
    connection.close()
    expected = mlmd_dump("--sqlite", str(source), "--upgrade")
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(f"sqlite:///{source}", db, "--create") == 0
    got = served_dump(db)
    assert_same(expected, got)
    [kept] = [e for e in got["events"] if (int(e["artifact_id"]), int(e["execution_id"])) == (artifact_id, execution_id)
              and e.get("milliseconds_since_epoch") == "42"]  # fmt: skip
    assert kept["path"] == {"steps": [{"key": "again"}]}


def test_a_source_path_with_spaces_and_percent_signs_is_read_not_created(tmp_path):
    folder = tmp_path / "odd dir"
    folder.mkdir()
    source = folder / "mlmd 100%#1.db"
    shutil.copy(FIXTURES / "mlmd_v10_demo.db", source)
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(f"sqlite:///{source}", db, "--create") == 0
    assert table_rows(db)["artifacts"]
    assert sorted(p.name for p in folder.iterdir()) == [source.name]  # read-only: no journal left beside it


def test_a_source_older_than_its_system_types_keeps_its_type_ids(tmp_path):
    source = tmp_path / "mlmd.db"
    mlmd_build("--sqlite", str(source), "--late-system-types")
    # User types hold ids 1-4 and the system types came after them (mlineage seeds its own as 1-9).
    first_system, first_user = sqlite3.connect(source).execute(
        "SELECT min(CASE WHEN name LIKE 'mlmd.%' THEN id END), min(CASE WHEN name NOT LIKE 'mlmd.%' THEN id END) "
        "FROM Type"
    ).fetchone()
    assert (first_user, first_system) == (1, 14)
    expected = mlmd_dump("--sqlite", str(source))
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(f"sqlite:///{source}", db, "--create") == 0
    got = served_dump(db)
    assert_same(expected, got)
    late = next(t for t in got["artifact_types"] if t["name"] == "Late")
    assert late["base_type"] == "MODEL"
    store = Store(db)
    try:
        system = sqlite3.connect(source).execute("SELECT id FROM Type WHERE name = 'mlmd.Model'").fetchone()[0]
        assert store.get_artifact_type("mlmd.Model").id == system
    finally:
        store.close()
    assert import_mlmd(f"sqlite:///{source}", db) == 0  # and a rerun finds its own import


# --- MySQL/MariaDB sources, built by the real client --------------------------------------------


def mlmd_mysql_source() -> tuple[str, str]:
    """A new MariaDB database for an MLMD source: (its URL, the HOST:PORT:DB:USER the client takes)."""
    url = mysql_database("mlmd_source")
    parsed = create_engine(url).url
    return url, f"{parsed.host}:{parsed.port}:{parsed.database}:{parsed.username}"


@pytest.fixture(scope="module")
def mysql_source() -> tuple[str, str]:
    url, where = mlmd_mysql_source()
    mlmd_build("--mysql", where, nodes=600)
    return url, where


def test_a_mysql_mlmd_source_built_by_the_real_client(mysql_source, tmp_path, capsys):
    url, where = mysql_source
    expected = mlmd_dump("--mysql", where)
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    # mysql:// as a user writes it; a small batch so nodes, properties and events come over in many pages.
    assert import_mlmd(url.replace("mysql+pymysql://", "mysql://"), db, "--create", "--batch-size", "50") == 0
    assert "imported MLMD schema v10" in capsys.readouterr().out
    got = served_dump(db)
    assert_same(expected, got)
    assert len(got["artifacts"]) == 608
    labels = [e["custom_properties"]["label"]["string_value"] for e in got["executions"][:7]]
    assert labels[0] == "步骤 0 ✓ 🙂 Áō" and len(set(labels)) == 7
    data = next(a for a in got["artifacts"] if a["id"] == "1")
    assert data["properties"]["s"]["string_value"] == "text 0 ünïcode"
    assert data["properties"]["p"]["proto_value"]["value"] == "packed"
    assert data["properties"]["b"]["bool_value"] is True
    rows = table_rows(db)
    capsys.readouterr()
    assert import_mlmd(url, db) == 0  # a rerun finds its own import and writes nothing
    assert "(0 batches)" in capsys.readouterr().out and table_rows(db) == rows


def test_mlmd_text_on_mysql_is_stored_double_encoded_and_read_as_mlmd_meant_it(mysql_source, tmp_path):
    """MLMD's client writes UTF-8 through a latin1 connection: the column holds mojibake, the import the text."""
    url, _ = mysql_source
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT string_value FROM ArtifactProperty WHERE artifact_id = 1 AND name = 's'")
        ).scalar_one()
    engine.dispose()
    assert stored == "text 0 ünïcode".encode().decode("latin1")  # "Ã¼nÃ¯code", as MariaDB holds it
    db = f"sqlite:///{tmp_path / 'mlineage.db'}"
    assert import_mlmd(url, db, "--create") == 0
    store = Store(db)
    try:
        [artifact] = store.get_artifacts_by_id([1])
        assert artifact.properties["s"].string_value == "text 0 ünïcode"
        data = store.get_artifact_type("Data", type_version="v2")
        assert (data.description, data.external_id) == ("a dataset", "type:data")
    finally:
        store.close()


def test_a_mysql_source_is_read_in_one_snapshot(mysql_source):
    from mlineage.metadata.kinds import ARTIFACT
    from mlineage.metadata.mlmd_source import MlmdSource, source_engine

    url, _ = mysql_source
    with MlmdSource(source_engine(url)) as source:
        before, last = source.counts().artifacts, source.max_id(ARTIFACT)
        writer = create_engine(url)
        with writer.begin() as connection:  # MLMD writes meanwhile: committed, but after the snapshot
            connection.execute(text(
                "INSERT INTO Artifact (type_id, uri, create_time_since_epoch, last_update_time_since_epoch) "
                "SELECT type_id, 'written later', 1, 1 FROM Artifact WHERE id = 1"
            ))  # fmt: skip
        try:
            assert (source.counts().artifacts, source.max_id(ARTIFACT)) == (before, last)
            assert sum(len(nodes) for nodes, _ in source.node_batches(ARTIFACT, 100)) == before
        finally:
            with writer.begin() as connection:
                connection.execute(text("DELETE FROM Artifact WHERE uri = 'written later'"))
            writer.dispose()


def test_a_mysql_database_that_is_not_mlmds(empty_target, capsys):
    url = mysql_database("not_mlmd")  # skips without MariaDB (fails under MLINEAGE_REQUIRE_MYSQL=1)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    _refused(url, empty_target, capsys, "not an MLMD database")
    base, _, _ = url.rpartition("/")
    _refused(f"{base}/no_such_database", empty_target, capsys, "not a readable MLMD database", "Unknown database")
    _refused(url.replace("mysql+pymysql://", "mysql+mysqldb://"), empty_target, capsys, "through PyMySQL")
