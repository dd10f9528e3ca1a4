"""``mlineage copy``, ``mlineage export`` and ``mlineage restore``: a whole store to another database, or to a file and back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlineage.cli.stores import open_database
from mlineage.connection import redact
from mlineage.errors import InvalidArgumentError

_URL = "sqlite:///PATH or postgresql://…"


def add_parser(commands: Any) -> None:
    """Register ``copy``, ``export`` and ``restore`` on the CLI's subparsers."""
    copy = commands.add_parser(
        "copy",
        help="copy a whole mlineage store, history included, to another database (SQLite <-> PostgreSQL), ids kept",
        description="Copies every table (nodes, types, links, history, metric points, OpenLineage events) in "
                    "batches with their ids, and sets the target's id sequences past the source's. Both must be "
                    "at this mlineage's schema head (a new target gets it). The target must be new or an earlier "
                    "copy of the same source: a rerun writes nothing, a rerun after an interruption finishes it.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help=f"the store to copy: {_URL}")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help=f"the database to fill: {_URL}")
    copy.add_argument("--create", action="store_true", help="create the target SQLite file if it does not exist")
    _common(copy)
    copy.set_defaults(handler=run_copy)

    export = commands.add_parser(
        "export",
        help="write a whole mlineage store, history included, to one portable file",
        description="Writes a zip file: manifest.json (format version, mlineage version, schema revision, tables, "
                    "row counts, checksums) and one compressed newline-delimited JSON member per table. "
                    "`mlineage restore` reads it back, in this mlineage or a later one.",
    )
    export.add_argument("--db", required=True, metavar="URL", help=f"the store to export: {_URL}")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    _common(export)
    export.set_defaults(handler=run_export)

    restore = commands.add_parser(
        "restore",
        help="restore an export file into a new database, then upgrade it to this mlineage's schema",
        description="Checks the file's manifest (a format version and schema revision this mlineage reads) and "
                    "every table's row count and checksum, then writes the rows in one transaction into a new "
                    "database at the file's schema revision and upgrades it to head.",
    )
    restore.add_argument("file", metavar="FILE", help="an `mlineage export` file")
    restore.add_argument("--db", required=True, metavar="URL", help=f"the new database: {_URL}")
    restore.add_argument("--create", action="store_true", help="create the SQLite file if it does not exist")
    _common(restore)
    restore.set_defaults(handler=run_restore)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=None, help="rows per batch (default 5000)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")


class _Bar:
    """A rich progress bar, one line per table that has rows (on a terminal only)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description:>30}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            transient=False,
        )  # fmt: skip
        self._tasks: dict[str, Any] = {}

    def start(self, counts: dict[str, int]) -> None:
        self._progress.start()
        for table, rows in counts.items():
            if rows:
                self._tasks[table] = self._progress.add_task(table, total=rows)

    def advance(self, table: str, rows: int) -> None:
        if rows and table in self._tasks:
            self._progress.advance(self._tasks[table], rows)

    def stop(self) -> None:
        self._progress.stop()


def _bar(args: argparse.Namespace) -> _Bar | None:
    return _Bar() if sys.stderr.isatty() and not args.no_progress else None


def _batch_size(args: argparse.Namespace) -> int:
    from mlineage.metadata.store_copy import DEFAULT_BATCH_SIZE

    if args.batch_size is not None and args.batch_size < 1:
        raise InvalidArgumentError(f"--batch-size must be at least 1, not {args.batch_size}")
    return args.batch_size or DEFAULT_BATCH_SIZE


def _progress(bar: _Bar | None) -> Any:
    from mlineage.metadata.database_copy import Progress

    return bar if bar is not None else Progress()


def run_copy(args: argparse.Namespace) -> int:
    from mlineage.metadata.database_copy import copy_database, require_head

    batch_size = _batch_size(args)
    with open_database(args.source, command="copy") as source:
        require_head(source, "source")
        with open_database(args.target, command="copy", create=args.create) as target:
            bar = _bar(args)
            try:
                summary = copy_database(source, target, batch_size=batch_size, progress=_progress(bar))
            finally:
                if bar is not None:
                    bar.stop()
    print(f"copied {redact(args.source)} to {redact(args.target)}: {summary.written} rows written, "
          f"{summary.rows - summary.written} there already, in {summary.seconds:.1f}s "
          f"({summary.rows_per_second:,.0f} rows/s, {summary.batches} batches)")
    print(f"{'table':>30} {'rows':>10} {'written':>10} {'present':>10}")
    for name, tally in summary.tables.items():
        if tally.rows:
            print(f"{name:>30} {tally.rows:>10} {tally.written:>10} {tally.present:>10}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from mlineage.metadata.database_export import export_database

    output = Path(args.output)
    if output.is_dir():
        raise InvalidArgumentError(f"{output} is a directory: give the file to write")
    if not output.parent.is_dir():
        raise InvalidArgumentError(f"no directory {output.parent} to write {output.name} in")
    batch_size = _batch_size(args)
    with open_database(args.db, command="export") as database:
        bar = _bar(args)
        try:
            summary = export_database(database, output, batch_size=batch_size, progress=_progress(bar))
        finally:
            if bar is not None:
                bar.stop()
    print(f"exported {redact(args.db)} (schema revision {summary.schema_revision}) to {output}: "
          f"{summary.rows} rows in {summary.seconds:.1f}s, {output.stat().st_size:,} bytes")
    _print_tables(summary.tables)
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from mlineage.metadata.database_export import open_export, restore_database

    batch_size = _batch_size(args)
    export = open_export(Path(args.file))
    export.verify()  # the whole file, before a database is opened or made
    with open_database(args.db, command="restore", create=args.create) as database:
        bar = _bar(args)
        try:
            summary = restore_database(export, database, batch_size=batch_size, progress=_progress(bar))
        finally:
            if bar is not None:
                bar.stop()
    upgraded = f", then upgraded to {summary.upgraded_to}" if summary.upgraded_to else ""
    print(f"restored {args.file} (schema revision {summary.schema_revision}, written by mlineage "
          f"{export.manifest.mlineage_version}) into {redact(args.db)}: {summary.rows} rows "
          f"in {summary.seconds:.1f}s{upgraded}")
    _print_tables(summary.tables)
    return 0


def _print_tables(tables: dict[str, int]) -> None:
    print(f"{'table':>30} {'rows':>10}")
    for name, rows in tables.items():
        if rows:
            print(f"{name:>30} {rows:>10}")
