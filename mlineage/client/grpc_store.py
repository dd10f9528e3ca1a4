"""GrpcStore: the methods of ``metadata.Store``, with the same signatures and answers, over gRPC.

The methods are generated from one table (``_RPCS``): each row names a Store
method, the RPC that serves it, how the method's arguments fill the request
and which field of the response is the answer. The signature and docstring
are copied from ``Store``, so ``help(GrpcStore.put_artifacts)`` and
``inspect.signature`` read the same as for the embedded store. Status codes
come back as ``mlineage.errors`` classes; UNAVAILABLE and ABORTED are retried
with exponential backoff.
"""

from __future__ import annotations
import __future__

import inspect
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

# gRPC's core logs a line per failed TLS handshake or connection at its default verbosity; a step's
# stderr should say what happened once, in mlineage's words (set GRPC_VERBOSITY to see them).
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc  # noqa: E402 - after the verbosity default

from mlineage import errors
from mlineage.metadata.options import ListingMethods
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc
from mlineage.proto import metric_series_pb2 as mpb

STORE_SERVICE = "mlineage.v1.MetadataStoreService"
METRIC_SERVICE = "mlineage.v1.MetricService"
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED)
# Codes that come from the channel when no server answered (anything else is the server's answer).
NO_ANSWER = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)
# How long one connection attempt may take (TCP, TLS and the HTTP/2 settings exchange): a host that
# accepts connections but never speaks HTTP/2 fails after this long instead of after the call's deadline.
CONNECT_TIMEOUT_MS = 500


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rpc:
    """One Store method served by one RPC.

    ``signature`` is the method's signature as Store declares it (a test holds
    the two equal; Store itself is not imported, to keep SQLAlchemy out of a
    remote client). ``fields`` maps a parameter to the request field it fills
    (a dotted path for nested fields; unnamed parameters fill the field of the
    same name). ``build`` replaces that mapping for requests with a shape of
    their own. ``result`` is the response field returned (``None``: nothing),
    or a function of the response and the bound arguments.
    """

    method: str
    rpc: str
    signature: str
    result: str | Callable[[Any, dict], Any] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    build: Callable[[Any, dict], None] | None = None
    service: str = STORE_SERVICE
    module: Any = svc
    doc: str | None = None


def _signature(text: str) -> inspect.Signature:
    """An inspect.Signature from ``"(self, x: int = 0) -> int"``, annotations kept as strings (as Store's are)."""
    code = compile(f"def method{text}: pass", "<signature>", "exec",
                   flags=__future__.annotations.compiler_flag, dont_inherit=True)
    namespace: dict[str, Any] = {}
    exec(code, {}, namespace)  # noqa: S102 - our own constant text
    return inspect.signature(namespace["method"])


def _first(name: str) -> Callable[[Any, dict], Any]:
    """The message in field ``name``, or None when the server sent none (a lookup that found nothing)."""
    return lambda response, _args: getattr(response, name) if response.HasField(name) else None


def _pairs(response, _args) -> list[tuple[pb.Artifact, pb.ArtifactType]]:
    types = {artifact_type.id: artifact_type for artifact_type in response.artifact_types}
    return [(artifact, types[artifact.type_id]) for artifact in response.artifacts]


def _related(kind: str, inner: str) -> Callable[[Any, dict], dict[int, list[pb.Context]]]:
    def read(response, args) -> dict[int, list[pb.Context]]:
        return {
            context_id: list(getattr(response.contexts[context_id], inner)) if context_id in response.contexts else []
            for context_id in dict.fromkeys(args["context_ids"])
        }

    return read


def _build_put_execution(request, args) -> None:
    request.execution.CopyFrom(args["execution"])
    for pair in args["artifact_and_events"]:
        artifact, event = (tuple(pair) + (None, None))[:2]
        added = request.artifact_event_pairs.add()
        if artifact is not None:
            added.artifact.CopyFrom(artifact)
        if event is not None:
            added.event.CopyFrom(event)
    request.contexts.extend(args["contexts"])
    for name in ("reuse_context_if_already_exist", "reuse_artifact_if_already_exist_by_external_id",
                 "force_reuse_context", "force_update_time"):
        setattr(request.options, name, bool(args[name]))


