"""Serving: a push to TF Serving, KServe or Triton becomes a PushedModel and a deployment; its metrics are scraped.

``record_push(step, destination, ...)`` reads what was pushed, checks it, and records:

* a ``PushedModel`` output of the step (TFX's type, with TFX's ``pushed``,
  ``pushed_destination`` and ``pushed_version``, plus the server kind, the
  model name and the server's own settings), linked to the ``model`` pushed;
* a ``deployment`` context named after the deployment;
* a ``ModelServing`` execution in that context (one per deployment, external
  id ``mlineage:serving:<name>``) with the PushedModel as its input: it stands
  for the deployment's serving, and the scraped metric series hang on it.

Destinations: a TF Serving model base path (numbered version directories,
each a SavedModel), a Triton model directory (``config.pbtxt`` plus numbered
version directories; a version starting with ``0`` is ignored as Triton
does), or a KServe ``InferenceService`` file (YAML or JSON: ``storageUri``
and the runtime).

``scrape(endpoint)`` reads a Prometheus text endpoint (Triton's ``nv_*``
families, TF Serving's ``:tensorflow:serving:*``) into samples;
``record_scrape(store, deployment, samples)`` writes them as time-stamped
points of metric series named ``<model>/<version>/<metric>[labels]`` (GPU
gauges as ``gpu/<uuid>/<metric>``) on the deployment's serving execution,
each scrape one point per series (``seq`` is the scrape's time in ms, so a
repeated write stores nothing twice). ``watch`` loops; ``mlineage serving
watch`` is its command line.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlineage import errors
from mlineage.integrations import pbtext
from mlineage.integrations.tfx_types import declare_artifact_type

log = logging.getLogger("mlineage.integrations")

DEPLOYMENT_TYPE = "deployment"
SERVING_TYPE = "ModelServing"
TRITON_CONFIG = "config.pbtxt"
SCRAPE_TIMEOUT_S = 10.0
TRITON_PREFIX = "nv_"
TF_SERVING_PREFIX = ":tensorflow:serving:"
# Labels that place a sample (they become parts of the series name, not its bracketed suffix).
_PLACING_LABELS = ("model", "model_name", "version", "gpu_uuid")


def serving_key(name: str) -> str:
    return f"mlineage:serving:{name}"


# --- reading what was pushed -------------------------------------------------------------------------


@dataclass
class Push:
    """What a push put where: the server kind, the model, its version and the settings worth keeping."""

    server: str  # tf_serving | triton | kserve
    model_name: str
    version: str | None
    uri: str
    destination: str
    versions: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "pushed": 1,
            "pushed_destination": self.uri,
            "server": self.server,
            "model_name": self.model_name,
        }
        if self.version is not None:
            props["pushed_version"] = self.version
        if self.versions:
            props["available_versions"] = ",".join(self.versions)
        props.update(self.settings)
        return props


def _numbered_dirs(base: Path, *, triton: bool) -> list[str]:
    found = [p.name for p in base.iterdir() if p.is_dir() and p.name.isdigit()]
    if triton:  # Triton ignores version directories that start with "0"
        found = [n for n in found if not n.startswith("0")]
    return sorted(found, key=int)


def _pick_version(base: Path, versions: list[str], version: int | str | None, what: str) -> str:
    if not versions:
        raise errors.InvalidArgumentError(f"{base} is not {what}: no numbered version directory in it")
    if version is None:
        return versions[-1]
    wanted = str(version)
    if wanted not in versions:
        raise errors.InvalidArgumentError(f"{base} has no version {wanted} (it has {', '.join(versions)})")
    return wanted


def read_tf_serving(base_path: str | os.PathLike, version: int | str | None = None) -> Push:
    """A TF Serving model base path: ``<base>/<version>/saved_model.pb`` (the highest version unless given)."""
    base = Path(base_path)
    what = "a TF Serving model base path"
    if not base.is_dir():
        raise errors.InvalidArgumentError(f"{base} is not {what}: no such directory")
    versions = _numbered_dirs(base, triton=False)
    chosen = _pick_version(base, versions, version, what)
    model_dir = base / chosen
    if not any((model_dir / name).is_file() for name in ("saved_model.pb", "saved_model.pbtxt")):
        raise errors.InvalidArgumentError(f"{model_dir} is not a SavedModel: no saved_model.pb in it")
    settings: dict[str, Any] = {"model_base_path": str(base)}
    settings.update(_model_facts(model_dir))
    return Push("tf_serving", base.name, chosen, str(model_dir), str(base), versions, settings)


def _model_facts(path: Path) -> dict[str, Any]:
    from mlineage.integrations.models import describe_model

    try:
        facts = describe_model(path).properties()
    except (OSError, ValueError) as exc:
        return {"inspect_error": str(exc)}
    return {k: v for k, v in facts.items() if k in ("format", "framework", "sha256", "size_bytes", "file_count",
                                                   "signature_names")}


# --- Triton's config.pbtxt ---------------------------------------------------------------------------


def _compiled_triton_config(text: str) -> pbtext.Message | None:
    """The config through Triton's compiled ModelConfig proto, when its package is installed."""
    try:
        from tritonclient.grpc import model_config_pb2  # type: ignore[import-not-found]
    except ImportError:
        return None
    from google.protobuf import json_format, text_format

    message = text_format.Parse(text, model_config_pb2.ModelConfig())
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)

    def lists(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [lists(x) for x in v] if isinstance(v, list) else [lists(v)] for k, v in value.items()}
        return value

    return lists(data)


