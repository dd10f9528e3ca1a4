"""Which commands may create a database (serve with no --db, db upgrade) and how the others refuse, in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import POSTGRES_URL, postgres_database
from paths import REPO_ROOT

from mlineage.cli import main

ROOT = REPO_ROOT


def _cli(*args: str, cwd: Path | None = None, code: str | None = None) -> subprocess.CompletedProcess:
    prefix = [sys.executable, "-c", code] if code else [sys.executable, "-m", "mlineage.cli"]
    return subprocess.run([*prefix, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [["db", "current", "--db"], ["lineage", "--artifact", "1", "--db"], ["metrics", "1", "--db"]],
    ids=["db-current", "lineage", "metrics"],
)
def test_read_commands_do_not_create_a_missing_database(tmp_path, command):
    url = f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}"
    line = _one_line(_cli(*command, url))
    assert "no database at" in line and "mlineage db upgrade" in line
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    "command",
    [["db", "current", "--db"], ["db", "upgrade", "--db"], ["lineage", "--artifact", "1", "--db"],
     ["metrics", "1", "--db"]],
    ids=["db-current", "db-upgrade", "lineage", "metrics"],
)
def test_a_file_that_is_not_a_database_is_one_line(tmp_path, command):
    path = tmp_path / "photo.db"
    path.write_bytes(b"\x89PNG\r\n" + b"\0" * 4096)
    line = _one_line(_cli(*command, f"sqlite:///{path}"))
    assert f"{path} is not a SQLite database" in line


def test_read_commands_leave_an_empty_file_empty(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    line = _one_line(_cli("lineage", "--artifact", "1", "--db", f"sqlite:///{path}"))
    assert "holds no mlineage database" in line and "mlineage db upgrade" in line
    assert path.stat().st_size == 0


def test_db_upgrade_creates_a_database_and_its_directory(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'x.db'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert main(["db", "current", "--db", url]) == 0


def test_db_commands_name_the_database_not_a_server(capsys):
    assert main(["db", "current", "--db", "grpc://127.0.0.1:1"]) == 2
    assert "works on the database itself" in capsys.readouterr().err


def test_postgres_driver_is_a_core_dependency():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dependency.startswith("psycopg[binary]") for dependency in project["dependencies"])


def test_a_missing_postgres_driver_is_one_line_saying_what_to_install():
    code = "import sys; sys.modules['psycopg'] = None; from mlineage.cli import main; sys.exit(main())"
    line = _one_line(_cli("db", "current", "--db", "postgresql://nobody@127.0.0.1:1/x", code=code))
    assert "pip install 'psycopg[binary]'" in line


def test_postgres_database_that_does_not_exist_is_one_line():
    if not POSTGRES_URL:
        postgres_database("skip")  # skips (or fails in CI) with the standard message
    base, _, _ = POSTGRES_URL.rpartition("/")
    line = _one_line(_cli("db", "current", "--db", f"{base}/mlineage_no_such_database"))
    assert "cannot open the database" in line and "does not exist" in line


@pytest.mark.postgres
def test_postgres_read_and_upgrade_through_the_cli():
    url = postgres_database("mlineage_cli")
    assert _cli("db", "current", "--db", url).returncode == 0  # empty: says so, creates nothing
    assert "holds no mlineage database" in _one_line(_cli("lineage", "--artifact", "1", "--db", url))
    assert _cli("db", "upgrade", "--db", url).returncode == 0
    assert "no such nodes: artifact 1" in _one_line(_cli("lineage", "--artifact", "1", "--db", url))
