"""``mlineage history artifact|execution|context ID``: every revision of a node as a table (when, who, what changed).

History is read from the database (``--db sqlite:///…`` or ``postgresql://…``) or from a
server (``--url grpc://host:port``, its HistoryService); a node deleted since still has its
history, so the node is named by id.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from mlineage.cli.stores import DB_HELP, open_for_reading, read_url
from mlineage.errors import InvalidArgumentError
from mlineage.metadata.kinds import ALL_KINDS, ARTIFACT, EXECUTION, NodeKind, kind_named

FORMATS = ("table", "json")
HEADER = ("revision", "time", "who", "operation", "changed")


def add_parser(commands) -> None:
    """Register ``history`` on the CLI's subparsers."""
    parser = commands.add_parser(
        "history",
        help="show every revision of an artifact, execution or context: when, who, what changed",
        description="Print the revisions of one node, oldest first: the time (UTC), who made the change "
                    "(surface/actor/peer), the operation (create, update, delete) and the fields and "
                    "properties it changed.",
    )
    parser.add_argument("kind", choices=[kind.name for kind in ALL_KINDS], help="the kind of node")
    parser.add_argument("id", metavar="ID", help="the node's id (a deleted node keeps its history)")
    parser.add_argument("--url", "--db", dest="url", help=DB_HELP + "; or a server: grpc://host:port, grpcs://…")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: a table)")
    parser.set_defaults(handler=run)


def when(ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC text (``2026-05-01T12:00:00.123Z``)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def who(surface: str, actor: str | None, peer: str | None) -> str:
    """``surface/actor/peer``, leaving out what is unknown (``rest/127.0.0.1:51234``, ``python``)."""
    return "/".join(part for part in (surface, actor, peer) if part)


def _history(store, kind: NodeKind, node_id: int) -> list:
    if kind is ARTIFACT:
        return store.get_artifact_history(node_id)
    if kind is EXECUTION:
        return store.get_execution_history(node_id)
    return store.get_context_history(node_id)


def run(args: argparse.Namespace) -> int:
    url = read_url(args)
    reference = args.id.strip()
    if not reference.isdigit():
        raise InvalidArgumentError(f"ID must be a node id (digits), not {args.id!r}")
    kind = kind_named(args.kind)
    store = open_for_reading(url, command="history")
    try:
        revisions = _history(store, kind, int(reference))
    finally:
        store.close()
    if args.format == "json":
        json.dump(
            [
                {
                    "revision": r.revision,
                    "time": when(r.time_ms),
                    "time_ms": r.time_ms,
                    "surface": r.surface,
                    "actor": r.actor,
                    "peer": r.peer,
                    "operation": r.operation,
                    "changed": list(r.changed),
                }
                for r in revisions
            ],
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return 0
    rows = [
        (str(r.revision), when(r.time_ms), who(r.surface, r.actor, r.peer), r.operation, ", ".join(r.changed))
        for r in revisions
    ]
    cells = [HEADER, *rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0
