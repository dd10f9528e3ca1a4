"""The load suite's clients: TFX-like pipeline runs, lineage walks and paged lists through the real ml-metadata client.

Runs under the ml-metadata venv's interpreter (``$MLINEAGE_MLMD_PYTHON``), started by ``scale.py`` and
``soak.py`` (and usable by the fault suite). Two modes:

- ``--setup --target H:P``: register the types (``TYPES``); print one JSON line with their ids.
- clients (default): ``--threads T`` clients in this process, numbered from ``--first``; client ``i``
  keeps ONE channel to ``targets[i % len(targets)]`` for its whole life (as a gRPC client behind a
  Kubernetes Service sticks to the pod it connected to). Each prints nothing until all are connected,
  then the process prints ``ready``, waits for ``go`` on stdin, runs for ``--duration`` seconds (closed
  loop, or ``--rate`` operations per second per client) and prints one JSON line (see ``main``).

The operations (weights in ``MIX``), each timed as the caller sees it, each answer checked:

- ``write``: the next step of the client's pipeline run, one ``put_execution`` as a TFX launcher publishes
  it: the execution (COMPLETE), its input artifacts as stored (INPUT events) and its new output artifact
  (OUTPUT event), in the pipeline's context (shared by several clients, reused by name) and the run's
  context (attributions and associations). The steps are ``STEPS``: ExampleGen → StatisticsGen, Trainer →
  Evaluator → Pusher, so each run is one connected lineage graph of 5 executions, 5 artifacts, 10 events.
  Every write carries a unique tag (custom property ``load_write`` on the execution and its output), and
  once the call has returned the tag is appended to ``--ack-file``: acknowledged writes can be counted in
  the database afterwards (``scale.verify_acknowledged``).
- ``lineage``: ``get_lineage_subgraph`` (BIDIRECTIONAL, 10 hops) from an artifact of one of the client's
  runs written earlier: the answer must be exactly that run's artifacts, executions and events so far.
- ``list_by_type``: GetArtifactsByType of ``Model`` with list options (newest first by id, limit 250:
  three pages of 100 through the client's own paging): ids unique, descending, all Models, as many as
  the store holds up to the limit.
- ``list_by_context``: ``get_artifacts_by_context`` of one of the client's runs with list options (by id,
  ascending): exactly that run's artifacts, in order.
- ``get_by_id``: ``get_artifacts_by_id`` of one of the client's artifacts: that artifact, with its tag.

``--retry-s S`` (default 0: every failure is an error) retries UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED and
INTERNAL answers for up to S seconds, for runs where the server or database is taken away on purpose; a
write retried after an unknown outcome that answers ALREADY_EXISTS is looked up by name (the first
attempt committed) and acknowledged once.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(
    0, str(Path(__file__).resolve().parent.parent)
)  # bench/: the concurrency bench's client helpers

from concurrency_worker import connect  # noqa: E402

MIX = {"write": 40, "lineage": 15, "list_by_type": 15, "list_by_context": 15, "get_by_id": 15}
# (execution type, input keys, output key, output artifact type): a small TFX pipeline.
STEPS = [
    ("ExampleGen", [], "examples", "Examples"),
    ("StatisticsGen", ["examples"], "statistics", "ExampleStatistics"),
    ("Trainer", ["examples"], "model", "Model"),
    ("Evaluator", ["examples", "model"], "evaluation", "ModelEvaluation"),
    ("Pusher", ["model"], "pushed_model", "PushedModel"),
]
EVENTS_PER_RUN = sum(len(inputs) + 1 for _, inputs, _, _ in STEPS)
PIPELINES = 4  # client i's runs belong to pipeline i % PIPELINES
LIST_LIMIT = 250  # > the client's page of 100: every by-type list pages
LINEAGE_HOPS = 10  # more than the diameter of a run's graph
RUNS_KEPT = 50  # the runs a client reads back from
TAG = "load_write"
RETRIED = ("UnavailableError", "AbortedError", "DeadlineExceededError", "InternalError")


def setup(store: Any, pb2: Any) -> dict[str, Any]:
    """Register the pipeline's types; their ids by name."""
    ids: dict[str, int] = {}
    for _, _, _, artifact_type in STEPS:
        message = pb2.ArtifactType(name=artifact_type)
        message.properties["span"] = pb2.INT
        ids[artifact_type] = store.put_artifact_type(message)
    for execution_type, _, _, _ in STEPS:
        message = pb2.ExecutionType(name=execution_type)
        message.properties["component_id"] = pb2.STRING
        ids[execution_type] = store.put_execution_type(message)
    ids["Pipeline"] = store.put_context_type(pb2.ContextType(name="Pipeline"))
    ids["PipelineRun"] = store.put_context_type(pb2.ContextType(name="PipelineRun"))
    return {"type_ids": ids}


