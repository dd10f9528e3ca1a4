"""OpenTelemetry traces of a server (optional, the ``otel`` extra): a span per gRPC call, HTTP request and SQL statement.

``mlineage serve --otel``, or any of the standard variables (OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_TRACES_EXPORTER, OTEL_SERVICE_NAME), turns it on;
the exporters are the SDK's, chosen by OTEL_TRACES_EXPORTER (``otlp``, the default, over gRPC
or, with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, HTTP; ``console``; ``none``) and configured
by the SDK's own OTEL_* variables. Propagation is the global propagator (W3C traceparent and
baggage unless OTEL_PROPAGATORS says otherwise).

Where the spans come from: gRPC calls through opentelemetry-instrumentation-grpc's server
interceptor (it continues the trace named by the call's ``traceparent`` metadata); HTTP
requests through opentelemetry-instrumentation-asgi's middleware (``trace_http``), renamed to the route
template once routing is done (``api/metrics.HTTPMetricsMiddleware``); SQL statements in
``metadata/executor``, the one place a statement runs, as CLIENT spans under the request's
span (SQLAlchemy's instrumentation would miss them: the executor runs on the DBAPI cursor).
Each request's span carries its request id (``mlineage.request_id``).

Nothing here imports OpenTelemetry until tracing is asked for, and with it off the hot paths
test one module flag.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mlineage.metadata import executor

#: The variables that ask for tracing when set (besides ``--otel``).
ENV_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME",
)  # fmt: skip
REQUEST_ID_ATTRIBUTE = "mlineage.request_id"
INSTRUMENTATION = "mlineage"
#: Probes and scrapes answered every few seconds: not traced.
UNTRACED_URLS = "/healthz,/readyz,/metrics"
MISSING_EXTRA = "OpenTelemetry is not installed: pip install 'mlineage[otel]'"

#: True while traces are recorded (``enable``): what the hot paths test.
ACTIVE = False
_provider: Any = None


class TracingUnavailable(RuntimeError):
    """Tracing was asked for but the ``otel`` extra (or one exporter's package) is not installed."""


def requested(flag: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``--otel`` or one of the standard variables asks for traces (OTEL_SDK_DISABLED=true wins)."""
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return flag or any(environ.get(name, "").strip() for name in ENV_VARIABLES)


def enable(environ: Mapping[str, str] | None = None) -> str:
    """Record traces from now on; returns a line that says where they go. Raises TracingUnavailable."""
    global ACTIVE, _provider
    environ = os.environ if environ is None else environ
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise TracingUnavailable(MISSING_EXTRA) from None
    from mlineage import __version__

    names = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if name.strip()]
    unknown = sorted(set(names) - {"otlp", "console", "none"})
    if unknown:
        raise TracingUnavailable(f"OTEL_TRACES_EXPORTER names {', '.join(unknown)}: mlineage exports with otlp, "
                                 "console or none")
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the service is "mlineage" otherwise.
    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME") or "mlineage",
                                "service.version": __version__})
    provider = TracerProvider(resource=resource)
    said = []
    if "otlp" in names:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(environ)))
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        said.append(f"OTLP to {endpoint or 'the default collector (localhost:4317)'}")
    if "console" in names:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))  # one JSON span each, as it ends
        said.append("the console (stdout)")
    trace.set_tracer_provider(provider)
    _provider = provider
    executor.trace_statements(provider.get_tracer(INSTRUMENTATION, __version__))
    ACTIVE = True
    return "traces to " + (" and ".join(said) if said else "nowhere (OTEL_TRACES_EXPORTER=none)")


def _otlp_exporter(environ: Mapping[str, str]) -> Any:
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "grpc").strip().lower()
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        elif protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
        else:
            raise TracingUnavailable(f"OTLP protocol {protocol!r}: mlineage exports with grpc or http/protobuf")
    except ImportError:
        raise TracingUnavailable(MISSING_EXTRA) from None
    return OTLPSpanExporter()  # endpoint, headers, TLS and timeout from the OTEL_EXPORTER_OTLP_* variables


def shutdown() -> None:
    """Export what is still buffered and stop recording (a server calls it once it has drained)."""
    global ACTIVE, _provider
    if _provider is None:
        return
    executor.trace_statements(None)
    ACTIVE = False
    provider, _provider = _provider, None
    provider.shutdown()


def grpc_server_interceptor() -> Any:
    """The gRPC instrumentation's server interceptor: a SERVER span per call, continuing its traceparent."""
    from opentelemetry.instrumentation.grpc import server_interceptor

    return server_interceptor(tracer_provider=_provider)


def trace_http(app: Any) -> None:
    """Add the ASGI instrumentation's middleware to ``app`` (a Starlette/FastAPI app not yet serving), outermost:
    a SERVER span per HTTP request, probes and scrapes excluded.

    Inside the app's middleware stack, not around the app: FastAPI versions with telemetry of their own
    see it there and leave the request's span to it (one server span per request, not two).
    """
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app.add_middleware(OpenTelemetryMiddleware, excluded_urls=UNTRACED_URLS, tracer_provider=_provider,
                       exclude_spans=["receive", "send"])


def tag_request(request_id: str | None) -> Any:
    """Put the request id on the current request's span, and return that span."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if request_id is not None:
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
    return span


def name_http_span(span: Any, method: str, route: str | None) -> None:
    """Name an HTTP server span after its route template (known only once routing is done), not its path."""
    if route is None:  # no route matched (a 404): the path is the caller's text, of any cardinality
        span.update_name(f"{method} <unmatched>")
        return
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
