"""The logging API a pipeline step uses: runs, steps, inputs, outputs, params, metrics.

    with mlineage.run("taxi", run_id="2026-11-29-a") as run:
        with run.step("Trainer", gpus=2) as step:
            data = step.input("Examples", uri="gs://b/taxi/3", span=3)
            step.log_params(learning_rate=0.01, batch_size=256)
            step.log_metric("loss", 0.31, step=100)
            step.output_model("gs://b/models/7", framework="tensorflow", format="saved_model")

A run is a ``pipeline_run`` context under a ``pipeline`` context (the parent
link); a step is an execution in both, named ``<pipeline>/<run id>/<step>``,
going NEW → RUNNING → COMPLETE (FAILED with the error text on an exception,
CANCELED on KeyboardInterrupt, CACHED when an earlier execution with the same
``cache_key`` is reused). Custom
properties of a step: ``param.<name>`` for parameters, ``metric.<name>`` for the
last value of a metric (the whole series is in the metric store), and the
environment (host, user, pid, git_commit, python_version, packages, …).
Every call only makes a record and hands it to the run's sink
(``mlineage.client.sinks``); with a gRPC store that is a journal append, so the
step's thread never waits for the network.

Two rules a caller can count on. A value for a property that the node's type
declares must have the declared type (an int may fill a DOUBLE); any other is
refused with ``InvalidArgumentError`` (at the call with a database URL; when
the record is sent with a gRPC server, which sets it aside in the journal's
dead letters and warns), never stored as a custom property instead.
``step.input(type, uri, **properties)`` links the newest artifact of the type
at ``uri`` whose stored values agree with every property given; when none
does (say the stored one has ``span=2`` and the call says ``span=3``), it
records a new artifact at that URI with those properties, a new version of the
data there, and the stored one is left as it was.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import itertools
import logging
import os
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlineage import errors
from mlineage.client import environment, sinks
from mlineage.client import records as rec
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION

if TYPE_CHECKING:
    from mlineage.integrations.gpu import GpuSampler

log = logging.getLogger("mlineage.client")

PIPELINE_TYPE = "pipeline"
RUN_TYPE = "pipeline_run"
ERROR_TEXT_LIMIT = 8000

_current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("mlineage_run", default=None)
_current_step: contextvars.ContextVar[Step | None] = contextvars.ContextVar("mlineage_step", default=None)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def current_run() -> Run | None:
    return _current_run.get()


def current_step() -> Step | None:
    return _current_step.get()


@dataclass
class ArtifactRef:
    """An artifact a step logged: its client-made key (the external id), type and URI; ``id`` asks the store."""

    key: str
    type_name: str
    uri: str | None
    properties: dict[str, Any] = field(default_factory=dict)
    _sink: Any = field(default=None, repr=False, compare=False)

    @property
    def external_id(self) -> str:
        return self.key

    @property
    def id(self) -> int | None:
        """The server id (waits for the record to be stored: up to 10 s with a remote store)."""
        return self._sink.resolve(ARTIFACT, self.key) if self._sink is not None else None


class Run:
    """A pipeline run; use ``mlineage.run(...)``. Closing it flushes its records."""

    def __init__(
        self,
        pipeline: str,
        run_id: str | None = None,
        *,
        url: str | None = None,
        store=None,
        journal: bool | None = None,
        journal_dir: str | os.PathLike | None = None,
        properties: Mapping[str, Any] | None = None,
        capture_environment: bool = True,
    ) -> None:
        if not pipeline:
            raise errors.InvalidArgumentError("a run needs a pipeline name")
        self.pipeline = pipeline
        self.run_id = run_id or f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.name = f"{pipeline}/{self.run_id}"
        self.pipeline_key = f"mlineage:pipeline:{pipeline}"
        self.key = f"mlineage:pipeline_run:{self.name}"
        self.capture_environment = capture_environment
        self.environment = environment.capture() if capture_environment else {}
        self.sink = sinks.open_sink(url, store=store, journal=journal, journal_dir=journal_dir)
        self.started_ms = _now_ms()
        self.status: str | None = None
        self._token: contextvars.Token | None = None
        self._closed = False
        self.sink.emit(rec.ContextRecord(self.pipeline_key, PIPELINE_TYPE, pipeline, {}, None))
        props: dict[str, Any] = {"pipeline_name": pipeline, "run_id": self.run_id, "started_at_ms": self.started_ms}
        props.update({k: v for k, v in self.environment.items() if k in ("host", "user", "git_commit")})
        props.update(properties or {})
        self.sink.emit(rec.ContextRecord(self.key, RUN_TYPE, self.name, props, self.pipeline_key))

    @property
    def context_keys(self) -> list[str]:
        return [self.pipeline_key, self.key]

    @property
    def stored_id(self) -> int | None:
        """The run context's server id if this process has seen it stored; None otherwise (never waits)."""
        return self.sink.known_id(CONTEXT, self.key)

    def step(self, name: str, *, type: str | None = None, gpus: int | None = None,  # noqa: A002
             cache_key: str | None = None, properties: Mapping[str, Any] | None = None,
             sample_interval: float = 1.0, contexts: Sequence[str] = ()) -> StepSpec:
        """A step of this run: ``with run.step("Trainer") as step:`` or ``@run.step("Trainer")``.

        ``contexts``: keys of more contexts (from ``add_context``) the step's execution and artifacts
        belong to, beside the pipeline's and the run's (TFX's node context, say)."""
        return StepSpec(name, run=self, type=type, gpus=gpus, cache_key=cache_key, properties=properties,
                        sample_interval=sample_interval, contexts=tuple(contexts))

    def add_context(self, type_name: str, name: str, *, properties: Mapping[str, Any] | None = None) -> str:
        """A context beside the run's (a deployment, say): found by (type, name) or made; returns its key."""
        key = f"mlineage:{type_name}:{name}"
        self.sink.emit(rec.ContextRecord(key, type_name, name, dict(properties or {}), None))
        return key

    def set_properties(self, **properties: Any) -> None:
        """Merge custom properties into the run's context."""
        self.sink.emit(rec.ContextRecord(self.key, RUN_TYPE, self.name, properties, self.pipeline_key))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the store holds every record so far (a no-op wait for embedded stores)."""
        return self.sink.flush(timeout)

    def close(self, status: str = "COMPLETE", timeout: float | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        self.status = status
        self.set_properties(status=status, ended_at_ms=_now_ms())
        sinks.release(self.sink, timeout)

    def __enter__(self) -> Run:
        self._token = _current_run.set(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._token is not None:
            _current_run.reset(self._token)
            self._token = None
        if exc_type is None:
            self.close("COMPLETE")
        else:
            self.close("CANCELED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")


def start_run(pipeline: str | None = None, run_id: str | None = None, **kwargs) -> Run:
    """``mlineage.run``: a Run; pipeline and run id default to $MLINEAGE_PIPELINE and $MLINEAGE_RUN_ID."""
    pipeline = pipeline or os.environ.get("MLINEAGE_PIPELINE") or "default"
    return Run(pipeline, run_id or os.environ.get("MLINEAGE_RUN_ID"), **kwargs)


_implicit_run: Run | None = None


def _ambient_run() -> Run:
    """The current run, or one per process made from the environment (closed at exit)."""
    global _implicit_run
    run = _current_run.get()
    if run is not None:
        return run
    if _implicit_run is None or _implicit_run._closed:
        import atexit

        _implicit_run = start_run()
        atexit.register(_implicit_run.close)
    return _implicit_run


class StepSpec:
    """What ``run.step(...)`` returns: a context manager giving a Step, or a decorator that records each call."""

    def __init__(self, name: str, *, run: Run | None = None, **options: Any) -> None:
        self.name = name
        self.run = run
        self.options = options
        self._active: list[tuple[Step, contextvars.Token]] = []

    def __enter__(self) -> Step:
        step = Step(self.run or _ambient_run(), self.name, **self.options)
        step.start()
        self._active.append((step, _current_step.set(step)))
        return step

    def __exit__(self, exc_type, exc, tb) -> None:
        step, token = self._active.pop()
        _current_step.reset(token)
        step.end(exc)

    def __call__(self, function: Callable) -> Callable:
        wants_step = "step" in inspect.signature(function).parameters

        @functools.wraps(function)
        def recorded(*args, **kwargs):
            with self as step:
                if step.cached:
                    return step.cached_result
                if wants_step:
                    kwargs["step"] = step
                return function(*args, **kwargs)

        return recorded


def current_step_spec(name: str | Callable | None = None, **options: Any):
    """``mlineage.step``: a step of the current run; as ``@mlineage.step`` it is named after the function."""
    if callable(name):
        return StepSpec(name.__name__, **options)(name)
    if name is None:
        return lambda function: StepSpec(function.__name__, **options)(function)
    return StepSpec(name, **options)


class Step:
    """One execution of a step. Made by ``run.step(...)``; its methods only append records."""

    def __init__(self, run: Run, name: str, *, type: str | None = None, gpus: int | None = None,  # noqa: A002
                 cache_key: str | None = None, properties: Mapping[str, Any] | None = None,
                 sample_interval: float = 1.0, contexts: Sequence[str] = ()) -> None:
        self.run = run
        self.name = name
        self.type_name = type or name
        self.execution_name = f"{run.name}/{name}"
        self.key = uuid.uuid4().hex
        self.gpus = gpus
        self.cache_key = cache_key
        self.sample_interval = sample_interval
        self.state = "NEW"
        self.cached = False
        self.cached_from: int | None = None
        self.cached_result: Any = None
        self.props: dict[str, Any] = {
            "step": name,
            "pipeline_name": run.pipeline,
            "run_id": run.run_id,
        }
        env = run.environment
        self.props.update({k: v for k, v in env.items() if k != "packages"})
        if env.get("packages"):
            self.props["packages"] = env["packages"]
        self.props.update(properties or {})
        self._seq: dict[str, itertools.count] = {}
        self._last: dict[str, float] = {}
        self._slot_counts: dict[tuple[str, str], itertools.count] = {}
        self._sampler: GpuSampler | None = None
        self._started = 0.0
        self._emit = run.sink.emit
        self._contexts = [*run.context_keys, *(key for key in contexts if key not in run.context_keys)]

    # --- lifecycle ------------------------------------------------------------------------------

    def _snapshot(self) -> None:
        props = dict(self.props)
        props.update({f"metric.{name}": value for name, value in self._last.items()})
        self._emit(rec.ExecutionRecord(self.key, self.type_name, self.state, props, self._contexts,
                                       self.execution_name))

    def start(self) -> Step:
        self._started = time.monotonic()
        self.props["started_at_ms"] = _now_ms()
        self._snapshot()  # NEW
        if self.cache_key is not None:
            self.props["cache_key"] = self.cache_key
            if self._reuse_cached():
                return self
        if self.gpus is not None:
            self._start_gpu()
        self.state = "RUNNING"
        self._snapshot()
        return self

    def end(self, exc: BaseException | None = None) -> None:
        if self._ended():
            return
        self.props["ended_at_ms"] = _now_ms()
        self.props["duration_s"] = round(time.monotonic() - self._started, 6)
        if self._sampler is not None:
            self._finish_gpu()
        if exc is None:
            self.state = "CACHED" if self.cached else "COMPLETE"
        elif isinstance(exc, KeyboardInterrupt):
            self.state = "CANCELED"
            self.props["error"] = "KeyboardInterrupt"
        else:
            self.state = "FAILED"
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.props["error"] = f"{type(exc).__name__}: {exc}"
            self.props["error_traceback"] = text[-ERROR_TEXT_LIMIT:]
        self._snapshot()

    def _ended(self) -> bool:
        return "ended_at_ms" in self.props

    def fail(self, message: str) -> None:
        """End the step as FAILED with ``message`` (for callers that do not raise, e.g. ``mlineage run``)."""
        self._end_as("FAILED", message)

    def cancel(self, message: str = "KeyboardInterrupt") -> None:
        """End the step as CANCELED, as an interrupt (KeyboardInterrupt) inside ``with run.step()`` does."""
        self._end_as("CANCELED", message)

    def _end_as(self, state: str, message: str) -> None:
        self.props["error"] = message[-ERROR_TEXT_LIMIT:]
        self.props["ended_at_ms"] = _now_ms()
        self.props["duration_s"] = round(time.monotonic() - self._started, 6)
        if self._sampler is not None:
            self._finish_gpu()
        self.state = state
        self._snapshot()

    def __enter__(self) -> Step:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.end(exc)

    @property
    def external_id(self) -> str:
        return self.key

    @property
    def id(self) -> int | None:
        """The execution's server id (waits for the records to be stored with a remote store)."""
        return self.run.sink.resolve(EXECUTION, self.key)

    @property
    def stored_id(self) -> int | None:
        """The execution's server id if this process has seen it stored; None otherwise (never waits)."""
        return self.run.sink.known_id(EXECUTION, self.key)

    # --- params and properties ------------------------------------------------------------------

    def log_param(self, name: str, value: Any) -> None:
        self.log_params({name: value})

    def log_params(self, params: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Record parameters (``param.<name>`` custom properties of the execution)."""
        self._merge({f"param.{name}": value for name, value in {**(params or {}), **more}.items()})

    def set_properties(self, **properties: Any) -> None:
        """Set custom properties of the execution (names as given)."""
        self._merge(properties)

    def _merge(self, changes: dict[str, Any]) -> None:
        changes = {k: v for k, v in changes.items() if v is not None}
        if changes:
            self.props.update(changes)
            self._emit(rec.ExecutionPropertiesRecord(self.key, self.type_name, changes))

    # --- metrics --------------------------------------------------------------------------------

    def log_metric(self, name: str, value: float, step: int | None = None, timestamp: float | None = None) -> None:
        """Append a point to the metric's series (``step`` defaults to 1, 2, 3, …); its last value is kept too."""
        counter = self._seq.get(name)
        if counter is None:
            counter = self._seq.setdefault(name, itertools.count(1))
        seq = next(counter)
        value = float(value)
        self._last[name] = value
        self._emit(rec.MetricRecord(self.key, name, seq, seq if step is None else int(step), value,
                                    time.time_ns() // 1_000_000 if timestamp is None else int(timestamp * 1000)))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for name, value in metrics.items():
            self.log_metric(name, value, step)

    # --- artifacts ------------------------------------------------------------------------------

    def _artifact(self, event_type: str, type_name: str, uri: str | None, *, external_id: str | None,
                  key: str | None, reuse: str, properties: dict[str, Any], known_id: int | None = None,
                  provenance: bool = True) -> ArtifactRef:
        artifact_key = external_id or uuid.uuid4().hex
        slot_key = key or type_name.lower()
        counter = self._slot_counts.setdefault((event_type, slot_key), itertools.count())
        props = {k: v for k, v in properties.items() if v is not None}
        if provenance:
            props.setdefault("producer_component", self.name)
            props.setdefault("pipeline_name", self.run.pipeline)
            props.setdefault("run_id", self.run.run_id)
        self._emit(rec.ArtifactRecord(artifact_key, type_name, uri, props, reuse, self.key, event_type, slot_key,
                                      next(counter), self._contexts, known_id))
        return ArtifactRef(artifact_key, type_name, uri, props, self.run.sink)

    def input(self, type_name: str, uri: str | None = None, *, external_id: str | None = None,
              key: str | None = None, **properties: Any) -> ArtifactRef:
        """An artifact the step reads: the stored one with ``external_id`` or (else) the newest of the type at
        ``uri`` if there is one, otherwise a new artifact with these properties."""
        reuse = "external_id" if external_id else "uri"
        return self._artifact("INPUT", type_name, uri, external_id=external_id, key=key, reuse=reuse,
                              properties=properties, provenance=False)

    def output(self, type_name: str, uri: str | None = None, *, external_id: str | None = None,
               key: str | None = None, **properties: Any) -> ArtifactRef:
        """A new artifact the step writes (with ``external_id``: that artifact, made if it does not exist)."""
        return self._artifact("OUTPUT", type_name, uri, external_id=external_id, key=key,
                              reuse="external_id" if external_id else "new", properties=properties)

    def output_model(self, uri: str, *, framework: str | None = None, format: str | None = None,  # noqa: A002
                     path: str | os.PathLike | None = None, type_name: str = "Model", key: str | None = "model",
                     external_id: str | None = None, inspect_files: bool = True, **properties: Any) -> ArtifactRef:
        """A model the step wrote: framework, format, size, sha256 and signature read from the files at
        ``path`` (or at ``uri`` when it is a local path) where they can be read; given values win."""
        facts: dict[str, Any] = {}
        local = path or _local_path(uri)
        if inspect_files and local is not None and os.path.exists(local):
            from mlineage.integrations.models import describe_model

            try:
                facts = describe_model(local).properties()
            except OSError as exc:
                facts = {"inspect_error": str(exc)}
        if framework:
            facts["framework"] = framework
        if format:
            facts["format"] = format
        facts.update(properties)
        return self.output(type_name, uri, external_id=external_id, key=key, **facts)

    def record_execution(self, key: str, type_name: str, name: str, *, state: str = "RUNNING",
                         properties: Mapping[str, Any] | None = None, contexts: list[str] | None = None,
                         inputs: list[ArtifactRef] | None = None) -> str:
        """Another execution this step stands up (a deployment's serving), in ``contexts``, with ``inputs`` as its
        input events; the same ``key`` again replaces that execution's state. Returns the key."""
        contexts = list(contexts or [])
        self._emit(rec.ExecutionRecord(key, type_name, state, dict(properties or {}), contexts, name))
        for index, ref in enumerate(inputs or []):
            self._emit(rec.ArtifactRecord(ref.key, ref.type_name, ref.uri, {}, "external_id", key, "INPUT",
                                          ref.type_name.lower(), index, contexts))
        return key

    # --- caching --------------------------------------------------------------------------------

    def _reuse_cached(self) -> bool:
        """If a COMPLETE execution of this type has the same cache_key, become CACHED with its outputs."""
        from mlineage.metadata.options import ListOptions, OrderByField
        from mlineage.proto import metadata_store_pb2 as pb

        assert self.cache_key is not None  # start() asks only for a step with a cache key
        quoted = self.cache_key.replace("\\", "\\\\").replace("'", "\\'")
        query = f"custom_properties.cache_key.string_value = '{quoted}' AND last_known_state = COMPLETE"
        try:
            store = self.run.sink.store
            found = store.get_executions_by_type(
                self.type_name,
                list_options=ListOptions(limit=1, order_by=OrderByField.CREATE_TIME, is_asc=False,
                                         filter_query=query),
            )
            if not found:
                return False
            previous = found[0]
            events = [e for e in store.get_events_by_execution_ids([previous.id]) if e.type == pb.Event.OUTPUT]
            artifacts = {a.id: a for a in store.get_artifacts_by_id(sorted({e.artifact_id for e in events}))}
            types = {t.id: t.name for t in store.get_artifact_types_by_id(sorted({a.type_id for a in
                                                                                  artifacts.values()}))}
        except errors.MlineageError as exc:
            log.warning("cache look-up for %s failed (%s); running the step", self.name, exc)
            return False
        self.cached = True
        self.cached_from = previous.id
        self.props["cached_from_execution_id"] = previous.id
        self.state = "CACHED"
        outputs = []
        for event in events:
            artifact = artifacts.get(event.artifact_id)
            if artifact is None:
                continue
            slot = event.path.steps[0].key if event.path.steps and event.path.steps[0].HasField("key") else None
            outputs.append(self._artifact(
                "OUTPUT", types.get(artifact.type_id, "Artifact"), artifact.uri or None,
                external_id=artifact.external_id or None, key=slot, reuse="external_id", properties={},
                known_id=artifact.id, provenance=False,
            ))
        self.cached_result = outputs
        self._snapshot()
        return True

    # --- GPUs -----------------------------------------------------------------------------------

    def _start_gpu(self) -> None:
        from mlineage.integrations import gpu

        info = gpu.probe()
        self._gpu_info = info
        self.props["gpus_requested"] = int(self.gpus or 0)
        self.props["gpus_allocated"] = len(info.devices)
        self.props["gpu"] = info.as_dict()
        shortfall = gpu.shortfall(int(self.gpus or 0), info)
        if shortfall:
            self.props["gpu_warning"] = shortfall
            log.warning("mlineage: step %r %s", self.name, shortfall)
        if info.devices:
            self._sampler = gpu.GpuSampler(info, interval=self.sample_interval)
            self._sampler.start()

    def _finish_gpu(self) -> None:
        assert self._sampler is not None  # callers check
        usage = self._sampler.stop()
        self._sampler = None
        gpu_record = dict(self.props.get("gpu") or {})
        gpu_record["usage"] = usage.as_dict()
        self.props["gpu"] = gpu_record
        self.props["gpu_hours"] = usage.gpu_hours
        if usage.mean_utilization_pct is not None:
            self.props["gpu_utilization_mean_pct"] = usage.mean_utilization_pct
        if usage.peak_memory_used_bytes is not None:
            self.props["gpu_memory_peak_bytes"] = usage.peak_memory_used_bytes


def _local_path(uri: str | None) -> str | None:
    if not uri:
        return None
    if uri.startswith("file://"):
        return uri[len("file://"):]
    if "://" in uri:
        return None
    return uri


__all__ = ["ArtifactRef", "Run", "Step", "StepSpec", "current_run", "current_step", "start_run"]
