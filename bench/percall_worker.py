"""grpc_bench.py's per-call client: the real ml-metadata client timing one get of 10 artifacts by id.

    python bench/percall_worker.py --targets JSON --ids JSON [--calls N] [--blocks B]

``--targets`` maps names to host:port. Calls go in blocks of ``calls / blocks``,
the targets taking turns block by block so that both see the same machine load;
prints one JSON line with each target's median and minimum per-call milliseconds
(over the blocks' per-call means) and the answer's size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--blocks", type=int, default=50)
    args = parser.parse_args(argv)
    import ml_metadata
    from ml_metadata.proto import metadata_store_pb2 as pb

    ids = json.loads(args.ids)
    stores = {}
    for name, target in json.loads(args.targets).items():
        host, _, port = target.rpartition(":")
        stores[name] = ml_metadata.MetadataStore(pb.MetadataStoreClientConfig(host=host, port=int(port)))
    answers = {}
    for name, store in stores.items():
        for _ in range(200):  # warm: channel, server threads, statement caches
            got = store.get_artifacts_by_id(ids)
        answers[name] = {"artifacts": len(got), "bytes": sum(a.ByteSize() for a in got)}
    per_block = max(1, args.calls // args.blocks)
    means: dict[str, list[float]] = {name: [] for name in stores}
    for block in range(args.blocks):
        order = list(stores.items()) if block % 2 == 0 else list(reversed(stores.items()))
        for name, store in order:
            started = time.perf_counter()
            for _ in range(per_block):
                store.get_artifacts_by_id(ids)
            means[name].append((time.perf_counter() - started) / per_block)
    result = {
        name: {
            "median_ms": statistics.median(values) * 1e3,
            "min_ms": min(values) * 1e3,
            "answer": answers[name],
        }
        for name, values in means.items()
    }
    print(json.dumps({"calls_per_target": per_block * args.blocks, "results": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
