"""The `mlineage` command: serve, db, import-mlmd, copy, export, restore, lineage, compare, history, purge, metrics, serving, record, run and journal, one module per command over the library."""

from __future__ import annotations

import argparse
import sys

from mlineage.cli.stores import DEFAULT_DB
from mlineage.errors import MlineageError

__all__ = ["DEFAULT_DB", "build_parser", "main"]

# Whose exceptions are a database's answer (one line, exit 2) rather than a bug (a traceback):
# SQLAlchemy's and the drivers' (PEP 249), recognised by module so the CLI imports neither.
_DATABASE_MODULES = ("sqlalchemy", "sqlite3", "psycopg")


def build_parser() -> argparse.ArgumentParser:
    """The ``mlineage`` parser with every command registered."""
    from mlineage.cli import copy, db, history, import_mlmd, lineage, metrics, purge, record, serve, serving
    from mlineage.cli.compare import add_parser as add_compare
    from mlineage.cli.doctor import add_parser as add_doctor
    from mlineage.client.commands import add_commands

    parser = argparse.ArgumentParser(
        prog="mlineage",
        description="An ML metadata and lineage store that speaks MLMD's API: serve it, manage its database, "
                    "and ask it what it holds.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parser(commands)
    db.add_parser(commands)
    add_doctor(commands)  # doctor: schema, indexes, settings
    import_mlmd.add_parser(commands)
    copy.add_parser(commands)  # copy, export, restore
    lineage.add_parser(commands)
    add_compare(commands)
    history.add_parser(commands)
    purge.add_parser(commands)
    metrics.add_parser(commands)
    serving.add_parser(commands)  # serving watch
    record.add_parser(commands)  # record tfdv-stats|tfdv-schema|tfdv-anomalies|tft|tfma|push
    from mlineage.cli import audit, namespace, token

    token.add_parser(commands)  # token create|list|revoke
    namespace.add_parser(commands)  # namespace create|list|delete
    audit.add_parser(commands)  # audit --since
    add_commands(commands, DEFAULT_DB)  # run, journal: the client's half
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors are one line on stderr and a non-zero exit, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except MlineageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the error boundary of the command line: a database error is one line
        if not type(exc).__module__.startswith(_DATABASE_MODULES):
            raise
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"error: the database answered: {lines[0] if lines else type(exc).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
