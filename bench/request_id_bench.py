"""What binding a request id costs a gRPC call: the same empty handler with and without it, in one run.

    python bench/request_id_bench.py [--calls 3000] [--rounds 5]

Every mlineage RPC handler binds the call's ``x-request-id`` (or a new one) and sends it back in
trailing metadata (``api/logging_requests.bind_grpc_request_id``, called in ``api/metrics.timed_unary``).
This serves two methods on one in-process gRPC server: the anchor, an empty unary handler; and the
same handler with the binding around it. One client calls each in alternating rounds, with and
without an ``x-request-id`` of its own, and prints the median latency per call and the ratio to the
anchor, plus the difference in microseconds. Loopback only; bounded by --calls and --rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlineage.api.logging_requests import bind_grpc_request_id, release_request_id  # noqa: E402


def _identity(data: bytes) -> bytes:
    return data


def _anchor(request: bytes, context) -> bytes:
    return b""


def _with_request_id(request: bytes, context) -> bytes:
    token = bind_grpc_request_id(context)
    try:
        return b""
    finally:
        release_request_id(token)


def _server() -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handlers = {
        "Anchor": grpc.unary_unary_rpc_method_handler(_anchor, _identity, _identity),
        "WithRequestId": grpc.unary_unary_rpc_method_handler(_with_request_id, _identity, _identity),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("bench.Bench", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def _round(call, calls: int, metadata) -> float:
    """Median seconds per call over `calls` sequential calls."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call(b"", metadata=metadata, timeout=10)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server, port = _server()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stubs = {name: channel.unary_unary(f"/bench.Bench/{name}", _identity, _identity)
                     for name in ("Anchor", "WithRequestId")}
            for stub in stubs.values():
                _round(stub, 200, None)  # warm-up
            print(f"{'case':<40} {'median us/call':>15} {'ratio':>7} {'+us':>7}")
            for label, metadata in (("no x-request-id sent (a new id)", None),
                                    ("x-request-id sent", (("x-request-id", "bench-1234"),))):
                anchor, bound = [], []
                for _ in range(args.rounds):  # alternate, so that drift hits both alike
                    anchor.append(_round(stubs["Anchor"], args.calls, metadata))
                    bound.append(_round(stubs["WithRequestId"], args.calls, metadata))
                a, b = statistics.median(anchor) * 1e6, statistics.median(bound) * 1e6
                print(f"{'empty handler (anchor), ' + label:<40.40} {a:>15.1f} {1.0:>7.2f} {0:>7.1f}")
                print(f"{'with the request id, ' + label:<40.40} {b:>15.1f} {b / a:>7.2f} {b - a:>7.1f}")
    finally:
        server.stop(grace=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
