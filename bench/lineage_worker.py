"""Time lineage queries on one backend's stores, in its own process; prints one JSON line (see lineage_bench.py).

    python bench/lineage_worker.py --backend mlmd|mlmd-grpc|mlineage --stores JSON [--repeat N]

``--stores`` is a JSON list of {"db": path or URL, "queries": [{"name", "start", "hops", "direction"}]}
(``mlmd-grpc``: "db" is the host:port of a ``mlineage serve``, reached through MLMD's own client,
or ``mlmd:PATH``, MLMD in-process on that file, to time the anchor in turn with the server)
(start: an artifact id; direction: UPSTREAM or DOWNSTREAM), the same query names in every
store. Each repetition times a query on every store in turn, so that stores of different
sizes see the same machine load; the per-repetition ratios (store i / store 0) are reported
with each store's median and minimum. Timed: ``get_lineage_subgraph`` (MLMD's Python
client call, nodes hydrated; mlineage's identical method) and, for mlineage, the bare walk
(node and edge ids). An answer signature lets the driver check that stores agree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def _open(backend: str, db: str):
    if backend == "mlmd-grpc" and db.startswith("mlmd:"):
        # The anchor beside the gRPC store in one worker: timed in turn with it (paired).
        return _open("mlmd", db.removeprefix("mlmd:"))
    if backend == "mlmd-grpc":
        import ml_metadata
        from ml_metadata.proto import metadata_store_pb2 as pb

        host, _, port = db.rpartition(":")
        return ml_metadata.MetadataStore(pb.MetadataStoreClientConfig(host=host, port=int(port))), pb
    if backend == "mlmd":
        import ml_metadata
        from ml_metadata.proto import metadata_store_pb2 as pb

        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = db
        config.sqlite.connection_mode = 1  # READONLY
        return ml_metadata.MetadataStore(config), pb
    sys.path.insert(0, str(REPO_ROOT))
    import mlineage
    from mlineage.proto import metadata_store_pb2 as pb

    return mlineage.connect(db, upgrade=True), pb


def _signature(graph) -> dict[str, Any]:
    names = sorted(a.name for a in graph.artifacts) + sorted(e.name for e in graph.executions)
    return {
        "artifacts": len(graph.artifacts),
        "executions": len(graph.executions),
        "contexts": len(graph.contexts),
        "events": len(graph.events),
        "ids": hashlib.sha1(json.dumps(sorted(a.id for a in graph.artifacts)).encode()).hexdigest()[:12],
        "names": hashlib.sha1("\n".join(names).encode()).hexdigest()[:12],
    }


def _calls(backend: str, store, pb, query: dict[str, Any]) -> dict[str, Any]:
    q = pb.LineageSubgraphQueryOptions
    options = q(
        starting_artifacts=q.StartingNodes(filter_query=f"id = {query['start']}"),
        max_num_hops=query["hops"],
        direction=q.Direction.Value(query["direction"]),
    )
    calls = {"subgraph": lambda: store.get_lineage_subgraph(options)}
    if backend == "mlineage":
        from mlineage.metadata.lineage_engine.traversal import Direction, traverse

        direction = Direction.UPSTREAM if query["direction"] == "UPSTREAM" else Direction.DOWNSTREAM

        def walk():
            with store.reading() as connection:
                return traverse(connection, artifact_ids=[query["start"]], direction=direction, max_hops=query["hops"])

        calls["walk"] = walk
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["mlmd", "mlmd-grpc", "mlineage"], required=True)
    parser.add_argument("--stores", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    stores = json.loads(args.stores)
    opened = [_open(args.backend, entry["db"]) for entry in stores]
    names = [query["name"] for query in stores[0]["queries"]]
    results: list[dict[str, Any]] = [{} for _ in stores]
    ratios: dict[str, dict[str, list[float]]] = {}
    for name in names:
        calls = [
            _calls(args.backend, store, pb, next(q for q in entry["queries"] if q["name"] == name))
            for (store, pb), entry in zip(opened, stores, strict=True)
        ]
        for index, store_calls in enumerate(calls):
            results[index][name] = {"answer": _signature(store_calls["subgraph"]())}
        for what in calls[0]:
            seconds: list[list[float]] = [[] for _ in stores]
            for store_calls in calls:  # warm: statement caches, page cache
                store_calls[what]()
                store_calls[what]()
            for _ in range(args.repeat):
                for index, store_calls in enumerate(calls):
                    started = time.perf_counter()
                    store_calls[what]()
                    seconds[index].append(time.perf_counter() - started)
            for index in range(len(stores)):
                results[index][name][what] = {
                    "median_ms": statistics.median(seconds[index]) * 1e3,
                    "min_ms": min(seconds[index]) * 1e3,
                }
            ratios.setdefault(name, {})[what] = [
                statistics.median(b / a for a, b in zip(seconds[0], seconds[index], strict=True))
                for index in range(len(stores))
            ]
    print(json.dumps({"backend": args.backend, "results": results, "ratios": ratios}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
