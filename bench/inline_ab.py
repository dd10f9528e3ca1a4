"""What answering quick calls on gRPC's polling thread buys a lineage query (api/grpc/inline.py).

    python bench/inline_ab.py [--db sqlite,postgresql] [--size 10000] [--rounds 5] [--repeat 20]

Two ``mlineage serve`` on the same lineage_bench store (gen_store.py; SQLite: each its own
copy of the file; PostgreSQL: the same database), one as shipped and one with
``MLINEAGE_GRPC_INLINE=0`` (every call handed to a worker thread). One ml-metadata client
process (lineage_worker.py) times each lineage_bench query on the server with it off, the
server with it on and MLMD in-process on the same graph, in turn, repetition by repetition,
so that all three see the same machine load. The order of the two servers alternates from
round to round. Printed per query: the medians over rounds of each one's median, the paired
ratio off/on (> 1: faster inline) and MLMD/on (>= 1: no slower than MLMD in-process).
Results: ``bench/results/inline_ab.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import gen_store  # noqa: E402
import serve  # noqa: E402
from lineage_bench import add_run_arguments, queries, run_worker  # noqa: E402

DEFAULT_OUTPUT = BENCH_DIR / "results" / "inline_ab.json"
DATABASES = ("sqlite", "postgresql")


def _servers(db: str, url: str, work: Path) -> dict[str, serve.Server]:
    """The server as shipped ("on") and with MLINEAGE_GRPC_INLINE=0 ("off") on the same store."""
    started: dict[str, serve.Server] = {}
    try:
        for mode, env in (("on", {}), ("off", {"MLINEAGE_GRPC_INLINE": "0"})):
            target = url
            if db == "sqlite":  # one SQLite file per server, as SQLite wants
                copy = work / f"inline_{mode}.db"
                shutil.copyfile(url.removeprefix("sqlite:///"), copy)
                target = f"sqlite:///{copy}"
            print(f"mlineage serve ({db}, inline {mode}) ...", file=sys.stderr, flush=True)
            started[mode] = serve.start(target, env=env)
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return started


def measure(db: str, store: dict[str, Any], args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    servers = _servers(db, store["stores"][db], work)
    chosen = queries(store["landmarks"])
    rounds: list[dict[str, Any]] = []
    try:
        for number in range(args.rounds):
            order = ("off", "on") if number % 2 == 0 else ("on", "off")
            entries = [{"db": servers[mode].target, "queries": chosen} for mode in order]
            entries.append({"db": f"mlmd:{store['stores']['mlmd']}", "queries": chosen})
            print(f"{db}: round {number + 1} ({' then '.join(order)})", file=sys.stderr, flush=True)
            result = run_worker(args.mlmd_python, "mlmd-grpc", entries, args.repeat)
            if "error" in result:
                raise SystemExit(f"the ml-metadata worker failed: {result}")
            rounds.append({"order": order, **result})
    finally:
        for mode, server in servers.items():
            if server.stop() != 0:
                print(f"mlineage serve (inline {mode}) exited non-zero:\n{server.output()[-2000:]}", file=sys.stderr)
    rows = []
    for query in (q["name"] for q in chosen):
        row: dict[str, Any] = {"db": db, "nodes": store["nodes"], "query": query}
        answers = set()
        off_over_on, mlmd_over_on, medians = [], [], {"off": [], "on": [], "mlmd": []}
        for done in rounds:
            index = {mode: position for position, mode in enumerate(done["order"])} | {"mlmd": 2}
            for mode, position in index.items():
                medians[mode].append(done["results"][position][query]["subgraph"]["median_ms"])
                answers.add(json.dumps(done["results"][position][query]["answer"], sort_keys=True))
            ratios = done["ratios"][query]["subgraph"]  # each store's time / the first's, paired
            ratio = {mode: ratios[position] for mode, position in index.items()}
            off_over_on.append(ratio["off"] / ratio["on"])
            mlmd_over_on.append(ratio["mlmd"] / ratio["on"])
        if len(answers) != 1:
            raise SystemExit(f"{db} {query}: the answers differ between the servers and MLMD")
        for mode, values in medians.items():
            row[f"{mode}_ms"] = statistics.median(values)
        row["paired_off_over_on"] = statistics.median(off_over_on)
        row["paired_mlmd_over_on"] = statistics.median(mlmd_over_on)
        row["rounds_off_over_on"] = off_over_on
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both (default both)")
    parser.add_argument("--size", type=int, default=10000, help="store size in nodes (lineage_bench's stores)")
    add_run_arguments(parser, rounds=5, output=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    wanted = [db for db in args.db.split(",") if db]
    if unknown := set(wanted) - set(DATABASES):
        parser.error(f"--db: unknown {sorted(unknown)}; choose from {', '.join(DATABASES)}")
    if "postgresql" in wanted and not args.postgres:
        print("no PostgreSQL URL (--postgres or $MLINEAGE_TEST_POSTGRES_URL): SQLite only", file=sys.stderr)
        wanted = [db for db in wanted if db != "postgresql"]
    print(f"store of {args.size} nodes ...", file=sys.stderr, flush=True)
    store = gen_store.generate(args.size, postgres=args.postgres if "postgresql" in wanted else None)
    work = args.output.parent / f"inline_ab_{args.size}"
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for db in wanted:
        rows += measure(db, store, args, work)
    shutil.rmtree(work, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"rounds": args.rounds, "repeat": args.repeat, "rows": rows}, indent=2))
    print(f"\n{'db':<10} {'nodes':>7} {'query':<10} {'MLMD ms':>8} {'off ms':>7} {'on ms':>7} "
          f"{'off/on':>7} {'MLMD/on':>8}")  # fmt: skip
    for row in rows:
        print(f"{row['db']:<10} {row['nodes']:>7} {row['query']:<10} {row['mlmd_ms']:>8.2f} {row['off_ms']:>7.2f} "
              f"{row['on_ms']:>7.2f} {row['paired_off_over_on']:>6.3f}x {row['paired_mlmd_over_on']:>7.2f}x")  # fmt: skip
    print("(paired medians over rounds; off/on > 1: answering quick calls on the polling thread is faster; "
          "MLMD/on >= 1: no slower than MLMD in-process)")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
