"""``mlineage serve``: MLMD's gRPC API and the HTTP API from one process, on one store.

Start-up either serves everything it was asked to or exits non-zero with one
line that says what was wrong (a busy port, a missing database): the HTTP
socket is bound before anything serves, so a taken HTTP port cannot leave a
server running with gRPC only.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time

from mlineage.cli.stores import DB_HELP, database_url, open_for_serving
from mlineage.connection import redact
from mlineage.errors import MlineageError

HTTP_START_TIMEOUT_S = 30.0
LOOPBACK = "127.0.0.1"


def add_parser(commands) -> None:
    """Register ``serve`` on the CLI's subparsers."""
    serve = commands.add_parser(
        "serve",
        help="serve MLMD's gRPC API and the HTTP API from one process",
        description="Serve one store over gRPC (MLMD's API) and HTTP (REST, OpenLineage, /docs). With no "
                    "--db (and no $MLINEAGE_DB) the embedded ./mlineage.db is created if needed; a database "
                    "named with --db must exist (or pass --create).",
    )
    serve.add_argument("--db", help=DB_HELP)
    serve.add_argument("--create", action="store_true",
                       help="create the SQLite file named by --db if it does not exist")
    serve.add_argument("--host", default=LOOPBACK,
                       help=f"address to bind (default {LOOPBACK}; another needs --auth or --insecure-no-auth)")
    serve.add_argument("--auth", choices=("none", "tokens"), default="none",
                       help="tokens: every call needs a bearer token (mlineage token create) or, with "
                            "--tls-identities, a mapped client certificate (default none)")
    serve.add_argument("--tls-identities", metavar="FILE",
                       help="JSON mapping client certificate CN/SAN -> {namespace, role} (needs mTLS: "
                            "--tls-ca and --tls-client-verify)")
    serve.add_argument("--oidc-issuer", metavar="URL",
                       help="also accept JWT bearer tokens signed by this OIDC issuer's keys (needs mlineage[oidc])")
    serve.add_argument("--oidc-audience", metavar="AUD", help="the audience (aud) those tokens must name")
    serve.add_argument("--oidc-namespace-claim", default="mlineage_namespace",
                       help="the claim naming the caller's namespace (default mlineage_namespace)")
    serve.add_argument("--oidc-role-claim", default="mlineage_role",
                       help="the claim naming the caller's role (default mlineage_role)")
    serve.add_argument("--insecure-no-auth", action="store_true",
                       help="serve a non-loopback address with no authentication (anyone who reaches it "
                            "reads and writes everything)")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="allow browser calls from this origin (repeatable; default: CORS off)")
    serve.add_argument("--rate-limit", type=float, metavar="RPS",
                       help="requests per second per identity (bursts of twice that); over it: 429/RESOURCE_EXHAUSTED")
    serve.add_argument("--max-request-bytes", type=int, default=32 * 1024 * 1024,
                       help="largest HTTP request body (default 32 MiB; MLflow artifact uploads exempt)")
    serve.add_argument("--grpc-port", type=int, default=_env_port("MLINEAGE_GRPC_PORT", 8080),
                       help="gRPC port (default: $MLINEAGE_GRPC_PORT or 8080; 0 picks one)")
    serve.add_argument("--http-port", type=int, default=_env_port("MLINEAGE_HTTP_PORT", 8081),
                       help="HTTP port (default: $MLINEAGE_HTTP_PORT or 8081; 0 disables HTTP)")
    serve.add_argument("--upgrade", action="store_true", help="upgrade an older database schema before serving")
    serve.add_argument("--read-db", metavar="URL",
                       help="a PostgreSQL streaming replica of --db for lists and lineage walks (docs/deploy.md)")
    serve.add_argument("--read-window", type=float, default=5.0, metavar="SECONDS",
                       help="after a write, how long its caller's reads wait for the replica (default 5)")
    serve.add_argument("--pool-size", type=int, metavar="N",
                       help="database connections kept per process (default 10); 0: none (NullPool, behind PgBouncer)")
    serve.add_argument("--pgbouncer", action="store_true",
                       help="no server-side prepared statements, for PgBouncer in transaction mode")
    serve.add_argument("--workers", type=int, default=32, help="gRPC worker threads (default 32)")
    serve.add_argument("--cpus", default="auto", metavar="auto|all|LIST",
                       help="where the server's threads run: auto (default) keeps them together on one CPU "
                            "and moves them to an idler one; all leaves them to the OS; a list (0,2 or 4-7) "
                            "fixes them there")
    serve.add_argument("--grace", type=float, default=15.0, help="seconds to drain in-flight calls on SIGTERM")
    serve.add_argument("--otel", action="store_true",
                       help="OpenTelemetry traces (needs mlineage[otel]); the standard OTEL_* variables turn them "
                            "on too and say where they go (docs/deploy.md)")
    serve.add_argument("--access-log", action="store_true",
                       help="log every HTTP request and gRPC call (method, status, duration) to stderr")
    serve.add_argument("--log-format", choices=("text", "json"), default=_env_log_format(),
                       help="stderr log lines: text, or one JSON object each with the request id "
                            "(default: $MLINEAGE_LOG_FORMAT or text)")
    serve.add_argument("--artifact-root", help="where MLflow's artifact proxy keeps files: a directory or an fsspec "
                       "URL (default: <name>-artifacts beside a SQLite database, else ./mlineage-artifacts)")
    serve.add_argument("--tls-cert", help="server certificate chain (PEM) for gRPC TLS")
    serve.add_argument("--tls-key", help="server private key (PEM)")
    serve.add_argument("--tls-ca", help="CA certificate (PEM) that signs client certificates")
    serve.add_argument("--tls-client-verify", action="store_true", help="require verified client certificates")
    serve.set_defaults(handler=run)


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else default


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (what uvicorn would bind), or OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on connections whose socket says TCP, and
    # without it every answer after a keep-alive connection's first waits ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _port_free(host: str, port: int) -> OSError | None:
    """Whether gRPC could bind host:port; checked first so that a busy port is one line, not a C-core log."""
    if port == 0:
        return None
    try:
        _listen(host, port).close()
    except OSError as exc:
        return exc
    return None


