"""``mlineage db upgrade|current|history``: the schema revisions of a database."""

from __future__ import annotations

import argparse
import sys

from mlineage.cli.stores import DB_HELP, database_url, open_database


def add_parser(commands) -> None:
    """Register ``db`` on the CLI's subparsers."""
    parser = commands.add_parser(
        "db",
        help="schema revisions: upgrade (creates a new database), current, history",
        description="`upgrade` brings a database to this mlineage's schema, creating it when it does not "
        "exist; `current` says where a database is; `history` lists the revisions.",
    )
    parser.add_argument("db_command", choices=["upgrade", "current", "history"])
    parser.add_argument("--db", help=DB_HELP)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mlineage.migrations import runner

    if args.db_command == "history":
        head = runner.head_revision()
        for revision, down, message in runner.history():
            marker = " (head)" if revision == head else ""
            print(f"{down or '<base>'} -> {revision}{marker}: {message.splitlines()[0] if message else ''}")
        return 0
    url, _ = database_url(args)
    with open_database(url, command=f"db {args.db_command}", create=args.db_command == "upgrade") as database:
        status = database.schema_status()
        if args.db_command == "current":
            print(f"{status.current or '<none>'} ({status.state.value}; head is {status.head})")
            return 0 if status.state in (runner.SchemaState.CURRENT, runner.SchemaState.EMPTY) else 1
        if status.state is runner.SchemaState.AHEAD:
            print(
                f"error: the database is at revision {status.current}, newer than this mlineage "
                f"({status.head}); upgrade mlineage instead",
                file=sys.stderr,
            )
            return 1
        if status.state is runner.SchemaState.FOREIGN:
            print(
                "error: the database holds tables that are not mlineage's (an MLMD database?); it is not "
                "upgraded in place: import its records into an mlineage database instead",
                file=sys.stderr,
            )
            return 1
        before = status.current
        database.upgrade()
        print(f"upgraded {before or '<empty>'} -> {runner.head_revision()}")
        return 0
