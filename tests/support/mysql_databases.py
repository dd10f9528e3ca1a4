"""MariaDB databases for tests: a new empty one per call, and the per-test reset of a shared store database.

Importable by this unique name from any test file (``from mysql_databases import …``): a test file's
``from conftest import …`` finds whichever conftest.py was loaded last when the whole suite runs.
MLINEAGE_TEST_MYSQL_URL names the server (scripts/start_mariadb.sh); without it a test is skipped,
and fails under MLINEAGE_REQUIRE_MYSQL=1 (CI).
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from mlineage.migrations.runner import head_revision
from mlineage.schema import metadata

MYSQL_URL = os.environ.get("MLINEAGE_TEST_MYSQL_URL")
REQUIRE_MYSQL = os.environ.get("MLINEAGE_REQUIRE_MYSQL") == "1"

_DATA_TABLES = [table.name for table in reversed(metadata.sorted_tables) if table.name != "types"]
_ID_TABLES = [table.name for table in metadata.sorted_tables if "id" in table.c and table.c.id.autoincrement is True]


def mysql_database(prefix: str) -> str:
    """Create a new, empty database on the test MariaDB server and return its URL."""
    if not MYSQL_URL:
        if REQUIRE_MYSQL:
            pytest.fail("MLINEAGE_TEST_MYSQL_URL is not set but MLINEAGE_REQUIRE_MYSQL=1")
        pytest.skip("MariaDB not configured (set MLINEAGE_TEST_MYSQL_URL; scripts/start_mariadb.sh prints it)")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(MYSQL_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}`"))
    admin.dispose()
    base, _, _ = MYSQL_URL.rpartition("/")
    return f"{base}/{name}"


def reset_mysql(url: str) -> None:
    """Empty a store database at head, as a new one is (the system types kept, ids from the start again)."""
    # DELETE (instant on an empty table, where TRUNCATE rebuilds it) and AUTO_INCREMENT back to the
    # first free id, as conftest's _reset_postgres restarts the sequences.
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        for name in _DATA_TABLES:
            connection.execute(text(f"DELETE FROM `{name}`"))
        connection.execute(text("DELETE FROM types WHERE id > 9"))
        connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
        connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
    with engine.connect() as connection:
        for name in _ID_TABLES:
            connection.execute(text(f"ALTER TABLE `{name}` AUTO_INCREMENT = 1"))
    engine.dispose()
