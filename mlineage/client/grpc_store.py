"""GrpcStore: the methods of ``metadata.Store``, with the same signatures and answers, over gRPC.

Each method is written out: it fills the request of the RPC that serves it
and returns the response field that answers it, so editors and type checkers
see the same signatures as ``Store``'s (both implement
``metadata.interface.StoreInterface``; a test compares them with
``inspect.signature``). ``_RPCS`` lists which RPC serves which method. Status
codes come back as ``mlineage.errors`` classes; UNAVAILABLE and ABORTED are
retried with exponential backoff.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

# gRPC's core logs a line per failed TLS handshake or connection at its default verbosity; a step's
# stderr should say what happened once, in mlineage's words (set GRPC_VERBOSITY to see them).
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc  # noqa: E402 - after the verbosity default

from mlineage import errors
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, KINDS
from mlineage.metadata.options import ListingMethods
from mlineage.metadata.revisions import Revision
from mlineage.proto import history_pb2 as hpb
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc
from mlineage.proto import metric_series_pb2 as mpb

STORE_SERVICE = "mlineage.v1.MetadataStoreService"
METRIC_SERVICE = "mlineage.v1.MetricService"
HISTORY_SERVICE = "mlineage.v1.HistoryService"
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED)
# Codes that come from the channel when no server answered (anything else is the server's answer).
NO_ANSWER = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)
# How long one connection attempt may take (TCP, TLS and the HTTP/2 settings exchange): a host that
# accepts connections but never speaks HTTP/2 fails after this long instead of after the call's deadline.
CONNECT_TIMEOUT_MS = 500


# --- which RPC serves which method -------------------------------------------------------------


@dataclass(frozen=True)
class Rpc:
    """One GrpcStore method and the RPC (of ``service``) that serves it."""

    method: str
    rpc: str
    service: str = STORE_SERVICE


#: Every method served by one RPC, in the order they are defined below.
_RPCS: list[Rpc] = []

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _served_by(rpc: str, service: str = STORE_SERVICE, doc: str | None = None) -> Callable[[_Method], _Method]:
    """Record that the decorated method calls ``rpc``; give it a docstring that says so."""

    def record(method: _Method) -> _Method:
        _RPCS.append(Rpc(method.__name__, rpc, service))
        method.__doc__ = doc or f"Store.{method.__name__}, through the {rpc} RPC."
        return method

    return record


def _set_field(request: Any, path: str, value: Any) -> None:
    """Fill field ``path`` (dotted for a nested one): extend a repeated field, copy a message, set a scalar."""
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


def _fill(request: Any, path: str, value: Any) -> None:
    """``_set_field``, except that None leaves the field unset (as MLMD's client sends an absent argument)."""
    if value is not None:
        _set_field(request, path, value)


def _flag(request: Any, path: str, value: Any) -> None:
    """Set a boolean option only when asked for: a flag left at its default (False) stays unset on the wire."""
    if value is not None and value is not False:
        _set_field(request, path, value)


def _listed(value: Any) -> Any:
    """A repeated response field as a list; any other field as it is."""
    return list(value) if hasattr(value, "extend") else value


def _present(response: Any, name: str) -> Any:
    """The message in field ``name``, or None when the server sent none (a lookup that found nothing)."""
    return getattr(response, name) if response.HasField(name) else None


def _related(response: Any, context_ids: Sequence[int], inner: str) -> dict[int, list[pb.Context]]:
    """Each asked-for context id's related contexts (parents or children; [] for one the server left out)."""
    return {
        context_id: list(getattr(response.contexts[context_id], inner)) if context_id in response.contexts else []
        for context_id in dict.fromkeys(context_ids)
    }


# list_nodes: (kind, scope) -> RPC name.
_LIST_RPCS = {
    (ARTIFACT, None): "GetArtifacts",
    (EXECUTION, None): "GetExecutions",
    (CONTEXT, None): "GetContexts",
    (ARTIFACT, "type"): "GetArtifactsByType",
    (EXECUTION, "type"): "GetExecutionsByType",
    (CONTEXT, "type"): "GetContextsByType",
    (ARTIFACT, "context"): "GetArtifactsByContext",
    (EXECUTION, "context"): "GetExecutionsByContext",
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
    token_file: str | None = None  # a file holding the bearer token (``?token_file=``), read once

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("grpc", "grpcs") or not parts.netloc:
            raise errors.InvalidArgumentError(f"not a gRPC URL: {url!r} (grpc://host:port or grpcs://host:port)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"ca", "cert", "key", "server_name", "token_file"}
        if unknown:
            raise errors.InvalidArgumentError(f"unknown option(s) in {url!r}: {', '.join(sorted(unknown))}")
        return cls(parts.netloc, parts.scheme == "grpcs", query.get("ca"), query.get("cert"), query.get("key"),
                   query.get("server_name"), query.get("token_file"))

    def channel(self, connect_timeout_ms: int = CONNECT_TIMEOUT_MS, *, own_connection: bool = False) -> grpc.Channel:
        """A channel to the target; ``own_connection``: never share another channel's connection."""
        options: list[tuple[str, Any]] = [
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


def bearer_token(token: str | None, target: Target) -> str | None:
    """The bearer token a client sends: given, else ``?token_file=`` of the URL, else ``$MLINEAGE_TOKEN``."""
    if token:
        return token.strip()
    if target.token_file:
        try:
            with open(target.token_file, encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError as exc:
            raise errors.InvalidArgumentError(f"cannot read token_file {target.token_file}: {exc.strerror}") from None
    return os.environ.get("MLINEAGE_TOKEN", "").strip() or None


class GrpcStore(ListingMethods):
    """A metadata store on a remote ``mlineage serve`` (``grpc://host:port`` or ``grpcs://…``).

    The bearer token (``mlineage serve --auth tokens``) is ``token``, the URL's
    ``?token_file=PATH``, or ``$MLINEAGE_TOKEN``; it travels as the ``authorization``
    metadata of every call.

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
        token: str | None = None,
    ) -> None:
        self.url = url
        self._target = Target.parse(url)
        found = bearer_token(token, self._target)
        self._metadata = (("authorization", f"Bearer {found}"),) if found else None
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

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GrpcStore({self.url!r})"

    # --- calls ----------------------------------------------------------------------------------

    def _stub(self, service: str, rpc: str, response_class: Any) -> Callable:
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

    def call(self, rpc: str, request: Any, *, service: str = STORE_SERVICE, module: Any = svc,
             retries: int | None = None, timeout: float | None = None) -> Any:
        """Send ``request`` to ``rpc``; the response message, or an ``mlineage.errors`` exception."""
        stub = self._stub(service, rpc, getattr(module, f"{rpc}Response"))
        attempts = 1 + (self._retries if retries is None else retries)
        delay = 0.05
        for attempt in range(attempts):
            try:
                response = stub(request, timeout=self._timeout if timeout is None else timeout,
                                metadata=self._metadata)
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
        kind = KINDS.get(kind_name)
        if kind is None:
            raise errors.InvalidArgumentError(f"unknown node kind {kind_name!r}")
        scope = "type" if type_name is not None else "context" if context_id is not None else None
        rpc = _LIST_RPCS.get((kind, scope))
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
        return list(getattr(response, kind.plural)), response.next_page_token

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
        for kind, getter in (
            (ARTIFACT, self.get_artifacts_by_id),
            (EXECUTION, self.get_executions_by_id),
            (CONTEXT, self.get_contexts_by_id),
        ):
            ids = [node.id for node in getattr(graph, kind.plural)]
            del getattr(graph, kind.plural)[:]
            if ids:
                getattr(graph, kind.plural).extend(getter(ids))
        for name, nodes, get_types in (
            ("artifact_types", graph.artifacts, self.get_artifact_types_by_id),
            ("execution_types", graph.executions, self.get_execution_types_by_id),
            ("context_types", graph.contexts, self.get_context_types_by_id),
        ):
            del getattr(graph, name)[:]
            type_ids = sorted({node.type_id for node in nodes})
            if (wanted is None or name in wanted) and type_ids:
                getattr(graph, name).extend(get_types(type_ids))
        return graph

    def lineage_page(self, **walk: Any) -> Any:
        """One page of mlineage's lineage walk, answered by the server's HistoryService.GetLineage (the
        embedded store's answer: hops, cursor, tombstones; see ``Store.lineage_page``).

        ``mlineage.lineage.lineage`` calls this with the walk it built; the filters travel as they were
        given, which ``walk["bound"]`` holds (the cursor is bound to them too): the ending filter
        queries, then the type names and states kept, each None when not asked for.
        """
        from mlineage.metadata import history
        from mlineage.metadata.lineage_engine.pages import LineagePage
        from mlineage.metadata.lineage_engine.traversal import Traversal

        ending_artifacts, ending_executions, artifact_types, execution_types, artifact_states, execution_states = (
            walk["bound"]
        )
        request = hpb.GetLineageRequest(
            artifact_ids=list(walk["artifact_ids"]),
            execution_ids=list(walk["execution_ids"]),
            direction=walk["direction"].value,
            max_hops=walk["max_hops"],
            include_ending=walk["ending"].include_artifacts,
            with_contexts=walk["with_contexts"],
        )
        for field_name, value in (("ending_artifacts", ending_artifacts), ("ending_executions", ending_executions),
                                  ("max_nodes", walk["max_nodes"]), ("cursor", walk["cursor"])):
            if value is not None:
                setattr(request, field_name, value)
        for field_name, inner, values in (("artifact_types", "names", artifact_types),
                                          ("execution_types", "names", execution_types),
                                          ("artifact_states", "states", artifact_states),
                                          ("execution_states", "states", execution_states)):
            if values is not None:
                getattr(request, field_name).SetInParent()
                getattr(getattr(request, field_name), inner).extend(values)
        answer = self.call("GetLineage", request, service=HISTORY_SERVICE, module=hpb)
        traversal = Traversal(
            artifacts={hop.id: hop.hop for hop in answer.artifact_hops},
            executions={hop.id: hop.hop for hop in answer.execution_hops},
            truncated=answer.truncated,
            cursor=answer.cursor if answer.HasField("cursor") else None,
        )
        tombstones = [
            history.Tombstone(
                kind=t.kind, id=t.id, type_id=t.type_id,
                type_name=t.type_name if t.HasField("type_name") else None,
                name=t.name if t.HasField("name") else None,
                deleted_ms=t.deleted_ms if t.HasField("deleted_ms") else None,
            )
            for t in answer.tombstones
        ]  # fmt: skip
        return LineagePage(walk=traversal, graph=answer.graph, tombstones=tombstones)

    # --- types ----------------------------------------------------------------------------------

    def _put_type(
        self, rpc: str, field: str, message: Any, can_add_fields: bool, can_delete_fields: bool,
        can_omit_fields: bool,
    ) -> int:
        # all_fields_match has no field in MLMD's request: accepted and ignored, as MLMD's own client does.
        request = getattr(svc, f"{rpc}Request")()
        _fill(request, field, message)
        _flag(request, "can_add_fields", can_add_fields)
        _flag(request, "can_delete_fields", can_delete_fields)
        _flag(request, "can_omit_fields", can_omit_fields)
        return self.call(rpc, request).type_id

    @_served_by("PutArtifactType")
    def put_artifact_type(
        self,
        artifact_type: pb.ArtifactType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        return self._put_type("PutArtifactType", "artifact_type", artifact_type, can_add_fields, can_delete_fields,
                              can_omit_fields)

    @_served_by("PutExecutionType")
    def put_execution_type(
        self,
        execution_type: pb.ExecutionType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        return self._put_type("PutExecutionType", "execution_type", execution_type, can_add_fields,
                              can_delete_fields, can_omit_fields)

    @_served_by("PutContextType")
    def put_context_type(
        self,
        context_type: pb.ContextType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        return self._put_type("PutContextType", "context_type", context_type, can_add_fields, can_delete_fields,
                              can_omit_fields)

    @_served_by("PutTypes")
    def put_types(
        self,
        artifact_types: Sequence[pb.ArtifactType] = (),
        execution_types: Sequence[pb.ExecutionType] = (),
        context_types: Sequence[pb.ContextType] = (),
        can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        request = svc.PutTypesRequest()
        _fill(request, "artifact_types", artifact_types)
        _fill(request, "execution_types", execution_types)
        _fill(request, "context_types", context_types)
        _flag(request, "can_add_fields", can_add_fields)
        _flag(request, "can_omit_fields", can_omit_fields)
        response = self.call("PutTypes", request)
        return list(response.artifact_type_ids), list(response.execution_type_ids), list(response.context_type_ids)

    def _get_type(self, rpc: str, field: str, type_name: str, type_version: str | None) -> Any:
        request = getattr(svc, f"{rpc}Request")()
        _fill(request, "type_name", type_name)
        _fill(request, "type_version", type_version)
        return getattr(self.call(rpc, request), field)

    @_served_by("GetArtifactType")
    def get_artifact_type(self, type_name: str, type_version: str | None = None) -> pb.ArtifactType:
        return self._get_type("GetArtifactType", "artifact_type", type_name, type_version)

    @_served_by("GetExecutionType")
    def get_execution_type(self, type_name: str, type_version: str | None = None) -> pb.ExecutionType:
        return self._get_type("GetExecutionType", "execution_type", type_name, type_version)

    @_served_by("GetContextType")
    def get_context_type(self, type_name: str, type_version: str | None = None) -> pb.ContextType:
        return self._get_type("GetContextType", "context_type", type_name, type_version)

    def _ask(self, rpc: str, answer: str, field: str | None = None, value: Any = None) -> Any:
        """Call ``rpc`` with at most one request field filled; response field ``answer`` (a list if repeated)."""
        request = getattr(svc, f"{rpc}Request")()
        if field is not None:
            _fill(request, field, value)
        return _listed(getattr(self.call(rpc, request), answer))

    @_served_by("GetArtifactTypes")
    def get_artifact_types(self) -> list[pb.ArtifactType]:
        return self._ask("GetArtifactTypes", "artifact_types")

    @_served_by("GetExecutionTypes")
    def get_execution_types(self) -> list[pb.ExecutionType]:
        return self._ask("GetExecutionTypes", "execution_types")

    @_served_by("GetContextTypes")
    def get_context_types(self) -> list[pb.ContextType]:
        return self._ask("GetContextTypes", "context_types")

    @_served_by("GetArtifactTypesByID")
    def get_artifact_types_by_id(self, type_ids: Sequence[int]) -> list[pb.ArtifactType]:
        return self._ask("GetArtifactTypesByID", "artifact_types", "type_ids", type_ids)

    @_served_by("GetExecutionTypesByID")
    def get_execution_types_by_id(self, type_ids: Sequence[int]) -> list[pb.ExecutionType]:
        return self._ask("GetExecutionTypesByID", "execution_types", "type_ids", type_ids)

    @_served_by("GetContextTypesByID")
    def get_context_types_by_id(self, type_ids: Sequence[int]) -> list[pb.ContextType]:
        return self._ask("GetContextTypesByID", "context_types", "type_ids", type_ids)

    @_served_by("GetArtifactTypesByExternalIds")
    def get_artifact_types_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.ArtifactType]:
        return self._ask("GetArtifactTypesByExternalIds", "artifact_types", "external_ids", external_ids)

    @_served_by("GetExecutionTypesByExternalIds")
    def get_execution_types_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.ExecutionType]:
        return self._ask("GetExecutionTypesByExternalIds", "execution_types", "external_ids", external_ids)

    @_served_by("GetContextTypesByExternalIds")
    def get_context_types_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.ContextType]:
        return self._ask("GetContextTypesByExternalIds", "context_types", "external_ids", external_ids)

    # --- nodes ----------------------------------------------------------------------------------

    @_served_by("PutArtifacts")
    def put_artifacts(
        self,
        artifacts: Sequence[pb.Artifact],
        field_mask_paths: Sequence[str] | None = None,
        abort_if_latest_updated_time_changed: bool = False,
    ) -> list[int]:
        request = svc.PutArtifactsRequest()
        _fill(request, "artifacts", artifacts)
        _fill(request, "update_mask.paths", field_mask_paths)
        _flag(request, "options.abort_if_latest_updated_time_changed", abort_if_latest_updated_time_changed)
        return list(self.call("PutArtifacts", request).artifact_ids)

    @_served_by("PutExecutions")
    def put_executions(
        self, executions: Sequence[pb.Execution], field_mask_paths: Sequence[str] | None = None
    ) -> list[int]:
        request = svc.PutExecutionsRequest()
        _fill(request, "executions", executions)
        _fill(request, "update_mask.paths", field_mask_paths)
        return list(self.call("PutExecutions", request).execution_ids)

    @_served_by("PutContexts")
    def put_contexts(self, contexts: Sequence[pb.Context], field_mask_paths: Sequence[str] | None = None) -> list[int]:
        request = svc.PutContextsRequest()
        _fill(request, "contexts", contexts)
        _fill(request, "update_mask.paths", field_mask_paths)
        return list(self.call("PutContexts", request).context_ids)

    @_served_by("GetArtifactsByID")
    def get_artifacts_by_id(self, artifact_ids: Sequence[int]) -> list[pb.Artifact]:
        return self._ask("GetArtifactsByID", "artifacts", "artifact_ids", artifact_ids)

    @_served_by("GetExecutionsByID")
    def get_executions_by_id(self, execution_ids: Sequence[int]) -> list[pb.Execution]:
        return self._ask("GetExecutionsByID", "executions", "execution_ids", execution_ids)

    @_served_by("GetContextsByID")
    def get_contexts_by_id(self, context_ids: Sequence[int]) -> list[pb.Context]:
        return self._ask("GetContextsByID", "contexts", "context_ids", context_ids)

    @_served_by("GetArtifactsByID")
    def get_artifacts_and_types_by_artifact_ids(
        self, artifact_ids: Sequence[int]
    ) -> list[tuple[pb.Artifact, pb.ArtifactType]]:
        request = svc.GetArtifactsByIDRequest(populate_artifact_types=True)
        request.artifact_ids.extend(artifact_ids)
        response = self.call("GetArtifactsByID", request)
        types = {artifact_type.id: artifact_type for artifact_type in response.artifact_types}
        return [(artifact, types[artifact.type_id]) for artifact in response.artifacts]

    @_served_by("GetArtifactsByExternalIds")
    def get_artifacts_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Artifact]:
        return self._ask("GetArtifactsByExternalIds", "artifacts", "external_ids", external_ids)

    @_served_by("GetExecutionsByExternalIds")
    def get_executions_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Execution]:
        return self._ask("GetExecutionsByExternalIds", "executions", "external_ids", external_ids)

    @_served_by("GetContextsByExternalIds")
    def get_contexts_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Context]:
        return self._ask("GetContextsByExternalIds", "contexts", "external_ids", external_ids)

    @_served_by("GetArtifactsByURI")
    def get_artifacts_by_uri(self, uri: str | Sequence[str]) -> list[pb.Artifact]:
        request = svc.GetArtifactsByURIRequest()
        request.uris.extend([uri] if isinstance(uri, str) else uri)
        return list(self.call("GetArtifactsByURI", request).artifacts)

    def _by_type_and_name(
        self, rpc: str, kind: str, type_name: str, name: str, type_version: str | None
    ) -> Any:
        request = getattr(svc, f"{rpc}Request")()
        _fill(request, "type_name", type_name)
        _fill(request, f"{kind}_name", name)
        _fill(request, "type_version", type_version)
        return _present(self.call(rpc, request), kind)

    @_served_by("GetArtifactByTypeAndName")
    def get_artifact_by_type_and_name(
        self, type_name: str, artifact_name: str, type_version: str | None = None
    ) -> pb.Artifact | None:
        return self._by_type_and_name("GetArtifactByTypeAndName", "artifact", type_name, artifact_name, type_version)

    @_served_by("GetExecutionByTypeAndName")
    def get_execution_by_type_and_name(
        self, type_name: str, execution_name: str, type_version: str | None = None
    ) -> pb.Execution | None:
        return self._by_type_and_name("GetExecutionByTypeAndName", "execution", type_name, execution_name,
                                      type_version)

    @_served_by("GetContextByTypeAndName")
    def get_context_by_type_and_name(
        self, type_name: str, context_name: str, type_version: str | None = None
    ) -> pb.Context | None:
        return self._by_type_and_name("GetContextByTypeAndName", "context", type_name, context_name, type_version)

    # --- events, memberships, parent contexts ---------------------------------------------------

    @_served_by("PutEvents")
    def put_events(self, events: Sequence[pb.Event]) -> None:
        request = svc.PutEventsRequest()
        _fill(request, "events", events)
        self.call("PutEvents", request)

    @_served_by("PutExecution")
    def put_execution(
        self,
        execution: pb.Execution,
        artifact_and_events: Sequence[tuple[pb.Artifact | None, pb.Event | None]],
        contexts: Sequence[pb.Context],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
        force_reuse_context: bool = False,
        force_update_time: bool = False,
    ) -> tuple[int, list[int], list[int]]:
        request = svc.PutExecutionRequest()
        request.execution.CopyFrom(execution)
        for pair in artifact_and_events:
            artifact, event = (tuple(pair) + (None, None))[:2]
            added = request.artifact_event_pairs.add()
            if artifact is not None:
                added.artifact.CopyFrom(artifact)
            if event is not None:
                added.event.CopyFrom(event)
        request.contexts.extend(contexts)
        # These options are always sent (False too), as MLMD's client sends them.
        request.options.reuse_context_if_already_exist = bool(reuse_context_if_already_exist)
        request.options.reuse_artifact_if_already_exist_by_external_id = bool(
            reuse_artifact_if_already_exist_by_external_id
        )
        request.options.force_reuse_context = bool(force_reuse_context)
        request.options.force_update_time = bool(force_update_time)
        response = self.call("PutExecution", request)
        return response.execution_id, list(response.artifact_ids), list(response.context_ids)

    @_served_by("PutLineageSubgraph")
    def put_lineage_subgraph(
        self,
        executions: Sequence[pb.Execution],
        artifacts: Sequence[pb.Artifact],
        contexts: Sequence[pb.Context],
        event_edges: Sequence[tuple[int | None, int | None, pb.Event]],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        request = svc.PutLineageSubgraphRequest()
        request.executions.extend(executions)
        request.artifacts.extend(artifacts)
        request.contexts.extend(contexts)
        for execution_index, artifact_index, event in event_edges:
            edge = request.event_edges.add()
            if execution_index is not None:
                edge.execution_index = execution_index
            if artifact_index is not None:
                edge.artifact_index = artifact_index
            edge.event.CopyFrom(event)
        request.options.reuse_context_if_already_exist = bool(reuse_context_if_already_exist)
        request.options.reuse_artifact_if_already_exist_by_external_id = bool(
            reuse_artifact_if_already_exist_by_external_id
        )
        response = self.call("PutLineageSubgraph", request)
        return list(response.execution_ids), list(response.artifact_ids), list(response.context_ids)

    @_served_by("PutAttributionsAndAssociations")
    def put_attributions_and_associations(
        self, attributions: Sequence[pb.Attribution], associations: Sequence[pb.Association]
    ) -> None:
        request = svc.PutAttributionsAndAssociationsRequest()
        _fill(request, "attributions", attributions)
        _fill(request, "associations", associations)
        self.call("PutAttributionsAndAssociations", request)

    @_served_by("PutParentContexts")
    def put_parent_contexts(self, parent_contexts: Sequence[pb.ParentContext]) -> None:
        request = svc.PutParentContextsRequest()
        _fill(request, "parent_contexts", parent_contexts)
        self.call("PutParentContexts", request)

    @_served_by("GetContextsByArtifact")
    def get_contexts_by_artifact(self, artifact_id: int) -> list[pb.Context]:
        return self._ask("GetContextsByArtifact", "contexts", "artifact_id", artifact_id)

    @_served_by("GetContextsByExecution")
    def get_contexts_by_execution(self, execution_id: int) -> list[pb.Context]:
        return self._ask("GetContextsByExecution", "contexts", "execution_id", execution_id)

    @_served_by("GetParentContextsByContext")
    def get_parent_contexts_by_context(self, context_id: int) -> list[pb.Context]:
        return self._ask("GetParentContextsByContext", "contexts", "context_id", context_id)

    @_served_by("GetChildrenContextsByContext")
    def get_children_contexts_by_context(self, context_id: int) -> list[pb.Context]:
        return self._ask("GetChildrenContextsByContext", "contexts", "context_id", context_id)

    @_served_by("GetParentContextsByContexts")
    def get_parent_contexts_by_contexts(self, context_ids: Sequence[int]) -> dict[int, list[pb.Context]]:
        request = svc.GetParentContextsByContextsRequest()
        _fill(request, "context_ids", context_ids)
        return _related(self.call("GetParentContextsByContexts", request), context_ids, "parent_contexts")

    @_served_by("GetChildrenContextsByContexts")
    def get_children_contexts_by_contexts(self, context_ids: Sequence[int]) -> dict[int, list[pb.Context]]:
        request = svc.GetChildrenContextsByContextsRequest()
        _fill(request, "context_ids", context_ids)
        return _related(self.call("GetChildrenContextsByContexts", request), context_ids, "children_contexts")

    @_served_by("GetEventsByExecutionIDs")
    def get_events_by_execution_ids(self, execution_ids: Sequence[int]) -> list[pb.Event]:
        return self._ask("GetEventsByExecutionIDs", "events", "execution_ids", execution_ids)

    @_served_by("GetEventsByArtifactIDs")
    def get_events_by_artifact_ids(self, artifact_ids: Sequence[int]) -> list[pb.Event]:
        return self._ask("GetEventsByArtifactIDs", "events", "artifact_ids", artifact_ids)

    @_served_by("GetLineageGraph")
    def get_lineage_graph(self, query_options: pb.LineageGraphQueryOptions) -> pb.LineageGraph:
        request = svc.GetLineageGraphRequest()
        _fill(request, "options", query_options)
        return self.call("GetLineageGraph", request).subgraph

    # --- metric series (mlineage's own service) -------------------------------------------------

    @_served_by("PutMetricSeries", METRIC_SERVICE,
                doc="Store metric points; returns how many were new (points already stored are skipped).")
    def put_metric_series(self, series: Sequence[mpb.MetricSeries]) -> int:
        request = mpb.PutMetricSeriesRequest()
        _fill(request, "series", series)
        return self.call("PutMetricSeries", request, service=METRIC_SERVICE, module=mpb).inserted_points

    @_served_by("GetMetricSeries", METRIC_SERVICE,
                doc="Every point of the named metrics (all when ``names`` is empty) of ``execution_ids``.")
    def get_metric_series(self, execution_ids: Sequence[int], names: Sequence[str] = ()) -> list[mpb.MetricSeries]:
        request = mpb.GetMetricSeriesRequest()
        _fill(request, "execution_ids", execution_ids)
        _fill(request, "names", names)
        return list(self.call("GetMetricSeries", request, service=METRIC_SERVICE, module=mpb).series)


    # --- history: mlineage.v1.HistoryService ---------------------------------------------------

    def _history(self, kind_name: str, node_id: int) -> list[Revision]:
        request = hpb.GetNodeHistoryRequest(kind=kind_name, id=node_id)
        answer = self.call("GetNodeHistory", request, service=HISTORY_SERVICE, module=hpb)
        return [
            Revision(
                revision=r.revision,
                operation=r.operation,
                time_ms=r.time_ms,
                surface=r.surface,
                actor=r.actor or None,
                peer=r.peer or None,
                changed=tuple(r.changed),
                node=getattr(r, kind_name) if r.HasField(kind_name) else None,
            )
            for r in answer.revisions
        ]

    def get_artifact_history(self, artifact_id: int) -> list[Revision]:
        """Every revision of an artifact, oldest first (see Store.get_artifact_history)."""
        return self._history("artifact", artifact_id)

    def get_execution_history(self, execution_id: int) -> list[Revision]:
        return self._history("execution", execution_id)

    def get_context_history(self, context_id: int) -> list[Revision]:
        return self._history("context", context_id)

    def _delete(self, kind_name: str, ids: Sequence[int]) -> int:
        request = hpb.DeleteNodesRequest(kind=kind_name, ids=list(ids))
        return self.call("DeleteNodes", request, service=HISTORY_SERVICE, module=hpb).deleted

    def delete_artifacts(self, artifact_ids: Sequence[int]) -> int:
        """Delete artifacts (see Store.delete_artifacts); NOT_FOUND, deleting nothing, for a missing id."""
        return self._delete("artifact", artifact_ids)

    def delete_executions(self, execution_ids: Sequence[int]) -> int:
        return self._delete("execution", execution_ids)

    def delete_contexts(self, context_ids: Sequence[int]) -> int:
        return self._delete("context", context_ids)


if TYPE_CHECKING:
    from mlineage.metadata.interface import StoreInterface

    def _implements_the_interface(store: GrpcStore) -> StoreInterface:
        return store  # the type checker holds GrpcStore to StoreInterface here


#: Store methods a remote store cannot offer (they reach into the database itself).
LOCAL_ONLY = frozenset({"engine", "reading"})

__all__ = ["GrpcStore", "LOCAL_ONLY", "Target"]
