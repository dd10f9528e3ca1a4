#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the Python environments, PostgreSQL and MariaDB,
# starts a PostgreSQL server and a MariaDB one (a store backend, and MLMD-on-MySQL import sources), and runs
# pytest on SQLite, PostgreSQL and MariaDB (tests/conftest.py MYSQL_FILES) with the real ml-metadata client
# and the TFX stack.
# Extra arguments go to pytest (e.g. scripts/test.sh -k filter).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup_env.sh
eval "$(scripts/start_postgres.sh)"
eval "$(scripts/start_mariadb.sh)"
# In this script nothing may be skipped for want of PostgreSQL, MariaDB, ml-metadata, mlflow or the TFX stack.
export MLINEAGE_REQUIRE_POSTGRES=1 MLINEAGE_REQUIRE_MYSQL=1 MLINEAGE_REQUIRE_MLMD=1 MLINEAGE_REQUIRE_TFX=1
export MLINEAGE_REQUIRE_MLFLOW=1 MLINEAGE_REQUIRE_BROWSER=1 MLINEAGE_REQUIRE_OTEL=1
# kubectl (for `kubectl kustomize`, the reference renderer of deploy/): part of the machine image here.
export MLINEAGE_REQUIRE_KUSTOMIZE=1
.venv/bin/ruff check mlineage tests bench scripts
.venv/bin/mypy mlineage
# One pytest worker per core (pytest-xdist), a file's tests together on one worker (its fixtures are set
# up once); MLINEAGE_TEST_WORKERS=0 runs everything in this process.
exec .venv/bin/python -m pytest -q -n "${MLINEAGE_TEST_WORKERS:-auto}" --dist loadfile "$@"
