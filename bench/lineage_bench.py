"""Lineage benchmark: mlineage (SQLite, PostgreSQL; in-process and over gRPC) against MLMD in-process, in one run.

For each store size (default 10k and 1M nodes) gen_store.py builds, or reuses,
the same TFX-like graph in an mlineage SQLite file, an mlineage PostgreSQL
database and an MLMD SQLite file. Four queries start in pipeline 0, whose
answers are the same at every size: upstream from its last model and
downstream from its first Examples, 10 and 50 hops; two more walk a 40-step
chain (one execution per hop) end to end, upstream and downstream. Each round
runs lineage_worker.py once per backend, in a subprocess (MLMD and the gRPC
backends under the ml-metadata venv), alternating; the table shows the median
over rounds of each worker's median. The gRPC backends are MLMD's own client,
unmodified, against one ``mlineage serve`` per store started for the run
(SQLite, SQLite with MLINEAGE_GRPC_BY_ID_CACHE=0, PostgreSQL); their table
prints MLMD/gRPC, the goal being >= 1 (no slower than MLMD in-process). With
``mlmd`` among the backends each round also runs one paired worker per gRPC
backend: MLMD in-process and the server timed in turn, repetition by
repetition, in one client process (the same machine load on both); the goal
is judged on that paired ratio, the unpaired one is printed beside it.

Columns: ``subgraph`` is ``get_lineage_subgraph`` as MLMD's Python client
calls it (nodes hydrated, contexts, events, types), the same call on both
sides; ``walk`` is mlineage's traversal alone (node and edge ids). Goals: at
1M nodes the depth-50 upstream query under 50 ms on SQLite; 1M at most 1.5x
10k for the same answer; mlineage at least 2x faster than MLMD. The hop
queries' plans (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE) are printed after the
table. Results go to bench/results/lineage_bench.json.

    python bench/lineage_bench.py [--sizes 10000,1000000] [--postgres URL] [--rounds 3] [--repeat 20]
                                  [--backends mlmd,grpc_sqlite,...] [--queries up10,chain40,...]
                                  [--serve-cpus auto|all|LIST]

Exit status: 0 all goals met, 1 a goal missed, 2 a store failed or two stores disagreed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_ROOT))

import gen_store  # noqa: E402
import serve  # noqa: E402
from store_bench import default_mlmd_python  # noqa: E402

WORKER = BENCH_DIR / "lineage_worker.py"
DEFAULT_OUTPUT = BENCH_DIR / "results" / "lineage_bench.json"
GOAL_MS = 50.0
GOAL_SCALE = 1.5
GOAL_SPEEDUP = 2.0
#: Through the ml-metadata client over gRPC, no slower than MLMD in-process.
GOAL_GRPC_SPEEDUP = 1.0
ALL_BACKENDS = ("mlmd", "sqlite", "postgresql", "grpc_sqlite", "grpc_sqlite_uncached", "grpc_postgresql")
#: The server's store for each gRPC backend; "uncached" runs with MLINEAGE_GRPC_BY_ID_CACHE=0.
GRPC_STORES = {"grpc_sqlite": "sqlite", "grpc_sqlite_uncached": "sqlite", "grpc_postgresql": "postgresql"}


def queries(landmarks: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"name": "up10", "start": landmarks["last_model"], "hops": 10, "direction": "UPSTREAM"},
        {"name": "up50", "start": landmarks["last_model"], "hops": 50, "direction": "UPSTREAM"},
        {"name": "down10", "start": landmarks["first_examples"], "hops": 10, "direction": "DOWNSTREAM"},
        {"name": "down50", "start": landmarks["first_examples"], "hops": 50, "direction": "DOWNSTREAM"},
        # The 40-hop chain (one execution per hop), walked whole (MLMD's default and ceiling of 100 hops).
        {"name": "chain40", "start": landmarks["chain_last"], "hops": 100, "direction": "UPSTREAM"},
        {"name": "chain40dn", "start": landmarks["chain_first"], "hops": 100, "direction": "DOWNSTREAM"},
    ]


def run_worker(python: str, backend: str, stores: list[dict[str, Any]], repeat: int) -> dict[str, Any]:
    command = [python, str(WORKER), "--backend", backend, "--stores", json.dumps(stores), "--repeat", str(repeat)]
    env = dict(os.environ, GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"worker exited {proc.returncode}", "stderr": proc.stderr.strip().splitlines()[-20:]}


# --- query plans --------------------------------------------------------------------------------


def plans(meta: dict[str, Any], backends: tuple[str, ...] = ("sqlite", "postgresql")) -> dict[str, list[str]]:
    """Plans of the walk's hop queries, on a real frontier of each store."""
    from sqlalchemy import create_engine

    from mlineage.metadata.kinds import ARTIFACT, EXECUTION
    from mlineage.metadata.lineage_engine.reads import EventReader
    from mlineage.metadata.lineage_engine.traversal import INPUT_EVENTS, OUTPUT_EVENTS, Direction, traverse

    out: dict[str, list[str]] = {}
    model = meta["landmarks"]["last_model"]
    for backend in backends:
        url = meta["stores"].get(backend)
        if not url:
            continue
        engine = create_engine(url)
        with engine.connect() as connection:
            walk = traverse(connection, artifact_ids=[model], direction=Direction.UPSTREAM, max_hops=2)
            executions = list(walk.executions)
            reader = EventReader(connection)
            lines = []
            for label, kind, ids, types in (
                ("artifacts -> executions (upstream: output events)", ARTIFACT, [model], OUTPUT_EVENTS),
                ("executions -> artifacts (upstream: input events)", EXECUTION, executions, INPUT_EVENTS),
            ):
                sql, params = reader.statement(kind, ids, types)
                lines.append(f"-- {label}: {sql}")
                if backend == "sqlite":
                    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
                    lines += [f"   {row[-1]}" for row in rows]
                else:
                    rows = connection.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + sql, params
                    ).all()
                    lines += [f"   {row[0]}" for row in rows]
            for label, kind, ids in (
                ("attributions of the answer's artifacts", ARTIFACT, list(walk.artifacts)),
                ("associations of the answer's executions", EXECUTION, executions),
            ):
                sql, param = reader.memberships_statement(kind, ids)
                lines.append(f"-- {label}: {sql}")
                if backend == "sqlite":
                    lines += [f"   {row[-1]}" for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, param)]
                else:
                    explain = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + sql
                    lines += [f"   {row[0]}" for row in connection.exec_driver_sql(explain, param)]
            reader.close()
        engine.dispose()
        out[backend] = lines
    mlmd_db = meta["stores"].get("mlmd")
    if mlmd_db:
        import sqlite3

        db = sqlite3.connect(f"file:{mlmd_db}?mode=ro", uri=True)
        lines = []
        for label, sql in (
            ("MLMD FindEventsByArtifacts", "SELECT * FROM Event WHERE artifact_id IN (?)"),
            ("MLMD FindEventsByExecutions", "SELECT * FROM Event WHERE execution_id IN (?)"),
            ("MLMD FindAttributionsByArtifacts", "SELECT * FROM Attribution WHERE artifact_id IN (?)"),
            ("MLMD FindAssociationsByExecutions", "SELECT * FROM Association WHERE execution_id IN (?)"),
        ):
            lines.append(f"-- {label}: {sql}")
            lines += [f"   {row[-1]}" for row in db.execute("EXPLAIN QUERY PLAN " + sql, (model,))]
        db.close()
        out["mlmd"] = lines
    return out


