"""Shared fixtures: a fresh store per test on SQLite (a real file), PostgreSQL and MariaDB (real servers).

PostgreSQL comes from MLINEAGE_TEST_POSTGRES_URL, which `.ci/run` (through
scripts/start_postgres.sh) always sets; MariaDB from MLINEAGE_TEST_MYSQL_URL
(scripts/start_mariadb.sh). Outside CI, tests on them are skipped only when the
variable is unset, and CI fails if that happens (see MLINEAGE_REQUIRE_POSTGRES
and MLINEAGE_REQUIRE_MYSQL).
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

# Shared helpers live in tests/support/ (servers, scenarios, paths); tests import them by module name.
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

import mlineage
from mlineage.metadata.engine import normalize_url
from mlineage.metadata.store import Store
from mlineage.migrations.runner import head_revision
from mlineage.schema import metadata

POSTGRES_URL = os.environ.get("MLINEAGE_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("MLINEAGE_REQUIRE_POSTGRES") == "1"
# The backends of tests with lists of their own (servers, copies); the store fixtures run on STORE_BACKENDS.
BACKENDS = ["sqlite", "postgresql"]
STORE_BACKENDS = [*BACKENDS, "mysql"]
# MariaDB (scripts/start_mariadb.sh): a store backend, and MLMD sources for `mlineage import-mlmd`; its
# databases are made and reset by tests/support/mysql_databases.py (importable by that unique name).
from mysql_databases import MYSQL_URL, REQUIRE_MYSQL, mysql_database, reset_mysql  # noqa: E402, F401


def postgres_database(prefix: str) -> str:
    """Create a new, empty database on the test server and return its URL."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("MLINEAGE_TEST_POSTGRES_URL is not set but MLINEAGE_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL not configured (set MLINEAGE_TEST_POSTGRES_URL; .ci/run does)")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base, _, _ = normalize_url(POSTGRES_URL).rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once; each test copies it."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    store = Store(f"sqlite:///{path}")
    store.close()
    return path


@pytest.fixture(scope="session")
def postgres_store_url() -> Iterator[str]:
    url = postgres_database("mlineage_store")
    store = Store(url)
    store.close()
    yield url


_DATA_TABLES = [table.name for table in reversed(metadata.sorted_tables) if table.name != "types"]


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE " + ", ".join(_DATA_TABLES) + " RESTART IDENTITY CASCADE"))
        connection.execute(text("DELETE FROM types WHERE id > 9"))
        connection.execute(text("SELECT setval(pg_get_serial_sequence('types', 'id'), 9)"))
        # A test may stamp the shared database with another revision (e.g. a "newer" schema).
        connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
    engine.dispose()


@pytest.fixture(scope="session")
def mysql_store_url() -> Iterator[str]:
    url = mysql_database("mlineage_store")
    store = Store(url)
    store.close()
    yield url


# The test files whose store tests (the store_url/store fixtures) run on MySQL/MariaDB too: every test of a
# listed file on all three backends. A file joins once it passes there (MLINEAGE_TEST_MYSQL_EVERY_FILE=1 runs
# every store test on MySQL, to see); the others run on SQLite and PostgreSQL only for now. Files with backend
# lists of their own (migrations, filter queries) name "mysql" there.
MYSQL_FILES = frozenset({
    "tests/api/mlflow/test_tracking_api.py",
    "tests/api/mlflow/test_tracking_client.py",
    "tests/api/mlflow/test_tracking_concurrency.py",
    "tests/api/test_grpc_history.py",
    "tests/api/test_grpc_history_service.py",
    "tests/api/test_rest_api.py",
    "tests/api/test_rest_errors.py",
    "tests/api/test_rest_history.py",
    "tests/api/test_rest_metric_series.py",
    "tests/api/test_rest_openlineage.py",
    "tests/api/test_rest_purge.py",
    "tests/api/test_rest_requests.py",
    "tests/api/test_rest_type_names.py",
    "tests/api/test_serve_http_extras.py",
    "tests/cli/test_cli_history.py",
    "tests/cli/test_cli_purge.py",
    "tests/client/test_client_journal_format.py",
    "tests/compat/test_type_lists_match_mlmd.py",
    "tests/compat/test_update_masks.py",
    "tests/lineage/test_lineage_engine.py",
    "tests/lineage/test_lineage_mlmd.py",
    "tests/lineage/test_lineage_one_statement.py",
    "tests/lineage/test_lineage_over_grpc.py",
    "tests/lineage/test_lineage_query.py",
    "tests/lineage/test_lineage_views.py",
    "tests/metadata/test_access_tier.py",
    "tests/metadata/test_error_messages.py",
    "tests/metadata/test_filter_limits.py",
    "tests/metadata/test_history.py",
    "tests/metadata/test_limits.py",
    "tests/metadata/test_migration_proof.py",
    "tests/metadata/test_purge.py",
    "tests/metadata/test_schema_matches_migrations.py",
    "tests/metadata/test_smoke_store.py",
    "tests/metadata/test_store_contexts.py",
    "tests/metadata/test_store_errors.py",
    "tests/metadata/test_store_events.py",
    "tests/metadata/test_store_listing.py",
    "tests/metadata/test_store_nodes.py",
    "tests/metadata/test_store_put_execution.py",
    "tests/metadata/test_store_transaction.py",
    "tests/metadata/test_store_types.py",
    "tests/reports/test_compare_mlflow_runs.py",
    "tests/reports/test_compare_outputs.py",
    "tests/reports/test_compare_selection.py",
    "tests/reports/test_compare_tfx_mlmd.py",
})
# MLINEAGE_TEST_MYSQL_EVERY_FILE=1: every store test on MySQL too (to see which files are ready to join).
MYSQL_EVERY_FILE = os.environ.get("MLINEAGE_TEST_MYSQL_EVERY_FILE") == "1"


@pytest.fixture
def store_url(request, tmp_path, sqlite_template) -> str:
    backend = request.param if hasattr(request, "param") else "sqlite"
    if backend == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    if backend == "mysql":
        url = request.getfixturevalue("mysql_store_url")
        reset_mysql(url)
        return url
    url = request.getfixturevalue("postgres_store_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def store(store_url) -> Iterator[Store]:
    opened = mlineage.connect(store_url)
    yield opened
    opened.close()


def pytest_generate_tests(metafunc):
    # Every test that uses a store runs on both backends.
    if "store_url" in metafunc.fixturenames and "backend" not in metafunc.fixturenames:
        path = Path(metafunc.definition.fspath).resolve()
        relative = path.relative_to(Path(__file__).resolve().parent.parent).as_posix()
        backends = [b for b in STORE_BACKENDS if b != "mysql" or relative in MYSQL_FILES or MYSQL_EVERY_FILE]
        chosen = metafunc.definition.get_closest_marker("backends")
        if chosen is not None:  # @pytest.mark.backends("postgresql", "mysql"): those only
            backends = [b for b in STORE_BACKENDS if b in chosen.args]
        metafunc.parametrize("store_url", backends, indirect=True)
