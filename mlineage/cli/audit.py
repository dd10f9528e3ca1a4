"""``mlineage audit --since …``: who changed what (each write's identity, surface, peer, and the nodes it touched)."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone

from mlineage.auth.audit import audit_log
from mlineage.cli.stores import DB_HELP, database_url, open_database
from mlineage.errors import InvalidArgumentError
from mlineage.metadata.store_purge import parse_duration


def add_parser(commands) -> None:
    """Register ``audit`` on the CLI's subparsers."""
    parser = commands.add_parser(
        "audit", help="list who changed what since a moment",
        description="The change log: each write transaction's time, namespace, surface, identity (the token or "
                    "certificate it authenticated with) and peer, with the nodes and types it wrote or deleted.",
    )  # fmt: skip
    parser.add_argument("--since", required=True, metavar="WHEN",
                        help="a duration back from now (90d, 12h, 30m) or an RFC 3339 moment (2026-05-01T12:00:00Z)")
    parser.add_argument("--actor", help="only the changes of this identity (as listed, e.g. 'cert:tfx-writer')")
    parser.add_argument("--namespace", help="only the changes of this namespace")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many changes (default 1000)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--db", help=DB_HELP)
    parser.set_defaults(handler=run)


def since_ms(text: str, now_ms: int | None = None) -> int:
    """``--since`` as epoch milliseconds; InvalidArgumentError naming both accepted forms."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    try:
        return now - parse_duration(text)
    except InvalidArgumentError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidArgumentError(
            f"--since {text!r}: a duration (90d, 12h, 30m) or an RFC 3339 moment with a zone (2026-05-01T12:00:00Z)"
        )
    return int(moment.timestamp() * 1000)


def _time(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def run(args: argparse.Namespace) -> int:
    if args.limit <= 0:
        raise InvalidArgumentError("--limit must be positive")
    start = since_ms(args.since)
    url, _embedded = database_url(args)
    with open_database(url, command="audit").store() as store:
        entries = audit_log(store, since_ms=start, actor=args.actor, namespace=args.namespace, limit=args.limit)
    if args.format == "json":
        print(json.dumps([{"change": e.change_id, "time": _time(e.recorded_ms), "namespace": e.namespace,
                           "surface": e.surface, "actor": e.actor, "peer": e.peer, "wrote": e.wrote,
                           "deleted": e.deleted} for e in entries], indent=2))  # fmt: skip
        return 0
    for e in entries:
        what = ", ".join([*e.wrote, *(f"deleted {d}" for d in e.deleted)]) or "-"
        print(f"{_time(e.recorded_ms)}  #{e.change_id}  {e.namespace}  {e.surface}  {e.actor or '-'}  "
              f"{e.peer or '-'}  {what}")  # fmt: skip
    return 0
