"""``compare(store, runs=…)``: the runs' params, metrics, data, code and steps as pandas frames.

Everything is read through the store's MLMD-style methods (and the metric
series), so runs written by TFX through MLMD's API, by the step client, by the
MLflow adapter and by OpenLineage are compared alike:

- a run's **steps** are its executions, named by their ``step`` custom property
  (step client), their TFX ``node`` context (``<pipeline>.<node id>``), or
  their type's last dotted part; a name seen twice in one run gets ``#2``;
- **params** are ``param.<name>`` custom properties (step client, MLflow);
  an execution with none has its type's declared properties as params (TFX's
  exec properties). Frame columns are ``<step>.<param>``;
- **metrics** come from metric series (final = the last point by seq, which
  the step client also keeps as ``metric.<name>`` on the execution, so its
  runs' finals need no read of the points; min and max over the points, NaN
  ignored, summarized in the database on first use of ``metrics`` or
  ``best_metrics``) and from metrics artifacts a run's steps wrote
  (``ModelEvaluation``, or a type with MLMD's METRICS base type): their
  numeric properties (those named in ``metric_names`` when the artifact says).
  A metric is keyed by its name, or by ``<step>.<name>`` when some run has it
  from two steps;
- **best** per run uses the metric's mode: ``min`` for names that say loss,
  error, mse, mae, rmse, perplexity, latency or time, ``max`` otherwise, unless
  ``metric_modes`` says;
- **code version** is the ``git_commit`` of the environment record (run
  context, else its steps; several commits are joined with ``,``).

The long-form series (run, step_name, metric, step, value, timestamp_ms; each
series' points in logging order) is read on first use of ``Comparison.series``.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlineage.errors import InvalidArgumentError
from mlineage.metadata.interface import StoreInterface
from mlineage.metadata.options import ListOptions, OrderByField
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.reports.selection import RUN_TYPES, RunRef, select_runs
from mlineage.reports.values import missing, number, plain

PARAM_PREFIX = "param."
METRIC_PREFIX = "metric."
# Execution types whose declared properties are the producer's bookkeeping (ids, times), never params.
BOOKKEEPING_TYPES = ("mlflow.Run", "openlineage.Run")
METRIC_ARTIFACT_TYPES = ("ModelEvaluation", "Metrics")
_METRICS_BASE = pb.ArtifactType.SystemDefinedBaseType.Value("METRICS")
_MINIMIZED_WORDS = ("loss", "error", "mse", "mae", "rmse", "perplexity", "latency", "time")
# Numeric properties of a metrics artifact that describe it rather than measure the model.
_NOT_METRICS = {"span", "version", "num_slices", "is_external", "blessed", "current_model_id",
                "baseline_model_id", "rubber_stamp", "missing_thresholds", "num_failures"}
# Artifact properties that say which data an artifact is (the rest is provenance or bookkeeping).
FINGERPRINT_PROPERTIES = ("fingerprint", "sha256", "checksum", "md5", "digest")
STATES = {value: name for name, value in pb.Execution.State.items()}
_TERMINAL = {pb.Execution.COMPLETE, pb.Execution.FAILED, pb.Execution.CACHED, pb.Execution.CANCELED}


def metric_mode(name: str) -> str:
    """``"min"`` for a metric whose name says it is a loss, an error or a time; ``"max"`` otherwise."""
    lowered = name.lower()
    return "min" if any(word in lowered for word in _MINIMIZED_WORDS) else "max"


@dataclass
class StepInfo:
    """One execution of a run, as the frames see it."""

    run: str
    step_name: str
    execution: pb.Execution
    type_name: str

    def prop(self, name: str) -> Any:
        if name in self.execution.custom_properties:
            return plain(self.execution.custom_properties[name])
        if name in self.execution.properties:
            return plain(self.execution.properties[name])
        return None


@dataclass
class Comparison:
    """The frames of a comparison; every frame lists runs in the comparison's order (``names``)."""

    runs: list[RunRef]
    names: list[str]
    summary: pd.DataFrame
    steps: pd.DataFrame
    params: pd.DataFrame
    params_long: pd.DataFrame
    final_metrics: pd.DataFrame
    artifacts: pd.DataFrame
    gpus: pd.DataFrame
    environment: pd.DataFrame
    metric_modes: dict[str, str] = field(default_factory=dict)
    sweep: str | None = None
    _store: StoreInterface | None = field(default=None, repr=False)
    _steps: list[StepInfo] = field(default_factory=list, repr=False)
    _series: pd.DataFrame | None = field(default=None, repr=False)
    _series_sources: dict[tuple[int, str], str] = field(default_factory=dict, repr=False)
    #: (run, metric key) of every metric a run has (its final value may be NaN).
    logged: set[tuple[str, str]] = field(default_factory=set, repr=False)
    _entries: list[_Entry] = field(default_factory=list, repr=False)
    _summaries: dict[int, dict[str, _Summary]] = field(default_factory=dict, repr=False)
    _metrics: pd.DataFrame | None = field(default=None, repr=False)
    _best: pd.DataFrame | None = field(default=None, repr=False)

    # --- views ----------------------------------------------------------------------------------

    @property
    def series(self) -> pd.DataFrame:
        """Every metric point, long form: run, step_name, metric, step, value, timestamp_ms (read once)."""
        if self._series is None:
            self._series = self.read_series()
        return self._series

    @property
    def metrics(self) -> pd.DataFrame:
        """Per run, step and metric: source, final, min, max, points, last_step (the points summarized once)."""
        if self._metrics is None:
            self._metrics = self._metric_frame()
        return self._metrics

    @property
    def best_metrics(self) -> pd.DataFrame:
        """Run × metric: the best point by the metric's mode (``metric_modes``)."""
        if self._best is None:
            metrics = self.metrics
            keys = list(self.final_metrics.columns)
            columns = {}
            for key in keys:
                rows = metrics[metrics["metric"] == key].set_index("run")
                column = rows["max" if self.metric_modes.get(key) == "max" else "min"]
                columns[key] = column[~column.index.duplicated()].reindex(self.names)
            self._best = pd.DataFrame(columns, index=pd.Index(self.names, name="run"), columns=keys).astype(float)
        return self._best

    def _metric_frame(self) -> pd.DataFrame:
        series_steps = [e.step for e in self._entries if e.source == "series"]
        wanted = sorted({s.execution.id for s in series_steps} - set(self._summaries))
        if wanted and self._store is not None:
            self._summaries.update(_metric_summaries(self._store, wanted))
        rows: list[tuple[Any, ...]] = []
        for entry in self._entries:
            if entry.source == "series":
                summary = self._summaries.get(entry.step.execution.id, {}).get(entry.name)
                if summary is None:
                    continue
                rows.append((entry.step.run, entry.step.step_name, entry.key, entry.name, "series",
                             summary.last_value, summary.min_value, summary.max_value, summary.points,
                             summary.last_step))
            else:
                low_high = None if math.isnan(entry.final) else entry.final
                rows.append((entry.step.run, entry.step.step_name, entry.key, entry.name, "artifact", entry.final,
                             low_high, low_high, 1, None))
        return pd.DataFrame(rows, columns=["run", "step_name", "metric", "name", "source", "final", "min", "max",
                                           "points", "last_step"])

    def read_series(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """The long-form points of ``metrics`` (keys as in ``final_metrics``; all when None), read now."""
        columns = ["run", "step_name", "metric", "step", "value", "timestamp_ms"]
        if self._store is None or not self._steps:
            return pd.DataFrame(columns=columns)
        by_execution = {s.execution.id: s for s in self._steps}
        wanted_keys = None if metrics is None else set(metrics)
        raw_names: set[str] = set()
        for (_execution_id, raw), key in self._series_sources.items():
            if wanted_keys is None or key in wanted_keys:
                raw_names.add(raw)
        if wanted_keys is not None and not raw_names:
            return pd.DataFrame(columns=columns)
        names = sorted(raw_names) if wanted_keys is not None else []
        cols: dict[str, list] = {name: [] for name in columns}
        for series in self._store.get_metric_series(sorted(by_execution), names):
            found_key = self._series_sources.get((series.execution_id, series.name))
            if found_key is None or (wanted_keys is not None and found_key not in wanted_keys):
                continue
            step = by_execution[series.execution_id]
            count = len(series.seq)
            cols["run"].extend([step.run] * count)
            cols["step_name"].extend([step.step_name] * count)
            cols["metric"].extend([found_key] * count)
            cols["step"].extend(series.step if len(series.step) == count else series.seq)
            cols["value"].extend(series.value)
            cols["timestamp_ms"].extend(series.timestamp_ms if len(series.timestamp_ms) == count else [0] * count)
        if not cols["run"]:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame(cols, columns=columns)
        order = {name: i for i, name in enumerate(self.names)}
        ranks = frame["run"].map(order)
        if not ranks.is_monotonic_increasing:  # points come by execution id; list them in the runs' order
            frame = frame.iloc[ranks.argsort(kind="stable")].reset_index(drop=True)
        return frame

    def metric_names(self) -> list[str]:
        """Every metric key, in the order of ``final_metrics``' columns."""
        return list(self.final_metrics.columns)

    def require_metric(self, metric: str) -> None:
        if metric not in self.final_metrics.columns:
            known = ", ".join(self.metric_names()[:20]) or "none"
            raise InvalidArgumentError(f"no run has a metric named {metric!r} (metrics: {known})")

    def best_runs(self, metric: str, mode: str = "max", *, by: str = "final") -> list[str]:
        """Every run that ties for the best value of ``metric``; see ``best``."""
        if mode not in ("max", "min"):
            raise InvalidArgumentError(f"mode must be 'max' or 'min', got {mode!r}")
        if by not in ("final", "best"):
            raise InvalidArgumentError(f"by must be 'final' or 'best', got {by!r}")
        self.require_metric(metric)
        if by == "final":
            column = self.final_metrics[metric]
        else:
            rows = self.metrics[self.metrics["metric"] == metric]
            column = rows.groupby("run")["max" if mode == "max" else "min"].first().reindex(self.names)
        values = {run: float(v) for run, v in column.items() if not missing(v)}
        if not values:
            return []
        target = max(values.values()) if mode == "max" else min(values.values())
        return [run for run in self.names if run in values and values[run] == target]

    def best(self, metric: str, mode: str = "max", *, by: str = "final") -> str | None:
        """The run with the highest (``max``) or lowest (``min``) ``metric``.

        ``by="final"`` compares each run's final value (the series' last point,
        or the metrics artifact's value); ``by="best"`` each run's best point.
        Runs without the metric, and NaN values, take no part; None when no run
        has a number for it. Ties go to the run listed first (``best_runs``
        gives them all). INVALID_ARGUMENT when no run has the metric at all.
        """
        found = self.best_runs(metric, mode, by=by)
        return found[0] if found else None

    def diff(self) -> Comparison:
        """The same comparison keeping only what differs between the runs.

        Wide frames keep the columns whose values are not all equal (a value
        missing in some runs counts as different); ``params_long`` and
        ``metrics`` keep those params and metrics; ``artifacts`` keeps the
        ones not every run used; ``environment`` keeps differing columns.
        """
        params = differing_columns(self.params)
        finals = differing_columns(self.final_metrics)
        differing_params = set(params.columns)
        differing_metrics = set(finals.columns)
        long_params = self.params_long
        if not long_params.empty:
            keys = long_params["step_name"] + "." + long_params["name"]
            long_params = long_params[keys.isin(differing_params)].reset_index(drop=True)
        # metrics and best_metrics stay lazy in the view when they are here (they need every point read)
        metrics = None if self._metrics is None else \
            self._metrics[self._metrics["metric"].isin(differing_metrics)].reset_index(drop=True)
        best = None if self._best is None else \
            self._best[[c for c in self._best.columns if c in differing_metrics]]
        artifacts = self.artifacts
        if not artifacts.empty:
            artifacts = artifacts[artifacts["runs_sharing"] < len(self.names)].reset_index(drop=True)
        environment = self.environment
        if not environment.empty:
            keep = ["run", "step_name"] + [c for c in differing_columns(environment.drop(columns=["run", "step_name"]),
                                                                 by_rows=False).columns]
            environment = environment[keep]
        summary = self.summary[[c for c in self.summary.columns
                                if c in ("id", "type") or c in differing_columns(self.summary).columns]]
        return Comparison(
            runs=self.runs, names=self.names, summary=summary, steps=self.steps, params=params,
            params_long=long_params, final_metrics=finals, artifacts=artifacts, gpus=self.gpus,
            environment=environment, metric_modes=self.metric_modes, sweep=self.sweep, _store=self._store,
            _steps=self._steps, _series=self._series, _series_sources=self._series_sources,
            logged={(run, key) for run, key in self.logged if key in differing_metrics},
            _entries=[e for e in self._entries if e.key in differing_metrics], _summaries=self._summaries,
            _metrics=metrics, _best=best,
        )

    def differs(self) -> dict[str, list[str]]:
        """The names of the params and metrics whose values differ between the runs."""
        return {"params": list(differing_columns(self.params).columns),
                "metrics": list(differing_columns(self.final_metrics).columns)}

    def lineage_difference(self, a: str | None = None, b: str | None = None):
        """What ``a`` and ``b`` (run names; the first two runs by default) read upstream that the other did not."""
        from mlineage.reports.lineage_diff import lineage_difference

        if self._store is None:
            raise InvalidArgumentError("this comparison has no store to walk lineage in")
        if a is None or b is None:
            if len(self.names) < 2:
                raise InvalidArgumentError("a lineage difference needs two runs")
            a, b = (a or self.names[0]), (b or next(n for n in self.names if n != (a or self.names[0])))
        for name in (a, b):
            if name not in self.names:
                raise InvalidArgumentError(f"{name!r} is not a run of this comparison")
        if a == b:
            raise InvalidArgumentError("a lineage difference needs two different runs")
        return lineage_difference(self._store, self, a, b)

    def steps_of(self, run: str) -> list[StepInfo]:
        return [s for s in self._steps if s.run == run]


def differing_columns(frame: pd.DataFrame, *, by_rows: bool = False) -> pd.DataFrame:
    """The columns of ``frame`` whose values are not all the same (missing counts as a value)."""
    if frame.empty or len(frame) < 2:
        return frame.iloc[:, 0:0]
    keep = []
    for column in frame.columns:
        values = {("<missing>" if missing(v) else v) for v in frame[column].tolist()}
        if len(values) > 1:
            keep.append(column)
    return frame[keep]


# --- building ------------------------------------------------------------------------------------


def compare(
    store: StoreInterface,
    runs: Sequence[str | int] | None = None,
    *,
    pipeline: str | None = None,
    last: int | None = None,
    sweep: str | int | None = None,
    filter_query: str | None = None,
    run_types: Sequence[str] = RUN_TYPES,
    metric_modes: Mapping[str, str] | None = None,
) -> Comparison:
    """Compare runs chosen by exactly one selector (see ``select_runs``); INVALID_ARGUMENT on a bad choice."""
    for name, mode in (metric_modes or {}).items():
        if mode not in ("max", "min"):
            raise InvalidArgumentError(f"metric mode for {name!r} must be 'max' or 'min', got {mode!r}")
    refs = select_runs(store, runs, pipeline=pipeline, last=last, sweep=sweep, filter_query=filter_query,
                       run_types=run_types)
    return build(store, refs, metric_modes=metric_modes, sweep=None if sweep is None else str(sweep))


def _unique_names(refs: Sequence[RunRef]) -> list[str]:
    counts = Counter(ref.name for ref in refs)
    return [ref.name if counts[ref.name] == 1 else f"{ref.name}#{ref.id}" for ref in refs]


def _step_name(execution: pb.Execution, type_name: str, node_names: dict[int, str]) -> str:
    for key in ("step", "component_id"):
        if key in execution.custom_properties:
            value = plain(execution.custom_properties[key])
            if isinstance(value, str) and value:
                return value
    if execution.id in node_names:
        return node_names[execution.id]
    if type_name == "mlflow.Run":
        return "run"
    return type_name.rpartition(".")[2] or type_name


def build(
    store: StoreInterface,
    refs: Sequence[RunRef],
    *,
    metric_modes: Mapping[str, str] | None = None,
    sweep: str | None = None,
) -> Comparison:
    """The comparison of runs already selected."""
    names = _unique_names(refs)
    executions_of: dict[str, list[pb.Execution]] = {}
    for ref, name in zip(refs, names, strict=True):
        if ref.execution_id is not None:
            executions_of[name] = store.get_executions_by_id([ref.execution_id])
        else:
            executions_of[name] = store.get_executions_by_context(
                ref.context_id, ListOptions(order_by=OrderByField.ID, is_asc=True))
    every = [e for found in executions_of.values() for e in found]
    type_names = {t.id: t.name for t in store.get_execution_types_by_id(sorted({e.type_id for e in every}))} \
        if every else {}
    node_names = _node_names(store, [e for e in every if "step" not in e.custom_properties
                                     and type_names.get(e.type_id) != "mlflow.Run"])
    steps: list[StepInfo] = []
    for name in names:
        seen: Counter[str] = Counter()
        for execution in executions_of[name]:
            type_name = type_names.get(execution.type_id, "")
            step_name = _step_name(execution, type_name, node_names)
            seen[step_name] += 1
            if seen[step_name] > 1:
                step_name = f"{step_name}#{seen[step_name]}"
            steps.append(StepInfo(name, step_name, execution, type_name))
    contexts = {c.id: c for c in store.get_contexts_by_id(sorted({r.context_id for r in refs}))}
    events = store.get_events_by_execution_ids([s.execution.id for s in steps]) if steps else []
    artifact_ids = sorted({e.artifact_id for e in events})
    artifacts = {a.id: a for a in store.get_artifacts_by_id(artifact_ids)} if artifact_ids else {}
    artifact_types = ({t.id: t for t in store.get_artifact_types_by_id(sorted({a.type_id for a in artifacts.values()}))}
                      if artifacts else {})
    modes = dict(metric_modes or {})

    entries, summaries = _metric_entries(store, steps, events, artifacts, artifact_types)
    keys = list(dict.fromkeys(e.key for e in entries))
    for key in keys:
        modes.setdefault(key, metric_mode(key.rpartition(".")[2]))
    final = _wide_finals(entries, names, keys)
    sources = {(e.step.execution.id, e.name): e.key for e in entries if e.source == "series"}

    # object columns: a param keeps the type it was logged with (an int beside floats stays an int)
    params_long = pd.DataFrame(_param_rows(steps), columns=["run", "step_name", "name", "value"],
                               dtype=object)
    params = _wide_params(params_long, names)
    steps_frame = pd.DataFrame([_step_row(s) for s in steps],
                               columns=["run", "step_name", "execution_id", "type", "state", "started", "ended",
                                        "duration_s", "cached_from"])
    artifacts_frame = _artifact_frame(steps, events, artifacts, artifact_types)
    gpus = pd.DataFrame([_gpu_row(s) for s in steps if _gpu_row(s) is not None],
                        columns=["run", "step_name", "gpus_requested", "gpus_allocated", "gpu_hours",
                                 "gpu_utilization_mean_pct", "gpu_memory_peak_bytes", "gpu_names"])
    environment = pd.DataFrame([_environment_row(s) for s in steps],
                               columns=["run", "step_name", "git_commit", "git_branch", "git_dirty",
                                        "python_version", "host", "packages"])
    summary = _summary(refs, names, contexts, steps, steps_frame, environment)
    return Comparison(
        runs=list(refs), names=names, summary=summary, steps=steps_frame, params=params, params_long=params_long,
        final_metrics=final, artifacts=artifacts_frame, gpus=gpus, environment=environment,
        metric_modes={k: modes[k] for k in keys}, sweep=sweep, _store=store, _steps=steps, _series_sources=sources,
        logged={(e.step.run, e.key) for e in entries}, _entries=entries, _summaries=summaries,
    )


def _node_names(store: StoreInterface, executions: Sequence[pb.Execution]) -> dict[int, str]:
    """TFX's step names: the ``node`` context (``<pipeline>.<node id>``) of each execution that has one."""
    found: dict[int, str] = {}
    type_ids: dict[int, str] = {}
    for execution in executions:
        contexts = store.get_contexts_by_execution(execution.id)
        missing_types = sorted({c.type_id for c in contexts} - set(type_ids))
        if missing_types:
            type_ids.update({t.id: t.name for t in store.get_context_types_by_id(missing_types)})
        for context in contexts:
            if type_ids.get(context.type_id) == "node":
                found[execution.id] = context.name.rpartition(".")[2] or context.name
    return found


@dataclass(frozen=True)
class _Summary:
    points: int
    last_step: int
    last_value: float
    min_value: float | None
    max_value: float | None


def _metric_summaries(store: StoreInterface, execution_ids: Sequence[int]) -> dict[int, dict[str, _Summary]]:
    """Per execution and metric: points, last step and value, min and max (in the database when it is local)."""
    result: dict[int, dict[str, _Summary]] = {}
    if not execution_ids:
        return result
    if hasattr(store, "reading"):
        from mlineage.metadata.metric_reads import metric_summaries

        for execution_id in execution_ids:
            result[execution_id] = {
                s.name: _Summary(s.points, s.last_step, s.last_value, s.min_value, s.max_value)
                for s in metric_summaries(store, execution_id)
            }
        return result
    for series in store.get_metric_series(list(execution_ids)):
        values = [v for v in series.value if not math.isnan(v)]
        steps = series.step if len(series.step) == len(series.seq) else series.seq
        result.setdefault(series.execution_id, {})[series.name] = _Summary(
            len(series.seq), steps[-1] if steps else 0, series.value[-1] if series.value else math.nan,
            min(values) if values else None, max(values) if values else None)
    return result


def _artifact_metric_values(artifact: pb.Artifact, artifact_type: pb.ArtifactType) -> dict[str, float]:
    props = {name: plain(value) for name, value in artifact.properties.items()}
    props.update({name: plain(value) for name, value in artifact.custom_properties.items()})
    listed = props.get("metric_names")
    if isinstance(listed, str) and listed:
        wanted = [name for name in listed.split(",") if name]
    else:
        wanted = [name for name in sorted(props) if name not in _NOT_METRICS
                  and not name.startswith(("slice.", "baseline.")) and not isinstance(props[name], str)]
    values = {}
    for name in wanted:
        value = number(props.get(name))
        if value is not None:
            values[name] = value
    return values


def _is_metrics_artifact(artifact_type: pb.ArtifactType | None) -> bool:
    return artifact_type is not None and (artifact_type.name in METRIC_ARTIFACT_TYPES
                                          or artifact_type.base_type == _METRICS_BASE)


@dataclass
class _Entry:
    """One metric of one step: from its series (final value known, summary read when needed) or an artifact."""

    step: StepInfo
    name: str
    source: str  # "series" | "artifact"
    final: float
    key: str = ""


def _logged_finals(step: StepInfo) -> dict[str, float] | None:
    """The last values the step client keeps as ``metric.<name>`` custom properties (None when there are none)."""
    found = {}
    for name, value in step.execution.custom_properties.items():
        if name.startswith(METRIC_PREFIX):
            number_value = number(plain(value))
            if number_value is not None:
                found[name[len(METRIC_PREFIX):]] = number_value
    return found or None


def _metric_entries(
    store: StoreInterface,
    steps: Sequence[StepInfo],
    events: Sequence[pb.Event],
    artifacts: Mapping[int, pb.Artifact],
    artifact_types: Mapping[int, pb.ArtifactType],
) -> tuple[list[_Entry], dict[int, dict[str, _Summary]]]:
    """Every metric of the steps with its final value, and the summaries that had to be read for them.

    A step that kept its last values (``metric.<name>``, as the step client does) needs no read of its
    points; any other step's series are summarized in the database.
    """
    entries: list[_Entry] = []
    kept = {s.execution.id: _logged_finals(s) for s in steps}
    summaries = _metric_summaries(store, [i for i, finals in kept.items() if finals is None])
    for step in steps:
        finals = kept[step.execution.id]
        if finals is None:
            finals = {name: s.last_value for name, s in summaries.get(step.execution.id, {}).items()}
        entries.extend(_Entry(step, name, "series", value) for name, value in sorted(finals.items()))
    by_execution = {s.execution.id: s for s in steps}
    for event in events:
        if event.type != pb.Event.OUTPUT:
            continue
        artifact = artifacts.get(event.artifact_id)
        producer = by_execution.get(event.execution_id)
        if artifact is None or producer is None or not _is_metrics_artifact(artifact_types.get(artifact.type_id)):
            continue
        for name, value in _artifact_metric_values(artifact, artifact_types[artifact.type_id]).items():
            entries.append(_Entry(producer, name, "artifact", value))
    # A name that some run has from two sources is keyed <step>.<name> everywhere.
    per_run: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for entry in entries:
        per_run[(entry.step.run, entry.name)].add(f"{entry.step.step_name}:{entry.source}")
    ambiguous = {name for (_, name), where in per_run.items() if len(where) > 1}
    for entry in entries:
        entry.key = f"{entry.step.step_name}.{entry.name}" if entry.name in ambiguous else entry.name
    return entries, summaries


def _wide_finals(entries: Sequence[_Entry], names: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    values: dict[str, dict[str, float]] = {key: {} for key in keys}
    for entry in entries:
        values[entry.key][entry.step.run] = entry.final
    frame = pd.DataFrame({key: [values[key].get(run, math.nan) for run in names] for key in keys},
                         index=pd.Index(list(names), name="run"), columns=list(keys))
    return frame.astype(float)


def _param_rows(steps: Sequence[StepInfo]) -> list[tuple]:
    rows = []
    for step in steps:
        execution = step.execution
        logged = {name[len(PARAM_PREFIX):]: plain(value) for name, value in execution.custom_properties.items()
                  if name.startswith(PARAM_PREFIX)}
        if not logged and step.type_name not in BOOKKEEPING_TYPES:
            logged = {name: plain(value) for name, value in execution.properties.items()}
        for name in sorted(logged):
            rows.append((step.run, step.step_name, name, logged[name]))
    return rows


def _wide_params(params_long: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    columns: dict[str, dict[str, Any]] = {}
    for run, step_name, name, value in params_long.itertuples(index=False):
        columns.setdefault(f"{step_name}.{name}", {})[run] = value
    frame = pd.DataFrame({key: [values.get(run) for run in names] for key, values in columns.items()},
                         index=pd.Index(list(names), name="run"), columns=list(columns), dtype=object)
    return frame


def _ms(value: Any) -> pd.Timestamp | None:
    number_value = number(value)
    if number_value is None or number_value <= 0:
        return None
    return pd.Timestamp(int(number_value), unit="ms", tz="UTC")


def _times(step: StepInfo) -> tuple[pd.Timestamp | None, pd.Timestamp | None, float | None]:
    execution = step.execution
    started = _ms(step.prop("started_at_ms")) or _ms(step.prop("start_time")) or \
        _ms(execution.create_time_since_epoch)
    ended = _ms(step.prop("ended_at_ms")) or _ms(step.prop("end_time"))
    if ended is None and execution.last_known_state in _TERMINAL:
        ended = _ms(execution.last_update_time_since_epoch)
    duration = number(step.prop("duration_s"))
    if duration is None and started is not None and ended is not None:
        duration = max(0.0, (ended - started).total_seconds())
    return started, ended, duration


def _step_row(step: StepInfo) -> tuple:
    started, ended, duration = _times(step)
    return (step.run, step.step_name, step.execution.id, step.type_name,
            STATES.get(step.execution.last_known_state, "UNKNOWN"), started, ended, duration,
            step.prop("cached_from_execution_id"))


def _gpu_row(step: StepInfo) -> tuple | None:
    requested, allocated = step.prop("gpus_requested"), step.prop("gpus_allocated")
    if requested is None and allocated is None and step.prop("gpu_hours") is None:
        return None
    names: list[str] = []
    record = step.prop("gpu")
    if isinstance(record, str):
        try:
            devices = json.loads(record).get("devices") or []
            names = sorted({str(d.get("name")) for d in devices if isinstance(d, dict) and d.get("name")})
        except (ValueError, AttributeError):
            names = []
    return (step.run, step.step_name, requested, allocated, number(step.prop("gpu_hours")),
            number(step.prop("gpu_utilization_mean_pct")), step.prop("gpu_memory_peak_bytes"),
            ",".join(names) or None)


def _environment_row(step: StepInfo) -> tuple:
    return (step.run, step.step_name, step.prop("git_commit"), step.prop("git_branch"), step.prop("git_dirty"),
            step.prop("python_version"), step.prop("host"), step.prop("packages"))


def _fingerprint(props: Mapping[str, Any]) -> Any:
    for name in FINGERPRINT_PROPERTIES:
        if props.get(name) not in (None, ""):
            return props[name]
    return None


def _artifact_frame(steps: Sequence[StepInfo], events: Sequence[pb.Event], artifacts: Mapping[int, pb.Artifact],
                    artifact_types: Mapping[int, pb.ArtifactType]) -> pd.DataFrame:
    columns = ["run", "step_name", "direction", "key", "type", "artifact_id", "uri", "fingerprint", "span",
               "version", "shared_by", "runs_sharing"]
    by_execution = {s.execution.id: s for s in steps}
    users: defaultdict[int, list[str]] = defaultdict(list)
    rows = []
    for event in sorted(events, key=lambda e: (e.execution_id, e.type, e.artifact_id)):
        step = by_execution.get(event.execution_id)
        artifact = artifacts.get(event.artifact_id)
        if step is None or artifact is None:
            continue
        if event.type in (pb.Event.INPUT, pb.Event.DECLARED_INPUT, pb.Event.INTERNAL_INPUT):
            direction = "input"
        elif event.type in (pb.Event.OUTPUT, pb.Event.DECLARED_OUTPUT, pb.Event.INTERNAL_OUTPUT):
            direction = "output"
        else:
            continue
        key = event.path.steps[0].key if event.path.steps and event.path.steps[0].HasField("key") else ""
        props = {n: plain(v) for n, v in artifact.properties.items()}
        props.update({n: plain(v) for n, v in artifact.custom_properties.items()})
        if step.run not in users[artifact.id]:
            users[artifact.id].append(step.run)
        type_name = artifact_types[artifact.type_id].name if artifact.type_id in artifact_types else ""
        rows.append([step.run, step.step_name, direction, key, type_name, artifact.id, artifact.uri or None,
                     _fingerprint(props), props.get("span"), props.get("version")])
    for row in rows:
        sharing = users[row[5]]
        row.extend([",".join(sharing), len(sharing)])
    return pd.DataFrame(rows, columns=columns)


def _summary(refs: Sequence[RunRef], names: Sequence[str], contexts: Mapping[int, pb.Context],
             steps: Sequence[StepInfo], steps_frame: pd.DataFrame, environment: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for ref, name in zip(refs, names, strict=True):
        context = contexts.get(ref.context_id)
        run_steps = steps_frame[steps_frame["run"] == name]
        status = None
        if context is not None and ref.execution_id is None and "status" in context.custom_properties:
            status = plain(context.custom_properties["status"])
        if status is None:
            states = set(run_steps["state"])
            status = next((s for s in ("FAILED", "CANCELED", "RUNNING", "NEW") if s in states),
                          "COMPLETE" if states else "UNKNOWN")
        commits: list[str] = []
        if context is not None and ref.execution_id is None and "git_commit" in context.custom_properties:
            commits.append(str(plain(context.custom_properties["git_commit"])))
        if not commits:
            commits = [str(c) for c in dict.fromkeys(environment.loc[environment["run"] == name, "git_commit"])
                       if not missing(c)]
        started = run_steps["started"].dropna()
        ended = run_steps["ended"].dropna()
        start = started.min() if not started.empty else None
        end = ended.max() if not ended.empty else None
        duration = (end - start).total_seconds() if start is not None and end is not None else None
        label = None
        run_steps_info = [s for s in steps if s.run == name]
        if run_steps_info and run_steps_info[0].prop("run_name"):
            label = run_steps_info[0].prop("run_name")
        rows.append((name, ref.id, ref.type_name, label, status, len(run_steps), start, end, duration,
                     ",".join(commits) or None))
    frame = pd.DataFrame(rows, columns=["run", "id", "type", "label", "state", "steps", "started", "ended",
                                        "duration_s", "git_commit"])
    return frame.set_index("run")


__all__ = ["Comparison", "StepInfo", "build", "compare", "differing_columns", "metric_mode"]