def parse_triton_config(path: str | os.PathLike) -> dict[str, Any]:
    """The fields of a Triton ``config.pbtxt`` worth recording; InvalidArgumentError naming the file when the
    text is not a model config."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.InvalidArgumentError(f"{target} is not a Triton model config: {exc}") from None
    try:
        message = _compiled_triton_config(text)
        if message is None:
            message = pbtext.parse(text)
    except Exception as exc:  # PbtextError, or protobuf's ParseError with the compiled proto
        raise errors.InvalidArgumentError(f"{target} is not a Triton model config: {exc}") from None
    try:
        return _triton_summary(message)
    except (TypeError, ValueError, AttributeError) as exc:
        raise errors.InvalidArgumentError(f"{target} is not a Triton model config: {exc}") from None


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _triton_summary(message: pbtext.Message) -> dict[str, Any]:
    known_platforms = {"tensorrt_plan", "onnxruntime_onnx", "pytorch_libtorch", "tensorflow_savedmodel",
                       "tensorflow_graphdef", "ensemble"}
    platform = pbtext.first(message, "platform")
    backend = pbtext.first(message, "backend")
    if platform is None and backend is None:
        raise ValueError("it names neither a platform nor a backend")
    if platform is not None and not isinstance(platform, str):
        raise ValueError(f"platform must be a string, got {platform!r}")
    summary: dict[str, Any] = {
        "triton_platform": platform,
        "triton_backend": backend,
        "max_batch_size": _int(pbtext.first(message, "max_batch_size", 0), "max_batch_size"),
    }
    if platform is not None and platform not in known_platforms:
        summary["triton_platform_unknown"] = 1
    groups = []
    gpu_ids: set[int] = set()
    gpu_instances = 0
    cpu_instances = 0
    for group in message.get("instance_group", []):
        if not isinstance(group, dict):
            raise ValueError("instance_group must be a message")
        kind = pbtext.first(group, "kind", "KIND_AUTO")
        count = _int(pbtext.first(group, "count", 1), "instance_group.count")
        gpus = [_int(g, "instance_group.gpus") for g in group.get("gpus", [])]
        groups.append({"kind": kind, "count": count, **({"gpus": gpus} if gpus else {})})
        if kind == "KIND_GPU":
            gpu_ids.update(gpus)
            gpu_instances += count * max(1, len(gpus))
        elif kind == "KIND_CPU":
            cpu_instances += count
    summary["instance_groups"] = groups or None
    summary["gpu_instances"] = gpu_instances
    summary["cpu_instances"] = cpu_instances
    summary["gpus"] = ",".join(str(g) for g in sorted(gpu_ids)) or None
    batching = pbtext.first(message, "dynamic_batching")
    summary["dynamic_batching"] = int(batching is not None)
    if isinstance(batching, dict):
        preferred = [_int(v, "preferred_batch_size") for v in batching.get("preferred_batch_size", [])]
        summary["preferred_batch_size"] = ",".join(map(str, preferred)) or None
        delay = pbtext.first(batching, "max_queue_delay_microseconds")
        summary["max_queue_delay_microseconds"] = None if delay is None else _int(delay, "max_queue_delay")
    for direction in ("input", "output"):
        tensors = []
        for tensor in message.get(direction, []):
            if not isinstance(tensor, dict):
                raise ValueError(f"{direction} must be a message")
            tensors.append({"name": pbtext.first(tensor, "name"), "data_type": pbtext.first(tensor, "data_type"),
                            "dims": [_int(d, "dims") for d in tensor.get("dims", [])]})
        summary[f"{direction}s"] = tensors or None
    policy = pbtext.first(message, "version_policy")
    if isinstance(policy, dict) and policy:
        summary["version_policy"] = next(iter(policy))
    return {k: v for k, v in summary.items() if v is not None}


def read_triton(model_dir: str | os.PathLike, version: int | str | None = None) -> Push:
    """A Triton model directory in a model repository: ``config.pbtxt`` and numbered version directories."""
    base = Path(model_dir)
    what = "a Triton model directory"
    if not base.is_dir():
        raise errors.InvalidArgumentError(f"{base} is not {what}: no such directory")
    config_path = base / TRITON_CONFIG
    if not config_path.is_file():
        raise errors.InvalidArgumentError(f"{base} is not {what}: no {TRITON_CONFIG} in it")
    settings = parse_triton_config(config_path)
    name = settings.pop("name", None) or base.name
    versions = _numbered_dirs(base, triton=True)
    chosen = _pick_version(base, versions, version, what)
    settings["model_repository"] = str(base.parent)
    settings.update(_model_facts(base / chosen))
    return Push("triton", name, chosen, str(base / chosen), str(base), versions, settings)


def read_kserve(path: str | os.PathLike) -> Push:
    """A KServe InferenceService manifest (YAML or JSON): its storageUri and runtime."""
    target = Path(path)
    what = "a KServe InferenceService"
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.InvalidArgumentError(f"{target} is not {what}: {exc}") from None
    try:
        document = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ImportError:
            raise errors.InvalidArgumentError(f"{target}: reading YAML needs PyYAML (or give JSON)") from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise errors.InvalidArgumentError(f"{target} is not {what}: {exc}") from None
    if not isinstance(document, dict) or document.get("kind") != "InferenceService":
        raise errors.InvalidArgumentError(f"{target} is not {what}: its kind is not InferenceService")
    metadata = document.get("metadata") or {}
    predictor = (document.get("spec") or {}).get("predictor") or {}
    if not isinstance(predictor, dict) or not metadata.get("name"):
        raise errors.InvalidArgumentError(f"{target} is not {what}: no metadata.name or spec.predictor")
    model = predictor.get("model")
    settings: dict[str, Any] = {"kserve_namespace": metadata.get("namespace")}
    if isinstance(model, dict):  # the current form: predictor.model with modelFormat and runtime
        storage = model.get("storageUri")
        settings["model_format"] = (model.get("modelFormat") or {}).get("name")
        settings["runtime"] = model.get("runtime")
        settings["runtime_version"] = model.get("runtimeVersion")
    else:  # the older form: predictor.<framework>.storageUri
        frameworks = [k for k, v in predictor.items() if isinstance(v, dict) and "storageUri" in v]
        if not frameworks:
            raise errors.InvalidArgumentError(f"{target} is not {what}: no storageUri in spec.predictor")
        storage = predictor[frameworks[0]].get("storageUri")
        settings["model_format"] = frameworks[0]
        settings["runtime_version"] = predictor[frameworks[0]].get("runtimeVersion")
    if not storage:
        raise errors.InvalidArgumentError(f"{target} is not {what}: no storageUri in spec.predictor")
    for key in ("minReplicas", "maxReplicas"):
        if key in predictor:
            settings[key.lower().replace("replicas", "_replicas")] = predictor[key]
    resources = (model if isinstance(model, dict) else {}).get("resources") or {}
    gpus = (resources.get("limits") or {}).get("nvidia.com/gpu")
    if gpus is not None:
        settings["gpus_per_replica"] = int(gpus)
    match = re.search(r"/(\d+)/?$", str(storage))
    name = metadata["name"]
    settings = {k: v for k, v in settings.items() if v is not None}
    return Push("kserve", name, match.group(1) if match else None, str(storage), str(target), [], settings)


def read_push(destination: str | os.PathLike, *, server: str | None = None,
              version: int | str | None = None) -> Push:
    """What was pushed to ``destination``; ``server`` (tf_serving, triton, kserve) is told from the files when
    not given."""
    target = Path(destination)
    if server is None:
        if target.is_file():
            server = "kserve"
        elif (target / TRITON_CONFIG).is_file():
            server = "triton"
        else:
            server = "tf_serving"
    if server == "kserve":
        return read_kserve(target)
    if server == "triton":
        return read_triton(target, version)
    if server == "tf_serving":
        return read_tf_serving(target, version)
    raise errors.InvalidArgumentError(f"unknown server kind {server!r} (tf_serving, triton or kserve)")


@dataclass
class Deployment:
    """What ``record_push`` recorded: the PushedModel and the deployment's context and serving execution keys."""

    name: str
    push: Push
    pushed_model: Any
    context_key: str
    serving_key: str