def _build_put_lineage_subgraph(request, args) -> None:
    request.executions.extend(args["executions"])
    request.artifacts.extend(args["artifacts"])
    request.contexts.extend(args["contexts"])
    for execution_index, artifact_index, event in args["event_edges"]:
        edge = request.event_edges.add()
        if execution_index is not None:
            edge.execution_index = execution_index
        if artifact_index is not None:
            edge.artifact_index = artifact_index
        edge.event.CopyFrom(event)
    request.options.reuse_context_if_already_exist = bool(args["reuse_context_if_already_exist"])
    request.options.reuse_artifact_if_already_exist_by_external_id = bool(
        args["reuse_artifact_if_already_exist_by_external_id"]
    )


_TYPE_OPTIONS = ("can_add_fields: bool = False, can_delete_fields: bool = False, all_fields_match: bool = True, "
                 "can_omit_fields: bool = False")


def _by_type_kinds() -> list[Rpc]:
    rows = []
    for kind, title in (("artifact", "Artifact"), ("execution", "Execution"), ("context", "Context")):
        rows += [
            Rpc(f"put_{kind}_type", f"Put{title}Type",
                f"(self, {kind}_type: pb.{title}Type, {_TYPE_OPTIONS}) -> int", "type_id"),
            Rpc(f"get_{kind}_type", f"Get{title}Type",
                f"(self, type_name: str, type_version: str | None = None) -> pb.{title}Type", f"{kind}_type"),
            Rpc(f"get_{kind}_types", f"Get{title}Types", f"(self) -> list[pb.{title}Type]", f"{kind}_types"),
            Rpc(f"get_{kind}_types_by_id", f"Get{title}TypesByID",
                f"(self, type_ids: Sequence[int]) -> list[pb.{title}Type]", f"{kind}_types"),
            Rpc(f"get_{kind}_types_by_external_ids", f"Get{title}TypesByExternalIds",
                f"(self, external_ids: Sequence[str]) -> list[pb.{title}Type]", f"{kind}_types"),
            Rpc(f"get_{kind}s_by_id", f"Get{title}sByID",
                f"(self, {kind}_ids: Sequence[int]) -> list[pb.{title}]", f"{kind}s"),
            Rpc(f"get_{kind}s_by_external_ids", f"Get{title}sByExternalIds",
                f"(self, external_ids: Sequence[str]) -> list[pb.{title}]", f"{kind}s"),
            Rpc(f"get_{kind}_by_type_and_name", f"Get{title}ByTypeAndName",
                f"(self, type_name: str, {kind}_name: str, type_version: str | None = None) -> pb.{title} | None",
                _first(kind)),
        ]
    rows += [
        Rpc("put_artifacts", "PutArtifacts",
            "(self, artifacts: Sequence[pb.Artifact], field_mask_paths: Sequence[str] | None = None, "
            "abort_if_latest_updated_time_changed: bool = False) -> list[int]", "artifact_ids",
            fields={"field_mask_paths": "update_mask.paths",
                    "abort_if_latest_updated_time_changed": "options.abort_if_latest_updated_time_changed"}),
        Rpc("put_executions", "PutExecutions",
            "(self, executions: Sequence[pb.Execution], field_mask_paths: Sequence[str] | None = None) -> list[int]",
            "execution_ids", fields={"field_mask_paths": "update_mask.paths"}),
        Rpc("put_contexts", "PutContexts",
            "(self, contexts: Sequence[pb.Context], field_mask_paths: Sequence[str] | None = None) -> list[int]",
            "context_ids", fields={"field_mask_paths": "update_mask.paths"}),
    ]
    return rows