# --- driver -------------------------------------------------------------------------------------


def add_run_arguments(parser: argparse.ArgumentParser, *, rounds: int, output: Path) -> None:
    """The options of a run over lineage stores: PostgreSQL, rounds, repetitions, MLMD's interpreter, output."""
    parser.add_argument("--postgres", default=os.environ.get("MLINEAGE_TEST_POSTGRES_URL"),
                        help="PostgreSQL server URL (default $MLINEAGE_TEST_POSTGRES_URL; none: SQLite only)")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per query per round")
    parser.add_argument("--mlmd-python", default=default_mlmd_python(), help="interpreter with ml-metadata")
    parser.add_argument("--output", type=Path, default=output)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,1000000", help="store sizes in nodes (default 10000,1000000)")
    add_run_arguments(parser, rounds=3, output=DEFAULT_OUTPUT)
    parser.add_argument("--backends", default=",".join(ALL_BACKENDS),
                        help=f"which of {','.join(ALL_BACKENDS)} to run (default all; PG ones need --postgres)")
    parser.add_argument("--queries", help="only these query names (comma-separated; default all)")
    parser.add_argument("--serve-cpus", metavar="auto|all|LIST",
                        help="the servers' --cpus (default: serve's own, auto; all: the OS places their threads)")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    chosen = [b for b in args.backends.split(",") if b and (args.postgres or "postgresql" not in b)]
    wanted_queries = set(args.queries.split(",")) if args.queries else None

    def selected(landmarks: dict[str, int]) -> list[dict[str, Any]]:
        return [q for q in queries(landmarks) if wanted_queries is None or q["name"] in wanted_queries]

    stores: dict[int, dict[str, Any]] = {}
    for size in sizes:
        print(f"store of {size} nodes ...", file=sys.stderr, flush=True)
        stores[size] = gen_store.generate(size, postgres=args.postgres)

    kinds = {"mlmd": (args.mlmd_python, "mlmd"), "sqlite": (sys.executable, "mlineage"),
             "postgresql": (sys.executable, "mlineage"), "grpc_sqlite": (args.mlmd_python, "mlmd-grpc"),
             "grpc_sqlite_uncached": (args.mlmd_python, "mlmd-grpc"),
             "grpc_postgresql": (args.mlmd_python, "mlmd-grpc")}  # fmt: skip
    backends = [(name, *kinds[name]) for name in ALL_BACKENDS if name in chosen]
    # One `mlineage serve` per store for the whole run; the ml-metadata client talks gRPC to it.
    servers: dict[tuple[str, int], serve.Server] = {}
    targets: dict[str, dict[int, str]] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    pairs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    failed = False
    try:
        for name, _, kind in backends:
            if kind != "mlmd-grpc":
                continue
            for size in sizes:
                print(f"mlineage serve ({name}) on the store of {size} nodes ...", file=sys.stderr, flush=True)
                if name.endswith("_uncached"):
                    os.environ["MLINEAGE_GRPC_BY_ID_CACHE"] = "0"
                try:
                    servers[(name, size)] = serve.start(
                        stores[size]["stores"][GRPC_STORES[name]],
                        extra_args=("--cpus", args.serve_cpus) if args.serve_cpus else (),
                    )
                finally:
                    os.environ.pop("MLINEAGE_GRPC_BY_ID_CACHE", None)
                targets.setdefault(name, {})[size] = servers[(name, size)].target
        for round_number in range(args.rounds):
            order = backends if round_number % 2 == 0 else list(reversed(backends))
            for name, python, kind in order:
                print(f"round {round_number + 1}: {name}", file=sys.stderr, flush=True)
                entries = [
                    {"db": targets[name][size] if kind == "mlmd-grpc" else stores[size]["stores"][name],
                     "queries": selected(stores[size]["landmarks"])}
                    for size in sizes
                ]  # fmt: skip
                result = run_worker(python, kind, entries, args.repeat)
                if "error" in result:
                    print(f"  {name} failed: {result}", file=sys.stderr)
                    failed = True
                    continue
                runs.setdefault(name, []).append(result)
                if kind == "mlmd-grpc" and "mlmd" in chosen:
                    # Paired: MLMD in-process and the server timed in turn, repetition by repetition,
                    # in one client process, so that both see the same machine load.
                    for size, entry in zip(sizes, entries, strict=True):
                        anchor = {"db": f"mlmd:{stores[size]['stores']['mlmd']}", "queries": entry["queries"]}
                        paired = run_worker(python, kind, [anchor, entry], args.repeat)
                        if "error" in paired:
                            print(f"  {name} paired with MLMD failed: {paired}", file=sys.stderr)
                            failed = True
                            continue
                        pairs.setdefault((name, size), []).append(paired)
    finally:
        for server in servers.values():
            if server.stop() != 0:
                print(f"mlineage serve exited non-zero:\n{server.output()[-2000:]}", file=sys.stderr)
                failed = True

    names = [q["name"] for q in selected(stores[sizes[0]]["landmarks"])]
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, size in enumerate(sizes):
        for query in names:
            row: dict[str, Any] = {"nodes": stores[size]["nodes"], "query": query}
            answers = {}
            for name, _, _ in backends:
                done = runs.get(name, [])
                if not done:
                    continue
                for what in ("subgraph", "walk"):
                    found = [run["results"][index][query][what] for run in done if what in run["results"][index][query]]
                    if found:
                        suffix = "" if what == "subgraph" else "_walk"
                        row[f"{name}{suffix}_ms"] = statistics.median(f["median_ms"] for f in found)
                        row[f"{name}{suffix}_min_ms"] = min(f["min_ms"] for f in found)
                        if index:
                            # Paired: each repetition timed the same query on every size in turn.
                            row[f"scale_{name}{suffix}"] = statistics.median(
                                run["ratios"][query][what][index] for run in done
                            )
                answers[name] = done[0]["results"][index][query]["answer"]
            if len({json.dumps(a, sort_keys=True) for a in answers.values()}) > 1:
                problems.append(f"{size} nodes, {query}: stores disagree {answers}")
            row["answer"] = next(iter(answers.values()), {})
            for name in ("sqlite", "postgresql", *GRPC_STORES):
                if row.get("mlmd_ms") and row.get(f"{name}_ms"):
                    row[f"speedup_{name}"] = row["mlmd_ms"] / row[f"{name}_ms"]
            for name in GRPC_STORES:
                # Each paired run's median over repetitions of gRPC time / MLMD time; median over rounds.
                paired_runs = pairs.get((name, size), [])
                if paired_runs:
                    row[f"paired_{name}"] = statistics.median(
                        1 / run["ratios"][query]["subgraph"][1] for run in paired_runs
                    )
            rows.append(row)
    by_key = {(row["nodes"], row["query"]): row for row in rows}
    smallest, largest = min(sizes), max(sizes)
    small_nodes, large_nodes = stores[smallest]["nodes"], stores[largest]["nodes"]
    for query in names:
        if by_key[(small_nodes, query)]["answer"].get("names") != by_key[(large_nodes, query)]["answer"].get("names"):
            problems.append(f"{query}: the answers at {smallest} and {largest} nodes differ")

    goals = []
    for row in rows:
        if row["nodes"] == large_nodes and row["query"] == "up50" and row.get("sqlite_ms") is not None:
            goals.append((f"up50 at {row['nodes']} nodes, SQLite < {GOAL_MS:g} ms",
                          row["sqlite_ms"] < GOAL_MS, f"{row['sqlite_ms']:.1f} ms"))
    for row in rows:
        for name in ("sqlite", "postgresql"):
            if f"scale_{name}" in row and row["nodes"] == large_nodes:
                goals.append((f"{row['query']} {name}: {large_nodes}/{small_nodes} nodes <= {GOAL_SCALE}x",
                              row[f"scale_{name}"] <= GOAL_SCALE, f"{row[f'scale_{name}']:.2f}x"))
    for row in rows:
        if "speedup_sqlite" in row:
            goals.append((f"{row['query']} at {row['nodes']} nodes: SQLite >= {GOAL_SPEEDUP:g}x faster than MLMD",
                          row["speedup_sqlite"] >= GOAL_SPEEDUP, f"{row['speedup_sqlite']:.1f}x"))

    for row in rows:
        for name in GRPC_STORES:
            # The goal is judged on the paired ratio where there is one (both timed in turn in one
            # process); the unpaired ratio of separate runs is printed beside it.
            key = f"paired_{name}" if f"paired_{name}" in row else f"speedup_{name}"
            if key in row:
                how = "paired" if key.startswith("paired") else "unpaired"
                goals.append((f"{row['query']} at {row['nodes']} nodes: {name} (ml-metadata client) no slower than MLMD",
                              row[key] >= GOAL_GRPC_SPEEDUP, f"{row[key]:.2f}x ({how})"))

    def cell(value: Any, fmt: str = "{:.1f}") -> str:
        return "-" if value is None else fmt.format(value)

    header = (
        f"{'nodes':>8} {'query':<9} {'answer a/e/ev':>13} {'MLMD ms':>8} {'SQLite ms (min)':>16} {'walk':>5} "
        f"{'PG ms (min)':>12} {'walk':>5} {'MLMD/SQLite':>11} {'MLMD/PG':>7} "
        f"{'scale: SQLite':>13} {'walk':>5} {'PG':>5} {'walk':>5} {'MLMD':>6}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        answer = row["answer"]
        lines.append(
            f"{row['nodes']:>8} {row['query']:<9} "
            f"{str(answer.get('artifacts', 0)) + '/' + str(answer.get('executions', 0)) + '/' + str(answer.get('events', 0)):>13} "
            f"{cell(row.get('mlmd_ms')):>8} "
            f"{cell(row.get('sqlite_ms')) + ' (' + cell(row.get('sqlite_min_ms')) + ')':>16} "
            f"{cell(row.get('sqlite_walk_ms')):>5} "
            f"{cell(row.get('postgresql_ms')) + ' (' + cell(row.get('postgresql_min_ms')) + ')':>12} "
            f"{cell(row.get('postgresql_walk_ms')):>5} "
            f"{cell(row.get('speedup_sqlite'), '{:.1f}x'):>11} {cell(row.get('speedup_postgresql'), '{:.1f}x'):>7} "
            f"{cell(row.get('scale_sqlite'), '{:.2f}x'):>13} {cell(row.get('scale_sqlite_walk'), '{:.2f}'):>5} "
            f"{cell(row.get('scale_postgresql'), '{:.2f}x'):>5} {cell(row.get('scale_postgresql_walk'), '{:.2f}'):>5} "
            f"{cell(row.get('scale_mlmd'), '{:.1f}x'):>6}"
        )
    print("\n".join(lines))
    print("\nms: median over rounds of each round's median (minimum in brackets); scale: time at "
          f"{large_nodes} / time at {small_nodes} nodes, paired per repetition, median")
    if any(name.startswith("grpc_") for name, _, _ in backends):
        header = (f"{'nodes':>8} {'query':<9} {'MLMD in-process ms':>18} {'gRPC SQLite ms (min)':>21} {'MLMD/gRPC':>9} "
                  f"{'paired':>6} {'no cache ms':>11} {'MLMD/gRPC':>9} {'paired':>6} {'gRPC PG ms (min)':>17} "
                  f"{'MLMD/gRPC':>9} {'paired':>6}")
        print("\nthe ml-metadata client over gRPC against mlineage serve vs MLMD in-process "
              "(MLMD/gRPC >= 1: no slower; no cache: the server with MLINEAGE_GRPC_BY_ID_CACHE=0; "
              "paired: MLMD and the server timed in turn in one client process, median of per-repetition "
              "ratios, median over rounds)")
        print(header)
        print("-" * len(header))
        for row in rows:
            print(
                f"{row['nodes']:>8} {row['query']:<9} {cell(row.get('mlmd_ms'), '{:.2f}'):>18} "
                f"{cell(row.get('grpc_sqlite_ms'), '{:.2f}') + ' (' + cell(row.get('grpc_sqlite_min_ms'), '{:.2f}') + ')':>21} "
                f"{cell(row.get('speedup_grpc_sqlite'), '{:.2f}x'):>9} "
                f"{cell(row.get('paired_grpc_sqlite'), '{:.2f}x'):>6} "
                f"{cell(row.get('grpc_sqlite_uncached_ms'), '{:.2f}'):>11} "
                f"{cell(row.get('speedup_grpc_sqlite_uncached'), '{:.2f}x'):>9} "
                f"{cell(row.get('paired_grpc_sqlite_uncached'), '{:.2f}x'):>6} "
                f"{cell(row.get('grpc_postgresql_ms'), '{:.2f}') + ' (' + cell(row.get('grpc_postgresql_min_ms'), '{:.2f}') + ')':>17} "
                f"{cell(row.get('speedup_grpc_postgresql'), '{:.2f}x'):>9} "
                f"{cell(row.get('paired_grpc_postgresql'), '{:.2f}x'):>6}"
            )
    print()
    for label, ok, value in goals:
        print(f"{'PASS' if ok else 'MISS'}  {label}: {value}")
    for problem in problems:
        print(f"FAIL  {problem}")
    plan_text = plans(stores[largest], ("sqlite", "postgresql") if args.postgres else ("sqlite",))
    print()
    for backend, plan_lines in plan_text.items():
        print(f"query plans, {backend}, {stores[largest]['nodes']} nodes:")
        print("\n".join(plan_lines))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.timezone.utc).isoformat(),
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]},
                "rounds": args.rounds,
                "repeat": args.repeat,
                "serve_cpus": args.serve_cpus or "auto",
                "stores": {str(size): {k: v for k, v in meta.items() if k != "types"} for size, meta in stores.items()},
                "rows": rows,
                "goals": [{"goal": label, "met": ok, "value": value} for label, ok, value in goals],
                "problems": problems,
                "runs": runs,
                "paired_runs": {f"{name},{size}": found for (name, size), found in pairs.items()},
                "plans": plan_text,
            },
            indent=2,
        )
    )
    if failed or problems:
        return 2
    return 0 if all(ok for _, ok, _ in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
