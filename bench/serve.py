"""Start and stop `mlineage serve` for the benches: a free port on 127.0.0.1, readiness, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
READY = "mlineage: gRPC on "
STARTUP_TIMEOUT_S = 120.0


@dataclass
class Server:
    process: subprocess.Popen
    target: str  # host:port
    startup_seconds: float
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (the server drains), wait; kill if it hangs. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start(
    db_url: str,
    *,
    workers: int | None = None,
    python: str = sys.executable,
    grpc_port: int | None = None,
    http_port: int = 0,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Server:
    """`mlineage serve --db URL` from this checkout on 127.0.0.1; returns once it serves.

    gRPC on ``grpc_port`` (default: a free one); HTTP on ``http_port`` (default 0: no HTTP);
    ``extra_args``: more of serve's options (``--cpus all``); ``env``: more environment variables.
    """
    port = grpc_port or free_port()
    command = [python, "-m", "mlineage.cli", "serve", "--db", db_url, "--create", "--upgrade",
               "--host", "127.0.0.1"]  # --upgrade: a store cached by an older checkout
    command += ["--grpc-port", str(port), "--http-port", str(http_port)]
    if workers:
        command += ["--workers", str(workers)]
    command += list(extra_args)
    environment = {**os.environ, "MLINEAGE_LOG_LEVEL": "WARNING", **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    began = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=environment
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:  # keep the pipe drained for the life of the process
        for line in process.stdout:
            lines.append(line)
            if READY in line:
                ready.set()
        ready.set()

    threading.Thread(target=pump, name="mlineage-serve-output", daemon=True).start()
    if not ready.wait(STARTUP_TIMEOUT_S) or process.poll() is not None:
        if process.poll() is None:
            process.kill()
        process.wait()
        raise RuntimeError(
            f"mlineage serve did not start (rc={process.returncode}):\n{''.join(lines)[-4000:]}"
        )
    return Server(process, f"127.0.0.1:{port}", time.perf_counter() - began, lines)
