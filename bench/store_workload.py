"""The store benchmark workload, written once and run unchanged against MLMD and mlineage.

Everything backend-specific comes in as arguments (the store, its ``metadata_store_pb2``
module and its ``ListOptions`` class), so both sides execute the same calls in the same
order. Each phase is timed on its own and its answers are checked against what was
written, so a store that is fast because it is wrong fails instead of winning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

SPAN_MODULUS = 50  # Dataset i gets span i % 50, so "span = 7" matches ~N/50 artifacts.
TAG_MODULUS = 20  # Dataset i gets custom tag "x-{i % 20}".
BATCH_SIZE = 100
MAX_SINGLE_GETS = 1000
SPAN_QUERY = "properties.span.int_value = 7"
TAG_QUERY = "custom_properties.tag.string_value = 'x-3'"


class WorkloadError(AssertionError):
    """A store gave an answer that does not match what the workload wrote."""


def check(condition: bool, message: str) -> None:
    """Fail loudly (even under ``python -O``) when a store's answer is wrong."""
    if not condition:
        raise WorkloadError(message)


@dataclass
class PhaseTimer:
    """Collects ``{phase: {seconds, calls, items}}`` in the order phases ran."""

    phases: dict[str, dict[str, float | int]] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[dict[str, int]]:
        counts = {"calls": 0, "items": 0}
        start = time.perf_counter()
        yield counts
        seconds = time.perf_counter() - start
        self.phases[name] = {"seconds": seconds, **counts}


@dataclass
class WrittenData:
    """What the workload wrote, kept to check the reads against."""

    type_ids: dict[str, int] = field(default_factory=dict)
    dataset_ids: list[int] = field(default_factory=list)  # index i -> id of Dataset "ds-{i}"
    chain_artifact_ids: list[int] = field(default_factory=list)  # chain input, then one output per step
    run_context_id: int = 0

    @property
    def all_artifact_ids(self) -> list[int]:
        return self.dataset_ids + self.chain_artifact_ids[1:]


