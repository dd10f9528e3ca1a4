"""The gRPC server: MLMD's service under both names, health checking, reflection, optional TLS."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from mlineage.api import tracing
from mlineage.api.grpc.history import HISTORY_SERVICE, history_handlers
from mlineage.api.grpc.inline import InlineFirstPool, carry_mark, enabled_by_environment
from mlineage.api.grpc.metrics import METRIC_SERVICE, metric_handlers
from mlineage.api.grpc.service import MLMD_SERVICE, OUR_SERVICE, MetadataStoreServicer, generic_handlers
from mlineage.api.logging_requests import bind_grpc_request_id, release_request_id
from mlineage.auth.authenticator import Authenticator
from mlineage.auth.grpc_auth import AuthInterceptor
from mlineage.metadata.store import Store

log = logging.getLogger("mlineage.grpc")
access = logging.getLogger("mlineage.access")

MAX_MESSAGE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class TLSConfig:
    """Server TLS as MLMD's MetadataStoreServerConfig.SSLConfig has it (PEM file paths)."""

    server_cert: str
    server_key: str
    custom_ca: str | None = None  # CA that signs client certificates
    client_verify: bool = False  # require and verify a client certificate (mTLS)

    def credentials(self) -> grpc.ServerCredentials:
        key = Path(self.server_key).read_bytes()
        cert = Path(self.server_cert).read_bytes()
        ca = Path(self.custom_ca).read_bytes() if self.custom_ca else None
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=self.client_verify
        )


def build_server(
    store: Store,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    tls: TLSConfig | None = None,
    max_workers: int = 32,
    access_log: bool = False,
    auth: Authenticator | None = None,
    inline: bool | None = None,
) -> tuple[grpc.Server, int]:
    """A started-ready (not started) server and the port it bound (useful with port 0).

    ``access_log`` logs each call (method, status, milliseconds, peer) to the
    ``mlineage.access`` logger. ``auth`` identifies and authorizes every call
    (mlineage.auth.grpc_auth) before its handler runs. Raises OSError (or grpc's RuntimeError) when the
    address cannot be bound. ``inline``: answer quick calls on gRPC's polling thread (api/grpc/inline.py);
    None (the default) unless ``MLINEAGE_GRPC_INLINE=0``.
    """
    if inline is None:
        inline = enabled_by_environment()
    # Requests and latency per method and status code (on /metrics of the HTTP port) are counted in
    # the handlers themselves (api/metrics.timed_unary): an interceptor costs every call a new handler.
    interceptors: list[grpc.ServerInterceptor] = []
    if access_log:
        interceptors.append(AccessLogInterceptor())
    if auth is not None:
        interceptors.append(AuthInterceptor(auth))
    if tracing.ACTIVE:  # outermost: a refused call is traced too
        interceptors.insert(0, tracing.grpc_server_interceptor())
    # Counts waiting calls; quick calls are answered on the polling thread while no worker is busy.
    pool = InlineFirstPool(max_workers=max_workers, thread_name_prefix="mlineage-grpc", inline=inline)
    server = grpc.server(
        pool,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
        interceptors=interceptors,
    )
    server._mlineage_pool = pool  # type: ignore[attr-defined]  # for the tests: what was answered inline
    server.add_generic_rpc_handlers(generic_handlers(MetadataStoreServicer(store)))
    server.add_generic_rpc_handlers([metric_handlers(store), history_handlers(store)])
    _add_health(server)
    _add_reflection(server)
    _warm_up()
    address = f"{host}:{port}"
    bound = server.add_secure_port(address, tls.credentials()) if tls else server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"cannot bind gRPC port {address}")
    return server, bound


class AccessLogInterceptor(grpc.ServerInterceptor):
    """One ``mlineage.access`` line per unary call: method, status code, milliseconds, peer."""

    def intercept_service(self, continuation: Callable, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        inner = handler.unary_unary

        def logged(request, context):
            start = time.perf_counter()
            code = "OK"
            request_id = bind_grpc_request_id(context)  # bound here too, so that the access line carries it
            try:
                return inner(request, context)
            except Exception:
                status = context.code() if hasattr(context, "code") else None
                code = getattr(status, "name", None) or "UNKNOWN"
                raise
            finally:
                access.info("grpc %s %s %.1fms %s", method, code, (time.perf_counter() - start) * 1000,
                            context.peer())
                release_request_id(request_id)

        return grpc.unary_unary_rpc_method_handler(
            carry_mark(inner, logged),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _warm_up() -> None:
    """Pay one-time costs before serving rather than in the first caller's latency."""
    from mlineage.metadata.filter_query import warm_up

    warm_up()


def _add_health(server: grpc.Server) -> None:
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    servicer = health.HealthServicer()
    for name in ("", MLMD_SERVICE, OUR_SERVICE):
        servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server._mlineage_health = servicer  # type: ignore[attr-defined]  # to flip to NOT_SERVING on drain


def _add_reflection(server: grpc.Server) -> None:
    from grpc_reflection.v1alpha import reflection

    reflection.enable_server_reflection(
        (MLMD_SERVICE, OUR_SERVICE, METRIC_SERVICE, HISTORY_SERVICE, "grpc.health.v1.Health", reflection.SERVICE_NAME),
        server,
        pool=_reflection_pool(),
    )


# The file that declares MLMD's service name for reflection: the same methods on our messages.
_ALIAS_FILE = "mlineage/v1/ml_metadata_service_alias.proto"


def _reflection_pool() -> Any:
    """Descriptors for reflection: the default pool's files, plus ``ml_metadata.MetadataStoreService``.

    Our messages live in package ``mlineage.v1`` (a TFX step imports both), so
    MLMD's service name has no descriptor of its own. A small file in package
    ``ml_metadata`` declares it with our method list and message types, which
    are MLMD's on the wire; a reflecting client (grpcurl, Postman) can then
    list, describe and call it under either name.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf import descriptor_pool as pools
    from grpc_health.v1 import health_pb2
    from grpc_reflection.v1alpha import reflection_pb2

    from mlineage.proto import history_pb2, metadata_store_service_pb2, metric_series_pb2

    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(file) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        pool.Add(proto)
        added.add(file.name)

    for module in (metadata_store_service_pb2, metric_series_pb2, history_pb2, health_pb2, reflection_pb2):
        add(module.DESCRIPTOR)
    ours = pools.Default().FindServiceByName(OUR_SERVICE)
    alias = descriptor_pb2.FileDescriptorProto(
        name=_ALIAS_FILE, package=MLMD_SERVICE.rpartition(".")[0], syntax="proto2",
        dependency=[ours.file.name],
    )  # fmt: skip
    service = alias.service.add()
    ours.CopyToProto(service)
    service.name = MLMD_SERVICE.rpartition(".")[2]
    pool.Add(alias)
    return pool


def mark_not_serving(server: grpc.Server) -> None:
    from grpc_health.v1 import health_pb2

    servicer = getattr(server, "_mlineage_health", None)
    if servicer is not None:
        servicer.enter_graceful_shutdown()
        for name in ("", MLMD_SERVICE, OUR_SERVICE):
            servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
