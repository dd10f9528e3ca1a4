"""What history costs: writes with history on vs off, and lineage as of a past moment vs on current state.

Two parts, both on SQLite files (the embedded default), in one run:

1. **Writes.** The same workload (types, artifacts with properties in batches,
   executions with their events and contexts, then rounds of updates of every
   artifact) on a store with history kept (the default) and on one opened with
   ``keep_history=False``, alternated over the rounds. Goal: on/off <= 1.25.
2. **As-of lineage.** A copy of the generated lineage store (``bench/gen_store.py``,
   the graph of ``bench/lineage_bench.py``) given ``--revisions`` versions of
   every node (every artifact and execution rewritten that many times, in bulk
   SQL, as a long-lived store would be), then each query shape of
   lineage_bench read through ``store.get_lineage_subgraph`` on current state
   and ``store.as_of(moment)`` for a moment after the last revision (the whole
   graph, every history row in play). Goal: as-of/current <= 2.

    python bench/history_bench.py [--artifacts 2000] [--rounds 3] [--nodes 10000] [--revisions 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path[:0] = [str(REPO_ROOT), str(BENCH_DIR)]

import gen_store  # noqa: E402
from lineage_bench import queries  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from mlineage import metadata_store_pb2 as pb  # noqa: E402
from mlineage.metadata.engine import normalize_url  # noqa: E402
from mlineage.metadata.store import Store  # noqa: E402
from mlineage.migrations import runner  # noqa: E402

GOAL_WRITES = 1.25
GOAL_AS_OF = 2.0
DEFAULT_OUTPUT = BENCH_DIR / "results" / "history_bench.json"


def write_workload(store: Store, artifacts: int, update_rounds: int) -> float:
    """Seconds for the write workload on ``store``."""
    started = time.perf_counter()
    model = store.put_artifact_type(
        pb.ArtifactType(name="Model", properties={"span": pb.INT, "accuracy": pb.DOUBLE, "note": pb.STRING})
    )
    trainer = store.put_execution_type(pb.ExecutionType(name="Trainer", properties={"step": pb.INT}))
    run_type = store.put_context_type(pb.ContextType(name="Run"))
    ids: list[int] = []
    for start in range(0, artifacts, 20):
        batch = []
        for i in range(start, min(start + 20, artifacts)):
            artifact = pb.Artifact(type_id=model, uri=f"/models/{i}", state=pb.Artifact.LIVE)
            artifact.properties["span"].int_value = i
            artifact.properties["accuracy"].double_value = 0.5
            artifact.properties["note"].string_value = "first"
            batch.append(artifact)
        ids.extend(store.put_artifacts(batch))
    for i in range(0, len(ids) - 1, 4):
        execution = pb.Execution(type_id=trainer, last_known_state=pb.Execution.COMPLETE)
        execution.properties["step"].int_value = i
        inputs = store.get_artifacts_by_id(ids[i : i + 2])
        store.put_execution(
            execution,
            [(a, pb.Event(type=pb.Event.INPUT)) for a in inputs[:1]]
            + [(a, pb.Event(type=pb.Event.OUTPUT)) for a in inputs[1:]],
            [pb.Context(type_id=run_type, name=f"run-{i}")],
        )
    for round_ in range(update_rounds):
        for start in range(0, len(ids), 20):
            batch = store.get_artifacts_by_id(ids[start : start + 20])
            for artifact in batch:
                artifact.properties["accuracy"].double_value = 0.6 + round_ / 100
                artifact.custom_properties["round"].int_value = round_
            store.put_artifacts(batch)
    return time.perf_counter() - started


def _write_target(args: argparse.Namespace, workdir: Path, mode: str, round_: int) -> str:
    """A fresh database for one write round: a SQLite file, or a new database on --postgres."""
    if not args.postgres:
        return f"sqlite:///{workdir / f'writes_{mode}_{round_}.db'}"
    prefix, _, _ = normalize_url(args.postgres).rpartition("/")
    url = f"{prefix}/mlineage_history_bench_{mode}"
    gen_store._create_postgres_database(url)
    return url


def bench_writes(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    times: dict[str, list[float]] = {"on": [], "off": []}
    for round_ in range(args.rounds):
        for mode in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
            store = Store(_write_target(args, workdir, mode, round_), keep_history=mode == "on")
            try:
                times[mode].append(write_workload(store, args.artifacts, args.update_rounds))
            finally:
                store.close()
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    return {"on_s": on, "off_s": off, "ratio": on / off, "goal": GOAL_WRITES, "rounds": times}


def add_revisions(path: Path, revisions: int) -> tuple[int, int]:
    """Give every artifact and execution of the store at ``path`` ``revisions`` versions.

    Returns two moments: one between the middle revisions, one after the last.
    """
    engine = create_engine(f"sqlite:///{path}")
    runner.upgrade(engine)
    now = time.time_ns() // 1_000_000
    with engine.begin() as connection:
        for revision in range(1, revisions):
            change = connection.execute(
                text(
                    "INSERT INTO changes (namespace, recorded_ms, surface) VALUES ('default', :ms, 'import') RETURNING id"
                ),
                {"ms": now - (revisions - revision) * 1000},
            ).scalar_one()
            for table, props, owner in (
                ("artifacts", "artifact_properties", "artifact_id"),
                ("executions", "execution_properties", "execution_id"),
            ):
                # The version now current is closed by this change; the next one is written by it.
                connection.execute(
                    text(f"INSERT INTO {table}_history SELECT *, :c FROM {table}"), {"c": change}
                )
                prop_columns = (
                    f"p.{owner}, p.name, p.is_custom, p.value_type, p.int_value, p.double_value, p.string_value, "
                    "p.bool_value, p.struct_value, p.proto_value, p.change_id"
                )
                connection.execute(
                    text(
                        f"INSERT INTO {props}_history SELECT {prop_columns}, n.revision, :c "
                        f"FROM {props} p JOIN {table} n ON n.id = p.{owner}"
                    ),
                    {"c": change},
                )
                connection.execute(
                    text(
                        f"UPDATE {table} SET revision = revision + 1, change_id = :c, last_update_time_since_epoch = :ms"
                    ),
                    {"c": change, "ms": now - (revisions - revision) * 1000},
                )
                connection.execute(text(f"UPDATE {props} SET change_id = :c"), {"c": change})
    engine.dispose()
    time.sleep(0.01)
    return now - (revisions - revisions // 2) * 1000 + 500, time.time_ns() // 1_000_000


def bench_as_of(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    meta = gen_store.generate(args.nodes)
    source = gen_store.store_dir(args.nodes) / "mlineage.db"
    path = workdir / "as_of.db"
    shutil.copy(source, path)
    started = time.perf_counter()
    middle, moment = add_revisions(path, args.revisions)
    prepared_s = time.perf_counter() - started
    store = Store(f"sqlite:///{path}")
    view = store.as_of(moment)
    past = store.as_of(middle)
    rows = []
    try:
        for query in queries(meta["landmarks"]):
            options = pb.LineageSubgraphQueryOptions(
                starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(
                    filter_query=f"id = {query['start']}"
                ),
                max_num_hops=query["hops"],
                direction=getattr(pb.LineageSubgraphQueryOptions, query["direction"]),
            )
            current_answer = store.get_lineage_subgraph(options)
            as_of_answer = view.get_lineage_subgraph(options)
            if current_answer != as_of_answer:
                raise SystemExit(f"{query['name']}: the as-of answer differs from the current one")
            timed: dict[str, list[float]] = {"current": [], "as_of": [], "as_of_middle": []}
            past.get_lineage_subgraph(options)
            for _ in range(args.repeat):
                for name, reader in (("current", store), ("as_of", view), ("as_of_middle", past)):
                    begin = time.perf_counter()
                    reader.get_lineage_subgraph(options)
                    timed[name].append(time.perf_counter() - begin)
            current, as_of = statistics.median(timed["current"]), statistics.median(timed["as_of"])
            middle_s = statistics.median(timed["as_of_middle"])
            rows.append(
                {
                    "query": query["name"],
                    "nodes": len(current_answer.artifacts) + len(current_answer.executions),
                    "current_ms": current * 1000,
                    "as_of_ms": as_of * 1000,
                    "ratio": as_of / current,
                    "as_of_middle_ms": middle_s * 1000,
                    "ratio_middle": middle_s / current,
                }
            )
    finally:
        store.close()
    return {
        "nodes": args.nodes,
        "revisions": args.revisions,
        "prepare_s": prepared_s,
        "goal": GOAL_AS_OF,
        "queries": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--artifacts", type=int, default=2000, help="artifacts in the write workload (default 2000)"
    )
    parser.add_argument(
        "--update-rounds", type=int, default=3, help="update rounds of every artifact (default 3)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="write workload rounds per mode (default 3)")
    parser.add_argument("--nodes", type=int, default=10_000, help="lineage store size (default 10000)")
    parser.add_argument("--revisions", type=int, default=10, help="versions per node (default 10)")
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats per lineage query (default 7)")
    parser.add_argument("--postgres", help="PostgreSQL server URL: run the write part there (new databases)")
    parser.add_argument("--skip-writes", action="store_true")
    parser.add_argument("--skip-as-of", action="store_true")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="mlineage_history_bench_") as tmp:
        workdir = Path(tmp)
        if not args.skip_writes:
            writes = results["writes"] = bench_writes(args, workdir)
            ok &= writes["ratio"] <= GOAL_WRITES
            where = "PostgreSQL" if args.postgres else "SQLite"
            print(
                f"writes on {where} ({args.artifacts} artifacts, {args.update_rounds} update rounds): history on "
                f"{writes['on_s']:.2f} s, off {writes['off_s']:.2f} s, ratio {writes['ratio']:.2f} (goal <= {GOAL_WRITES})"
            )
        if not args.skip_as_of:
            as_of = results["as_of"] = bench_as_of(args, workdir)
            print(
                f"as-of lineage at {args.nodes} nodes x {args.revisions} revisions (prepared in {as_of['prepare_s']:.0f} s):"
            )
            print(
                f"{'query':<10} {'nodes':>6} {'current ms':>11} {'as-of ms':>9} {'ratio':>6}"
                f" {'mid-history ms':>15} {'ratio':>6}"
            )
            for row in as_of["queries"]:
                ok &= max(row["ratio"], row["ratio_middle"]) <= GOAL_AS_OF
                print(
                    f"{row['query']:<10} {row['nodes']:>6} {row['current_ms']:>11.2f} {row['as_of_ms']:>9.2f} {row['ratio']:>6.2f}"
                    f" {row['as_of_middle_ms']:>15.2f} {row['ratio_middle']:>6.2f}"
                )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
