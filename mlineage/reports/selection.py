"""Which runs a comparison is about: named runs, a filter over run contexts, the last N of a pipeline, a sweep.

A *run* is a context that groups the executions of one try: the step
client's and TFX's ``pipeline_run``, the MLflow adapter's ``mlflow.Run``
(see ``api/mlflow/mapping.py``), or any context whose type the caller names in
``run_types``. Its pipeline is a parent context (``pipeline``,
``mlflow.Experiment``) or, for TFX runs written without parent links, a context
its executions share. An OpenLineage job (``openlineage.Job``) holds one
execution per run: selected as a pipeline, each execution is one run.

Every mistake is an ``InvalidArgumentError`` that says what to pass instead:
no selector, two selectors at once, an unknown run, pipeline or sweep, a
``last`` that is not positive, or a selection that matches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlineage.errors import InvalidArgumentError, MlineageError
from mlineage.metadata.interface import StoreInterface
from mlineage.metadata.options import ListOptions, OrderByField
from mlineage.proto import metadata_store_pb2 as pb

#: Context types that are runs unless the caller says otherwise.
RUN_TYPES: tuple[str, ...] = ("pipeline_run", "mlflow.Run")
#: Context types that group runs ("the last N runs of pipeline P").
PIPELINE_TYPES: tuple[str, ...] = ("pipeline", "mlflow.Experiment", "openlineage.Job")
OPENLINEAGE_JOB_TYPE = "openlineage.Job"
MAX_RUNS = 1000


@dataclass(frozen=True)
class RunRef:
    """One selected run: a context (``execution_id`` set when the run is one execution of a job context)."""

    name: str
    context_id: int
    type_name: str
    created_ms: int
    execution_id: int | None = None

    @property
    def id(self) -> int:
        """The id the reports show: the run context's (or, for a job's run, the execution's)."""
        return self.execution_id if self.execution_id is not None else self.context_id


def select_runs(
    store: StoreInterface,
    runs: Sequence[str | int] | None = None,
    *,
    pipeline: str | None = None,
    last: int | None = None,
    sweep: str | int | None = None,
    filter_query: str | None = None,
    run_types: Sequence[str] = RUN_TYPES,
) -> list[RunRef]:
    """The runs named by exactly one selector, in the order given (named runs) or oldest first.

    ``runs``: run context names or ids (an int, or a string of digits that is no run's name).
    ``pipeline``: the runs of that pipeline (a ``pipeline``/``mlflow.Experiment``/``openlineage.Job``
    context, by name or id). ``sweep``: the child contexts (trials) of that context. ``filter_query``:
    MLMD's filter language over the contexts of ``run_types``. ``last`` keeps the newest N of a
    pipeline, sweep or filter selection (still listed oldest first).
    """
    chosen = [name for name, value in (("runs", runs), ("pipeline", pipeline), ("sweep", sweep),
                                        ("filter", filter_query)) if value not in (None, "", [], ())]
    if not chosen:
        raise InvalidArgumentError("name the runs to compare: run names or ids, a pipeline (with last), "
                                   "a sweep or a filter")
    if len(chosen) > 1:
        raise InvalidArgumentError(f"choose one way to select runs, not {' and '.join(chosen)}")
    if last is not None:
        if isinstance(last, bool) or not isinstance(last, int) or last < 1:
            raise InvalidArgumentError(f"last must be a positive number of runs, got {last!r}")
        if runs:
            raise InvalidArgumentError("last applies to a pipeline, a sweep or a filter, not to named runs")
    types = tuple(dict.fromkeys(run_types))
    if runs:
        found = [_named_run(store, given, types) for given in runs]
        duplicates = sorted({ref.name for ref in found if sum(r.id == ref.id for r in found) > 1})
        if duplicates:
            raise InvalidArgumentError(f"run {duplicates[0]!r} is named twice")
        return found
    if pipeline:
        found = _pipeline_runs(store, pipeline, types)
        what = f"pipeline {pipeline!r} has no runs"
    elif sweep not in (None, ""):
        found = _sweep_trials(store, sweep)  # type: ignore[arg-type]
        what = f"sweep {sweep!r} has no trials (child contexts)"
    else:
        found = _filtered_runs(store, str(filter_query), types)
        what = f"no run ({', '.join(types)}) matches the filter {filter_query!r}"
    found.sort(key=lambda ref: (ref.created_ms, ref.id))
    if last is not None:
        found = found[-last:]
    if not found:
        raise InvalidArgumentError(what)
    if len(found) > MAX_RUNS:
        raise InvalidArgumentError(f"{len(found)} runs selected; compare at most {MAX_RUNS} (use last)")
    return found


def _ref(context: pb.Context, type_name: str) -> RunRef:
    return RunRef(context.name, context.id, type_name, context.create_time_since_epoch)


