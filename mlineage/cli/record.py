"""``mlineage record``: a step that is not Python records its output (TFDV, TF.Transform, TFMA, a push) in one go.

    mlineage record tfdv-stats /pipe/StatisticsGen/statistics/7 --run r1 --step StatisticsGen \\
        --input Examples:/pipe/CsvExampleGen/examples/6 --url grpc://mlineage:8080

Each kind calls its integration (``mlineage.integrations.tfdv``, ``tft``,
``tfma``, ``serving``) inside a step ``<pipeline>/<run>/<step>`` of the run,
so the artifacts get the same type names, properties and links as from
Python. ``--input TYPE:URI`` links what the step read: the newest artifact of
that type at that URI (an earlier step's output), or a new one there. The
output is read and checked before anything is recorded (a pass over a step
that records nothing), so bad input is one line on stderr, exit 2, and the
store is left as it was.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlineage.cli.stores import DEFAULT_DB
from mlineage.errors import FailedPreconditionError, InvalidArgumentError


@dataclass(frozen=True)
class Kind:
    """One ``record`` kind: its integration's module and function, and which ``--input`` types it takes itself."""

    name: str
    help: str
    module: str
    function: str
    inputs: dict[str, str]  # --input type -> the function's keyword (the rest are linked as extra inputs)
    takes_uri: bool = True
    options: tuple[str, ...] = ()  # the function's keywords that the kind's own options fill


KINDS = (
    Kind("tfdv-stats", "TFDV statistics (a StatisticsGen output or a FeatureStats.pb) as ExampleStatistics",
         "mlineage.integrations.tfdv", "record_statistics", {"Examples": "examples"}, options=("span", "split")),
    Kind("tfdv-schema", "a TFDV schema (schema.pbtxt) as Schema", "mlineage.integrations.tfdv", "record_schema",
         {"ExampleStatistics": "statistics"}),
    Kind("tfdv-anomalies", "TFDV anomalies (an ExampleValidator output or a SchemaDiff.pb) as ExampleAnomalies",
         "mlineage.integrations.tfdv", "record_anomalies", {"ExampleStatistics": "statistics", "Schema": "schema"},
         options=("span", "split")),
    Kind("tft", "a TF.Transform output directory as TransformGraph (and the transformed Examples)",
         "mlineage.integrations.tft", "record_transform", {"Examples": "examples", "Schema": "schema"},
         options=("transformed_examples_uri",)),
    Kind("tfma", "a TFMA evaluation output as ModelEvaluation (and ModelBlessing)",
         "mlineage.integrations.tfma", "record_evaluation", {"Model": "model", "Examples": "examples"}),
    Kind("push", "a push (TF Serving base path, Triton model directory, KServe InferenceService) as PushedModel "
                 "and a deployment", "mlineage.integrations.serving", "record_push", {"Model": "model"},
         takes_uri=False, options=("deployment", "server", "version", "endpoint")),
)

OPTION_HELP = {
    "span": "the span (default: the input Examples' span)",
    "split": "the split name of a single statistics or anomalies file (default: all)",
    "transformed_examples_uri": "where the transformed examples were written (recorded as Examples)",
    "deployment": "the deployment's name (default: the model's name)",
    "server": "tf_serving, triton or kserve (default: told from the files)",
    "version": "the version pushed (default: the newest numbered directory)",
    "endpoint": "the serving endpoint, kept on the deployment",
}


def available_kinds() -> list[Kind]:
    """The kinds whose integration module is installed in this checkout."""
    return [kind for kind in KINDS if importlib.util.find_spec(kind.module) is not None]


