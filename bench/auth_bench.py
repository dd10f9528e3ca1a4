"""What authentication costs: the REST and gRPC write workloads with `--auth tokens` on vs off.

Two `mlineage serve` processes on their own SQLite files (the embedded default),
one with ``--auth tokens`` and one without, each given the same workload in
alternating rounds from one client thread: blocks of ``--writes`` single-artifact writes
(``POST /api/v1/artifacts`` over REST on one keep-alive connection; ``PutArtifacts``
over gRPC with our GrpcStore), the authenticated server sent a writer's bearer
token on every call. The figure is, per surface, the median over adjacent pairs of
blocks of (time with auth on / time with it off). Goal: <= 1.1x.

    python bench/auth_bench.py [--writes 50] [--rounds 40]
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


def auth_path_us(store: Store, token: str, calls: int = 20000) -> dict[str, float]:
    """Microseconds per request of the authentication path alone, in-process (no network, no store call):
    the HTTP middleware around an app that answers at once, minus that app bare; the gRPC path's identify,
    authorize and namespace scope. A bound on what auth adds to any request, free of the machine's noise."""
    import asyncio

    from mlineage.auth.authenticator import AuthConfig, Authenticator
    from mlineage.auth.grpc_auth import _running_as
    from mlineage.auth.http_auth import AuthMiddleware
    from mlineage.auth.policy import grpc_needed
    from mlineage.auth.tokens import TokenVerifier

    auth = Authenticator(AuthConfig(tokens=True), TokenVerifier(store))

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})

    async def sink(message) -> None:
        return None

    scope = {"type": "http", "method": "POST", "path": "/api/v1/artifacts", "client": ("127.0.0.1", 5000),
             "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]}

    async def run(handler) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await handler(scope, None, sink)
        return (time.perf_counter() - start) / calls * 1e6

    middleware = AuthMiddleware(app, auth)
    rest = min(asyncio.run(run(middleware)) - asyncio.run(run(app)) for _ in range(3))
    method = "/ml_metadata.MetadataStoreService/PutArtifacts"
    start = time.perf_counter()
    for _ in range(calls):
        identity = auth.identify(surface="grpc", authorization=f"Bearer {token}")
        auth.authorize(identity, grpc_needed(method), surface="grpc")  # type: ignore[arg-type]
        with _running_as(identity):
            pass
    grpc_us = (time.perf_counter() - start) / calls * 1e6
    return {"rest_us": round(rest, 1), "grpc_us": round(grpc_us, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=50, help="writes per block and surface (default 50)")
    parser.add_argument("--rounds", type=int, default=40, help="alternating pairs of blocks (default 40)")
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
        # Each block with auth on is paired with the block off run next to it: the median of the
        # pairs' ratios cancels the load other processes put on the machine meanwhile.
        ratio = statistics.median(a / b for a, b in zip(by["on"], by["off"], strict=True))
        report[surface] = {"off_s": round(off, 4), "on_s": round(on, 4), "off_us_per_write": round(off / args.writes * 1e6, 1),
                           "on_us_per_write": round(on / args.writes * 1e6, 1), "ratio": round(ratio, 3),
                           "meets_goal": ratio <= GOAL}  # fmt: skip
        print(f"{surface:5s} writes: auth off {report[surface]['off_us_per_write']} us/write, on "
              f"{report[surface]['on_us_per_write']} us/write: ratio on/off {ratio:.3f}x (goal <= {GOAL}x)")
    with tempfile.TemporaryDirectory(prefix="auth_path_") as tmp, Store(f"sqlite:///{tmp}/path.db") as store:
        path = auth_path_us(store, create_token(store, namespace="default", role=Role.WRITER)[0])
    report["auth_path_us"] = path
    for surface in ("rest", "grpc"):
        off_us = report[surface]["off_us_per_write"]
        bound = (off_us + path[f"{surface}_us"]) / off_us
        report[surface]["in_process_bound"] = round(bound, 4)
        print(f"{surface:5s} auth path in-process: {path[f'{surface}_us']} us per request: "
              f"(off + path) / off = {bound:.3f}x")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
