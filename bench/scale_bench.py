"""Scale benchmark: lineage, list and write latency on PostgreSQL at 1M and at 10M nodes, and their ratio.

The stores are gen_store.py's TFX-like graph (``--backends postgresql``), one
database per size. Group 0 is the same graph at every size, so every read here
starts from it and has the same answer at 1M and at 10M nodes: only the store
around it grows. Each operation is timed on both sizes in turn, repetition by
repetition (the same machine load on both), embedded (``mlineage.connect`` on
the database) and served (one ``mlineage serve`` per store, reached through
mlineage's gRPC client, which speaks MLMD's service). Per operation the table
prints p50 and p99 at each size and the ratio 10M/1M of each (goal: flat, at
most GOAL_SCALE); ``paired`` is the median over repetitions of the per-repetition
ratio, the steadiest of the three.

Operations:

* lineage: the six queries of lineage_bench.py (``get_lineage_subgraph``,
  hydrated) from pipeline 0's last model, first Examples and the 40-hop chain;
* lists, one page of 100 through ``list_nodes`` (what one GetArtifacts*/
  GetExecutions* RPC answers): by type newest first, its 100th page (a token
  taken once, untimed), a rare type (the chain's 40 executions), by context
  (pipeline g0.p0) and its 5th page, a context's executions newest first,
  filter queries (a type and a context name, a type and a property, an exact
  name, an exact uri);
* write: a TFX-like ``put_execution`` (a Trainer with a custom property, two
  input events on the previous write's outputs, two new output artifacts, the
  bench's pipeline context reused and a new run context). Writes use types
  of their own (``ScaleBenchTrainer``, ``ScaleBenchModel``, ...) and a
  context per run of the bench (``scale_bench.<time>``), never group 0's
  graph nor the types listed above, so every read's answer stays as generated.

Afterwards the plans of the walk's hop queries (lineage_bench.plans) on the
largest store. Results go to bench/results/scale_bench.json.

    python bench/scale_bench.py [--sizes 1000000,10000000] [--postgres URL] [--repeat 50] [--modes embedded,grpc]
                                [--ops up10,list_type_deep,...]

Exit status: 0 every operation flat, 1 one is not, 2 a store failed or the sizes' answers differ.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_ROOT))

import gen_store  # noqa: E402
import lineage_bench  # noqa: E402
import serve  # noqa: E402

DEFAULT_OUTPUT = BENCH_DIR / "results" / "scale_bench.json"
#: 10M / 1M at most this (lineage_bench's goal for 1M / 10k); ~1.0 is the aim.
GOAL_SCALE = 1.5
PAGE = 100
DEEP_TYPE_PAGE = 100
DEEP_CONTEXT_PAGE = 5
MODES = ("embedded", "grpc")
#: Pages of the whole store (not of group 0): the same number of rows at every size, not the same rows.
WHOLE_STORE_PAGES = frozenset({"list_type", "list_type_deep", "filter_property"})


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile by linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _digest(nodes: list) -> str:
    return hashlib.sha1(json.dumps([node.name for node in nodes]).encode()).hexdigest()[:12]


class Operations:
    """The timed calls on one store (embedded or served), each returning an answer signature."""

    def __init__(self, store: Any, meta: dict[str, Any], tag: str) -> None:
        from mlineage.metadata.options import ListOptions, OrderByField
        from mlineage.proto import metadata_store_pb2 as pb

        self.store = store
        self.pb = pb
        self.landmarks: dict[str, int] = meta["landmarks"]
        self.nodes: int = meta["nodes"]
        self.tag = tag
        self.pipeline = store.get_context_by_type_and_name("Pipeline", "g0.p0")
        newest = ListOptions(limit=PAGE, order_by=OrderByField.CREATE_TIME, is_asc=False).to_proto()
        oldest = ListOptions(limit=PAGE, order_by=OrderByField.CREATE_TIME, is_asc=True).to_proto()
        by_id = ListOptions(limit=PAGE).to_proto()
        self.lists: dict[str, tuple[str, pb.ListOperationOptions, dict[str, Any]]] = {
            "list_type": ("artifact", newest, {"type_name": "Model"}),
            "list_type_deep": ("artifact", self._deep("artifact", newest, DEEP_TYPE_PAGE, type_name="Model"), {"type_name": "Model"}),
            "list_type_rare": ("execution", by_id, {"type_name": "ChainStep"}),
            "list_context": ("artifact", oldest, {"context_id": self.pipeline.id}),
            "list_context_deep": (
                "artifact",
                self._deep("artifact", oldest, DEEP_CONTEXT_PAGE, context_id=self.pipeline.id),
                {"context_id": self.pipeline.id},
            ),
            "list_context_executions": ("execution", newest, {"context_id": self.pipeline.id}),
            "filter_context": ("artifact", self._filtered(by_id, "type = 'Model' AND contexts_a.name = 'g0.p0'"), {}),
            "filter_property": (
                "artifact", self._filtered(newest, "type = 'Model' AND properties.span.int_value = 7"), {}
            ),
            "filter_name": ("artifact", self._filtered(by_id, "name = 'g0.p0.r49.model'"), {}),
            "filter_uri": ("artifact", self._filtered(by_id, "uri = 'gs://pipelines/g0/p0/49/Trainer/model'"), {}),
        }  # fmt: skip
        # The writes' own types (TFX's shapes, other names): no list or filter above ever sees them.
        self.trainer = store.put_execution_type(pb.ExecutionType(name="ScaleBenchTrainer"))
        self.model = store.put_artifact_type(pb.ArtifactType(name="ScaleBenchModel", properties={"span": pb.INT}))
        self.pipeline_type = store.put_context_type(pb.ContextType(name="ScaleBenchPipeline"))
        self.run_type = store.put_context_type(pb.ContextType(name="ScaleBenchRun"))
        self.writes = 0
        self.previous: list[int] = []

    def _filtered(self, options: Any, query: str) -> Any:
        copy = self.pb.ListOperationOptions()
        copy.CopyFrom(options)
        copy.filter_query = query
        return copy

    def _deep(self, kind: str, options: Any, page: int, **scope: Any) -> Any:
        """``options`` resuming at page ``page`` (1 = the first): the token of the page before, taken once."""
        copy = self.pb.ListOperationOptions()
        copy.CopyFrom(options)
        for _ in range(page - 1):
            _, token = self.store.list_nodes(kind, copy, **scope)
            if not token:
                raise RuntimeError(f"the listing {scope} has fewer than {page} pages")
            copy.next_page_token = token
        return copy

    def calls(self) -> dict[str, Callable[[], Any]]:
        out: dict[str, Callable[[], Any]] = {}
        q = self.pb.LineageSubgraphQueryOptions
        for query in lineage_bench.queries(self.landmarks):
            options = q(
                starting_artifacts=q.StartingNodes(filter_query=f"id = {query['start']}"),
                max_num_hops=query["hops"],
                direction=q.Direction.Value(query["direction"]),
            )
            out[query["name"]] = self._lineage(options)
        for name, (kind, options, scope) in self.lists.items():
            out[name] = self._list(kind, options, scope)
        out["put_execution"] = self.put_execution
        return out

    def _lineage(self, options: Any) -> Callable[[], Any]:
        def call() -> Any:
            graph = self.store.get_lineage_subgraph(options)
            names = sorted(a.name for a in graph.artifacts) + sorted(e.name for e in graph.executions)
            return [len(graph.artifacts), len(graph.executions), len(graph.events),
                    hashlib.sha1("\n".join(names).encode()).hexdigest()[:12]]  # fmt: skip

        return call

    def _list(self, kind: str, options: Any, scope: dict[str, Any]) -> Callable[[], Any]:
        def call() -> Any:
            page, token = self.store.list_nodes(kind, options, **scope)
            return [len(page), _digest(page), bool(token)]

        return call

    def put_execution(self) -> Any:
        pb = self.pb
        self.writes += 1
        execution = pb.Execution(type_id=self.trainer, name=f"{self.tag}.e{self.writes}", last_known_state=pb.Execution.COMPLETE)
        execution.custom_properties["component_id"].string_value = "Trainer"
        pairs: list[tuple[Any, Any]] = []
        for artifact_id in self.previous:
            pairs.append((None, pb.Event(artifact_id=artifact_id, type=pb.Event.INPUT)))
        for key in ("model", "model_run"):
            artifact = pb.Artifact(type_id=self.model, uri=f"gs://scale_bench/{self.tag}/{self.writes}/{key}",
                                   name=f"{self.tag}.{self.writes}.{key}", state=pb.Artifact.LIVE)  # fmt: skip
            artifact.properties["span"].int_value = self.writes
            event = pb.Event(type=pb.Event.OUTPUT)
            event.path.steps.add().key = key
            pairs.append((artifact, event))
        contexts = [
            pb.Context(type_id=self.pipeline_type, name=self.tag),
            pb.Context(type_id=self.run_type, name=f"{self.tag}.r{self.writes}"),
        ]
        _, artifact_ids, _ = self.store.put_execution(execution, pairs, contexts, reuse_context_if_already_exist=True)
        self.previous = artifact_ids[-2:]
        return [len(artifact_ids)]


def measure(operations: list[Operations], names: list[str], repeat: int) -> dict[str, Any]:
    """Each operation on every store in turn, ``repeat`` times after two warm calls; seconds and answers."""
    calls = [ops.calls() for ops in operations]
    out: dict[str, Any] = {}
    for name in names:
        answers = [store_calls[name]() for store_calls in calls]  # warm: caches, statement cache, pages
        for store_calls in calls:
            store_calls[name]()
        seconds: list[list[float]] = [[] for _ in operations]
        for _ in range(repeat):
            for index, store_calls in enumerate(calls):
                started = time.perf_counter()
                store_calls[name]()
                seconds[index].append(time.perf_counter() - started)
        out[name] = {"answers": answers, "seconds": seconds}
    return out


def explain_slowest(store: Any, call: Callable[[], Any]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the slowest statement one call of an embedded store runs.

    The store runs its statements on the DBAPI cursor (executor.py), below SQLAlchemy's events:
    they are seen through psycopg's ``cursor_factory`` on the connections the call checks out.
    The pool is disposed afterwards, so no recording connection stays in it.
    """
    import psycopg
    from sqlalchemy import event

    seen: list[tuple[float, Any, Any]] = []

    class Recording(psycopg.Cursor):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return super().execute(query, params, **kwargs)
            finally:
                seen.append((time.perf_counter() - started, query, params))

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        dbapi_connection.cursor_factory = Recording

    engine = store.engine
    engine.dispose()
    event.listen(engine.pool, "checkout", checkout)
    try:
        call()
    finally:
        event.remove(engine.pool, "checkout", checkout)
        engine.dispose()
    if not seen:
        return []
    seconds, statement, parameters = max(seen, key=lambda found: found[0])
    text = statement if isinstance(statement, str) else statement.as_string(None)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + text, parameters).all()
    return [f"-- slowest of {len(seen)} statements, {seconds * 1e3:.2f} ms: {' '.join(text.split())}",
            *(f"   {row[0]}" for row in rows)]  # fmt: skip


