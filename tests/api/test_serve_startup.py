"""`mlineage serve` start-up: a busy port or a wrong database is one line and a non-zero exit, never half a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from grpc_server import free_port, mlineage_server

START_TIMEOUT_S = 60


def _mlineage() -> list[str]:
    script = Path(sys.executable).with_name("mlineage")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlineage.cli"]


def _serve(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `mlineage serve ARGS` and expect it to exit by itself (it must not start)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("MLINEAGE_DB", "MLINEAGE_URL")}
    return subprocess.run([*_mlineage(), "serve", "--host", "127.0.0.1", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=START_TIMEOUT_S, env={**environment, **(env or {})})


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert result.stdout == "", result.stdout  # nothing said it was serving
    return lines[0]


@pytest.fixture
def taken_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def database(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    from mlineage.cli import main

    assert main(["db", "upgrade", "--db", url]) == 0
    return url


def test_busy_http_port_exits_with_one_line_naming_it(tmp_path, database, taken_port):
    result = _serve(["--db", database, "--grpc-port", "0", "--http-port", str(taken_port)], tmp_path)
    line = _one_error_line(result)
    assert f"HTTP on 127.0.0.1:{taken_port}" in line and "in use" in line


def test_busy_grpc_port_exits_with_one_line_naming_it(tmp_path, database, taken_port):
    result = _serve(["--db", database, "--grpc-port", str(taken_port), "--http-port", str(free_port())], tmp_path)
    line = _one_error_line(result)
    assert f"gRPC on 127.0.0.1:{taken_port}" in line and "in use" in line


def test_serve_refuses_a_database_path_that_does_not_exist(tmp_path):
    result = _serve(["--db", f"sqlite:///{tmp_path / 'typo.db'}", "--grpc-port", "0", "--http-port", "0"], tmp_path)
    line = _one_error_line(result)
    assert "no database at" in line and "typo.db" in line and "mlineage db upgrade" in line and "--create" in line
    assert not (tmp_path / "typo.db").exists()


def test_serve_refuses_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "notes.db").write_text("not a database\n" * 100)
    result = _serve(["--db", f"sqlite:///{tmp_path / 'notes.db'}", "--grpc-port", "0", "--http-port", "0"], tmp_path)
    assert "is not a SQLite database" in _one_error_line(result)


def test_serve_refuses_mlineage_db_naming_a_missing_file(tmp_path):
    result = _serve(["--grpc-port", "0", "--http-port", "0"], tmp_path,
                    env={"MLINEAGE_DB": f"sqlite:///{tmp_path / 'elsewhere.db'}"})
    assert "no database at" in _one_error_line(result)
    assert not (tmp_path / "elsewhere.db").exists() and not (tmp_path / "mlineage.db").exists()


def test_serve_with_create_makes_the_named_database(tmp_path):
    with mlineage_server(f"sqlite:///{tmp_path / 'sub' / 'new.db'}"):  # the helper passes --create
        assert (tmp_path / "sub" / "new.db").exists()


def test_serve_with_no_db_creates_the_embedded_default(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k not in ("MLINEAGE_DB", "MLINEAGE_URL")}
    process = subprocess.Popen([*_mlineage(), "serve", "--host", "127.0.0.1", "--grpc-port", "0", "--http-port", "0"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=environment)
    try:
        before = []
        while not (line := process.stdout.readline()).startswith("mlineage: gRPC on 127.0.0.1:"):
            assert line, "".join(before)
            before.append(line)
        assert [b for b in before if "alembic" in b.lower()] == []
        assert "database sqlite:///mlineage.db" in line
        assert (tmp_path / "mlineage.db").exists()
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
