"""``mlineage import-mlmd SOURCE_URL [--db URL]``: copy an MLMD database (schema v6-v10) into mlineage, ids kept."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mlineage.cli.stores import DB_HELP, database_url, open_database
from mlineage.connection import redact
from mlineage.errors import FailedPreconditionError


def add_parser(commands: Any) -> None:
    """Register ``import-mlmd`` on the CLI's subparsers."""
    parser = commands.add_parser(
        "import-mlmd",
        help="copy an MLMD database (SQLite, PostgreSQL or MySQL/MariaDB, schema v6-v10) into mlineage, ids kept",
        description="Reads MLMD's tables directly (ml-metadata need not be installed) and writes every type, "
                    "node, event and link into the mlineage database with the same ids, in batches. A rerun "
                    "writes nothing new; a rerun after an interrupted import finishes it. The target must be "
                    "new or hold only an earlier import of the same source.",
    )
    parser.add_argument("source", metavar="SOURCE_URL", help="the MLMD database: sqlite:///PATH, postgresql://… or mysql://…")
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--create", action="store_true", help="create the mlineage database if it does not exist")
    parser.add_argument("--batch-size", type=int, default=None, help="records per transaction (default 5000)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    parser.set_defaults(handler=run)


class _Bar:
    """A rich progress bar over the import's steps (on a terminal only)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description:>16}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            transient=False,
        )  # fmt: skip
        self._tasks: dict[str, Any] = {}

    def start(self, counts: Any) -> None:
        from mlineage.metadata.mlmd_import import STEPS

        self._progress.start()
        for step in STEPS:
            self._tasks[step] = self._progress.add_task(step, total=getattr(counts, step))

    def advance(self, step: str, rows: int) -> None:
        if rows:
            self._progress.advance(self._tasks[step], rows)

    def stop(self) -> None:
        self._progress.stop()


def run(args: argparse.Namespace) -> int:
    from mlineage.metadata.mlmd_import import DEFAULT_BATCH_SIZE, Progress, import_mlmd
    from mlineage.migrations import runner

    url, _ = database_url(args)
    database = open_database(url, command="import-mlmd", create=args.create)
    if database.schema_status().state is runner.SchemaState.EMPTY and not args.create:
        database.close()
        raise FailedPreconditionError(
            f"{redact(url)} holds no mlineage database yet: pass --create, or create it with "
            "`mlineage db upgrade --db URL`"
        )
    store = database.store()
    bar = _Bar() if sys.stderr.isatty() and not args.no_progress else None
    try:
        summary = import_mlmd(
            args.source,
            store,
            batch_size=args.batch_size or DEFAULT_BATCH_SIZE,
            progress=bar if bar is not None else Progress(),  # type: ignore[arg-type]
        )
    finally:
        if bar is not None:
            bar.stop()
        store.close()
    print(f"imported MLMD schema v{summary.schema_version} from {redact(args.source)} into {redact(url)} "
          f"in {summary.seconds:.1f}s ({summary.batches} batches)")
    print(f"{'':>16} {'imported':>10} {'present':>10} {'skipped':>10}")
    for step, tally in summary.tallies.items():
        print(f"{step:>16} {tally.imported:>10} {tally.present:>10} {tally.skipped:>10}")
    if any(tally.skipped for tally in summary.tallies.values()):
        print("skipped: records naming a node or type the source does not hold, or (before schema v8) "
              "duplicate events MLMD's own upgrade drops")
    return 0
