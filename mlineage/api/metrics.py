"""Prometheus metrics of both APIs: requests, latency and in-flight calls, the gRPC worker queue, the database pools.

The metrics live in prometheus_client's default registry (with its process
collectors); ``/metrics`` on the HTTP port serves them in the text format. The
pool gauges and the read-replica counters are read from the served store when
scraped (``watch_store``), so the hot paths pay nothing for them; the pool's
waits and timeouts are counted where a checkout happens (``_watch_pool``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import QueuePool

from mlineage import __version__
from mlineage.api import tracing
from mlineage.api.logging_requests import bind_grpc_request_id, current_request_id, release_request_id

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "mlineage_http_requests_total", "HTTP requests answered, by route template and status", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "mlineage_http_request_duration_seconds", "HTTP request latency by route template", ["method", "route"],
    buckets=_BUCKETS,
)
INFO = Gauge("mlineage_info", "the running mlineage version", ["version"])
INFO.labels(__version__).set(1)
READ_ONLY = Gauge("mlineage_read_only", "1 while the store is read-only (its schema is newer than the server)")
GRPC_REQUESTS = Counter("mlineage_grpc_requests_total", "gRPC calls answered, by method and status code", ["method", "code"])
GRPC_LATENCY = Histogram(
    "mlineage_grpc_request_duration_seconds", "gRPC call latency by method", ["method"], buckets=_BUCKETS
)
GRPC_IN_FLIGHT = Gauge("mlineage_grpc_in_flight_requests", "gRPC calls being answered by a worker thread now")
GRPC_QUEUED = Gauge(
    "mlineage_grpc_worker_queue_depth", "gRPC calls received and waiting for one of the --workers threads"
)
HTTP_IN_FLIGHT = Gauge("mlineage_http_in_flight_requests", "HTTP requests being answered now")
POOL_WAITS = Counter(
    "mlineage_db_pool_waits_total", "checkouts that found every pooled connection (and the overflow) in use",
    ["engine"],
)
POOL_TIMEOUTS = Counter(
    "mlineage_db_pool_timeouts_total", "checkouts that waited out the pool timeout and failed", ["engine"]
)
POOL_WAIT_SECONDS = Histogram(
    "mlineage_db_pool_wait_seconds", "how long the checkouts that had to wait waited", ["engine"], buckets=_BUCKETS
)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


class HTTPMetricsMiddleware:
    """ASGI middleware: count and time each request under its route template (``/api/v1/artifacts/{id}``)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]
        HTTP_IN_FLIGHT.inc()
        # The request's server span (api/tracing.trace_http): its request id now, its route once routed.
        span = tracing.tag_request(current_request_id()) if tracing.ACTIVE else None

        async def send_with_status(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if span is not None:  # before the response ends the span
                    tracing.name_http_span(span, scope.get("method", ""), getattr(scope.get("route"), "path", None))
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            HTTP_IN_FLIGHT.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, template, str(status[0])).inc()
            HTTP_LATENCY.labels(method, template).observe(time.perf_counter() - start)


def timed_unary(method: str, behavior: Callable) -> Callable:
    """``behavior`` (a unary gRPC handler) counted and timed by method and status code.

    Bound to its method when the handler is made, not through a gRPC server interceptor: an
    interceptor builds a new handler for every call, which measured about 0.05 ms per call
    (bench/rpc_floor.py), a sixth of what an empty Python gRPC server costs.
    """
    latency = GRPC_LATENCY.labels(method)
    answered = GRPC_REQUESTS.labels(method, "OK")

    def timed(request, context):
        start = time.perf_counter()
        request_id = bind_grpc_request_id(context)  # the call's x-request-id for every line it logs
        if tracing.ACTIVE:  # the call's server span (api/tracing.grpc_server_interceptor)
            tracing.tag_request(current_request_id())
        GRPC_IN_FLIGHT.inc()
        try:
            response = behavior(request, context)
        except Exception:
            status = context.code() if hasattr(context, "code") else None
            GRPC_REQUESTS.labels(method, getattr(status, "name", None) or "UNKNOWN").inc()
            latency.observe(time.perf_counter() - start)
            raise
        finally:
            GRPC_IN_FLIGHT.dec()
            release_request_id(request_id)
        answered.inc()
        latency.observe(time.perf_counter() - start)
        return response

    return timed


