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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlineage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="schema revisions: upgrade, current, history")
    db.add_argument("db_command", choices=["upgrade", "current", "history"])
    db.add_argument("--db", help=f"database URL (default: $MLINEAGE_DB or {DEFAULT_DB})")
    db.set_defaults(handler=_cmd_db)
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