def record_push(step: Any, destination: str | os.PathLike, *, model: Any = None, deployment: str | None = None,
                server: str | None = None, version: int | str | None = None, endpoint: str | None = None,
                **properties: Any) -> Deployment:
    """Record a push from inside ``step``: a PushedModel output linked to ``model``, a deployment context and its
    serving execution. Everything is read and checked first: bad input records nothing."""
    push = read_push(destination, server=server, version=version)
    name = deployment or push.model_name
    declare_artifact_type(step, "PushedModel")
    if model is not None:
        if isinstance(model, (str, os.PathLike)):
            step.input("Model", uri=os.fspath(model), key="model")
        else:
            step.input(model.type_name, uri=model.uri, external_id=model.key, key="model")
    props = push.properties()
    props.update(properties)
    pushed = step.output("PushedModel", uri=push.uri, key="pushed_model", **props)
    context_props: dict[str, Any] = {"server": push.server, "model_name": push.model_name,
                                     "destination": push.destination, "endpoint": endpoint}
    if push.version is not None:
        context_props["model_version"] = push.version
    context_props = {k: v for k, v in context_props.items() if v is not None}
    context = step.run.add_context(DEPLOYMENT_TYPE, name, properties=context_props)
    serving_props = {**context_props, "deployment": name, "pushed_at_ms": time.time_ns() // 1_000_000,
                     "pipeline_name": step.run.pipeline, "run_id": step.run.run_id}
    step.record_execution(serving_key(name), SERVING_TYPE, name, properties=serving_props, contexts=[context],
                          inputs=[pushed])
    return Deployment(name, push, pushed, context, serving_key(name))


