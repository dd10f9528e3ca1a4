"""`mlineage doctor`: a healthy database passes; a missing index, an old schema or a foreign database is named
with its fix, and the printed fix fixes it; a database that cannot be checked is one line and exit 2."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import postgres_database
from paths import DATA
from sqlalchemy import create_engine, text

from mlineage.metadata.databases import Database
from mlineage.metadata.engine import normalize_url
from mlineage.migrations.runner import head_revision, history


def _doctor(url: str) -> subprocess.CompletedProcess:
    mlineage = str(Path(sys.executable).with_name("mlineage"))
    return subprocess.run([mlineage, "doctor", "--db", url], capture_output=True, text=True, timeout=120)


def _upgraded_sqlite(tmp_path: Path, revision: str = "head") -> tuple[str, Path]:
    path = tmp_path / "m.db"
    url = f"sqlite:///{path}"
    database = Database(url, create=True)
    try:
        database.upgrade(revision)
    finally:
        database.close()
    return url, path


def _remedies(output: str) -> list[str]:
    return [line.split("-> ", 1)[1] for line in output.splitlines() if "-> " in line]


def test_a_database_at_head_with_every_index_has_nothing_to_fix(tmp_path):
    url, _ = _upgraded_sqlite(tmp_path)
    result = _doctor(url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"at revision {head_revision()}" in result.stdout
    assert re.search(r"all \d+ indexes of the schema are present", result.stdout)
    assert result.stdout.strip().endswith("0 to fix, 0 warnings")


def test_a_dropped_index_is_named_and_the_printed_statement_restores_it(tmp_path):
    url, path = _upgraded_sqlite(tmp_path)
    with sqlite3.connect(path) as connection:
        connection.execute("DROP INDEX ix_events_execution_id")
    result = _doctor(url)
    assert result.returncode == 1, result.stdout
    assert "FIX   index    ix_events_execution_id on events (execution_id, type) is missing" in result.stdout
    (statement,) = _remedies(result.stdout)
    assert statement.startswith("CREATE INDEX ix_events_execution_id ON events")
    with sqlite3.connect(path) as connection:
        connection.execute(statement)
    assert _doctor(url).returncode == 0


def test_an_older_schema_says_to_run_the_migration(tmp_path):
    revisions = [revision for revision, _, _ in history()]
    older = next(revision for revision in revisions if revision != head_revision())
    url, _ = _upgraded_sqlite(tmp_path, older)
    result = _doctor(url)
    assert result.returncode == 1
    assert f"at revision {older}, older than this mlineage ({head_revision()})" in result.stdout
    assert "mlineage db upgrade --db URL" in result.stdout
    mlineage = str(Path(sys.executable).with_name("mlineage"))
    subprocess.run([mlineage, "db", "upgrade", "--db", url], check=True, capture_output=True, timeout=120)
    assert _doctor(url).returncode == 0


def test_an_mlmd_database_is_sent_to_import_mlmd_and_left_as_it_was(tmp_path):
    source = tmp_path / "mlmd.db"
    shutil.copy(DATA / "mlmd" / "mlmd_v10_tfx.db", source)
    before = source.read_bytes()
    result = _doctor(f"sqlite:///{source}")
    assert result.returncode == 1
    assert "mlineage import-mlmd SOURCE_URL --db URL" in result.stdout
    assert source.read_bytes() == before


def test_a_database_that_cannot_be_checked_is_one_line_and_exit_2(tmp_path):
    result = _doctor(f"sqlite:///{tmp_path / 'absent.db'}")
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "absent.db").exists()
    unreachable = _doctor("postgresql://nobody@127.0.0.1:1/none")
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr


@pytest.mark.postgres
def test_postgresql_settings_and_a_missing_hash_index(tmp_path):
    url = postgres_database("mlineage_doctor")
    database = Database(url)
    try:
        database.upgrade()
    finally:
        database.close()
    engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"ALTER DATABASE \"{url.rsplit('/', 1)[1]}\" "
                                    "SET idle_in_transaction_session_timeout = 0"))
            fsync = connection.execute(text("SHOW fsync")).scalar()
        # The test server may run without fsync (for speed): that is the one thing to fix doctor must name.
        baseline = 0 if fsync == "on" else 1
        healthy = _doctor(url)
        assert healthy.returncode == baseline, healthy.stdout
        assert ("FIX   setting  fsync is off" in healthy.stdout) == (fsync != "on")
        assert re.search(r"ok    setting  PostgreSQL \d+\.\d+", healthy.stdout)
        assert re.search(r"\d+ of max_connections \d+ connections in use", healthy.stdout)
        assert "WARN  setting  idle_in_transaction_session_timeout is off" in healthy.stdout

        with engine.connect() as connection:
            connection.execute(text("DROP INDEX ix_artifact_properties_string_hash"))
        result = _doctor(url)
        assert result.returncode == 1, result.stdout
        assert "ix_artifact_properties_string_hash on artifact_properties (string_value) is missing" in result.stdout
        statement = next(line for line in _remedies(result.stdout) if line.startswith("CREATE INDEX"))
        assert "USING hash" in statement
        with engine.connect() as connection:
            connection.execute(text(statement))
        again = _doctor(url)
        assert again.returncode == baseline and "missing" not in again.stdout, again.stdout
    finally:
        engine.dispose()


def test_mysql_tables_collation_and_a_missing_prefix_index(tmp_path):
    from mysql_databases import mysql_database

    url = mysql_database("mlineage_doctor")
    database = Database(url)
    try:
        database.upgrade()
    finally:
        database.close()
    healthy = _doctor(url)
    flush = _mysql_flush_setting(url)
    # The test server may run without a log flush per commit (for speed): the one thing to fix doctor must name.
    assert healthy.returncode == (0 if flush == 1 else 1), healthy.stdout
    assert ("FIX   setting  innodb_flush_log_at_trx_commit is" in healthy.stdout) == (flush != 1)
    assert re.search(r"ok    setting  MariaDB \d+\.\d+", healthy.stdout), healthy.stdout
    assert "ok    setting  mlineage's sessions run in strict sql_mode" in healthy.stdout
    assert re.search(r"\d+ of max_connections \d+ connections in use", healthy.stdout)
    assert "every table is InnoDB, utf8mb4 with a binary NO PAD collation" in healthy.stdout
    assert "every table's statistics match its size" in healthy.stdout
    baseline = healthy.returncode
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE contexts CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"))
            connection.execute(text("DROP INDEX ix_artifact_properties_string_value ON artifact_properties"))
        result = _doctor(url)
        assert result.returncode == 1, result.stdout
        assert "contexts compares text with utf8mb4_general_ci" in result.stdout
        assert "ix_artifact_properties_string_value on artifact_properties" in result.stdout
        remedies = _remedies(result.stdout)
        assert any("string_value(255)" in line for line in remedies), remedies
        with engine.begin() as connection:
            for statement in remedies:
                if not statement.startswith("SET GLOBAL"):  # the shared test server's settings stay as they are
                    connection.execute(text(statement.rstrip(";").split(";")[0]))
        assert _doctor(url).returncode == baseline
    finally:
        engine.dispose()


def _mysql_flush_setting(url: str) -> int:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT @@GLOBAL.innodb_flush_log_at_trx_commit")).scalar())
    finally:
        engine.dispose()


def test_mysql_stale_statistics_are_named_and_the_printed_analyze_refreshes_them(tmp_path):
    from mysql_databases import mysql_database

    from mlineage.metadata.store import Store
    from mlineage.proto import metadata_store_pb2 as pb

    url = mysql_database("mlineage_doctor")
    store = Store(url)
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as connection:  # as a table filled faster than InnoDB recalculates its statistics
            connection.execute(text("ALTER TABLE artifacts STATS_AUTO_RECALC = 0"))
        type_id = store.put_artifact_type(pb.ArtifactType(name="Rows"))
        store.put_artifacts([pb.Artifact(type_id=type_id, uri=f"mem://{n}") for n in range(1500)])
        stale = _doctor(url)
        assert "WARN  table    artifacts: its statistics count 0 rows, it holds 1500" in stale.stdout, stale.stdout
        [analyze] = [line for line in _remedies(stale.stdout) if line.startswith("ANALYZE TABLE")]
        assert analyze == "ANALYZE TABLE `artifacts`;"
        with engine.connect() as connection:
            connection.execute(text(analyze))
        fresh = _doctor(url)
        assert "artifacts: its statistics" not in fresh.stdout and "every table's statistics match" in fresh.stdout
        assert fresh.returncode == stale.returncode  # a warning, not a failure
    finally:
        engine.dispose()
        store.close()


def test_the_sqlite_only_and_shared_indexes_are_expected_on_sqlite(tmp_path):
    url, path = _upgraded_sqlite(tmp_path)
    with sqlite3.connect(path) as connection:
        connection.execute("DROP INDEX ix_artifact_properties_string_value")
    result = _doctor(url)
    assert result.returncode == 1 and "ix_artifact_properties_string_value" in result.stdout, result.stdout
