"""A `mlineage serve` subprocess on fixed ports that tests can SIGKILL and start again at the same address.

Not a test module: the client tests and bench/load/faults.py (its replicas) import it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("mlineage")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlineage.cli"]


class Server:
    """``mlineage serve --db DB --grpc-port PORT`` (HTTP off unless ``http_port``); ``url`` is ``grpc://127.0.0.1:PORT``.

    ``create``: pass ``--create`` (a SQLite file that does not exist yet); ``env``: added to the environment."""

    def __init__(
        self,
        db_url: str,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
        *,
        http_port: int = 0,
        env: dict[str, str] | None = None,
        create: bool = True,
    ) -> None:
        self.db_url = db_url
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        self.http_port = http_port
        self.env = env or {}
        self.create = create
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []

    @property
    def url(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    def start(self) -> Server:
        args = [*_command(), "serve", "--db", self.db_url, *(["--create"] if self.create else []),
                "--host", "127.0.0.1", "--grpc-port", str(self.port),
                "--http-port", str(self.http_port), *self.extra_args]
        # Serve says "gRPC on" and then, when it serves HTTP too, "HTTP on": ready once both listen.
        ready_line = "mlineage: HTTP on" if self.http_port else "mlineage: gRPC on"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            ready = threading.Event()
            process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       env={**os.environ, "MLINEAGE_LOG_LEVEL": "WARNING", **self.env})

            def pump(process=process, ready=ready) -> None:
                for line in process.stdout:
                    self.lines.append(line)
                    if ready_line in line:
                        ready.set()
                ready.set()

            threading.Thread(target=pump, daemon=True).start()
            ready.wait(STARTUP_TIMEOUT_S)
            if process.poll() is None:
                self.process = process
                return self
            # The port may linger after a SIGKILL: try again until the deadline.
            if time.monotonic() > deadline:
                raise AssertionError(f"mlineage serve did not start:\n{''.join(self.lines)}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