_RPCS: list[Rpc] = [
    *_by_type_kinds(),
    Rpc("put_types", "PutTypes",
        "(self, artifact_types: Sequence[pb.ArtifactType] = (), execution_types: Sequence[pb.ExecutionType] = (), "
        "context_types: Sequence[pb.ContextType] = (), can_add_fields: bool = False, can_omit_fields: bool = False)"
        " -> tuple[list[int], list[int], list[int]]",
        lambda r, _a: (list(r.artifact_type_ids), list(r.execution_type_ids), list(r.context_type_ids))),
    Rpc("put_events", "PutEvents", "(self, events: Sequence[pb.Event]) -> None"),
    Rpc("put_execution", "PutExecution",
        "(self, execution: pb.Execution, artifact_and_events: Sequence[tuple[pb.Artifact | None, pb.Event | None]], "
        "contexts: Sequence[pb.Context], reuse_context_if_already_exist: bool = False, "
        "reuse_artifact_if_already_exist_by_external_id: bool = False, force_reuse_context: bool = False, "
        "force_update_time: bool = False) -> tuple[int, list[int], list[int]]",
        lambda r, _a: (r.execution_id, list(r.artifact_ids), list(r.context_ids)), build=_build_put_execution),
    Rpc("put_lineage_subgraph", "PutLineageSubgraph",
        "(self, executions: Sequence[pb.Execution], artifacts: Sequence[pb.Artifact], contexts: Sequence[pb.Context], "
        "event_edges: Sequence[tuple[int | None, int | None, pb.Event]], reuse_context_if_already_exist: bool = False, "
        "reuse_artifact_if_already_exist_by_external_id: bool = False) -> tuple[list[int], list[int], list[int]]",
        lambda r, _a: (list(r.execution_ids), list(r.artifact_ids), list(r.context_ids)),
        build=_build_put_lineage_subgraph),
    Rpc("put_attributions_and_associations", "PutAttributionsAndAssociations",
        "(self, attributions: Sequence[pb.Attribution], associations: Sequence[pb.Association]) -> None"),
    Rpc("put_parent_contexts", "PutParentContexts", "(self, parent_contexts: Sequence[pb.ParentContext]) -> None"),
    Rpc("get_artifacts_and_types_by_artifact_ids", "GetArtifactsByID",
        "(self, artifact_ids: Sequence[int]) -> list[tuple[pb.Artifact, pb.ArtifactType]]", _pairs,
        build=lambda r, a: (r.artifact_ids.extend(a["artifact_ids"]), setattr(r, "populate_artifact_types", True))),
    Rpc("get_artifacts_by_uri", "GetArtifactsByURI", "(self, uri: str | Sequence[str]) -> list[pb.Artifact]",
        "artifacts", build=lambda r, a: r.uris.extend([a["uri"]] if isinstance(a["uri"], str) else a["uri"])),
    Rpc("get_contexts_by_artifact", "GetContextsByArtifact", "(self, artifact_id: int) -> list[pb.Context]",
        "contexts"),
    Rpc("get_contexts_by_execution", "GetContextsByExecution", "(self, execution_id: int) -> list[pb.Context]",
        "contexts"),
    Rpc("get_parent_contexts_by_context", "GetParentContextsByContext",
        "(self, context_id: int) -> list[pb.Context]", "contexts"),
    Rpc("get_children_contexts_by_context", "GetChildrenContextsByContext",
        "(self, context_id: int) -> list[pb.Context]", "contexts"),
    Rpc("get_parent_contexts_by_contexts", "GetParentContextsByContexts",
        "(self, context_ids: Sequence[int]) -> dict[int, list[pb.Context]]", _related("parent", "parent_contexts")),
    Rpc("get_children_contexts_by_contexts", "GetChildrenContextsByContexts",
        "(self, context_ids: Sequence[int]) -> dict[int, list[pb.Context]]",
        _related("children", "children_contexts")),
    Rpc("get_events_by_execution_ids", "GetEventsByExecutionIDs",
        "(self, execution_ids: Sequence[int]) -> list[pb.Event]", "events"),
    Rpc("get_events_by_artifact_ids", "GetEventsByArtifactIDs",
        "(self, artifact_ids: Sequence[int]) -> list[pb.Event]", "events"),
    Rpc("get_lineage_graph", "GetLineageGraph", "(self, query_options: pb.LineageGraphQueryOptions) -> pb.LineageGraph",
        "subgraph", fields={"query_options": "options"}),
    # mlineage's own service: metric series.
    Rpc("put_metric_series", "PutMetricSeries", "(self, series: Sequence[mpb.MetricSeries]) -> int",
        "inserted_points", service=METRIC_SERVICE, module=mpb,
        doc="Store metric points; returns how many were new (points already stored are skipped)."),
    Rpc("get_metric_series", "GetMetricSeries",
        "(self, execution_ids: Sequence[int], names: Sequence[str] = ()) -> list[mpb.MetricSeries]",
        "series", service=METRIC_SERVICE, module=mpb,
        doc="Every point of the named metrics (all when ``names`` is empty) of ``execution_ids``."),
]