def wal_per_write(ops: Operations, batches: int = 3, writes: int = 100) -> float:
    """WAL bytes one put_execution adds on an embedded store: the least over ``batches`` batches.

    pg_current_wal_lsn() is the server's, so what other sessions write meanwhile counts too: the
    least of several batches is the closest to the write's own.
    """
    from sqlalchemy import text

    def position() -> int:
        with ops.store.engine.connect() as connection:
            return int(connection.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar_one())

    found = []
    for _ in range(batches):
        before = position()
        for _ in range(writes):
            ops.put_execution()
        found.append((position() - before) / writes)
    return min(found)


#: What a billion events bring along in this workload: rows per event, from the generated store's counts.
BILLION = 1_000_000_000


def table_sizes(url: str) -> list[dict[str, Any]]:
    """Rows (exact counts), heap, index and total bytes of every table of the store that holds rows."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT c.relname, pg_relation_size(c.oid), pg_indexes_size(c.oid), pg_total_relation_size(c.oid) "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC"
                )
            ).all()
            out = []
            for name, heap, indexes, total in found:
                # The table names come from the catalog, not from a caller.
                rows = int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
                if rows:
                    out.append({"table": name, "rows": rows, "heap": int(heap), "indexes": int(indexes),
                                "total": int(total)})  # fmt: skip
            return out
    finally:
        engine.dispose()


def index_sizes(url: str) -> list[tuple[str, str, int]]:
    """(table, index, bytes) of every index, largest first."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [
                (str(table), str(index), int(size))
                for table, index, size in connection.execute(
                    text(
                        "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_relation_size(i.indexrelid) "
                        "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON "
                        "n.oid = c.relnamespace WHERE n.nspname = current_schema() ORDER BY 3 DESC"
                    )
                )
            ]
    finally:
        engine.dispose()


