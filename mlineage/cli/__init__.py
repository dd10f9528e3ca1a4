"""The `mlineage` command: serve, db, and (as they land) import-mlmd, lineage, compare, run, journal."""

from __future__ import annotations

import argparse
import os
import sys

from mlineage.errors import MlineageError

DEFAULT_DB = "sqlite:///mlineage.db"


def _db_url(args: argparse.Namespace) -> str:
    return args.db or os.environ.get("MLINEAGE_DB") or DEFAULT_DB


def _cmd_db(args: argparse.Namespace) -> int:
    from mlineage.metadata.engine import make_engine
    from mlineage.migrations import runner

    if args.db_command == "history":
        head = runner.head_revision()
        for revision, down, message in runner.history():
            marker = " (head)" if revision == head else ""
            print(f"{down or '<base>'} -> {revision}{marker}: {message.splitlines()[0] if message else ''}")
        return 0
    engine = make_engine(_db_url(args))
    try:
        status = runner.schema_status(engine)
        if args.db_command == "current":
            print(f"{status.current or '<none>'} ({status.state.value}; head is {status.head})")
            return 0 if status.state in (runner.SchemaState.CURRENT, runner.SchemaState.EMPTY) else 1
        # upgrade
        if status.state is runner.SchemaState.AHEAD:
            print(
                f"error: the database is at revision {status.current}, newer than this mlineage "
                f"({status.head}); upgrade mlineage instead",
                file=sys.stderr,
            )
            return 1
        if status.state is runner.SchemaState.FOREIGN:
            print("error: the database holds tables that are not mlineage's; see `mlineage import-mlmd`",
                  file=sys.stderr)
            return 1
        before = status.current
        runner.upgrade(engine)
        print(f"upgraded {before or '<empty>'} -> {runner.head_revision()}")
        return 0
    finally:
        engine.dispose()


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from mlineage.api.grpc.server import TLSConfig, build_server, mark_not_serving
    from mlineage.metadata.store import Store

    logging.basicConfig(level=os.environ.get("MLINEAGE_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    url = _db_url(args)
    store = Store(url, upgrade=args.upgrade)
    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            print("error: --tls-cert and --tls-key go together", file=sys.stderr)
            return 2
        tls = TLSConfig(args.tls_cert, args.tls_key, args.tls_ca, args.tls_client_verify)
    server, grpc_port = build_server(store, host=args.host, port=args.grpc_port, tls=tls, max_workers=args.workers)
    server.start()
    print(f"mlineage: gRPC on {args.host}:{grpc_port}{' (TLS)' if tls else ''}, database {_redact(url)}", flush=True)

    http_server = http_thread = None
    if args.http_port:
        import uvicorn

        from mlineage.api.rest.app import HTTP_SERVER_OPTIONS, create_app

        config = uvicorn.Config(
            create_app(store), host=args.host, port=args.http_port, log_level="warning", **HTTP_SERVER_OPTIONS
        )
        http_server = uvicorn.Server(config)
        http_thread = threading.Thread(target=http_server.run, name="mlineage-http", daemon=True)
        http_thread.start()
        print(f"mlineage: HTTP on {args.host}:{args.http_port}", flush=True)

    stop = threading.Event()

    def _on_signal(signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    stop.wait()
    # Drain: refuse new calls, let in-flight ones finish (up to the grace period), then close.
    mark_not_serving(server)
    server.stop(grace=args.grace).wait()
    if http_server is not None:
        http_server.should_exit = True
        http_thread.join(timeout=args.grace)
    store.close()
    print("mlineage: stopped", flush=True)
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<database>"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlineage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="schema revisions: upgrade, current, history")
    db.add_argument("db_command", choices=["upgrade", "current", "history"])
    db.add_argument("--db", help=f"database URL (default: $MLINEAGE_DB or {DEFAULT_DB})")
    db.set_defaults(handler=_cmd_db)

    serve = commands.add_parser("serve", help="serve MLMD's gRPC API and the HTTP API from one process")
    serve.add_argument("--db", help=f"database URL (default: $MLINEAGE_DB or {DEFAULT_DB})")
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    serve.add_argument("--grpc-port", type=int, default=8080, help="gRPC port (default 8080; 0 picks one)")
    serve.add_argument("--http-port", type=int, default=8081, help="HTTP port (default 8081; 0 disables HTTP)")
    serve.add_argument("--upgrade", action="store_true", help="upgrade an older database schema before serving")
    serve.add_argument("--workers", type=int, default=32, help="gRPC worker threads (default 32)")
    serve.add_argument("--grace", type=float, default=15.0, help="seconds to drain in-flight calls on SIGTERM")
    serve.add_argument("--tls-cert", help="server certificate chain (PEM) for gRPC TLS")
    serve.add_argument("--tls-key", help="server private key (PEM)")
    serve.add_argument("--tls-ca", help="CA certificate (PEM) that signs client certificates")
    serve.add_argument("--tls-client-verify", action="store_true", help="require verified client certificates")
    serve.set_defaults(handler=_cmd_serve)

    from mlineage.lineage.command import add_parser as add_lineage_command

    add_lineage_command(commands, db_help=f"database URL (default: $MLINEAGE_DB or {DEFAULT_DB})")

    from mlineage.client.commands import add_commands

    add_commands(commands, DEFAULT_DB)  # run, journal
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except MlineageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
