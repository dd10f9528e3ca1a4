"""Where the time of a lineage query over gRPC goes: mlineage serve against a server that only replays answers.

    python bench/rpc_floor.py [--store-dir bench/results/lineage_10000] [--repeat 200] [--db URL] [--no-cache]
                              [--cpus auto|all|LIST]

ml-metadata's ``get_lineage_subgraph`` is six RPCs (the walk, then the nodes and types by id).
This starts ``mlineage serve`` on a copy of the bench store and, beside it, a *replay* server:
plain Python gRPC that records mlineage's answer to each request once and then sends those bytes
back. The same ml-metadata client (``$MLINEAGE_MLMD_PYTHON``) times every RPC of the same
queries against both, and MLMD in-process on the bench's MLMD file. The replay column is the
floor a Python gRPC server cannot go under; the difference to it is mlineage's own time per RPC.
Stores come from ``bench/gen_store.py`` (``bench/lineage_bench.py`` builds them).
Both servers place their threads as ``--cpus`` says (serve's option; default auto, one CPU that
follows the load, its socket I/O on gRPC's polling thread; ``all`` lets the OS place them): the
replay server runs in a process of its own for that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

RPCS = ["GetLineageSubgraph", "GetArtifactsByID", "GetExecutionsByID", "GetContextsByID",
        "GetArtifactTypesByID", "GetExecutionTypesByID", "GetContextTypesByID"]

CLIENT = r"""
import json, sys, time
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb
target, mlmd_file, queries, repeat, rpcs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
def open_store(where):
    if where == "mlmd":
        config = pb.ConnectionConfig(); config.sqlite.filename_uri = mlmd_file; config.sqlite.connection_mode = 1
        return metadata_store.MetadataStore(config)
    host, _, port = where.rpartition(":")
    return metadata_store.MetadataStore(pb.MetadataStoreClientConfig(host=host, port=int(port)))
out = {}
for where in target.split(","):
    store = open_store(where)
    timings = {}
    stub = getattr(store, "_metadata_store_stub", None)
    if stub is not None:
        for name in rpcs:
            call = getattr(stub, name)
            def timed(request, *args, _call=call, _name=name, **kwargs):
                start = time.perf_counter()
                try:
                    return _call(request, *args, **kwargs)
                finally:
                    timings.setdefault(_name, []).append(time.perf_counter() - start)
            setattr(stub, name, timed)
    for query in queries:
        q = pb.LineageSubgraphQueryOptions
        options = q(starting_artifacts=q.StartingNodes(filter_query=f"id = {query['start']}"),
                    max_num_hops=query["hops"], direction=getattr(q, query["direction"]))
        for _ in range(30):
            store.get_lineage_subgraph(options)
        timings.clear()
        start = time.perf_counter()
        for _ in range(repeat):
            store.get_lineage_subgraph(options)
        whole = (time.perf_counter() - start) / repeat * 1e3
        per_rpc = {name: sum(values) / repeat * 1e3 for name, values in timings.items()}
        out.setdefault(query["name"], {})[where] = {"whole": whole, "rpcs": per_rpc}