# --- scraping ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass
class Scrape:
    endpoint: str
    timestamp_ms: int
    samples: list[Sample]


def fetch_metrics(endpoint: str, timeout: float = SCRAPE_TIMEOUT_S) -> str:
    """The Prometheus text at ``endpoint``; UnavailableError naming the URL when it cannot be read."""
    if not endpoint.startswith(("http://", "https://")):
        raise errors.InvalidArgumentError(f"{endpoint!r} is not an http(s) URL of a metrics endpoint")
    try:
        with urllib.request.urlopen(endpoint, timeout=timeout) as answer:  # noqa: S310 - the scheme is checked
            return answer.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        raise errors.UnavailableError(f"{endpoint} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise errors.UnavailableError(f"no metrics at {endpoint}: {reason}") from None


def parse_metrics(text: str, *, source: str = "the metrics text") -> list[Sample]:
    """Triton's and TF Serving's samples in a Prometheus exposition text (others are left out)."""
    from prometheus_client.parser import text_string_to_metric_families

    samples = []
    try:
        for family in text_string_to_metric_families(text):
            # prometheus_client names a counter's samples <name>_total; Triton and TF Serving write <name>.
            renamed = family.type == "counter" and f"{family.name}_total" not in text
            for sample in family.samples:
                name = family.name if renamed and sample.name == f"{family.name}_total" else sample.name
                if not (name.startswith(TRITON_PREFIX) or name.startswith(TF_SERVING_PREFIX)):
                    continue
                if name.endswith("_bucket") or "quantile" in sample.labels:
                    continue  # histogram buckets and summary quantiles: _sum and _count carry the means
                samples.append(Sample(name, tuple(sorted(sample.labels.items())), float(sample.value)))
    except ValueError as exc:
        raise errors.InvalidArgumentError(f"{source} is not Prometheus text: {exc}") from None
    return samples


def scrape(endpoint: str, timeout: float = SCRAPE_TIMEOUT_S) -> Scrape:
    """One scrape of a serving endpoint's metrics."""
    text = fetch_metrics(endpoint, timeout)
    stamp = time.time_ns() // 1_000_000
    return Scrape(endpoint, stamp, parse_metrics(text, source=endpoint))


def series_name(sample: Sample, default_version: str | None) -> str:
    """``<model>/<version>/<metric>[other=labels]``, or ``gpu/<uuid>/<metric>`` for a GPU's gauges."""
    labels = dict(sample.labels)
    metric = sample.name.lstrip(":")
    extra = ",".join(f"{k}={v}" for k, v in sample.labels if k not in _PLACING_LABELS)
    suffix = f"[{extra}]" if extra else ""
    if "gpu_uuid" in labels:
        return f"gpu/{labels['gpu_uuid']}/{metric}{suffix}"
    model = labels.get("model") or labels.get("model_name")
    if model is None:
        return f"server/{metric}{suffix}"
    version = labels.get("version") or default_version or "-"
    return f"{model}/{version}/{metric}{suffix}"


def _serving_execution(store: Any, deployment: str):
    try:
        found = store.get_executions_by_external_ids([serving_key(deployment)])
    except errors.NotFoundError:
        found = []
    if not found:
        raise errors.NotFoundError(
            f"no deployment named {deployment!r}: record its push first (mlineage.integrations.serving.record_push)")
    return found[0]


def record_scrape(store: Any, deployment: str, scraped: Scrape) -> int:
    """Write a scrape's samples as points of the deployment's serving metric series; returns the points stored."""
    from mlineage.proto import metric_series_pb2 as mpb

    execution = _serving_execution(store, deployment)
    version = execution.custom_properties["model_version"].string_value \
        if "model_version" in execution.custom_properties else None
    values: dict[str, float] = {}
    for sample in scraped.samples:
        if math.isfinite(sample.value):
            values[series_name(sample, version)] = sample.value
    series = [
        mpb.MetricSeries(execution_id=execution.id, name=name[:255], seq=[scraped.timestamp_ms],
                         step=[scraped.timestamp_ms], value=[value], timestamp_ms=[scraped.timestamp_ms])
        for name, value in sorted(values.items())
    ]
    if not series:
        return 0
    return int(store.put_metric_series(series))


def parse_interval(text: str) -> float:
    """Seconds in ``30s``, ``500ms``, ``2m``, ``1h`` or a plain number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not match:
        raise errors.InvalidArgumentError(f"{text!r} is not an interval (e.g. 30s, 500ms, 2m)")
    seconds = float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]
    if seconds <= 0:
        raise errors.InvalidArgumentError("the interval must be positive")
    return seconds


def watch(store: Any, endpoint: str, deployment: str, every: float, *, count: int | None = None,
          on_scrape: Callable[[Scrape | None, int, Exception | None], None] | None = None,
          sleep: Callable[[float], None] = time.sleep) -> int:
    """Scrape ``endpoint`` every ``every`` seconds (``count`` times, or until interrupted) into the deployment's
    series. An unreachable endpoint is reported to ``on_scrape`` and retried at the next tick; returns how many
    scrapes failed."""
    _serving_execution(store, deployment)  # a deployment that does not exist stops the watch before it starts
    failed = 0
    done = 0
    while count is None or done < count:
        started = time.monotonic()
        try:
            scraped = scrape(endpoint)
            stored = record_scrape(store, deployment, scraped)
            if on_scrape is not None:
                on_scrape(scraped, stored, None)
        except (errors.UnavailableError, errors.InvalidArgumentError) as exc:
            failed += 1
            if on_scrape is not None:
                on_scrape(None, 0, exc)
        done += 1
        if count is None or done < count:
            sleep(max(0.0, every - (time.monotonic() - started)))
    return failed


__all__ = [
    "DEPLOYMENT_TYPE", "SERVING_TYPE", "Deployment", "Push", "Sample", "Scrape",
    "fetch_metrics", "parse_interval", "parse_metrics", "parse_triton_config", "read_kserve", "read_push",
    "read_tf_serving", "read_triton", "record_push", "record_scrape", "scrape",
    "series_name", "serving_key", "watch",
]
