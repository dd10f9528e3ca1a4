"""One client of ``concurrency_bench.py``: the real ml-metadata client, over gRPC, for a fixed time.

Runs under the ml-metadata venv's interpreter. Two modes:

- ``--setup``: create the types and seed ``--seed`` Dataset artifacts; print one JSON line
  (type ids, the seeds' ids).
- client (default): connect, print ``ready``, wait for ``go`` on stdin, then for
  ``--duration`` seconds issue a weighted random mix of calls and print one JSON line:
  every call's latency per operation, error counts and samples, and wrong answers
  (counted as errors too).

The mix (weights in ``MIX``) is what a pipeline step and a UI do: ``put_execution`` of a
Trainer with an INPUT event on the previous step's output (a seed Dataset at the start of
a run) and an OUTPUT event on a new Model, in the client's current Run context (a new run
every ``STEPS_PER_RUN`` executions); ``get_artifacts_by_id`` and ``get_executions_by_id``
of one id; a filter listing (``type = 'Dataset' AND properties.span.int_value = k``,
limit 100); ``get_artifacts_by_context`` of the current run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter
from typing import Any

SPAN_MODULUS = 50
STEPS_PER_RUN = 10
MIX = {
    "put_execution": 20,
    "get_artifacts_by_id": 30,
    "get_executions_by_id": 15,
    "filter_listing": 15,
    "artifacts_by_context": 20,
}


def connect(target: str, timeout_s: float) -> tuple[Any, Any, Any]:
    import ml_metadata
    from ml_metadata.proto import metadata_store_pb2

    host, _, port = target.rpartition(":")
    config = metadata_store_pb2.MetadataStoreClientConfig(host=host, port=int(port))
    config.client_timeout_sec = timeout_s
    return ml_metadata.MetadataStore(config), metadata_store_pb2, ml_metadata.ListOptions


def setup(store: Any, pb2: Any, seeds: int) -> dict[str, Any]:
    dataset = pb2.ArtifactType(name="Dataset")
    dataset.properties["span"] = pb2.INT
    dataset.properties["split"] = pb2.STRING
    model = pb2.ArtifactType(name="Model")
    model.properties["framework"] = pb2.STRING
    trainer = pb2.ExecutionType(name="Trainer")
    trainer.properties["step"] = pb2.INT
    type_ids = {
        "Dataset": store.put_artifact_type(dataset),
        "Model": store.put_artifact_type(model),
        "Trainer": store.put_execution_type(trainer),
        "Run": store.put_context_type(pb2.ContextType(name="Run")),
    }
    ids: list[int] = []
    for start in range(0, seeds, 100):
        batch = []
        for i in range(start, min(seeds, start + 100)):
            artifact = pb2.Artifact(type_id=type_ids["Dataset"], uri=f"/data/ds-{i}", name=f"ds-{i}")
            artifact.properties["span"].int_value = i % SPAN_MODULUS
            artifact.properties["split"].string_value = "train" if i % 2 else "eval"
            artifact.custom_properties["tag"].string_value = f"x-{i % 20}"
            batch.append(artifact)
        ids.extend(store.put_artifacts(batch))
    return {"type_ids": type_ids, "dataset_ids": ids}


class Client:
    """One client's state: its runs, the ids it may read, its latencies and errors."""

    def __init__(self, store: Any, pb2: Any, list_options: Any, seed: dict[str, Any], index: int) -> None:
        self.store, self.pb2, self.list_options = store, pb2, list_options
        self.type_ids = seed["type_ids"]
        self.index = index
        self.rng = random.Random(index)
        self.seed_ids = seed["dataset_ids"]
        self.per_span = Counter(i % SPAN_MODULUS for i in range(len(self.seed_ids)))
        self.artifact_ids = list(self.seed_ids)
        self.execution_ids: list[int] = []
        self.run = 0
        self.step = 0
        self.run_context_id: int | None = None
        self.run_artifacts: set[int] = set()
        self.previous = None  # the previous step's output, as stored
        self.latencies: dict[str, list[float]] = {op: [] for op in MIX}
        self.errors: Counter[str] = Counter()
        self.error_samples: list[str] = []
        self.wrong: Counter[str] = Counter()
        self.aborted_attempts = 0

    def check(self, op: str, condition: bool, message: str) -> None:
        if not condition:
            self.wrong[op] += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{op}: wrong answer: {message}")

    def put_execution(self) -> None:
        pb2 = self.pb2
        if self.previous is None:  # a new run starts from a seed Dataset, passed as stored (as TFX does)
            start = time.perf_counter()
            [self.previous] = self.store.get_artifacts_by_id([self.rng.choice(self.seed_ids)])
            self.latencies["get_artifacts_by_id"].append(time.perf_counter() - start)
        k = self.step
        execution = pb2.Execution(type_id=self.type_ids["Trainer"], name=f"c{self.index}-r{self.run}-s{k}")
        execution.last_known_state = pb2.Execution.COMPLETE
        execution.properties["step"].int_value = k
        output = pb2.Artifact(
            type_id=self.type_ids["Model"], uri=f"/models/c{self.index}/r{self.run}/{k}",
            name=f"model-c{self.index}-r{self.run}-s{k}",
        )  # fmt: skip
        output.properties["framework"].string_value = "tf"
        event_in = pb2.Event(type=pb2.Event.INPUT)
        event_in.path.steps.add().key = "examples"
        event_out = pb2.Event(type=pb2.Event.OUTPUT)
        event_out.path.steps.add().key = "model"
        context = pb2.Context(type_id=self.type_ids["Run"], name=f"run-c{self.index}-{self.run}")
        start = time.perf_counter()
        execution_id, artifact_ids, context_ids = self.store.put_execution(
            execution, [(self.previous, event_in), (output, event_out)], [context],
            reuse_context_if_already_exist=True,
        )  # fmt: skip
        self.latencies["put_execution"].append(time.perf_counter() - start)
        self.check(
            "put_execution", len(artifact_ids) == 2 and len(context_ids) == 1, f"{artifact_ids} {context_ids}"
        )
        self.check("put_execution", artifact_ids[0] == self.previous.id, "input id changed")
        self.run_context_id = context_ids[0]
        self.run_artifacts.update(artifact_ids)
        output.id = artifact_ids[1]
        self.previous = output
        self.artifact_ids.append(output.id)
        self.execution_ids.append(execution_id)
        self.step += 1
        if self.step == STEPS_PER_RUN:
            self.run, self.step, self.previous = self.run + 1, 0, None
            self.run_context_id, self.run_artifacts = None, set()

    def get_artifacts_by_id(self) -> None:
        artifact_id = self.rng.choice(self.artifact_ids)
        start = time.perf_counter()
        found = self.store.get_artifacts_by_id([artifact_id])
        self.latencies["get_artifacts_by_id"].append(time.perf_counter() - start)
        self.check("get_artifacts_by_id", [a.id for a in found] == [artifact_id], f"{artifact_id}")

    def get_executions_by_id(self) -> None:
        if not self.execution_ids:
            return self.put_execution()
        execution_id = self.rng.choice(self.execution_ids)
        start = time.perf_counter()
        found = self.store.get_executions_by_id([execution_id])
        self.latencies["get_executions_by_id"].append(time.perf_counter() - start)
        self.check("get_executions_by_id", [e.id for e in found] == [execution_id], f"{execution_id}")

    def filter_listing(self) -> None:
        span = self.rng.randrange(SPAN_MODULUS)
        query = f"type = 'Dataset' AND properties.span.int_value = {span}"
        options = self.list_options(filter_query=query, limit=100)
        start = time.perf_counter()
        found = self.store.get_artifacts(list_options=options)
        self.latencies["filter_listing"].append(time.perf_counter() - start)
        want = min(100, self.per_span[span])
        self.check("filter_listing", len(found) == want, f"{query!r}: {len(found)} artifacts, wanted {want}")

    def artifacts_by_context(self) -> None:
        if self.run_context_id is None:
            return self.put_execution()
        start = time.perf_counter()
        found = self.store.get_artifacts_by_context(self.run_context_id)
        self.latencies["artifacts_by_context"].append(time.perf_counter() - start)
        got = {a.id for a in found}
        self.check(
            "artifacts_by_context", got == self.run_artifacts, f"{len(got)} vs {len(self.run_artifacts)}"
        )

    def run_for(self, seconds: float) -> float:
        ops = list(MIX)
        weights = [MIX[op] for op in ops]
        began = time.perf_counter()
        deadline = began + seconds
        while time.perf_counter() < deadline:
            op = self.rng.choices(ops, weights)[0]
            try:
                getattr(self, op)()
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                self.errors[op] += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(f"{op}: {type(exc).__name__}: {str(exc)[:300]}")
                if op == "put_execution":  # start a fresh run after a failed write
                    self.run, self.step, self.previous = self.run + 1, 0, None
                    self.run_context_id, self.run_artifacts = None, set()
        return time.perf_counter() - began