# Parameters of Store methods that MLMD's requests have no field for: accepted and ignored, as MLMD's
# own client ignores them (the server applies its rules).
_IGNORED_PARAMETERS = {"all_fields_match"}

# list_nodes: (kind, scope) -> RPC name.
_LIST_RPCS = {
    ("artifact", None): "GetArtifacts",
    ("execution", None): "GetExecutions",
    ("context", None): "GetContexts",
    ("artifact", "type"): "GetArtifactsByType",
    ("execution", "type"): "GetExecutionsByType",
    ("context", "type"): "GetContextsByType",
    ("artifact", "context"): "GetArtifactsByContext",
    ("execution", "context"): "GetExecutionsByContext",
}


# --- connection --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a ``grpc://host:port`` or ``grpcs://host:port?ca=…&cert=…&key=…&server_name=…`` URL points."""

    address: str
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    server_name: str | None = None

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("grpc", "grpcs") or not parts.netloc:
            raise errors.InvalidArgumentError(f"not a gRPC URL: {url!r} (grpc://host:port or grpcs://host:port)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"ca", "cert", "key", "server_name"}
        if unknown:
            raise errors.InvalidArgumentError(f"unknown option(s) in {url!r}: {', '.join(sorted(unknown))}")
        return cls(parts.netloc, parts.scheme == "grpcs", query.get("ca"), query.get("cert"), query.get("key"),
                   query.get("server_name"))

    def channel(self, connect_timeout_ms: int = CONNECT_TIMEOUT_MS, *, own_connection: bool = False) -> grpc.Channel:
        """A channel to the target; ``own_connection``: never share another channel's connection."""
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # Reconnect quickly after a server restart rather than backing off for up to two minutes.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 2000),
            # gRPC names the minimum connect timeout "min_reconnect_backoff".
            ("grpc.min_reconnect_backoff_ms", connect_timeout_ms),
        ]
        if own_connection:  # channels with equal options share connections otherwise
            options.append(("grpc.use_local_subchannel_pool", 1))
        if not self.tls:
            return grpc.insecure_channel(self.address, options=options)

        def read(path: str | None) -> bytes | None:
            if path is None:
                return None
            with open(path, "rb") as handle:
                return handle.read()

        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        credentials = grpc.ssl_channel_credentials(read(self.ca), read(self.key), read(self.cert))
        return grpc.secure_channel(self.address, credentials, options=options)


def _error(exc: grpc.RpcError) -> errors.MlineageError:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(code)
    return errors.make_exception(details, code.value[0] if code else errors.UNKNOWN)