def _type_names(store: StoreInterface, contexts: Sequence[pb.Context]) -> dict[int, str]:
    ids = sorted({c.type_id for c in contexts})
    return {t.id: t.name for t in store.get_context_types_by_id(ids)} if ids else {}


def _contexts_named(store: StoreInterface, name: str) -> list[pb.Context]:
    if "\x00" in name:  # no stored name holds NUL (and PostgreSQL refuses it in a query)
        return []
    quoted = name.replace("\\", "\\\\").replace("'", "\\'")
    try:
        return store.get_contexts(ListOptions(filter_query=f"name = '{quoted}'"))
    except InvalidArgumentError:
        return []


def _by_id(store: StoreInterface, given: str | int) -> pb.Context | None:
    text = str(given).strip()
    if not text.isdigit() or len(text) > 18:
        return None
    found = store.get_contexts_by_id([int(text)])
    return found[0] if found else None


def _named_run(store: StoreInterface, given: str | int, types: Sequence[str]) -> RunRef:
    """A run by context name (runs of ``types`` first, then any context of that name) or by id."""
    if isinstance(given, bool) or not isinstance(given, (str, int)) or str(given).strip() == "":
        raise InvalidArgumentError(f"a run is a context name or id, got {given!r}")
    if isinstance(given, str):
        candidates = _contexts_named(store, given)
        names = _type_names(store, candidates)
        runs = [c for c in candidates if names.get(c.type_id) in types]
        if len(runs) == 1 or (not runs and len(candidates) == 1):
            context = (runs or candidates)[0]
            return _ref(context, names[context.type_id])
        if len(runs) > 1 or len(candidates) > 1:
            kinds = ", ".join(sorted({names.get(c.type_id, "?") for c in runs or candidates}))
            raise InvalidArgumentError(f"{given!r} names contexts of several types ({kinds}): pass the run's id")
    by_id = _by_id(store, given)
    if by_id is None:
        raise InvalidArgumentError(f"unknown run {given!r}: no context has that name or id")
    return _ref(by_id, _type_names(store, [by_id])[by_id.type_id])


def _group_context(store: StoreInterface, given: str | int, types: Sequence[str], what: str) -> tuple[pb.Context, str]:
    if isinstance(given, str):
        candidates = _contexts_named(store, given)
        names = _type_names(store, candidates)
        wanted = [c for c in candidates if names.get(c.type_id) in types] or candidates
        if len(wanted) == 1:
            return wanted[0], names[wanted[0].type_id]
        if len(wanted) > 1:
            raise InvalidArgumentError(f"{given!r} names several contexts: pass the {what}'s id")
    by_id = _by_id(store, given)
    if by_id is None:
        raise InvalidArgumentError(f"unknown {what} {given!r}: no context has that name or id")
    return by_id, _type_names(store, [by_id])[by_id.type_id]


def _pipeline_runs(store: StoreInterface, pipeline: str, types: Sequence[str]) -> list[RunRef]:
    context, type_name = _group_context(store, pipeline, PIPELINE_TYPES, "pipeline")
    if type_name == OPENLINEAGE_JOB_TYPE:
        executions = store.get_executions_by_context(context.id, ListOptions(order_by=OrderByField.ID))
        return [RunRef(e.name or e.external_id or str(e.id), context.id, type_name, e.create_time_since_epoch, e.id)
                for e in executions]
    children = store.get_children_contexts_by_context(context.id)
    names = _type_names(store, children)
    found = {c.id: _ref(c, names[c.type_id]) for c in children if names.get(c.type_id) in types}
    if not found:
        # TFX links a run to its pipeline only through the executions both contexts hold.
        for execution in store.get_executions_by_context(context.id, ListOptions(order_by=OrderByField.ID)):
            shared = store.get_contexts_by_execution(execution.id)
            shared_names = _type_names(store, shared)
            for other in shared:
                if shared_names.get(other.type_id) in types and other.id not in found:
                    found[other.id] = _ref(other, shared_names[other.type_id])
    return list(found.values())


def _sweep_trials(store: StoreInterface, sweep: str | int) -> list[RunRef]:
    context, _ = _group_context(store, sweep, (), "sweep")
    children = store.get_children_contexts_by_context(context.id)
    names = _type_names(store, children)
    return [_ref(c, names[c.type_id]) for c in children]


def _filtered_runs(store: StoreInterface, query: str, types: Sequence[str]) -> list[RunRef]:
    found: list[RunRef] = []
    for type_name in types:
        try:
            contexts = store.get_contexts_by_type(type_name, list_options=ListOptions(filter_query=query))
        except MlineageError as exc:
            if isinstance(exc, InvalidArgumentError):
                raise InvalidArgumentError(f"invalid filter {query!r}: {exc}") from None
            raise
        found.extend(_ref(c, type_name) for c in contexts)
    return found


__all__ = ["MAX_RUNS", "PIPELINE_TYPES", "RUN_TYPES", "RunRef", "select_runs"]
