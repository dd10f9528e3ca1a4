"""``mlineage namespace create|list|delete``: the namespaces tokens and certificates are confined to."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from mlineage.auth.namespaces import create_namespace, delete_namespace, list_namespaces
from mlineage.cli.stores import DB_HELP, database_url, open_database
from mlineage.errors import InvalidArgumentError

_COLUMNS = ("types", "artifacts", "executions", "contexts", "tokens")


def add_parser(commands) -> None:
    """Register ``namespace`` on the CLI's subparsers."""
    parser = commands.add_parser("namespace", help="create, list and delete namespaces",
                                 description="Namespaces isolate teams' records: a token or certificate of one "
                                             "reads and writes only it.")  # fmt: skip
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="record a new namespace")
    create.add_argument("name")
    create.add_argument("--description")
    create.add_argument("--db", help=DB_HELP)
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="every namespace and what it holds")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.add_argument("--db", help=DB_HELP)
    listing.set_defaults(handler=_list)
    remove = actions.add_parser("delete", help="delete an empty namespace (or, with --purge, its nodes first)")
    remove.add_argument("name")
    remove.add_argument("--purge", action="store_true", help="delete every node in it first (history is kept)")
    remove.add_argument("--db", help=DB_HELP)
    remove.set_defaults(handler=_delete)


def _store(args: argparse.Namespace):
    url, _embedded = database_url(args)
    return open_database(url, command="namespace").store()


def _create(args: argparse.Namespace) -> int:
    with _store(args) as store:
        try:
            info = create_namespace(store, args.name, args.description)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from None
    print(f"created namespace {info.name}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        infos = list_namespaces(store)
    rows = [{"name": i.name, "description": i.description,
             "created": datetime.fromtimestamp(i.created_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
             if i.created_ms else None, **i.counts} for i in infos]  # fmt: skip
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    header = ("name", *_COLUMNS)
    table = [header] + [tuple(str(row[key]) for key in header) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0


def _delete(args: argparse.Namespace) -> int:
    with _store(args) as store:
        info = delete_namespace(store, args.name, purge=args.purge)
    purged = ", ".join(f"{info.counts[k]} {k}" for k in ("artifacts", "executions", "contexts") if info.counts[k])
    print(f"deleted namespace {info.name}" + (f" (purged {purged})" if args.purge and purged else "")
          + (f"; revoked {info.counts['tokens']} token(s)" if info.counts.get("tokens") else ""))  # fmt: skip
    return 0
