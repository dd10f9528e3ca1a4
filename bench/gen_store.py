"""Generate realistic lineage stores for bench/lineage_bench.py, the same graph in mlineage and in MLMD.

The graph is what TFX pipelines leave behind. Pipelines come in groups of ten
that read one shared data source: every round, an ``Ingest`` execution writes
a new ``RawData`` snapshot per group, and every pipeline of the group runs its
ten steps (ExampleGen, StatisticsGen, SchemaGen, ExampleValidator, Transform,
Trainer, Evaluator, InfraValidator, Pusher, BulkInferrer) on it. A Trainer
warm-starts from the previous run's model and the Evaluator compares against
it, so lineage reaches back run after run; some ExampleGens also backfill the
previous snapshot. Every run has a PipelineRun context and every pipeline a
Pipeline context (attributions and associations for each node), artifacts
carry a declared ``span`` property, executions a custom ``component_id``.

Runs are written in time order, all groups interleaved, so a pipeline's nodes
are spread over the whole id space as in a real store. Ids are assigned here
and written explicitly, identical in every store, and group 0 is the same graph
at every size: a query from its nodes has the same answer at 10k and at 1M
nodes. One group holds ~12.1k nodes; ``--nodes`` picks the number of groups.

Writers: mlineage on SQLite and PostgreSQL through SQLAlchemy Core bulk
inserts into a migrated schema; MLMD by copying the empty v10 SQLite fixture
and inserting rows with its encoding (reference/mlmd.md section 5).
Generated stores are cached under bench/results/lineage_<nodes>/.

    python bench/gen_store.py --nodes 10000 [--postgres URL] [--backends postgresql] [--copy] [--force]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
MLMD_EMPTY = Path(os.environ.get("MLINEAGE_SHARED", "/work/shared")) / "fixtures" / "mlmd" / "mlmd_v10_empty.db"

PIPELINES_PER_GROUP = 10
RUNS_PER_PIPELINE = 50
BACKFILL_PROBABILITY = 0.3
START_MS = 1_700_000_000_000
ROUND_MS = 86_400_000

# Event.Type values
INPUT, OUTPUT = 3, 4
# Artifact.State LIVE, Execution.State COMPLETE
LIVE, COMPLETE = 2, 3

ARTIFACT_TYPES = [
    "RawData", "Examples", "ExampleStatistics", "Schema", "ExampleAnomalies", "TransformGraph",
    "TransformedExamples", "Model", "ModelRun", "ModelEvaluation", "ModelBlessing", "InfraBlessing",
    "PushedModel", "InferenceResult",
]  # fmt: skip
# (step, [(input key, artifact role)], [(output key, artifact role, artifact type)])
STEPS: list[tuple[str, list[tuple[str, str]], list[tuple[str, str, str]]]] = [
    ("ExampleGen", [("input_data", "raw")], [("examples", "examples", "Examples")]),
    ("StatisticsGen", [("examples", "examples")], [("statistics", "statistics", "ExampleStatistics")]),
    ("SchemaGen", [("statistics", "statistics")], [("schema", "schema", "Schema")]),
    (
        "ExampleValidator",
        [("statistics", "statistics"), ("schema", "schema")],
        [("anomalies", "anomalies", "ExampleAnomalies")],
    ),
    (
        "Transform",
        [("examples", "examples"), ("schema", "schema")],
        [("transform_graph", "transform_graph", "TransformGraph"),
         ("transformed_examples", "transformed", "TransformedExamples")],
    ),  # fmt: skip
    (
        "Trainer",
        [("examples", "transformed"), ("transform_graph", "transform_graph"), ("schema", "schema"),
         ("base_model", "previous_model")],
        [("model", "model", "Model"), ("model_run", "model_run", "ModelRun")],
    ),  # fmt: skip
    (
        "Evaluator",
        [("model", "model"), ("examples", "examples"), ("baseline_model", "previous_model")],
        [("evaluation", "evaluation", "ModelEvaluation"), ("blessing", "blessing", "ModelBlessing")],
    ),
    ("InfraValidator", [("model", "model"), ("examples", "examples")], [("blessing", "infra", "InfraBlessing")]),
    (
        "Pusher",
        [("model", "model"), ("model_blessing", "blessing"), ("infra_blessing", "infra")],
        [("pushed_model", "pushed", "PushedModel")],
    ),
    ("BulkInferrer", [("model", "model"), ("examples", "examples")], [("inference_result", "inference", "InferenceResult")]),
]
EXECUTION_TYPES = ["Ingest"] + [step for step, _, _ in STEPS] + ["ChainStep"]
#: A straight line written after all rounds: CHAIN_HOPS executions, each reading the artifact the one
#: before it wrote (an artifact -> execution -> artifact chain of 2 x CHAIN_HOPS MLMD hops).
CHAIN_HOPS = 40
CONTEXT_TYPES = ["Pipeline", "PipelineRun"]
NODES_PER_GROUP = (
    2 * RUNS_PER_PIPELINE
    + PIPELINES_PER_GROUP * RUNS_PER_PIPELINE * (len(STEPS) + sum(len(o) for _, _, o in STEPS) + 1)
    + PIPELINES_PER_GROUP
)


@dataclass
class Chunk:
    """Rows of one round, as plain tuples; ``types`` maps type names to ids."""

    artifacts: list[tuple] = field(default_factory=list)  # id, type, name, uri, state, time, span
    executions: list[tuple] = field(default_factory=list)  # id, type, name, state, time, component_id
    contexts: list[tuple] = field(default_factory=list)  # id, type, name, time
    events: list[tuple] = field(default_factory=list)  # id, artifact, execution, type, time, key
    attributions: list[tuple] = field(default_factory=list)  # context, artifact
    associations: list[tuple] = field(default_factory=list)  # context, execution


@dataclass
class Landmarks:
    """Nodes of pipeline 0 (group 0) that the benchmark starts from; identical at every size."""

    last_model: int = 0
    first_examples: int = 0
    first_raw: int = 0
    chain_first: int = 0
    chain_last: int = 0


def groups_for(nodes: int) -> int:
    return max(1, round(nodes / NODES_PER_GROUP))


def plan(groups: int, types: dict[str, int], landmarks: Landmarks) -> Iterator[Chunk]:
    """The store, one round (all groups, all pipelines) per chunk, ids assigned in time order."""
    next_id = {"artifact": 1, "execution": 1, "context": 1, "event": 1}

    def new(kind: str) -> int:
        value = next_id[kind]
        next_id[kind] += 1
        return value

    pipelines = [(g, p) for g in range(groups) for p in range(PIPELINES_PER_GROUP)]
    previous_model: dict[tuple[int, int], int] = {}
    previous_raw: dict[int, int] = {}
    pipeline_context: dict[tuple[int, int], int] = {}
    random_of = {key: random.Random(f"{key[0]}:{key[1]}") for key in pipelines}
    for r in range(RUNS_PER_PIPELINE):
        chunk = Chunk()
        when = START_MS + r * ROUND_MS
        if r == 0:
            for g, p in pipelines:
                pipeline_context[(g, p)] = cid = new("context")
                chunk.contexts.append((cid, types["Pipeline"], f"g{g}.p{p}", when))
        raw_of: dict[int, int] = {}
        for g in range(groups):
            ingest = new("execution")
            chunk.executions.append((ingest, types["Ingest"], f"g{g}.r{r}.Ingest", COMPLETE, when, "Ingest"))
            raw_of[g] = raw = new("artifact")
            chunk.artifacts.append((raw, types["RawData"], f"g{g}.r{r}.raw", f"gs://data/g{g}/span-{r}", LIVE, when, r))
            chunk.events.append((new("event"), raw, ingest, OUTPUT, when, "raw"))
            if g == 0 and r == 0:
                landmarks.first_raw = raw
        for g, p in pipelines:
            rng = random_of[(g, p)]
            run = new("context")
            prefix = f"g{g}.p{p}.r{r}"
            chunk.contexts.append((run, types["PipelineRun"], prefix, when))
            contexts = (pipeline_context[(g, p)], run)
            roles: dict[str, int] = {"raw": raw_of[g]}
            if (g, p) in previous_model:
                roles["previous_model"] = previous_model[(g, p)]
            backfill = previous_raw.get(g) if rng.random() < BACKFILL_PROBABILITY else None
            for step, inputs, outputs in STEPS:
                execution = new("execution")
                stamp = when + len(chunk.events)
                chunk.executions.append((execution, types[step], f"{prefix}.{step}", COMPLETE, stamp, step))
                chunk.associations.extend((c, execution) for c in contexts)
                for key, role in inputs:
                    if role in roles:
                        chunk.events.append((new("event"), roles[role], execution, INPUT, stamp, key))
                if step == "ExampleGen" and backfill is not None:
                    chunk.events.append((new("event"), backfill, execution, INPUT, stamp, "backfill"))
                for key, role, type_name in outputs:
                    artifact = new("artifact")
                    roles[role] = artifact
                    uri = f"gs://pipelines/g{g}/p{p}/{r}/{step}/{key}"
                    chunk.artifacts.append((artifact, types[type_name], f"{prefix}.{key}", uri, LIVE, stamp, r))
                    chunk.attributions.extend((c, artifact) for c in contexts)
                    chunk.events.append((new("event"), artifact, execution, OUTPUT, stamp, key))
            previous_model[(g, p)] = roles["model"]
            if (g, p) == (0, 0):
                if r == 0:
                    landmarks.first_examples = roles["examples"]
                landmarks.last_model = roles["model"]
        previous_raw = raw_of
        yield chunk
    yield chain(new, types, landmarks, START_MS + RUNS_PER_PIPELINE * ROUND_MS)


def chain(new: Callable[[str], int], types: dict[str, int], landmarks: Landmarks, when: int) -> Chunk:
    """The 40-hop chain: one execution per hop, all in one Pipeline context; the same at every size."""
    chunk = Chunk()
    context = new("context")
    chunk.contexts.append((context, types["Pipeline"], "chain", when))
    previous = new("artifact")
    landmarks.chain_first = previous
    chunk.artifacts.append((previous, types["Examples"], "chain.a0", "gs://chain/0", LIVE, when, 0))
    chunk.attributions.append((context, previous))
    for hop in range(1, CHAIN_HOPS + 1):
        stamp = when + hop
        execution = new("execution")
        chunk.executions.append((execution, types["ChainStep"], f"chain.e{hop}", COMPLETE, stamp, "ChainStep"))
        chunk.associations.append((context, execution))
        chunk.events.append((new("event"), previous, execution, INPUT, stamp, "examples"))
        previous = new("artifact")
        chunk.artifacts.append((previous, types["Examples"], f"chain.a{hop}", f"gs://chain/{hop}", LIVE, stamp, hop))
        chunk.attributions.append((context, previous))
        chunk.events.append((new("event"), previous, execution, OUTPUT, stamp, "examples"))
    landmarks.chain_last = previous
    return chunk


# --- writers ------------------------------------------------------------------------------------


class MlineageWriter:
    """Bulk inserts into a migrated mlineage schema with SQLAlchemy Core."""

    def __init__(self, url: str) -> None:
        sys.path.insert(0, str(REPO_ROOT))
        from mlineage.metadata.store import Store
        from mlineage.proto import metadata_store_pb2 as pb

        self.store = Store(url)
        self.engine = self.store.engine
        self.types: dict[str, int] = {}
        for name in ARTIFACT_TYPES:
            self.types[name] = self.store.put_artifact_type(
                pb.ArtifactType(name=name, properties={"span": pb.INT})
            )
        for name in EXECUTION_TYPES:
            self.types[name] = self.store.put_execution_type(pb.ExecutionType(name=name))
        for name in CONTEXT_TYPES:
            self.types[name] = self.store.put_context_type(pb.ContextType(name=name))

    def write(self, chunk: Chunk) -> None:
        from mlineage.schema import tables as t

        with self.engine.begin() as connection:
            connection.execute(
                t.artifacts.insert(),
                [
                    {"id": i, "type_id": ty, "name": n, "uri": u, "state": s,
                     "create_time_since_epoch": w, "last_update_time_since_epoch": w}
                    for i, ty, n, u, s, w, _ in chunk.artifacts
                ],
            )  # fmt: skip
            connection.execute(
                t.executions.insert(),
                [
                    {"id": i, "type_id": ty, "name": n, "last_known_state": s,
                     "create_time_since_epoch": w, "last_update_time_since_epoch": w}
                    for i, ty, n, s, w, _ in chunk.executions
                ],
            )  # fmt: skip
            if chunk.contexts:
                connection.execute(
                    t.contexts.insert(),
                    [
                        {"id": i, "type_id": ty, "name": n, "create_time_since_epoch": w,
                         "last_update_time_since_epoch": w}
                        for i, ty, n, w in chunk.contexts
                    ],
                )  # fmt: skip
            connection.execute(
                t.artifact_properties.insert(),
                [
                    {"artifact_id": i, "name": "span", "is_custom": False, "value_type": 1, "int_value": span}
                    for i, _, _, _, _, _, span in chunk.artifacts
                ],
            )
            connection.execute(
                t.execution_properties.insert(),
                [
                    {"execution_id": i, "name": "component_id", "is_custom": True, "value_type": 3,
                     "string_value": component}
                    for i, _, _, _, _, component in chunk.executions
                ],
            )  # fmt: skip
            connection.execute(
                t.events.insert(),
                [
                    {"id": i, "artifact_id": a, "execution_id": e, "type": ty, "milliseconds_since_epoch": w,
                     "path": json.dumps([{"key": key}], separators=(",", ":"))}
                    for i, a, e, ty, w, key in chunk.events
                ],
            )  # fmt: skip
            connection.execute(
                t.attributions.insert(), [{"context_id": c, "artifact_id": a} for c, a in chunk.attributions]
            )
            connection.execute(
                t.associations.insert(), [{"context_id": c, "execution_id": e} for c, e in chunk.associations]
            )

    def finish(self) -> None:
        from sqlalchemy import text

        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as connection:
                # Explicit ids bypassed the sequences; move them past the data, and give the planner statistics.
                for table in ("artifacts", "executions", "contexts", "events", "types"):
                    connection.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                    )
                connection.commit()
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
        else:
            with self.engine.connect() as connection:
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        self.store.close()


#: The tables the generator fills, in the order their rows are copied (parents before children).
LOADED_TABLES = (
    "artifacts", "executions", "contexts", "artifact_properties", "execution_properties", "events",
    "attributions", "associations",
)  # fmt: skip


class PostgresCopyWriter(MlineageWriter):
    """The same rows into PostgreSQL with COPY, constraints and indexes built after the load (as pg_restore does).

    The migrated schema's unique constraints, indexes and foreign keys on the loaded tables are
    read from the catalog, dropped before the first row and created again, by their own definitions,
    once all rows are in: one sort per index instead of a B-tree insert per row, and each foreign key
    checked once over the whole table. The schema afterwards is the migrated one (same names, same
    definitions); tests/bench/test_gen_store.py checks that both writers leave identical tables (and
    at 1M nodes they did: an md5 of every loaded table matched).
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        from sqlalchemy import text

        with self.engine.connect() as connection:
            tables = list(LOADED_TABLES)
            constraints = connection.execute(
                text(
                    "SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid) "
                    "FROM pg_constraint c WHERE c.conrelid::regclass::text = ANY(:tables) "
                    "AND c.contype IN ('u', 'f') ORDER BY c.conname"
                ),
                {"tables": tables},
            ).all()
            indexes = connection.execute(
                text(
                    "SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = "
                    "current_schema() AND i.tablename = ANY(:tables) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                    "WHERE c.conname = i.indexname) ORDER BY i.indexname"
                ),
                {"tables": tables},
            ).all()
            # Primary keys stay (other tables' foreign keys hang on them; ids arrive in order). Created
            # again in this order: unique constraints, plain indexes, then foreign keys.
            order = {"u": 1, "f": 3}
            self.rebuild: list[tuple[int, str]] = [
                (order[kind], f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
                for table, name, kind, definition in constraints
            ] + [(2, definition) for _, _, definition in indexes]
            self.rebuild.sort(key=lambda step: step[0])
            for table, name, _, _ in sorted(constraints, key=lambda c: c[2] != "f"):  # foreign keys first
                connection.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
            for _, name, _ in indexes:
                connection.execute(text(f'DROP INDEX "{name}"'))
            connection.commit()
        self.raw = self.engine.raw_connection()
        self.copy_seconds = 0.0

    def write(self, chunk: Chunk) -> None:
        started = time.perf_counter()
        rows: dict[str, tuple[tuple[str, ...], Any]] = {
            "artifacts": (
                ("id", "type_id", "name", "uri", "state", "create_time_since_epoch", "last_update_time_since_epoch"),
                ((i, ty, n, u, st, w, w) for i, ty, n, u, st, w, _ in chunk.artifacts),
            ),
            "executions": (
                ("id", "type_id", "name", "last_known_state", "create_time_since_epoch", "last_update_time_since_epoch"),
                ((i, ty, n, st, w, w) for i, ty, n, st, w, _ in chunk.executions),
            ),
            "contexts": (
                ("id", "type_id", "name", "create_time_since_epoch", "last_update_time_since_epoch"),
                ((i, ty, n, w, w) for i, ty, n, w in chunk.contexts),
            ),
            "artifact_properties": (
                ("artifact_id", "name", "is_custom", "value_type", "int_value"),
                ((i, "span", False, 1, span) for i, *_, span in chunk.artifacts),
            ),
            "execution_properties": (
                ("execution_id", "name", "is_custom", "value_type", "string_value"),
                ((i, "component_id", True, 3, component) for i, *_, component in chunk.executions),
            ),
            "events": (
                ("id", "artifact_id", "execution_id", "type", "milliseconds_since_epoch", "path"),
                ((i, a, e, ty, w, json.dumps([{"key": key}], separators=(",", ":")))
                 for i, a, e, ty, w, key in chunk.events),
            ),
            "attributions": (("context_id", "artifact_id"), chunk.attributions),
            "associations": (("context_id", "execution_id"), chunk.associations),
        }  # fmt: skip
        cursor = self.raw.cursor()
        for table in LOADED_TABLES:
            columns, values = rows[table]
            with cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
                for row in values:
                    copy.write_row(row)
        cursor.close()
        self.raw.commit()
        self.copy_seconds += time.perf_counter() - started

    def finish(self) -> None:
        cursor = self.raw.cursor()
        cursor.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        for _, statement in self.rebuild:
            cursor.execute(statement)
            self.raw.commit()
        self.index_seconds = time.perf_counter() - started
        cursor.close()
        self.raw.close()
        super().finish()


class MlmdWriter:
    """Rows in MLMD's v10 SQLite schema, written with sqlite3 into a copy of the empty fixture."""

    def __init__(self, path: Path, types: dict[str, int]) -> None:
        shutil.copyfile(MLMD_EMPTY, path)
        self.db = sqlite3.connect(path)
        self.db.execute("BEGIN")
        rows = []
        for name in ARTIFACT_TYPES:
            rows.append((types[name], name, 1))
        for name in EXECUTION_TYPES:
            rows.append((types[name], name, 0))
        for name in CONTEXT_TYPES:
            rows.append((types[name], name, 2))
        self.db.executemany("INSERT INTO Type (id, name, type_kind) VALUES (?, ?, ?)", rows)
        # PropertyType INT = 1
        self.db.executemany(
            "INSERT INTO TypeProperty (type_id, name, data_type) VALUES (?, 'span', 1)",
            [(types[name],) for name in ARTIFACT_TYPES],
        )

    def write(self, chunk: Chunk) -> None:
        db = self.db
        db.executemany(
            "INSERT INTO Artifact (id, type_id, uri, state, name, create_time_since_epoch, "
            "last_update_time_since_epoch) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(i, ty, u, s, n, w, w) for i, ty, n, u, s, w, _ in chunk.artifacts],
        )
        db.executemany(
            "INSERT INTO ArtifactProperty (artifact_id, name, is_custom_property, int_value) VALUES (?, 'span', 0, ?)",
            [(i, span) for i, *_, span in chunk.artifacts],
        )
        db.executemany(
            "INSERT INTO Execution (id, type_id, last_known_state, name, create_time_since_epoch, "
            "last_update_time_since_epoch) VALUES (?, ?, ?, ?, ?, ?)",
            [(i, ty, s, n, w, w) for i, ty, n, s, w, _ in chunk.executions],
        )
        db.executemany(
            "INSERT INTO ExecutionProperty (execution_id, name, is_custom_property, string_value) "
            "VALUES (?, 'component_id', 1, ?)",
            [(i, component) for i, *_, component in chunk.executions],
        )
        db.executemany(
            "INSERT INTO Context (id, type_id, name, create_time_since_epoch, last_update_time_since_epoch) "
            "VALUES (?, ?, ?, ?, ?)",
            [(i, ty, n, w, w) for i, ty, n, w in chunk.contexts],
        )
        db.executemany(
            "INSERT INTO Event (id, artifact_id, execution_id, type, milliseconds_since_epoch) VALUES (?, ?, ?, ?, ?)",
            [(i, a, e, ty, w) for i, a, e, ty, w, _ in chunk.events],
        )
        db.executemany(
            "INSERT INTO EventPath (event_id, is_index_step, step_key) VALUES (?, 0, ?)",
            [(i, key) for i, *_, key in chunk.events],
        )
        db.executemany("INSERT INTO Attribution (context_id, artifact_id) VALUES (?, ?)", chunk.attributions)
        db.executemany("INSERT INTO Association (context_id, execution_id) VALUES (?, ?)", chunk.associations)

    def finish(self) -> None:
        self.db.execute("COMMIT")
        self.db.close()


# --- driver -------------------------------------------------------------------------------------


def store_dir(nodes: int) -> Path:
    return RESULTS / f"lineage_{nodes}"


def postgres_url(base: str, nodes: int) -> str:
    prefix, _, _ = base.rpartition("/")
    return f"{prefix}/mlineage_bench_{nodes}"


def _create_postgres_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    prefix, _, name = url.rpartition("/")
    admin = create_engine(f"{prefix}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _postgres_database_exists(url: str) -> bool:
    from sqlalchemy import create_engine, text

    prefix, _, name = url.rpartition("/")
    admin = create_engine(f"{prefix}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            return found.first() is not None
    finally:
        admin.dispose()


def generate(
    nodes: int,
    *,
    postgres: str | None = None,
    force: bool = False,
    backends: tuple[str, ...] | None = None,
    copy: bool = False,
) -> dict[str, Any]:
    """Generate (or reuse) the stores for ``nodes``; returns their description (also in meta.json).

    ``backends`` narrows which stores to write (default all: sqlite, mlmd and, with ``postgres``,
    postgresql); a 10M-node store is wanted on PostgreSQL alone. With ``copy`` PostgreSQL is written
    with COPY (``PostgresCopyWriter``) instead of row inserts: the same tables, 1.3x faster at 1M nodes
    (92.7 s against 118.4 s on this machine), most of it spent in Python making and sending rows.
    """
    directory = store_dir(nodes)
    meta_path = directory / "meta.json"
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() and not force else {}
    groups = groups_for(nodes)
    if meta.get("groups") != groups or meta.get("version") != 2:
        meta = {}
    directory.mkdir(parents=True, exist_ok=True)
    wanted = ["sqlite", "mlmd"] + (["postgresql"] if postgres else [])
    if backends is not None:
        wanted = [backend for backend in wanted if backend in backends]
    cached_pg = meta.get("stores", {}).get("postgresql")
    if postgres and cached_pg and not _postgres_database_exists(cached_pg):
        del meta["stores"]["postgresql"]  # the server's data went (a fresh test server): write it again
    missing = [backend for backend in wanted if backend not in meta.get("stores", {})]
    if not missing:
        return meta
    sqlite_path = directory / "mlineage.db"
    mlmd_path = directory / "mlmd.db"
    writers: dict[str, Any] = {}
    started = time.perf_counter()
    if "sqlite" in missing:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        writers["sqlite"] = MlineageWriter(f"sqlite:///{sqlite_path}")
    if "postgresql" in missing:
        url = postgres_url(postgres, nodes)
        _create_postgres_database(url)
        writers["postgresql"] = PostgresCopyWriter(url) if copy else MlineageWriter(url)
    types = next(iter(writers.values())).types if writers else meta["types"]
    if "mlmd" in missing:
        writers["mlmd"] = MlmdWriter(mlmd_path, types)
    for name, writer in writers.items():
        if name != "mlmd" and meta.get("types") and writer.types != meta["types"]:
            raise RuntimeError(f"type ids of the {name} store differ from the other stores'")
    landmarks = Landmarks()
    counts = {"artifacts": 0, "executions": 0, "contexts": 0, "events": 0, "attributions": 0, "associations": 0}
    for chunk in plan(groups, types, landmarks):
        for writer in writers.values():
            writer.write(chunk)
        for name in counts:
            counts[name] += len(getattr(chunk, name))
    for writer in writers.values():
        writer.finish()
    stores = dict(meta.get("stores", {}))
    made = {"sqlite": f"sqlite:///{sqlite_path}", "mlmd": str(mlmd_path)}
    if postgres:
        made["postgresql"] = postgres_url(postgres, nodes)
    stores.update({backend: made[backend] for backend in missing})
    meta = {
        "version": 2,
        "groups": groups,
        "types": types,
        "counts": counts,
        "nodes": counts["artifacts"] + counts["executions"] + counts["contexts"],
        "landmarks": landmarks.__dict__,
        "stores": stores,
        "seconds": {**meta.get("seconds", {}), ",".join(missing): round(time.perf_counter() - started, 1)},
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000, help="about how many nodes (default 10000)")
    parser.add_argument("--postgres", help="PostgreSQL server URL; the store goes into database mlineage_bench_<nodes>")
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    parser.add_argument("--backends", help="only these of sqlite,mlmd,postgresql (comma-separated; default all)")
    parser.add_argument("--copy", action="store_true", help="PostgreSQL by COPY, indexes after the load")
    args = parser.parse_args(argv)
    backends = tuple(args.backends.split(",")) if args.backends else None
    meta = generate(args.nodes, postgres=args.postgres, force=args.force, backends=backends, copy=args.copy)
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
