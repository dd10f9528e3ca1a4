"""Socket I/O on gRPC's polling thread (serve's default on one CPU) against EventEngine's own I/O threads.

    python bench/poller_io_bench.py [--store-dir bench/results/lineage_10000] [--queries up10,down10,chain40dn]
                                    [--rounds 12] [--repeat 200]

Two ``mlineage serve`` on copies of the bench's 10k lineage store (``bench/lineage_bench.py``
builds it): one as shipped (``--cpus`` on one CPU: the listener's sockets read and written by the
thread that polls gRPC's completion queue), one with ``GRPC_EXPERIMENTS=event_engine_listener``
(gRPC's default elsewhere: EventEngine threads do that I/O and hand each message over). Both
servers are fixed on the same CPU and the ml-metadata client on another, so that the only
difference is the I/O path. Rounds alternate between the servers and MLMD in-process (the
anchor, on the bench's MLMD file); each round times ``--repeat`` ``get_lineage_subgraph`` calls
and reads every server thread's CPU time (``/proc/PID/task/*/schedstat``) before and after.
Printed per query: wall median of round medians, the server's CPU per query, MLMD/server, and
the paired per-round differences. Linux only (thread affinity, schedstat); needs 2 CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import serve  # noqa: E402

CLIENT = r"""
import glob, json, sys, time
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb
targets, mlmd_file, queries, rounds, repeat = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def cpu_ns(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            total += int(open(path).read().split()[0])
        except OSError:
            pass  # a thread that ended meanwhile
    return total

stores = {}
for name, target in targets.items():
    if target is None:
        config = pb.ConnectionConfig(); config.sqlite.filename_uri = mlmd_file; config.sqlite.connection_mode = 1
        stores[name] = (metadata_store.MetadataStore(config), None)
    else:
        host, _, port = target["address"].rpartition(":")
        stores[name] = (metadata_store.MetadataStore(pb.MetadataStoreClientConfig(host=host, port=int(port))), target["pid"])
out = {}
for query in queries:
    q = pb.LineageSubgraphQueryOptions
    options = q(starting_artifacts=q.StartingNodes(filter_query=f"id = {query['start']}"),
                max_num_hops=query["hops"], direction=getattr(q, query["direction"]))
    for store, _ in stores.values():
        for _ in range(50):
            store.get_lineage_subgraph(options)
    found = {name: {"wall": [], "cpu": []} for name in stores}
    for _ in range(rounds):
        for name, (store, pid) in stores.items():
            times = []
            before = cpu_ns(pid) if pid else 0
            for _ in range(repeat):
                start = time.perf_counter()
                store.get_lineage_subgraph(options)
                times.append(time.perf_counter() - start)
            after = cpu_ns(pid) if pid else 0
            times.sort()
            found[name]["wall"].append(times[len(times) // 2] * 1e3)
            found[name]["cpu"].append((after - before) / repeat / 1e6)
    out[query["name"]] = found
print(json.dumps(out))
"""


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-dir", default=str(BENCH_DIR / "results" / "lineage_10000"),
                        help="a store directory written by bench/gen_store.py (mlineage.db, mlmd.db, meta.json)")
    parser.add_argument("--queries", default="up10,down10,chain40dn")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--mlmd-python", default=os.environ.get("MLINEAGE_MLMD_PYTHON")
                        or str(REPO_ROOT / ".venvs" / "mlmd" / "bin" / "python"))
    args = parser.parse_args(argv)
    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        print("poller_io_bench needs thread affinity and two CPUs", file=sys.stderr)
        return 2
    store_dir = Path(args.store_dir)
    landmarks = json.loads((store_dir / "meta.json").read_text())["landmarks"]
    shapes = {
        "up10": (landmarks["last_model"], 10, "UPSTREAM"),
        "up50": (landmarks["last_model"], 50, "UPSTREAM"),
        "down10": (landmarks["first_examples"], 10, "DOWNSTREAM"),
        "down50": (landmarks["first_examples"], 50, "DOWNSTREAM"),
        "chain40": (landmarks["chain_last"], 100, "UPSTREAM"),
        "chain40dn": (landmarks["chain_first"], 100, "DOWNSTREAM"),
    }
    queries = [{"name": name, "start": shapes[name][0], "hops": shapes[name][1], "direction": shapes[name][2]}
               for name in args.queries.split(",")]
    server_cpu, client_cpu = sorted(os.sched_getaffinity(0))[-1], sorted(os.sched_getaffinity(0))[0]
    workdir = Path(tempfile.mkdtemp(prefix="poller_io_"))
    variants = {"poller": {}, "event_engine": {"GRPC_EXPERIMENTS": "event_engine_listener"}}
    os.environ.pop("GRPC_EXPERIMENTS", None)  # the two variants are the bench's choice, not the shell's
    servers = {}
    try:
        for name, extra_env in variants.items():
            shutil.copy(store_dir / "mlineage.db", workdir / f"{name}.db")
            servers[name] = serve.start(f"sqlite:///{workdir / f'{name}.db'}",
                                        extra_args=("--cpus", str(server_cpu)), env=extra_env)
        targets = {name: {"address": server.target, "pid": server.process.pid} for name, server in servers.items()}
        targets["mlmd"] = None
        done = subprocess.run(
            ["taskset", "-c", str(client_cpu), args.mlmd_python, "-c", CLIENT, json.dumps(targets),
             str(store_dir / "mlmd.db"), json.dumps(queries), str(args.rounds), str(args.repeat)],
            capture_output=True, text=True, check=True,
        )
        result = json.loads(done.stdout)
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"servers on CPU {server_cpu}, client on CPU {client_cpu}; {args.rounds} rounds of {args.repeat} queries")
    print("query       server        wall ms  server CPU ms/query  MLMD/server (paired, median)")
    for query, by_name in result.items():
        mlmd_walls = by_name["mlmd"]["wall"]
        for name in variants:
            walls, cpus = by_name[name]["wall"], by_name[name]["cpu"]
            ratio = _median([m / w for m, w in zip(mlmd_walls, walls, strict=True)])
            print(f"{query:10s}  {name:12s}  {_median(walls):7.3f}  {_median(cpus):19.3f}  {ratio:.3f}")
        print(f"{query:10s}  MLMD in-process {_median(mlmd_walls):.3f} ms")
        wall_ratio = [p / e for p, e in zip(by_name["poller"]["wall"], by_name["event_engine"]["wall"], strict=True)]
        cpu_diff = [p - e for p, e in zip(by_name["poller"]["cpu"], by_name["event_engine"]["cpu"], strict=True)]
        print(f"{query:10s}  poller/event_engine: wall {_median(wall_ratio):.3f} "
              f"({min(wall_ratio):.3f}-{max(wall_ratio):.3f}), server CPU {_median(cpu_diff):+.3f} ms "
              f"({min(cpu_diff):+.3f}..{max(cpu_diff):+.3f}) per query")
    return 0


if __name__ == "__main__":
    sys.exit(main())