def add_parser(commands) -> None:
    """Register ``record`` and its kinds on the CLI's subparsers."""
    parser = commands.add_parser(
        "record",
        help="record a step's output (TFDV, TF.Transform, TFMA, a push) from the command line",
        description="Record what a pipeline step wrote as typed, linked metadata, as the Python integrations "
                    "do: for steps that are not Python (a container, a shell script). The output is checked "
                    "before anything is written.",
    )
    kinds = parser.add_subparsers(dest="record_kind", required=True, metavar="KIND")
    for kind in available_kinds():
        sub = kinds.add_parser(kind.name, help=kind.help, description=kind.help + ".")
        sub.add_argument("path", metavar="PATH", help="the output's file or directory")
        sub.add_argument("--run", dest="run_id", required=True, help="the run id (the pipeline_run context)")
        sub.add_argument("--step", required=True, help="the step's name (its execution <pipeline>/<run>/<step>)")
        sub.add_argument("--pipeline", help="the pipeline's name (default: $MLINEAGE_PIPELINE or 'default')")
        sub.add_argument("--type", dest="step_type", help="the execution's type (default: TFX's class path for a "
                                                           "standard component's name, else the step's name)")
        sub.add_argument("--input", action="append", default=[], metavar="TYPE:URI",
                         help="an artifact the step read, e.g. Examples:/pipe/ExampleGen/examples/3 (repeatable)")
        if kind.takes_uri:
            sub.add_argument("--uri", help="the artifact's URI when it is not PATH (e.g. gs://… read locally)")
        for option in kind.options:
            sub.add_argument(f"--{option.replace('_', '-')}", dest=option,
                             type=int if option == "span" else str, help=OPTION_HELP[option])
        sub.add_argument("--url", "--db", dest="url",
                         help=f"store URL: grpc://host:port, sqlite:///…, postgresql://… "
                              f"(default: $MLINEAGE_URL, $MLINEAGE_DB or {DEFAULT_DB})")
        sub.set_defaults(handler=run_record, record=kind)


# --- a step that records nothing, to check the output first ---------------------------------------


class _DryRun:
    def __init__(self, pipeline: str, run_id: str) -> None:
        self.pipeline = pipeline
        self.run_id = run_id
        self.name = f"{pipeline}/{run_id}"
        self.sink = None  # declare_artifact_type finds no store: nothing is declared

    def add_context(self, type_name: str, name: str, *, properties: Any = None) -> str:
        return f"mlineage:{type_name}:{name}"


class _DryStep:
    """Answers what an integration asks of a step and records nothing."""

    def __init__(self, pipeline: str, run_id: str, name: str) -> None:
        self.run = _DryRun(pipeline, run_id)
        self.name = name
        self.props: dict[str, Any] = {}

    def _ref(self, type_name: str, uri: str | None, external_id: str | None, properties: dict[str, Any]):
        from mlineage.client.tracking import ArtifactRef

        return ArtifactRef(external_id or f"dry:{type_name}:{uri}", type_name, uri, dict(properties))

    def input(self, type_name: str, uri: str | None = None, *, external_id: str | None = None,
              key: str | None = None, **properties: Any):
        return self._ref(type_name, uri, external_id, properties)

    def output(self, type_name: str, uri: str | None = None, *, external_id: str | None = None,
               key: str | None = None, **properties: Any):
        return self._ref(type_name, uri, external_id, properties)

    def output_model(self, uri: str, **options: Any):
        return self._ref(options.get("type_name", "Model"), uri, options.get("external_id"), {})

    def record_execution(self, key: str, *args: Any, **kwargs: Any) -> str:
        return key

    def log_params(self, *args: Any, **kwargs: Any) -> None:
        return None

    def set_properties(self, **properties: Any) -> None:
        return None


# --- the command -----------------------------------------------------------------------------------


def _arguments(kind: Kind, args: argparse.Namespace, inputs: list[tuple[str, str]]):
    """(the function's keyword arguments, the --input pairs it does not take itself)."""
    keywords: dict[str, Any] = {}
    extra: list[tuple[str, str]] = []
    for type_name, uri in inputs:
        keyword = kind.inputs.get(type_name)
        if keyword is not None and keyword not in keywords:
            keywords[keyword] = uri
        else:
            extra.append((type_name, uri))
    if kind.takes_uri and getattr(args, "uri", None):
        keywords["uri"] = args.uri
    for option in kind.options:
        value = getattr(args, option, None)
        if value is not None:
            keywords[option] = value
    return keywords, extra