def sizing(tables: list[dict[str, Any]]) -> list[str]:
    """Bytes per row of each table, and the same tables extrapolated to a billion events."""
    events = next(row["rows"] for row in tables if row["table"] == "events")
    lines = [f"{'table':<22} {'rows':>11} {'heap B/row':>10} {'index B/row':>11} {'total B/row':>11} "
             f"{'rows at 1B events':>17} {'GB at 1B events':>15}"]  # fmt: skip
    grand = 0.0
    for row in tables:
        if row["rows"] < 1000:
            continue  # types, the change log of the generator: no per-row figure to speak of
        scaled = row["rows"] * BILLION / events
        gigabytes = row["total"] / row["rows"] * scaled / 1e9
        grand += gigabytes
        lines.append(
            f"{row['table']:<22} {row['rows']:>11,} {row['heap'] / row['rows']:>10.1f} "
            f"{row['indexes'] / row['rows']:>11.1f} {row['total'] / row['rows']:>11.1f} {scaled:>17,.0f} {gigabytes:>15.1f}"
        )
    lines.append(f"{'all of them':<22} {'':>11} {'':>10} {'':>11} {'':>11} {'':>17} {grand:>15.1f}")
    return lines


def _database_size(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000", help="store sizes in nodes (default 1000000,10000000)")
    parser.add_argument("--postgres", default=os.environ.get("MLINEAGE_TEST_POSTGRES_URL"),
                        help="PostgreSQL server URL (default $MLINEAGE_TEST_POSTGRES_URL)")
    parser.add_argument("--repeat", type=int, default=50, help="timed calls per operation per store")
    parser.add_argument("--modes", default=",".join(MODES), help="embedded, grpc or both (default both)")
    parser.add_argument("--ops", help="only these operations (comma-separated; default all)")
    parser.add_argument("--explain", action="store_true",
                        help="EXPLAIN ANALYZE every operation's slowest statement (default: only those not flat)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if not args.postgres:
        parser.error("a PostgreSQL server is needed: --postgres URL or $MLINEAGE_TEST_POSTGRES_URL")
    sizes = sorted(int(s) for s in args.sizes.split(","))
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}")

    import mlineage

    stores: dict[int, dict[str, Any]] = {}
    for size in sizes:
        print(f"store of {size} nodes ...", file=sys.stderr, flush=True)
        stores[size] = gen_store.generate(size, postgres=args.postgres, backends=("postgresql",))
    tag = f"scale_bench.{int(time.time())}"
    results: dict[str, dict[str, Any]] = {}
    explained: dict[str, dict[str, list[str]]] = {}
    wal: dict[str, float] = {}
    servers: list[serve.Server] = []
    failed = False
    try:
        for mode in modes:
            operations = []
            for size in sizes:
                url = stores[size]["stores"]["postgresql"]
                if mode == "grpc":
                    print(f"mlineage serve on the store of {size} nodes ...", file=sys.stderr, flush=True)
                    servers.append(serve.start(url))
                    store = mlineage.connect(f"grpc://{servers[-1].target}")
                else:
                    store = mlineage.connect(url)
                operations.append(Operations(store, stores[size], f"{tag}.{mode}"))
            names = list(operations[0].calls())
            if args.ops:
                names = [n for n in names if n in args.ops.split(",")]
            print(f"{mode}: {len(names)} operations x {args.repeat} ...", file=sys.stderr, flush=True)
            results[mode] = measure(operations, names, args.repeat)
            if mode == "embedded":
                explained = _explain_unflat(operations, results[mode], names, args.explain)
                if "put_execution" in names:
                    wal = {str(ops.nodes): wal_per_write(ops) for ops in operations}
            for ops in operations:
                close = getattr(ops.store, "close", None)
                if close:
                    close()
    finally:
        for server in servers:
            if server.stop() != 0:
                print(f"mlineage serve exited non-zero:\n{server.output()[-2000:]}", file=sys.stderr)
                failed = True

    small, large = sizes[0], sizes[-1]
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for mode, measured in results.items():
        for name, found in measured.items():
            first, last = found["seconds"][0], found["seconds"][-1]
            row = {
                "mode": mode,
                "op": name,
                "p50_ms": [statistics.median(s) * 1e3 for s in found["seconds"]],
                "p99_ms": [percentile(s, 0.99) * 1e3 for s in found["seconds"]],
                "answer": found["answers"][0],
            }
            row["ratio_p50"] = row["p50_ms"][-1] / row["p50_ms"][0]
            row["ratio_p99"] = row["p99_ms"][-1] / row["p99_ms"][0]
            row["paired"] = statistics.median(b / a for a, b in zip(first, last, strict=True))
            rows.append(row)
            # Group 0's reads answer the same rows at every size; a page of the whole store's newest
            # (by type, by a property) holds other rows at each size, but as many.
            compared = [a[:1] for a in found["answers"]] if name in WHOLE_STORE_PAGES else found["answers"]
            if name != "put_execution" and len({json.dumps(a) for a in compared}) > 1:
                problems.append(f"{mode} {name}: the answers at {small} and {large} nodes differ {found['answers']}")
    nodes = [stores[size]["nodes"] for size in sizes]
    header = (f"{'mode':<8} {'operation':<24} {'answer':<26} "
              + " ".join(f"{'p50 ' + _short(n):>10} {'p99 ' + _short(n):>10}" for n in nodes)
              + f" {'p50 x':>6} {'p99 x':>6} {'paired':>6}")  # fmt: skip
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = " ".join(f"{p50:>10.2f} {p99:>10.2f}" for p50, p99 in zip(row["p50_ms"], row["p99_ms"], strict=True))
        lines.append(f"{row['mode']:<8} {row['op']:<24} {str(row['answer'])[:26]:<26} {cells} "
                     f"{row['ratio_p50']:>5.2f}x {row['ratio_p99']:>5.2f}x {row['paired']:>5.2f}x")  # fmt: skip
    print("\n".join(lines))
    print(f"\nms per call; x: {_short(nodes[-1])} / {_short(nodes[0])} nodes (p50, p99, and the median of the "
          f"per-repetition ratios); {args.repeat} calls per store; answer: (artifacts, executions, events, names) "
          "for lineage, (rows, names, more) for a page")  # fmt: skip
    goals = [(f"{row['mode']} {row['op']}: {_short(nodes[-1])}/{_short(nodes[0])} <= {GOAL_SCALE}x",
              row["paired"] <= GOAL_SCALE, f"{row['paired']:.2f}x") for row in rows]  # fmt: skip
    print()
    for label, ok, value in goals:
        print(f"{'PASS' if ok else 'MISS'}  {label}: {value}")
    for problem in problems:
        print(f"FAIL  {problem}")
    plan_text = lineage_bench.plans(stores[large], ("postgresql",))
    for backend, plan_lines in plan_text.items():
        print(f"\nquery plans, {backend}, {stores[large]['nodes']} nodes:")
        print("\n".join(plan_lines))

    for size, wal_bytes in wal.items():
        print(f"WAL per put_execution, {size} nodes: {wal_bytes:,.0f} bytes (least of 3 batches of 100; "
              "the server's whole WAL, so anything else it ran meanwhile counts too)")
    for name, by_size in explained.items():
        for size, plan_lines in by_size.items():
            print(f"\nplan of {name} (embedded), {size} nodes:")
            print("\n".join(plan_lines))

    sizes_bytes = {str(size): _database_size(stores[size]["stores"]["postgresql"]) for size in sizes}
    largest_url = stores[large]["stores"]["postgresql"]
    tables = table_sizes(largest_url)
    indexes = index_sizes(largest_url)
    print(f"\ntables of the {_short(nodes[-1])} store ({sizes_bytes[str(large)] / 1e9:.2f} GB in all), and at a billion events:")
    print("\n".join(sizing(tables)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.timezone.utc).isoformat(),
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]},
                "command": " ".join(["python", "bench/scale_bench.py", *(argv if argv is not None else sys.argv[1:])]),
                "repeat": args.repeat,
                "stores": {
                    str(size): {"nodes": meta["nodes"], "counts": meta["counts"], "database_bytes": sizes_bytes[str(size)],
                                "url": meta["stores"]["postgresql"]}
                    for size, meta in stores.items()
                },  # fmt: skip
                "rows": rows,
                "goals": [{"goal": label, "met": ok, "value": value} for label, ok, value in goals],
                "problems": problems,
                "plans": plan_text,
                "explained": explained,
                "wal_bytes_per_put_execution": wal,
                "tables": tables,
                "indexes": indexes,
            },
            indent=2,
        )
    )
    if failed or problems:
        return 2
    return 0 if all(ok for _, ok, _ in goals) else 1


def _explain_unflat(
    operations: list[Operations], measured: dict[str, Any], names: list[str], everything: bool
) -> dict[str, dict[str, list[str]]]:
    """Plans, on every size, of the operations whose paired ratio misses the goal (or of all)."""
    out: dict[str, dict[str, list[str]]] = {}
    for name in names:
        if name == "put_execution":
            continue  # a write: EXPLAIN ANALYZE would run it again
        first, last = measured[name]["seconds"][0], measured[name]["seconds"][-1]
        paired = statistics.median(b / a for a, b in zip(first, last, strict=True))
        if everything or paired > GOAL_SCALE:
            out[name] = {
                str(ops.nodes): explain_slowest(ops.store, ops.calls()[name]) for ops in operations
            }
    return out


def _short(nodes: int) -> str:
    return f"{nodes / 1e6:.0f}M" if nodes >= 1_000_000 else f"{nodes / 1e3:.0f}k"


if __name__ == "__main__":
    sys.exit(main())