def count_aborted(store: Any, client_holder: list[Client]) -> None:
    """Count ABORTED answers the client retries on its own (observation only; behaviour unchanged)."""
    from ml_metadata import errors

    inner = store._call_method

    def call_method(method_name, request, response):
        try:
            return inner(method_name, request, response)
        except errors.AbortedError:
            if client_holder:
                client_holder[0].aborted_attempts += 1
            raise

    store._call_method = call_method


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True, help="host:port of the server")
    parser.add_argument("--setup", action="store_true", help="create types and seeds, print their ids")
    parser.add_argument("--seed", type=int, default=1000, help="seed Dataset artifacts (with --setup)")
    parser.add_argument("--seed-json", help="the setup's JSON line (client mode)")
    parser.add_argument("--client", type=int, default=0, help="this client's index")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load after 'go'")
    parser.add_argument("--call-timeout", type=float, default=60.0, help="client_timeout_sec of each call")
    args = parser.parse_args(argv)

    store, pb2, list_options = connect(args.target, args.call_timeout)
    if args.setup:
        print(json.dumps(setup(store, pb2, args.seed)), flush=True)
        return 0
    holder: list[Client] = []
    count_aborted(store, holder)
    client = Client(store, pb2, list_options, json.loads(args.seed_json), args.client)
    holder.append(client)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    result: dict[str, Any] = {"client": args.client}
    try:
        result["seconds"] = client.run_for(args.duration)
    except BaseException as exc:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        result["fatal"] = f"{type(exc).__name__}: {exc}"
    result.update(
        latencies=client.latencies,
        errors=dict(client.errors),
        wrong_answers=dict(client.wrong),
        error_samples=client.error_samples,
        aborted_attempts=client.aborted_attempts,
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
