"""Run `mlineage serve` as a real subprocess for tests: free ports, readiness, SIGTERM and a clean exit.

    with mlineage_server(tmp_path) as server:
        host, grpc_port, http_port = server
        channel = grpc.insecure_channel(server.target)

Not a test module: the gRPC, ml-metadata client and TLS tests import it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from descriptor_dump import mlmd_python

READY_LINE = re.compile(r"mlineage: gRPC on (?P<host>[^:\s]+):(?P<port>\d+)")
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SCENARIOS_SCRIPT = Path(__file__).with_name("mlmd_client_scenarios.py")


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for the server's TLS flags."""

    cert: Path
    key: Path
    ca: Path | None = None
    client_verify: bool = False

    def args(self) -> list[str]:
        args = ["--tls-cert", str(self.cert), "--tls-key", str(self.key)]
        if self.ca is not None:
            args += ["--tls-ca", str(self.ca)]
        if self.client_verify:
            args.append("--tls-client-verify")
        return args


@dataclass
class RunningServer:
    """A started server; unpacks as (host, grpc_port, http_port)."""

    host: str
    grpc_port: int
    http_port: int
    db_url: str
    process: subprocess.Popen
    _lines: list[str] = field(default_factory=list, repr=False)

    def __iter__(self):
        return iter((self.host, self.grpc_port, self.http_port))

    @property
    def target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return "".join(self._lines)

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, wait for the drain, return the exit code (kills after `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"mlineage serve did not stop within {timeout}s:\n{self.output()}") from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("mlineage")
    if script.exists():
        return [str(script)]
    found = shutil.which("mlineage")
    return [found] if found else [sys.executable, "-m", "mlineage.cli"]


def start_server(
    db_url: str,
    *,
    host: str = "127.0.0.1",
    http: bool = False,
    tls: TLSFiles | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> RunningServer:
    """Start `mlineage serve` and return once it prints its ready line (gRPC is then serving)."""
    http_port = free_port(host) if http else 0
    args = [
        *_command(), "serve", "--db", db_url, "--create", "--host", host,
        "--grpc-port", "0", "--http-port", str(http_port), *(tls.args() if tls else []), *extra_args,
    ]  # fmt: skip
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env={**os.environ, "MLINEAGE_LOG_LEVEL": "WARNING", **(env or {})},
    )
    lines: list[str] = []
    ready = threading.Event()
    found: dict[str, str] = {}

    def pump() -> None:  # keeps the pipe drained for the whole life of the process
        for line in process.stdout:
            lines.append(line)
            match = READY_LINE.search(line)
            if match and not found:
                found.update(match.groupdict())
            if found and (not http or "mlineage: HTTP on" in line):
                ready.set()
        ready.set()

    threading.Thread(target=pump, name="mlineage-serve-output", daemon=True).start()
    if not ready.wait(STARTUP_TIMEOUT_S) or not found:
        if process.poll() is None:
            process.kill()
        process.wait()
        raise AssertionError(f"mlineage serve did not become ready (rc={process.returncode}):\n{''.join(lines)}")
    server = RunningServer(found["host"], int(found["port"]), http_port, db_url, process, lines)
    if http:
        _wait_http(server)
    return server


def _wait_http(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            socket.create_connection((server.host, server.http_port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    if server.process.poll() is None:
        server.process.kill()
    server.process.wait()
    raise AssertionError(f"HTTP port {server.http_port} never opened:\n{server.output()}")


@contextmanager
def mlineage_server(
    db: str | Path,
    *,
    host: str = "127.0.0.1",
    http: bool = False,
    tls: TLSFiles | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[RunningServer]:
    """`mlineage serve` on `db` (a database URL, or a directory for a new SQLite file in it).

    With `http` the HTTP API listens too (on a free port); otherwise http_port is 0.
    On exit the server gets SIGTERM and must exit 0 after draining.
    """
    db_url = f"sqlite:///{Path(db) / 'mlineage.db'}" if isinstance(db, Path) else db
    server = start_server(db_url, host=host, http=http, tls=tls, extra_args=extra_args)
    try:
        yield server
    finally:
        code = server.terminate()
        assert code == 0, f"mlineage serve exited with {code}:\n{server.output()}"


def require_mlmd_python() -> str:
    """The ml-metadata environment's python; skips without one, fails if MLINEAGE_REQUIRE_MLMD=1."""
    import pytest

    python = mlmd_python()
    problem = None
    if python is None or not Path(python).exists():
        problem = f"no ml-metadata environment (MLINEAGE_MLMD_PYTHON or .venvs/mlmd): {python}"
    else:
        probe = subprocess.run([python, "-c", "import ml_metadata"], capture_output=True, text=True)
        if probe.returncode:
            problem = f"{python} cannot import ml_metadata: {probe.stderr.strip()[-500:]}"
    if problem:
        if os.environ.get("MLINEAGE_REQUIRE_MLMD") == "1":
            pytest.fail(f"{problem} but MLINEAGE_REQUIRE_MLMD=1")
        pytest.skip(problem)
    return python


def run_mlmd_scenarios(
    python: str,
    target: str,
    groups: Sequence[str],
    *,
    reference: bool = False,
    tls_args: Sequence[str] = (),
    tag: str = "",
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Run tests/mlmd_client_scenarios.py under the ml-metadata python; its JSON output."""
    args = [python, str(SCENARIOS_SCRIPT), "--grpc", target, *tls_args]
    if reference:
        args.append("--reference")
    if tag:
        args += ["--tag", tag]
    result = subprocess.run([*args, *groups], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"scenarios {groups} failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)