def run_workload(
    store: Any,
    pb2: ModuleType,
    list_options_cls: Callable[..., Any],
    n_artifacts: int = 2000,
    repeat: int = 20,
) -> dict[str, dict[str, float | int]]:
    """Run every phase against ``store`` and return the per-phase timings."""
    check(n_artifacts >= 20 and n_artifacts % 2 == 0, "--artifacts must be an even number >= 20")
    timer = PhaseTimer()
    data = WrittenData()
    _setup(store, pb2, timer, data)
    _single_put(store, pb2, timer, data, n_artifacts // 2)
    _batch_put(store, pb2, timer, data, n_artifacts // 2)
    _put_execution_chain(store, pb2, timer, data, n_artifacts // 10)
    _get_by_id(store, timer, data)
    _get_by_id_batch(store, timer, data)
    _property_filter(store, list_options_cls, timer, data, repeat)
    _artifacts_by_context(store, timer, data, repeat)
    return timer.phases


def _setup(store: Any, pb2: ModuleType, timer: PhaseTimer, data: WrittenData) -> None:
    dataset = pb2.ArtifactType(name="Dataset")
    dataset.properties["span"] = pb2.INT
    dataset.properties["split"] = pb2.STRING
    model = pb2.ArtifactType(name="Model")
    model.properties["framework"] = pb2.STRING
    trainer = pb2.ExecutionType(name="Trainer")
    trainer.properties["step"] = pb2.INT
    run = pb2.ContextType(name="Run")
    with timer.phase("setup") as n:
        data.type_ids["Dataset"] = store.put_artifact_type(dataset)
        data.type_ids["Model"] = store.put_artifact_type(model)
        data.type_ids["Trainer"] = store.put_execution_type(trainer)
        data.type_ids["Run"] = store.put_context_type(run)
        n["calls"] = n["items"] = 4
    check(all(type_id > 0 for type_id in data.type_ids.values()), f"bad type ids {data.type_ids}")
    check(data.type_ids["Dataset"] != data.type_ids["Model"], f"artifact type ids collide: {data.type_ids}")


def _dataset(pb2: ModuleType, type_id: int, i: int) -> Any:
    artifact = pb2.Artifact(type_id=type_id, uri=f"/data/ds-{i}", name=f"ds-{i}")
    artifact.properties["span"].int_value = i % SPAN_MODULUS
    artifact.properties["split"].string_value = "train" if i % 2 else "eval"
    artifact.custom_properties["tag"].string_value = f"x-{i % TAG_MODULUS}"
    return artifact


def _single_put(store: Any, pb2: ModuleType, timer: PhaseTimer, data: WrittenData, count: int) -> None:
    type_id = data.type_ids["Dataset"]
    artifacts = [_dataset(pb2, type_id, i) for i in range(count)]
    ids: list[int] = []
    with timer.phase("single_put") as n:
        for artifact in artifacts:
            ids.extend(store.put_artifacts([artifact]))
        n["calls"] = n["items"] = count
    check(
        len(ids) == count and len(set(ids)) == count,
        f"single_put returned {len(set(ids))} ids, wanted {count}",
    )
    data.dataset_ids.extend(ids)


def _batch_put(store: Any, pb2: ModuleType, timer: PhaseTimer, data: WrittenData, count: int) -> None:
    type_id = data.type_ids["Dataset"]
    first = len(data.dataset_ids)
    artifacts = [_dataset(pb2, type_id, first + i) for i in range(count)]
    batches = [artifacts[i : i + BATCH_SIZE] for i in range(0, count, BATCH_SIZE)]
    ids: list[int] = []
    with timer.phase("batch_put") as n:
        for batch in batches:
            ids.extend(store.put_artifacts(batch))
        n["calls"], n["items"] = len(batches), count
    check(len(ids) == count, f"batch_put returned {len(ids)} ids, wanted {count}")
    data.dataset_ids.extend(ids)
    check(len(set(data.dataset_ids)) == len(data.dataset_ids), "batch_put reused an id already handed out")


def _put_execution_chain(
    store: Any, pb2: ModuleType, timer: PhaseTimer, data: WrittenData, steps: int
) -> None:
    model_type, trainer_type = data.type_ids["Model"], data.type_ids["Trainer"]
    run = pb2.Context(type_id=data.type_ids["Run"], name="run-1")
    # The chain starts from Dataset 0; pass the full stored message, as TFX does, so the
    # upsert that put_execution performs on an existing artifact changes nothing.
    previous = _dataset(pb2, data.type_ids["Dataset"], 0)
    previous.id = data.dataset_ids[0]
    prepared = []
    for k in range(steps):
        execution = pb2.Execution(type_id=trainer_type, name=f"train-{k}")
        execution.last_known_state = pb2.Execution.COMPLETE
        execution.properties["step"].int_value = k
        output = pb2.Artifact(type_id=model_type, uri=f"/models/m-{k}", name=f"model-{k}")
        output.properties["framework"].string_value = "tf"
        prepared.append((execution, output))
    chain = [previous.id]
    context_ids: set[int] = set()
    with timer.phase("put_execution_chain") as n:
        for k, (execution, output) in enumerate(prepared):
            event_in = pb2.Event(type=pb2.Event.INPUT)
            event_in.path.steps.add().key = "examples"
            event_out = pb2.Event(type=pb2.Event.OUTPUT)
            event_out.path.steps.add().key = "model"
            _, artifact_ids, ctx_ids = store.put_execution(
                execution,
                [(previous, event_in), (output, event_out)],
                [run],
                reuse_context_if_already_exist=k > 0,
            )
            check(
                len(artifact_ids) == 2 and artifact_ids[0] == previous.id,
                f"step {k}: put_execution returned artifact ids {list(artifact_ids)}, input was {previous.id}",
            )
            output.id = artifact_ids[1]
            chain.append(output.id)
            context_ids.update(ctx_ids)
            previous = output
        n["calls"] = n["items"] = steps
    check(len(context_ids) == 1, f"the chain landed in contexts {sorted(context_ids)}, wanted one")
    check(len(set(chain)) == steps + 1, "put_execution reused an output artifact id")
    data.chain_artifact_ids = chain
    data.run_context_id = context_ids.pop()


def _get_by_id(store: Any, timer: PhaseTimer, data: WrittenData) -> None:
    ids = data.all_artifact_ids
    count = min(len(ids), MAX_SINGLE_GETS)
    sample = [ids[j * len(ids) // count] for j in range(count)]  # spread over the whole id range
    found: list[Any] = []
    with timer.phase("get_by_id") as n:
        for artifact_id in sample:
            found.extend(store.get_artifacts_by_id([artifact_id]))
        n["calls"] = n["items"] = len(sample)
    check([a.id for a in found] == sample, f"get_by_id returned {len(found)} artifacts for {len(sample)} ids")
    dataset_index = {artifact_id: i for i, artifact_id in enumerate(data.dataset_ids)}
    for artifact in found:
        i = dataset_index.get(artifact.id)
        if i is not None:
            check(
                artifact.uri == f"/data/ds-{i}" and artifact.properties["span"].int_value == i % SPAN_MODULUS,
                f"get_by_id: artifact {artifact.id} does not hold what was written for ds-{i}",
            )


def _get_by_id_batch(store: Any, timer: PhaseTimer, data: WrittenData) -> None:
    ids = data.all_artifact_ids
    batches = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
    got: list[int] = []
    with timer.phase("get_by_id_batch") as n:
        for batch in batches:
            got.extend(a.id for a in store.get_artifacts_by_id(batch))
        n["calls"], n["items"] = len(batches), len(ids)
    check(sorted(got) == sorted(ids), f"get_by_id_batch returned {len(got)} artifacts for {len(ids)} ids")


def _expected(data: WrittenData, keep: Callable[[int], bool]) -> list[int]:
    return sorted(artifact_id for i, artifact_id in enumerate(data.dataset_ids) if keep(i))


def _property_filter(
    store: Any, list_options_cls: Callable[..., Any], timer: PhaseTimer, data: WrittenData, repeat: int
) -> None:
    queries: Sequence[tuple[str, list[int]]] = [
        (SPAN_QUERY, _expected(data, lambda i: i % SPAN_MODULUS == 7)),
        (TAG_QUERY, _expected(data, lambda i: i % TAG_MODULUS == 3)),
    ]
    options = [(list_options_cls(filter_query=query), query, want) for query, want in queries]
    answers: list[tuple[str, list[int], list[Any]]] = []
    with timer.phase("property_filter") as n:
        for _ in range(repeat):
            for option, query, want in options:
                answers.append((query, want, store.get_artifacts(list_options=option)))
        n["calls"] = repeat * len(options)
        n["items"] = sum(len(found) for _, _, found in answers)
    for query, want, found in answers:
        got = sorted(a.id for a in found)
        check(got == want, f"{query!r} matched {len(got)} artifacts, wanted {len(want)}")


def _artifacts_by_context(store: Any, timer: PhaseTimer, data: WrittenData, repeat: int) -> None:
    want = sorted(data.chain_artifact_ids)
    answers: list[list[Any]] = []
    with timer.phase("artifacts_by_context") as n:
        for _ in range(repeat):
            answers.append(store.get_artifacts_by_context(data.run_context_id))
        n["calls"] = repeat
        n["items"] = sum(len(found) for found in answers)
    for found in answers:
        got = sorted(a.id for a in found)
        check(got == want, f"get_artifacts_by_context returned {len(got)} artifacts, wanted {len(want)}")