print(json.dumps(out))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _replay_server(upstream: str, port: int):
    """A gRPC server under MLMD's service name that answers each request with upstream's recorded bytes."""
    import grpc

    from mlineage.proto import metadata_store_service_pb2 as svc
    from mlineage.proto import metadata_store_service_pb2_grpc as svc_grpc

    real = svc_grpc.MetadataStoreServiceStub(grpc.insecure_channel(upstream))
    answers: dict[tuple[str, bytes], bytes] = {}
    lock = threading.Lock()
    handlers = {}
    for name in RPCS:
        request_class = getattr(svc, f"{name}Request")

        def handler(request, _context, _name=name):
            key = (_name, request.SerializeToString())
            with lock:
                answer = answers.get(key)
            if answer is None:
                answer = getattr(real, _name)(request).SerializeToString()
                with lock:
                    answers[key] = answer
            return answer

        handlers[name] = grpc.unary_unary_rpc_method_handler(
            handler, request_deserializer=request_class.FromString, response_serializer=lambda data: data
        )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("ml_metadata.MetadataStoreService", handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


def _serve_replay(upstream: str, port: int, cpus: str) -> int:
    """The replay server in a process of its own, its threads placed as ``mlineage serve --cpus`` would."""
    from mlineage.api import cpu_placement

    cpu_placement.poller_io(cpus)  # the socket I/O on gRPC's polling thread, as serve does (before grpc loads)
    placement = cpu_placement.Placement(cpu_placement.parse(cpus, cpu_placement.available()))
    print(f"replay: {placement.start()}", file=sys.stderr, flush=True)
    server = _replay_server(upstream, port)
    print("replay ready", flush=True)
    server.wait_for_termination()
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 5 and sys.argv[1] == "--replay-serve":
        return _serve_replay(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-dir", default=str(REPO_ROOT / "bench" / "results" / "lineage_10000"),
                        help="a store directory written by bench/gen_store.py (mlineage.db, mlmd.db, meta.json)")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--db", help="the database mlineage serve uses (e.g. the bench's PostgreSQL store, "
                        "postgresql+psycopg://…/mlineage_bench_10000); default: a copy of the store's SQLite file")
    parser.add_argument("--no-cache", action="store_true", help="serve with MLINEAGE_GRPC_BY_ID_CACHE=0")
    parser.add_argument("--cpus", default="auto", help="both servers' thread placement (mlineage serve --cpus)")
    parser.add_argument("--mlmd-python", default=os.environ.get("MLINEAGE_MLMD_PYTHON")
                        or str(REPO_ROOT / ".venvs" / "mlmd" / "bin" / "python"))
    args = parser.parse_args(argv)
    store_dir = Path(args.store_dir)
    landmarks = json.loads((store_dir / "meta.json").read_text())["landmarks"]
    queries = [
        {"name": "up10", "start": landmarks["last_model"], "hops": 10, "direction": "UPSTREAM"},
        {"name": "down10", "start": landmarks["first_examples"], "hops": 10, "direction": "DOWNSTREAM"},
        {"name": "chain40", "start": landmarks["chain_last"], "hops": 100, "direction": "UPSTREAM"},
    ]
    workdir = Path(tempfile.mkdtemp(prefix="rpc_floor_"))
    shutil.copy(store_dir / "mlineage.db", workdir / "mlineage.db")
    grpc_port, replay_port = _free_port(), _free_port()
    env = dict(os.environ, **({"MLINEAGE_GRPC_BY_ID_CACHE": "0"} if args.no_cache else {}))
    serve = subprocess.Popen(
        [sys.executable, "-m", "mlineage.cli", "serve", "--db", args.db or f"sqlite:///{workdir / 'mlineage.db'}",
         "--host", "127.0.0.1", "--grpc-port", str(grpc_port), "--http-port", "0", "--cpus", args.cpus],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT, env=env,
    )
    replay = None
    try:
        while "gRPC on" not in (serve.stdout.readline() or "gRPC on"):
            pass
        time.sleep(0.3)
        replay = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--replay-serve", f"127.0.0.1:{grpc_port}",
             str(replay_port), args.cpus],
            stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        )
        while "replay ready" not in (replay.stdout.readline() or "replay ready"):
            pass
        targets = ",".join(["mlmd", f"127.0.0.1:{grpc_port}", f"127.0.0.1:{replay_port}"])
        done = subprocess.run(
            [args.mlmd_python, "-c", CLIENT, targets, str(store_dir / "mlmd.db"), json.dumps(queries),
             str(args.repeat), json.dumps(RPCS)],
            capture_output=True, text=True, check=True,
        )
        result = json.loads(done.stdout)
    finally:
        if replay is not None:
            replay.terminate()
            replay.wait(timeout=30)
        serve.terminate()
        serve.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    names = {"mlmd": "MLMD in-process", f"127.0.0.1:{grpc_port}": "mlineage serve",
             f"127.0.0.1:{replay_port}": "replay (floor)"}
    for query, by_target in result.items():
        print(f"{query}: whole query, ms: " + ", ".join(
            f"{names[where]} {numbers['whole']:.2f}" for where, numbers in by_target.items()))
        serve_rpcs = by_target[f"127.0.0.1:{grpc_port}"]["rpcs"]
        floor_rpcs = by_target[f"127.0.0.1:{replay_port}"]["rpcs"]
        for name in RPCS:
            if name in serve_rpcs:
                own = serve_rpcs[name] - floor_rpcs.get(name, 0.0)
                print(f"   {name:24s} serve {serve_rpcs[name]:.3f}  floor {floor_rpcs.get(name, 0.0):.3f}  "
                      f"mlineage's own {own:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
