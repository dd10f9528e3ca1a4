"""The gRPC adapter: a server interceptor that identifies and authorizes every call before its handler runs.

The identity comes from the ``authorization`` metadata (``Bearer TOKEN``) or, under
mutual TLS with ``--tls-identities``, from the verified client certificate's CN/SANs
(the unmodified ml-metadata client sends no metadata). Admins may name another
namespace with ``x-mlineage-namespace``. Refusals are UNAUTHENTICATED (with a
``www-authenticate`` trailer), PERMISSION_DENIED or RESOURCE_EXHAUSTED; the handler then
never runs. Methods the policy marks public (health) pass untouched.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from mlineage import errors as codes
from mlineage.auth.authenticator import REALM, Authenticator, Refused
from mlineage.auth.identity import Identity, acting_as
from mlineage.auth.policy import GRPC_ESCALATIONS, grpc_needed
from mlineage.auth.tls_identities import certificate_names
from mlineage.metadata import namespace_scope

_STATUS = {
    codes.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    codes.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    codes.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    codes.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
}


@contextlib.contextmanager
def _running_as(identity: Identity) -> Iterator[Identity]:
    """The call runs as ``identity``, reading and writing its namespace only."""
    with acting_as(identity), namespace_scope.scoped(identity.namespace):
        yield identity


class AuthInterceptor(grpc.ServerInterceptor):
    """Runs each call as its caller's :class:`Identity`, or refuses it."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._auth = authenticator
        self._wrapped: dict[str, tuple[Any, Any]] = {}
        # A wrapper takes its handler's attributes (functools.wraps), so a call marked quick stays quick
        # (api/grpc/inline.py), unless identifying it may wait on the network: an OIDC issuer's keys are
        # fetched (and refreshed) over HTTP, which must not hold up gRPC's polling thread.
        self._keeps_quick = authenticator.config.oidc is None

    def _identify(self, method: str, request: Any, context: grpc.ServicerContext) -> Identity:
        authorization = namespace = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                authorization = value
            elif key == "x-mlineage-namespace":
                namespace = value.strip()
        names = None
        if authorization is None and self._auth.config.tls_identities is not None:
            names = certificate_names(context.auth_context())
        try:
            identity = self._auth.identify(
                surface="grpc", authorization=authorization, certificate_names=names, namespace=namespace,
                peer=context.peer(),
            )  # fmt: skip
            needed = grpc_needed(method, request)
            if needed is not None:
                self._auth.authorize(identity, needed, surface="grpc")
        except Refused as refused:
            if refused.code == codes.UNAUTHENTICATED:
                context.set_trailing_metadata((("www-authenticate", REALM),))
            context.abort(_STATUS.get(refused.code, grpc.StatusCode.UNKNOWN), refused.message)
        return identity

    def intercept_service(self, continuation: Callable, handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or (grpc_needed(method) is None and method not in GRPC_ESCALATIONS):
            return handler
        # The wrapped handler reads the call's metadata from its context, so one per method serves every call.
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: Any) -> Any:
        identify = self._identify
        keeps_quick = self._keeps_quick

        if handler.unary_unary is not None:
            inner = handler.unary_unary

            def unary_unary(request, context):
                with _running_as(identify(method, request, context)):
                    return inner(request, context)

            behavior = functools.update_wrapper(unary_unary, inner) if keeps_quick else unary_unary
            return grpc.unary_unary_rpc_method_handler(
                behavior, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )  # fmt: skip
        if handler.unary_stream is not None:
            inner_us = handler.unary_stream

            def unary_stream(request, context):
                with _running_as(identify(method, request, context)):
                    yield from inner_us(request, context)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )  # fmt: skip
        if handler.stream_unary is not None:
            inner_su = handler.stream_unary

            def stream_unary(requests, context):
                with _running_as(identify(method, None, context)):
                    return inner_su(requests, context)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )  # fmt: skip
        inner_ss = handler.stream_stream

        def stream_stream(requests, context):
            with _running_as(identify(method, None, context)):
                yield from inner_ss(requests, context)

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )  # fmt: skip