class GrpcStore(ListingMethods):
    """A metadata store on a remote ``mlineage serve`` (``grpc://host:port`` or ``grpcs://…``).

    ``retries`` UNAVAILABLE/ABORTED answers are retried, waiting 0.05 s, 0.1 s, …
    (at most ``max_backoff`` s, with jitter) in between; ``timeout`` is each
    call's deadline in seconds.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        max_backoff: float = 2.0,
    ) -> None:
        self.url = url
        self._target = Target.parse(url)
        self._channel = self._target.channel()
        self._timeout = timeout
        self._retries = retries
        self._max_backoff = max_backoff
        self._stubs: dict[tuple[str, str], Callable] = {}
        self._lock = threading.Lock()
        #: monotonic time of the server's last answer (a response or an error status the server sent)
        self.last_answer_at = 0.0
        self._closed = False

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return "default"

    @property
    def read_only(self) -> bool:
        return False

    def close(self) -> None:
        self._closed = True
        self._channel.close()

    def __enter__(self) -> GrpcStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GrpcStore({self.url!r})"

    # --- calls ----------------------------------------------------------------------------------

    def _stub(self, service: str, rpc: str, response_class) -> Callable:
        key = (service, rpc)
        stub = self._stubs.get(key)
        if stub is None:
            with self._lock:
                stub = self._channel.unary_unary(
                    f"/{service}/{rpc}",
                    request_serializer=lambda message: message.SerializeToString(),
                    response_deserializer=response_class.FromString,
                )
                self._stubs[key] = stub
        return stub

    def call(self, rpc: str, request, *, service: str = STORE_SERVICE, module=svc, retries: int | None = None,
             timeout: float | None = None):
        """Send ``request`` to ``rpc``; the response message, or an ``mlineage.errors`` exception."""
        stub = self._stub(service, rpc, getattr(module, f"{rpc}Response"))
        attempts = 1 + (self._retries if retries is None else retries)
        delay = 0.05
        for attempt in range(attempts):
            try:
                response = stub(request, timeout=self._timeout if timeout is None else timeout)
                self.last_answer_at = time.monotonic()
                return response
            except ValueError:
                if self._closed:  # grpc's "Cannot invoke RPC on closed channel!"
                    raise errors.CancelledError(f"the connection to {self.url} is closed") from None
                raise
            except grpc.RpcError as exc:
                if exc.code() not in NO_ANSWER:
                    self.last_answer_at = time.monotonic()
                if exc.code() not in RETRYABLE or attempt == attempts - 1:
                    raise _error(exc) from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._max_backoff)
        raise AssertionError("unreachable")  # pragma: no cover

    def ping(self, timeout: float = 2.0) -> bool:
        """Whether the server answers now (one try, no retries)."""
        try:
            self.call("GetContextTypes", svc.GetContextTypesRequest(), retries=0, timeout=timeout)
            return True
        except errors.MlineageError:
            return False

    def reachable(self, timeout: float = 1.0) -> bool:
        """Whether a new connection to the server completes (TCP, TLS, HTTP/2) within ``timeout`` seconds.

        Says whether the server process is alive even while all its workers are busy.
        """
        channel = self._target.channel(connect_timeout_ms=max(1, int(timeout * 1000)), own_connection=True)
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
            return True
        except grpc.FutureTimeoutError:
            return False
        finally:
            channel.close()

    # --- listing (paged, as Store.list_nodes) ---------------------------------------------------

    def list_nodes(
        self,
        kind_name: str,
        options: pb.ListOperationOptions | None = None,
        *,
        type_name: str | None = None,
        type_version: str | None = None,
        context_id: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list, str]:
        # max_bytes is not sent: the server cuts every paged answer to what MLMD's clients receive.
        if kind_name not in ("artifact", "execution", "context"):
            raise errors.InvalidArgumentError(f"unknown node kind {kind_name!r}")
        scope = "type" if type_name is not None else "context" if context_id is not None else None
        rpc = _LIST_RPCS.get((kind_name, scope))
        if rpc is None:
            raise errors.InvalidArgumentError("contexts cannot be listed by context")
        request = getattr(svc, f"{rpc}Request")()
        if options is not None:
            request.options.CopyFrom(options)
        if type_name is not None:
            request.type_name = type_name
            if type_version:
                request.type_version = type_version
        if context_id is not None:
            request.context_id = context_id
        response = self.call(rpc, request)
        return list(getattr(response, f"{kind_name}s")), response.next_page_token

    # --- lineage (hydrated, as Store's) ---------------------------------------------------------

    def get_lineage_subgraph(
        self, query_options: pb.LineageSubgraphQueryOptions, field_mask_paths: Sequence[str] | None = None
    ) -> pb.LineageGraph:
        """The server answers with node ids only; fetch the nodes and the types they use, as MLMD's client does."""
        wanted = set(field_mask_paths) if field_mask_paths else None
        request = svc.GetLineageSubgraphRequest()
        request.lineage_subgraph_query_options.CopyFrom(query_options)
        mask = [p for p in (field_mask_paths or ()) if not p.endswith("_types")]
        request.read_mask.paths.extend(mask)
        graph = self.call("GetLineageSubgraph", request).lineage_subgraph
        for name, getter in (
            ("artifacts", self.get_artifacts_by_id),
            ("executions", self.get_executions_by_id),
            ("contexts", self.get_contexts_by_id),
        ):
            ids = [node.id for node in getattr(graph, name)]
            del getattr(graph, name)[:]
            if ids:
                getattr(graph, name).extend(getter(ids))
        for name, nodes, getter in (
            ("artifact_types", graph.artifacts, self.get_artifact_types_by_id),
            ("execution_types", graph.executions, self.get_execution_types_by_id),
            ("context_types", graph.contexts, self.get_context_types_by_id),
        ):
            del getattr(graph, name)[:]
            type_ids = sorted({node.type_id for node in nodes})
            if (wanted is None or name in wanted) and type_ids:
                getattr(graph, name).extend(getter(type_ids))
        return graph