def _stored_inputs(store: Any, keywords: dict[str, Any], kind: Kind) -> None:
    """Replace each ``--input`` URI the integration takes with the newest stored artifact of that type there (so
    it reads its properties: the examples' span); one that is not stored stays a URI (a new artifact)."""
    from mlineage import errors
    from mlineage.client.records import from_value
    from mlineage.client.tracking import ArtifactRef

    for type_name, keyword in kind.inputs.items():
        uri = keywords.get(keyword)
        if not isinstance(uri, str):
            continue
        try:
            type_id = store.get_artifact_type(type_name).id
            found = [a for a in store.get_artifacts_by_uri(uri) if a.type_id == type_id]
        except errors.MlineageError:  # no such type yet, or a server not reachable now: a URI it stays
            continue
        if not found:
            continue
        newest = max(found, key=lambda a: (a.create_time_since_epoch, a.id))
        values = {name: from_value(v) for name, v in newest.custom_properties.items()}
        values.update({name: from_value(v) for name, v in newest.properties.items()})
        if newest.external_id:
            keywords[keyword] = ArtifactRef(newest.external_id, type_name, uri, values)
        elif "span" in kind.options and keywords.get("span") is None and isinstance(values.get("span"), int):
            keywords["span"] = values["span"]


def _refs(result: Any) -> list[Any]:
    """The artifact refs an integration returned (a ref, a tuple of them, or a Deployment)."""
    if result is None:
        return []
    if hasattr(result, "type_name") and hasattr(result, "key"):
        return [result]
    if hasattr(result, "pushed_model"):
        return [result.pushed_model]
    if isinstance(result, tuple):
        return [ref for part in result for ref in _refs(part)]
    return []


def _record(function: Callable, step: Any, path: str, keywords: dict[str, Any],
            extra: list[tuple[str, str]]) -> Any:
    from mlineage.integrations.training import link_inputs

    result = function(step, path, **keywords)
    link_inputs(step, extra)
    return result


def run_record(args: argparse.Namespace) -> int:
    from mlineage.client.tracking import start_run
    from mlineage.integrations.tfx_types import tfx_step
    from mlineage.integrations.training import parse_input
    from mlineage.metadata.kinds import ARTIFACT

    kind: Kind = args.record
    inputs = [parse_input(text) for text in args.input]
    if not os.path.exists(args.path):
        raise InvalidArgumentError(f"{args.path}: no such file or directory")
    try:
        module = importlib.import_module(kind.module)
    except ImportError as exc:
        raise FailedPreconditionError(f"`mlineage record {kind.name}` needs {kind.module}: {exc}") from None
    function = getattr(module, kind.function)
    keywords, extra = _arguments(kind, args, inputs)
    pipeline = args.pipeline or os.environ.get("MLINEAGE_PIPELINE") or "default"
    _record(function, _DryStep(pipeline, args.run_id, args.step), args.path, keywords, extra)  # checks, writes nothing

    url = args.url or os.environ.get("MLINEAGE_URL") or os.environ.get("MLINEAGE_DB") or DEFAULT_DB
    with start_run(pipeline, args.run_id, url=url) as run:
        store = getattr(run.sink, "store", None)
        if store is not None:
            _stored_inputs(store, keywords, kind)
        # As TFX records a node: a standard component's class path as the type, the node's context.
        with tfx_step(run, args.step, type=args.step_type) as step:
            result = _record(function, step, args.path, keywords, extra)
        stored = run.flush(10.0)
        for ref in _refs(result):
            known = run.sink.known_id(ARTIFACT, ref.key) if stored else None
            where = f"artifact {known}" if known is not None else "waiting in the journal"
            print(f"recorded {ref.type_name} {ref.uri} ({where}) in {step.execution_name}")
    return 0
