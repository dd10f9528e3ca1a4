"""Time lineage queries on one store, in its own process; prints one JSON line (see lineage_bench.py).

    python bench/lineage_worker.py --backend mlmd|mlineage --db PATH_OR_URL --queries JSON [--repeat N]

``--queries`` is a JSON list of {"name", "start", "hops", "direction"} (start: an artifact id;
direction: UPSTREAM or DOWNSTREAM). For each query the worker times ``get_lineage_subgraph``
(MLMD's Python client call, nodes hydrated; mlineage's identical method) and, for mlineage,
the bare walk (node and edge ids, what the gRPC server's traversal costs), and reports an
answer signature so that the driver can check both stores answered alike.
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


def _time(call, repeat: int) -> dict[str, float]:
    call()
    call()  # warm: statement caches, page cache
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return {"median_ms": statistics.median(seconds) * 1e3, "min_ms": min(seconds) * 1e3}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["mlmd", "mlineage"], required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    store, pb = _open(args.backend, args.db)
    q = pb.LineageSubgraphQueryOptions
    results = {}
    for query in json.loads(args.queries):
        options = q(
            starting_artifacts=q.StartingNodes(filter_query=f"id = {query['start']}"),
            max_num_hops=query["hops"],
            direction=q.Direction.Value(query["direction"]),
        )
        result: dict[str, Any] = {"subgraph": _time(lambda o=options: store.get_lineage_subgraph(o), args.repeat)}
        result["answer"] = _signature(store.get_lineage_subgraph(options))
        if args.backend == "mlineage":
            from mlineage.lineage.traversal import Direction, traverse

            direction = Direction.UPSTREAM if query["direction"] == "UPSTREAM" else Direction.DOWNSTREAM

            def walk(start=query["start"], hops=query["hops"], direction=direction):
                with store.reading() as connection:
                    return traverse(connection, artifact_ids=[start], direction=direction, max_hops=hops)

            result["walk"] = _time(walk, args.repeat)
        results[query["name"]] = result
    print(json.dumps({"backend": args.backend, "db": args.db, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