def _env_log_format() -> str:
    value = os.environ.get("MLINEAGE_LOG_FORMAT", "text").lower()
    return value if value in ("text", "json") else "text"


def _configure_logging(access_log: bool, log_format: str = "text") -> None:
    from mlineage.api.logging_requests import configure

    level = os.environ.get("MLINEAGE_LOG_LEVEL", "INFO").upper()
    configure(log_format=log_format, level=level)
    # Alembic reports every connection's dialect at INFO; its migrations are ours to report.
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlineage.access").setLevel(logging.INFO if access_log else logging.WARNING)
    # HTTP access lines: uvicorn's in the text format; in JSON, the request-id middleware's (with the id).
    json_access = access_log and log_format == "json"
    logging.getLogger("mlineage.access.http").setLevel(logging.INFO if json_access else logging.WARNING)


def run(args: argparse.Namespace) -> int:
    import signal

    from mlineage.api import cpu_placement

    cpu_placement.poller_io(args.cpus)  # before gRPC is imported: it reads its settings then
    from mlineage.api.grpc.server import TLSConfig, build_server, mark_not_serving

    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            print("error: --tls-cert and --tls-key go together", file=sys.stderr)
            return 2
        tls = TLSConfig(args.tls_cert, args.tls_key, args.tls_ca, args.tls_client_verify)
    if args.artifact_root:
        from mlineage.api.mlflow.artifacts import check_artifact_root

        if problem := check_artifact_root(args.artifact_root):
            return _fail(problem)
    _configure_logging(args.access_log, args.log_format)
    from mlineage.cli.serve_auth import auth_config, check_bind, describe_auth

    try:
        auth = auth_config(args, tls)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    refused = check_bind(args.host, auth, insecure=args.insecure_no_auth)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    try:
        cpu_choice = cpu_placement.parse(args.cpus, cpu_placement.available())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    traces = _start_tracing(args.otel)
    if traces is not None:
        return traces
    # From here on SIGTERM/SIGINT stop the server cleanly, even one that arrives while it starts.
    stop = threading.Event()

    def _on_signal(signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    if args.pool_size is not None:
        if args.pool_size < 0:
            return _fail("--pool-size must not be negative")
        os.environ["MLINEAGE_DB_POOL_SIZE"] = str(args.pool_size)  # read by metadata/engine.py
    if args.pgbouncer:
        os.environ["MLINEAGE_DB_PGBOUNCER"] = "1"
    url, embedded = database_url(args)
    store = open_for_serving(url, create=embedded or args.create, upgrade=args.upgrade)
    if args.read_db:
        from mlineage.auth import identity
        from mlineage.metadata import replica

        replica.identify_callers_by(identity.current_actor)
        try:
            store.use_read_replica(args.read_db, window_s=args.read_window)
        except MlineageError as exc:
            store.close()
            return _fail(f"--read-db: {exc}")
    from mlineage.api.metrics import watch_store

    watch_store(store)  # its database pools (and read replica) on /metrics
    lock = _claim_sqlite(store)
    authenticator = _authenticator(auth, store)
    http_socket = server = placement = None
    try:
        if args.http_port:
            try:
                http_socket = _listen(args.host, args.http_port)
            except OSError as exc:
                return _fail(f"cannot listen for HTTP on {args.host}:{args.http_port}: {exc.strerror or exc}")
        busy = _port_free(args.host, args.grpc_port)
        if busy is not None:
            return _fail(f"cannot listen for gRPC on {args.host}:{args.grpc_port}: {busy.strerror or busy}")
        placement = cpu_placement.Placement(cpu_choice)
        print(f"mlineage: {placement.start()}", flush=True)
        try:
            server, grpc_port = build_server(
                store, host=args.host, port=args.grpc_port, tls=tls, max_workers=args.workers,
                access_log=args.access_log, auth=authenticator,
            )
        except (OSError, RuntimeError):
            return _fail(f"cannot listen for gRPC on {args.host}:{args.grpc_port}")
        server.start()
        print(f"mlineage: {describe_auth(auth, args.host)}", flush=True)
        print(f"mlineage: gRPC on {args.host}:{grpc_port}{' (TLS)' if tls else ''}, database {redact(url)}",
              flush=True)

        http_server = http_thread = None
        if http_socket is not None:
            http_server, http_thread = _start_http(store, http_socket,
                                                   access_log=args.access_log and args.log_format == "text",
                                                  artifact_root=args.artifact_root, auth=authenticator,
                                                  cors_origins=args.cors_origin,
                                                  max_request_bytes=args.max_request_bytes)
            if http_server is None:
                server.stop(grace=0)
                return _fail(f"the HTTP server on {args.host}:{args.http_port} did not start")
            print(f"mlineage: HTTP on {args.host}:{args.http_port}", flush=True)

        while not stop.wait(1.0):
            if http_thread is not None and not http_thread.is_alive():
                mark_not_serving(server)
                server.stop(grace=args.grace).wait()
                return _fail(f"the HTTP server on {args.host}:{args.http_port} stopped")
        # Drain both APIs at once, within one grace period (a pod's termination grace counts once):
        # refuse new calls, let in-flight ones finish, then close.
        deadline = time.monotonic() + args.grace
        mark_not_serving(server)
        stopped = server.stop(grace=args.grace)
        if http_server is not None:
            http_server.should_exit = True
        stopped.wait(timeout=args.grace + 1.0)
        if http_thread is not None:
            http_thread.join(timeout=max(0.0, deadline - time.monotonic()))
        from mlineage.api import tracing

        tracing.shutdown()  # export the spans still buffered
        print("mlineage: stopped", flush=True)
        _exit_soon_after_drain()
        return 0
    finally:
        if placement is not None:
            placement.stop()
        if http_socket is not None:
            http_socket.close()
        store.close()
        if lock is not None:
            lock.close()


def _start_tracing(flag: bool) -> int | None:
    """Turn traces on when --otel or the OTEL_* variables ask; an exit code when --otel cannot be met."""
    from mlineage.api import tracing

    if not tracing.requested(flag):
        return None
    try:
        print(f"mlineage: OpenTelemetry {tracing.enable()}", flush=True)
    except tracing.TracingUnavailable as exc:
        if flag:
            print(f"error: --otel: {exc}", file=sys.stderr, flush=True)
            return 2
        # Asked for by the environment only (a variable set for every pod): serve, untraced, and say so.
        print(f"warning: OTEL_* variables set, but no traces: {exc}", file=sys.stderr, flush=True)
    return None


def _authenticator(auth, store):
    if auth is None or not auth.enabled:
        return None
    from mlineage.auth.authenticator import Authenticator
    from mlineage.auth.tokens import TokenVerifier

    return Authenticator(auth, TokenVerifier(store))


EXIT_AFTER_DRAIN_S = 1.0


def _exit_soon_after_drain() -> None:
    """End the process shortly after the drain, even if calls are still stuck in the store.

    A call that outlives the grace period (waiting on a database lock, say) keeps its worker thread,
    and the interpreter joins worker threads before it exits: the pod would outstay its termination
    grace and be killed. What those calls wrote is not committed and was never acknowledged; the
    database drops it. A process that exits by itself first never reaches this timer.
    """
    def leave() -> None:
        print("mlineage: calls still running after the grace period were abandoned", file=sys.stderr, flush=True)
        os._exit(0)

    timer = threading.Timer(EXIT_AFTER_DRAIN_S, leave)
    timer.daemon = True
    timer.start()


def _start_http(store, sock: socket.socket, *, access_log: bool, artifact_root: str | None = None, **app_options):
    """uvicorn on the bound socket, in a thread; (None, None) if it does not come up."""
    import uvicorn

    from mlineage.api import tracing
    from mlineage.api.rest.app import HTTP_SERVER_OPTIONS, create_app

    app = create_app(store, artifact_root=artifact_root, **app_options)
    if tracing.ACTIVE:
        tracing.trace_http(app)
    config = uvicorn.Config(
        app, log_level="warning", access_log=access_log,
        **HTTP_SERVER_OPTIONS,
    )
    if access_log:
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    http_server = uvicorn.Server(config)
    thread = threading.Thread(target=http_server.run, kwargs={"sockets": [sock]}, name="mlineage-http",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + HTTP_START_TIMEOUT_S
    while not http_server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            http_server.should_exit = True
            return None, None
        time.sleep(0.01)
    return http_server, thread


def _claim_sqlite(store):
    """Hold a lock next to a SQLite database while serving; warn when another server holds it.

    SQLite is for one server: several processes writing one file queue on its
    lock and none of them can cache what the others changed. The lock is an
    advisory ``flock`` on ``DB.serve.lock`` (released by the kernel if the
    process dies); the file records the holder's pid. Returns the open file.
    """
    path = store.sqlite_path
    if path is None:
        return None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows
        return None
    lock_path = path.with_name(path.name + ".serve.lock")
    try:
        handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the server's life
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        print(
            f"warning: another mlineage serve (pid {holder}) is serving {path}; SQLite is for one server: "
            "for several, give them one PostgreSQL database (--db postgresql://…)",
            file=sys.stderr,
            flush=True,
        )
        return handle
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