class Run:
    """One pipeline run as the client wrote it: what a lineage walk or a context listing must answer."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.step = 0
        self.outputs: dict[str, Any] = {}  # output key -> the artifact as stored
        self.contexts: list[Any] = []  # [pipeline, run] as stored, once the first step has written them
        self.artifact_ids: list[int] = []
        self.execution_ids: list[int] = []
        self.events = 0

    @property
    def done(self) -> bool:
        return self.step == len(STEPS)


class Client:
    """One client: its channel, its runs, what it measured."""

    def __init__(
        self, target: str, index: int, seed: dict[str, Any], args: argparse.Namespace, acks: Any
    ) -> None:
        self.store, self.pb2, self.list_options = connect(target, args.call_timeout)
        from ml_metadata import errors

        self.errors_module = errors
        self.index, self.label, self.retry_s = index, args.label, args.retry_s
        self.type_ids = seed["type_ids"]
        self.rng = random.Random(f"{args.label}-{index}")
        self.acks, self.ack_lock = acks, args.ack_lock
        self.run_number = 0
        self.current = Run(0)
        self.runs: list[Run] = []  # runs with at least one step written, newest last
        self.artifacts: list[tuple[int, str]] = []  # (id, tag) of this client's outputs
        self.models_acked = 0
        self.latencies: dict[str, list[list[float]]] = {op: [] for op in MIX}
        self.errors: Counter[str] = Counter()
        self.wrong: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.samples: list[str] = []
        self.acknowledged = 0
        self.recovered_writes = 0

    # -- bookkeeping -------------------------------------------------------------------------------------

    def _sample(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(f"c{self.index} {text}"[:400])

    def check(self, op: str, condition: bool, message: str) -> None:
        if not condition:
            self.wrong[op] += 1
            self._sample(f"{op}: wrong answer: {message}")

    def _call(self, op: str, function: Any) -> Any:
        """``function()``, retried on transient failures for up to --retry-s seconds."""
        deadline = time.monotonic() + self.retry_s
        while True:
            try:
                return function()
            except Exception as exc:
                if type(exc).__name__ not in RETRIED or time.monotonic() >= deadline:
                    raise
                self.retries[op] += 1
                time.sleep(0.2)

    # -- operations --------------------------------------------------------------------------------------

    def write(self) -> None:
        pb2, run = self.pb2, self.current
        execution_type, inputs, output_key, artifact_type = STEPS[run.step]
        tag = f"{self.label}/c{self.index}/r{run.number}/s{run.step}"
        execution = pb2.Execution(type_id=self.type_ids[execution_type], name=tag)
        execution.last_known_state = pb2.Execution.COMPLETE
        execution.properties["component_id"].string_value = execution_type
        execution.custom_properties[TAG].string_value = tag
        output = pb2.Artifact(
            type_id=self.type_ids[artifact_type], uri=f"/pipelines/{tag}/{output_key}", name=tag,
            state=pb2.Artifact.LIVE,
        )  # fmt: skip
        output.properties["span"].int_value = run.number
        output.custom_properties[TAG].string_value = tag
        pairs = []
        for key in inputs:  # inputs passed as stored, as a TFX launcher passes resolved artifacts
            event = pb2.Event(type=pb2.Event.INPUT)
            event.path.steps.add().key = key
            event.path.steps.add().index = 0
            pairs.append((run.outputs[key], event))
        event = pb2.Event(type=pb2.Event.OUTPUT)
        event.path.steps.add().key = output_key
        event.path.steps.add().index = 0
        pairs.append((output, event))
        # The pipeline's context by name every time (several clients share it: reused, never rewritten);
        # the run's as stored once it exists, as a launcher passes the contexts it registered.
        pipeline = pb2.Context(
            type_id=self.type_ids["Pipeline"], name=f"{self.label}-p{self.index % PIPELINES}"
        )
        run_context = pb2.Context(type_id=self.type_ids["PipelineRun"], name=tag.rpartition("/")[0])
        contexts = [pipeline, run.contexts[1] if run.contexts else run_context]
        attempts = [0]

        def put() -> tuple[int, list[int], list[int]]:
            attempts[0] += 1
            try:
                return self.store.put_execution(
                    execution, pairs, contexts, reuse_context_if_already_exist=True
                )
            except self.errors_module.AlreadyExistsError:
                if attempts[0] == 1:
                    raise
                return self._committed_write(execution_type, tag, contexts)

        start = time.perf_counter()
        execution_id, artifact_ids, context_ids = self._call("write", put)
        self._record("write", start)
        self.check(
            "write",
            len(artifact_ids) == len(pairs) and len(context_ids) == 2,
            f"{artifact_ids} {context_ids}",
        )
        self.check("write", artifact_ids[:-1] == [a.id for a, _ in pairs[:-1]], "an input's id changed")
        with self.ack_lock:
            self.acks.write(tag + "\n")
            self.acks.flush()
        self.acknowledged += 1
        if not run.contexts:
            for context, context_id in zip(contexts, context_ids, strict=True):
                context.id = context_id
            run.contexts = contexts
            self.runs.append(run)
            del self.runs[:-RUNS_KEPT]
        output.id = artifact_ids[-1]
        run.outputs[output_key] = output
        run.artifact_ids.append(output.id)
        run.execution_ids.append(execution_id)
        run.events += len(pairs)
        self.artifacts.append((output.id, tag))
        self.models_acked += artifact_type == "Model"
        run.step += 1
        if run.done:
            self.run_number += 1
            self.current = Run(self.run_number)

    def _committed_write(
        self, execution_type: str, tag: str, contexts: list[Any]
    ) -> tuple[int, list[int], list[int]]:
        """A retried write found its first attempt committed: its ids, read back (acknowledged once)."""
        execution = self.store.get_execution_by_type_and_name(execution_type, tag)
        events = self.store.get_events_by_execution_ids([execution.id])
        inputs = [e.artifact_id for e in events if e.type == self.pb2.Event.INPUT]
        outputs = [e.artifact_id for e in events if e.type == self.pb2.Event.OUTPUT]
        found = self.store.get_contexts_by_execution(execution.id)
        by_name = {c.name: c.id for c in found}
        self.recovered_writes += 1
        return execution.id, [*inputs, *outputs], [by_name[c.name] for c in contexts]

    def lineage(self) -> None:
        if not self.runs:
            return self.write()
        run = self.rng.choice(self.runs)
        start_id = self.rng.choice(run.artifact_ids)
        options = self.pb2.LineageSubgraphQueryOptions(
            max_num_hops=LINEAGE_HOPS, direction=self.pb2.LineageSubgraphQueryOptions.BIDIRECTIONAL
        )
        options.starting_artifacts.filter_query = f"id = {start_id}"
        expected = (sorted(run.artifact_ids), sorted(run.execution_ids), run.events)
        start = time.perf_counter()
        graph = self._call(
            "lineage", lambda: self.store.get_lineage_subgraph(options, ["artifacts", "executions", "events"])
        )
        self._record("lineage", start)
        got = (
            sorted(a.id for a in graph.artifacts),
            sorted(e.id for e in graph.executions),
            len(graph.events),
        )
        self.check("lineage", got == expected, f"from {start_id}: {got} != {expected}")

    def list_by_type(self) -> None:
        request = self._by_type_request("Model")
        options = self.list_options(limit=LIST_LIMIT, order_by=self._order_by_id(), is_asc=False)
        start = time.perf_counter()
        # The client's public get_artifacts_by_type takes no list options; its paging loop does, and sends
        # GetArtifactsByType with options, next_page_token and all, as the RPC allows.
        found = self._call(
            "list_by_type",
            lambda: self.store._call_method_with_list_options(
                "GetArtifactsByType", "artifacts", request, options
            ),
        )
        self._record("list_by_type", start)
        ids = [a.id for a in found]
        self.check("list_by_type", len(ids) == len(set(ids)), "an artifact listed twice")
        self.check("list_by_type", ids == sorted(ids, reverse=True), "not newest first")
        self.check("list_by_type", all(a.type_id == self.type_ids["Model"] for a in found), "not all Models")
        least = min(LIST_LIMIT, self.models_acked)  # the store holds at least this client's Models
        self.check("list_by_type", least <= len(ids) <= LIST_LIMIT, f"{len(ids)} Models, expected ≥ {least}")

    def list_by_context(self) -> None:
        if not self.runs:
            return self.write()
        run = self.rng.choice(self.runs)
        expected = sorted(run.artifact_ids)
        options = self.list_options(limit=LIST_LIMIT, order_by=self._order_by_id(), is_asc=True)
        start = time.perf_counter()
        found = self._call(
            "list_by_context", lambda: self.store.get_artifacts_by_context(run.contexts[1].id, options)
        )
        self._record("list_by_context", start)
        self.check(
            "list_by_context", [a.id for a in found] == expected, f"run {run.number}: {len(found)} artifacts"
        )

    def get_by_id(self) -> None:
        if not self.artifacts:
            return self.write()
        artifact_id, tag = self.rng.choice(self.artifacts)
        start = time.perf_counter()
        found = self._call("get_by_id", lambda: self.store.get_artifacts_by_id([artifact_id]))
        self._record("get_by_id", start)
        ok = (
            len(found) == 1
            and found[0].id == artifact_id
            and found[0].custom_properties[TAG].string_value == tag
        )
        self.check("get_by_id", ok, f"{artifact_id}")

    # -- helpers -----------------------------------------------------------------------------------------

    def _by_type_request(self, type_name: str) -> Any:
        from ml_metadata.proto import metadata_store_service_pb2

        return metadata_store_service_pb2.GetArtifactsByTypeRequest(type_name=type_name)

    def _order_by_id(self) -> Any:
        import ml_metadata

        return ml_metadata.OrderByField.ID

    def _record(self, op: str, start: float) -> None:
        end = time.perf_counter()
        self.latencies[op].append([round(time.time(), 3), round(end - start, 6)])

    def run_for(self, seconds: float, rate: float | None) -> float:
        """The mix for ``seconds``: back to back, or paced at ``rate`` operations per second."""
        ops = list(MIX)
        weights = [MIX[op] for op in ops]
        began = time.perf_counter()
        deadline, next_at = began + seconds, began
        while time.perf_counter() < deadline:
            if rate:
                pause = next_at - time.perf_counter()
                if pause > 0:
                    time.sleep(min(pause, max(0.0, deadline - time.perf_counter())))
                next_at = max(next_at + 1 / rate, time.perf_counter() - 1 / rate)
                if time.perf_counter() >= deadline:
                    break
            op = self.rng.choices(ops, weights)[0]
            try:
                getattr(self, op)()
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                self.errors[op] += 1
                self._sample(f"{op}: {type(exc).__name__}: {str(exc)[:300]}")
                if op == "write":  # the outcome is unknown: this run ends here, a new one starts
                    self.run_number += 1
                    self.current = Run(self.run_number)
        return time.perf_counter() - began

    def result(self) -> dict[str, Any]:
        return {
            "client": self.index,
            "latencies": self.latencies,
            "errors": dict(self.errors),
            "wrong_answers": dict(self.wrong),
            "retries": dict(self.retries),
            "error_samples": self.samples,
            "acknowledged": self.acknowledged,
            "recovered_writes": self.recovered_writes,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--target", action="append", required=True, help="host:port of a replica (repeatable)"
    )
    parser.add_argument("--setup", action="store_true", help="register the types, print their ids")
    parser.add_argument("--seed-json", help="the setup's JSON line (client mode)")
    parser.add_argument("--label", default="load", help="prefix of every tag and name this run writes")
    parser.add_argument("--first", type=int, default=0, help="index of this process's first client")
    parser.add_argument("--threads", type=int, default=1, help="clients in this process")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load after 'go'")
    parser.add_argument(
        "--rate", type=float, default=None, help="operations per second per client (default: flat out)"
    )
    parser.add_argument("--ack-file", type=Path, help="append each acknowledged write's tag here")
    parser.add_argument("--retry-s", type=float, default=0.0, help="retry transient failures for this long")
    parser.add_argument("--call-timeout", type=float, default=60.0, help="client_timeout_sec of each call")
    args = parser.parse_args(argv)

    if args.setup:
        store, pb2, _ = connect(args.target[0], args.call_timeout)
        print(json.dumps(setup(store, pb2)), flush=True)
        return 0
    seed = json.loads(args.seed_json)
    args.ack_lock = threading.Lock()
    acks = open(args.ack_file or "/dev/null", "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
    clients = [
        Client(args.target[(args.first + k) % len(args.target)], args.first + k, seed, args, acks)
        for k in range(args.threads)
    ]
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    cpu_before = time.process_time()
    seconds: dict[int, float] = {}
    fatal: list[str] = []

    def drive(client: Client) -> None:
        try:
            seconds[client.index] = client.run_for(args.duration, args.rate)
        except BaseException as exc:  # noqa: BLE001
            traceback.print_exc(file=sys.stderr)
            fatal.append(f"c{client.index}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=drive, args=(c,), name=f"client-{c.index}") for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    acks.close()
    out: dict[str, Any] = {
        "cpu_s": time.process_time() - cpu_before,
        "seconds": max(seconds.values(), default=0.0),
        "clients": [c.result() for c in clients],
    }
    if fatal:
        out["fatal"] = fatal
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
