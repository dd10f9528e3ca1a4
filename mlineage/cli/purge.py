"""``mlineage purge``: delete old nodes a filter selects (keeping what live models came from) and old history.

``--dry-run`` prints how many nodes would go and a sample of them, changing
nothing; without it the nodes are deleted in bounded batches (one transaction
each) and what was deleted is printed. Deleted nodes keep their history (reads
as of an earlier moment, lineage tombstones) until ``--history-older-than``
removes history older than a retention window. Durations: 90d, 12h, 30m, 45s, 500ms.
"""

from __future__ import annotations

import argparse
import json
import sys

from mlineage.cli.stores import DB_HELP, SERVER_SCHEMES, open_for_reading, read_url
from mlineage.errors import InvalidArgumentError
from mlineage.metadata import history
from mlineage.metadata.store_purge import PurgeResult, parse_duration

KINDS = ("artifacts", "executions", "contexts")
FORMATS = ("table", "json")
HEADER = ("id", "type", "name", "uri")


def add_parser(commands) -> None:
    """Register ``purge`` on the CLI's subparsers."""
    parser = commands.add_parser(
        "purge",
        help="delete old nodes a filter selects, keeping what live models came from; drop old history",
        description="Select the nodes of a kind that an MLMD filter query matches (older than --older-than, "
                    "not upstream of an artifact --keep-upstream-of matches) and delete them in batches; "
                    "--dry-run only counts them and prints a sample. --history-older-than also removes "
                    "history (the revisions of nodes, deleted ones included) older than that window. "
                    "Durations: 90d, 12h, 30m, 45s, 500ms.",
    )
    parser.add_argument("--kind", choices=KINDS, help="the kind of node to purge (needed with --filter)")
    parser.add_argument("--filter", dest="filter_query", metavar="QUERY",
                        help="MLMD filter query selecting the nodes (\"\" selects every node of the kind)")
    parser.add_argument("--older-than", metavar="DURATION", help="only nodes created longer ago than this")
    parser.add_argument("--keep-upstream-of", metavar="FILTER",
                        help="artifact filter query: keep every node upstream of an artifact it matches "
                             "(e.g. \"type = 'PushedModel' AND state = LIVE\")")
    parser.add_argument("--history-older-than", metavar="DURATION",
                        help="also remove history rows of versions ended longer ago than this")
    parser.add_argument("--dry-run", action="store_true", help="count and show a sample; change nothing")
    parser.add_argument("--batch-size", type=int, default=500, help="nodes per transaction (default 500)")
    parser.add_argument("--sample", type=int, default=10, help="how many selected nodes to print (default 10)")
    parser.add_argument("--url", "--db", dest="url", help=DB_HELP)
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: text)")
    parser.set_defaults(handler=run)


def _duration(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{option}: {exc.message}") from None


def run(args: argparse.Namespace) -> int:
    url = read_url(args)
    if url.startswith(SERVER_SCHEMES):
        raise InvalidArgumentError(
            "`mlineage purge` works on the database itself: give --db sqlite:///PATH or postgresql://…"
        )
    if args.kind is None and args.history_older_than is None:
        raise InvalidArgumentError("give --kind (with --filter) to purge nodes, or --history-older-than")
    if args.kind is not None and args.filter_query is None:
        raise InvalidArgumentError("--kind needs --filter QUERY (--filter \"\" selects every node of the kind)")
    older = _duration(args.older_than, "--older-than")
    retention = _duration(args.history_older_than, "--history-older-than")
    store = open_for_reading(url, command="purge")
    try:
        with history.calling_as("cli"):
            result = store.purge(
                args.kind,
                args.filter_query,
                older_than_ms=older,
                keep_upstream_of=args.keep_upstream_of,
                dry_run=args.dry_run,
                history_older_than_ms=retention,
                batch_size=args.batch_size,
                sample_size=args.sample,
            )
    finally:
        store.close()
    if args.format == "json":
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(result, args)
    return 0


def _print(result: PurgeResult, args: argparse.Namespace) -> None:
    if result.kind is not None:
        if result.dry_run:
            print(f"dry run: {result.count} {result.kind} would be deleted")
        else:
            print(f"deleted {result.deleted} {result.kind} (of {result.count} selected)")
        if result.sample:
            rows = [(str(n.id), n.type, n.name or "", n.uri or "") for n in result.sample]
            cells = [HEADER, *rows]
            widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
            for row in cells:
                print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
            if result.count > len(result.sample):
                print(f"  … and {result.count - len(result.sample)} more")
    if args.history_older_than is not None:
        window = args.history_older_than
        if result.dry_run:
            print(f"dry run: {result.history_rows} history rows older than {window} would be removed")
        else:
            print(f"removed {result.history_rows_removed} history rows older than {window}")