def _set_field(request, path: str, value) -> None:
    *parents, last = path.split(".")
    target = request
    for name in parents:
        target = getattr(target, name)
    current = getattr(target, last)
    if hasattr(current, "extend") and not isinstance(value, (str, bytes)):
        current.extend(value)
    elif hasattr(current, "CopyFrom"):
        current.CopyFrom(value)
    else:
        setattr(target, last, value)


def _make_method(spec: Rpc) -> Callable:
    signature = _signature(spec.signature)
    request_class = getattr(spec.module, f"{spec.rpc}Request")
    response_class = getattr(spec.module, f"{spec.rpc}Response")
    request_fields = {f.name for f in request_class.DESCRIPTOR.fields}
    names = [p for p in signature.parameters if p != "self"]
    paths = {}
    for name in names:
        path = spec.fields.get(name, name)
        if spec.build is None and path.split(".")[0] not in request_fields and name not in _IGNORED_PARAMETERS:
            raise TypeError(f"{spec.rpc}Request has no field for {spec.method}({name})")
        paths[name] = path
    defaults = {name: p.default for name, p in signature.parameters.items()}

    def method(self: GrpcStore, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        request = request_class()
        if spec.build is not None:
            spec.build(request, arguments)
        else:
            for name in names:
                value = arguments[name]
                if value is None or name in _IGNORED_PARAMETERS:
                    continue
                if value is defaults[name] and isinstance(value, bool) and not value:
                    continue  # leave an unset default flag unset on the wire
                _set_field(request, paths[name], value)
        response = self.call(spec.rpc, request, service=spec.service, module=spec.module)
        if spec.result is None:
            return None
        if callable(spec.result):
            return spec.result(response, arguments)
        value = getattr(response, spec.result)
        return list(value) if hasattr(value, "extend") else value

    method.__name__ = spec.method
    method.__qualname__ = f"GrpcStore.{spec.method}"
    method.__signature__ = signature  # type: ignore[attr-defined]
    method.__doc__ = spec.doc or f"Store.{spec.method}, through the {spec.rpc} RPC."
    assert response_class is not None
    return method


for _spec in _RPCS:
    setattr(GrpcStore, _spec.method, _make_method(_spec))
del _spec

#: Store methods a remote store cannot offer (they reach into the database itself).
LOCAL_ONLY = frozenset({"engine", "reading"})

__all__ = ["GrpcStore", "LOCAL_ONLY", "Target"]
