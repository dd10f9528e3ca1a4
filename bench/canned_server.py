"""An empty Python gRPC server for grpc_bench.py: answers MLMD's GetArtifactsByID with a canned response.

It is the floor under any Python gRPC server: the same grpc package, a thread
pool as ``mlineage serve`` has, the request decoded with its message class, and
the same bytes sent back every time without touching a store.

    python bench/canned_server.py --port PORT --response FILE   # FILE: a serialized GetArtifactsByIDResponse
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
READY = "canned: gRPC on "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--response", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    import grpc

    from mlineage.proto import metadata_store_service_pb2 as svc

    canned = args.response.read_bytes()

    def get_artifacts_by_id(request, context) -> bytes:
        return canned

    handler = grpc.unary_unary_rpc_method_handler(
        get_artifacts_by_id,
        request_deserializer=svc.GetArtifactsByIDRequest.FromString,
        response_serializer=lambda response: response,
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers))
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("ml_metadata.MetadataStoreService", {"GetArtifactsByID": handler})]
    )
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"{READY}127.0.0.1:{args.port}", flush=True)
    stop.wait()
    server.stop(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