class QueueingThreadPool(ThreadPoolExecutor):
    """The gRPC server's worker threads, counting the calls that wait for one (``mlineage_grpc_worker_queue_depth``).

    gRPC hands every received call to its executor; a call is queued from that hand-over until a
    worker thread picks it up, which is the wait a saturated ``--workers`` adds to each call.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        GRPC_QUEUED.inc()

        def started(*call_args: Any, **call_kwargs: Any) -> Any:
            GRPC_QUEUED.dec()
            return fn(*call_args, **call_kwargs)

        try:
            return super().submit(started, *args, **kwargs)
        except BaseException:  # refused (shut down): it never waits
            GRPC_QUEUED.dec()
            raise


_WATCHED_MARK = "_mlineage_watched"


def _watch_pool(engine: Engine, role: str) -> None:
    """Count the waits and timeouts of checkouts from ``engine``'s pool (a QueuePool; others never wait).

    SQLAlchemy's pool events fire after a checkout, not before it waits, so the pool's own
    checkout step is wrapped, on this pool instance only: a checkout that finds every
    connection (and the overflow) taken counts as a wait, and one that times out as a timeout.
    """
    pool = engine.pool
    if not isinstance(pool, QueuePool) or getattr(pool, _WATCHED_MARK, False):
        return
    checkout = pool._do_get
    waits, timeouts, waited = POOL_WAITS.labels(role), POOL_TIMEOUTS.labels(role), POOL_WAIT_SECONDS.labels(role)
    limit = pool.size() + max(pool._max_overflow, 0)

    def counted_checkout():
        if pool._max_overflow < 0 or pool.checkedout() < limit:
            return checkout()
        waits.inc()
        start = time.perf_counter()
        try:
            return checkout()
        except PoolTimeoutError:
            timeouts.inc()
            raise
        finally:
            waited.observe(time.perf_counter() - start)

    pool._do_get = counted_checkout  # type: ignore[method-assign]
    setattr(pool, _WATCHED_MARK, True)


class _StoreCollector(Collector):
    """The served store's pool gauges (primary and read replica) and read-routing counters, read at each scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store: Any = None

    def watch(self, store: Any) -> None:
        with self._lock:
            self._store = store
        self._engines()  # wrap the pools now, so waits are counted from the first checkout

    def _engines(self) -> list[tuple[str, Engine]]:
        store = self._store
        if store is None:
            return []
        engines = [("primary", store.engine)]
        replica = getattr(store, "replica", None)
        if replica is not None:
            engines.append(("replica", replica.engine))
        for role, engine in engines:
            _watch_pool(engine, role)  # again after a dispose() replaced the pool
        return engines

    def collect(self) -> Iterator[Metric]:
        size = GaugeMetricFamily("mlineage_db_pool_size", "connections the pool keeps (0: no pool, NullPool)",
                                 labels=["engine"])
        out = GaugeMetricFamily("mlineage_db_pool_checked_out", "pooled connections in use now", labels=["engine"])
        idle = GaugeMetricFamily("mlineage_db_pool_idle", "pooled connections open and unused", labels=["engine"])
        overflow = GaugeMetricFamily("mlineage_db_pool_overflow",
                                     "connections open beyond the pool size (negative: the pool is not full yet)",
                                     labels=["engine"])
        for role, engine in self._engines():
            pool = engine.pool
            if isinstance(pool, QueuePool):
                size.add_metric([role], pool.size())
                out.add_metric([role], pool.checkedout())
                idle.add_metric([role], pool.checkedin())
                overflow.add_metric([role], pool.overflow())
            else:
                size.add_metric([role], 0)
        yield from (size, out, idle, overflow)
        # Without --read-db the families are there with no samples: a dashboard's query selects nothing.
        replica = getattr(self._store, "replica", None) if self._store is not None else None
        reads = CounterMetricFamily("mlineage_replica_routed_reads",
                                    "routed reads (lists, lineage) by the database that served them (--read-db)",
                                    labels=["served_by"])
        waits = CounterMetricFamily("mlineage_replica_read_your_writes_waits",
                                    "routed reads that first waited for the replica to replay their caller's write",
                                    labels=[])
        if replica is not None:
            reads.add_metric(["replica"], replica.replica_reads)
            reads.add_metric(["primary"], replica.primary_reads)
            waits.add_metric([], replica.caught_up_waits)
        yield reads
        yield waits


_STORE_METRICS = _StoreCollector()
REGISTRY.register(_STORE_METRICS)


def watch_store(store: Any) -> None:
    """Report ``store``'s database pools (and read replica) on /metrics: the store a server serves."""
    _STORE_METRICS.watch(store)
