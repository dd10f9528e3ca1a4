"""What authentication costs: the REST and gRPC write workloads with `--auth tokens` on vs off.

Two `mlineage serve` processes on their own SQLite files (the embedded default),
one with ``--auth tokens`` and one without, each given the same workload in
alternating rounds from one client thread: blocks of ``--writes`` single-artifact writes
(``POST /api/v1/artifacts`` over REST on one keep-alive connection; ``PutArtifacts``
over gRPC with our GrpcStore), the authenticated server sent a writer's bearer
token on every call. The figure is the median block's time with auth on divided
by the one with it off, per surface. Goal: <= 1.1x.

    python bench/auth_bench.py [--writes 100] [--rounds 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path[:0] = [str(REPO_ROOT)]

from mlineage.auth.identity import Role  # noqa: E402
from mlineage.auth.tokens import create_token  # noqa: E402
from mlineage.client.grpc_store import GrpcStore  # noqa: E402
from mlineage.metadata.store import Store  # noqa: E402
from mlineage.proto import metadata_store_pb2 as pb  # noqa: E402

GOAL = 1.1
DEFAULT_OUTPUT = BENCH_DIR / "results" / "auth_bench.json"
_READY = re.compile(r"mlineage: gRPC on [^:]+:(\d+)")
_HTTP = re.compile(r"mlineage: HTTP on [^:]+:(\d+)")


class Server:
    """`mlineage serve` on a new SQLite file, with or without `--auth tokens` (and a writer's token)."""

    def __init__(self, workdir: Path, http_port: int, *, auth: bool) -> None:
        db = f"sqlite:///{workdir / ('auth.db' if auth else 'open.db')}"
        self.token = None
        with Store(db) as store:
            if auth:
                self.token = create_token(store, namespace="default", role=Role.WRITER, name="bench")[0]
        args = [sys.executable, "-m", "mlineage.cli", "serve", "--db", db, "--host", "127.0.0.1",
                "--grpc-port", "0", "--http-port", str(http_port), *(["--auth", "tokens"] if auth else [])]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env={"MLINEAGE_LOG_LEVEL": "WARNING", **_env()})  # fmt: skip
        self.grpc_port = self.http_port = 0
        deadline = time.monotonic() + 60
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if found := _READY.search(line):
                self.grpc_port = int(found.group(1))
            if found := _HTTP.search(line):
                self.http_port = int(found.group(1))
                break
            if time.monotonic() > deadline:
                break
        if not (self.grpc_port and self.http_port):
            raise SystemExit(f"the server did not start: {line}")
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()  # type: ignore[union-attr]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "MLINEAGE_TOKEN"}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rest_round(server: Server, connection: http.client.HTTPConnection, type_id: int, writes: int, tag: str) -> float:
    # http.client sends the headers and a bytes body in one segment (no Nagle/delayed-ACK stall).
    headers = {"Content-Type": "application/json", **server.headers()}
    start = time.perf_counter()
    for i in range(writes):
        body = json.dumps({"type_id": type_id, "uri": f"/rest/{tag}/{i}"}).encode()
        try:
            connection.request("POST", "/api/v1/artifacts", body=body, headers=headers)
            response = connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            connection.close()  # the server closed an idle keep-alive connection: reconnect
            connection.request("POST", "/api/v1/artifacts", body=body, headers=headers)
            response = connection.getresponse()
        text = response.read()
        if response.status != 201:
            raise SystemExit(f"REST write failed: {response.status} {text[:300]!r}")
    return time.perf_counter() - start


def grpc_round(store: GrpcStore, type_id: int, writes: int, tag: str) -> float:
    start = time.perf_counter()
    for i in range(writes):
        store.put_artifacts([pb.Artifact(type_id=type_id, uri=f"/grpc/{tag}/{i}")])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=100, help="writes per block and surface (default 100)")
    parser.add_argument("--rounds", type=int, default=20, help="alternating blocks (default 20)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="auth_bench_") as tmp:
        servers = {"off": Server(Path(tmp), _free_port(), auth=False), "on": Server(Path(tmp), _free_port(), auth=True)}
        try:
            times: dict[str, dict[str, list[float]]] = {s: {"off": [], "on": []} for s in ("rest", "grpc")}
            connections = {name: http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
                           for name, server in servers.items()}  # fmt: skip
            stores = {name: GrpcStore(f"grpc://127.0.0.1:{server.grpc_port}", token=server.token)
                      for name, server in servers.items()}  # fmt: skip
            types = {name: store.put_artifact_type(pb.ArtifactType(name="BenchDataset"))
                     for name, store in stores.items()}  # fmt: skip
            for name in servers:  # warm both paths once
                rest_round(servers[name], connections[name], types[name], 20, "warm")
                grpc_round(stores[name], types[name], 20, "warm")
            # Many short blocks, alternating which server goes first: load from elsewhere on the
            # machine then falls on both sides alike.
            for r in range(args.rounds):
                order = ("off", "on") if r % 2 == 0 else ("on", "off")
                for name in order:
                    times["rest"][name].append(rest_round(servers[name], connections[name], types[name],
                                                          args.writes, str(r)))  # fmt: skip
                for name in order:
                    times["grpc"][name].append(grpc_round(stores[name], types[name], args.writes, str(r)))
            for store in stores.values():
                store.close()
            for connection in connections.values():
                connection.close()
        finally:
            for server in servers.values():
                server.stop()

    report: dict[str, Any] = {"bench": "auth_bench", "writes": args.writes, "rounds": args.rounds, "goal": GOAL}
    for surface, by in times.items():
        off, on = statistics.median(by["off"]), statistics.median(by["on"])
        ratio = on / off
        report[surface] = {"off_s": round(off, 4), "on_s": round(on, 4), "off_us_per_write": round(off / args.writes * 1e6, 1),
                           "on_us_per_write": round(on / args.writes * 1e6, 1), "ratio": round(ratio, 3),
                           "meets_goal": ratio <= GOAL}  # fmt: skip
        print(f"{surface:5s} writes: auth off {report[surface]['off_us_per_write']} us/write, on "
              f"{report[surface]['on_us_per_write']} us/write: ratio on/off {ratio:.3f}x (goal <= {GOAL}x)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
