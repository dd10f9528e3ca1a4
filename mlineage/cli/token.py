"""``mlineage token create|list|revoke``: the bearer tokens ``mlineage serve --auth tokens`` accepts.

``create`` prints the token once, on stdout alone (what is kept is a salted hash:
nobody can show it again); ``list`` shows every token without its secret;
``revoke`` refuses a token from then on (servers within a second: see auth.tokens).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from mlineage.auth.identity import Role
from mlineage.auth.tokens import TokenInfo, create_token, list_tokens, parse_duration, revoke_token
from mlineage.cli.stores import DB_HELP, database_url, open_database
from mlineage.errors import InvalidArgumentError, NotFoundError


def add_parser(commands) -> None:
    """Register ``token`` on the CLI's subparsers."""
    parser = commands.add_parser("token", help="create, list and revoke bearer tokens",
                                 description="Bearer tokens for `mlineage serve --auth tokens`, each confined to "
                                             "one namespace with one role.")  # fmt: skip
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a token and print it once")
    create.add_argument("--namespace", default="default", help="the namespace it reads and writes (default: default)")
    create.add_argument("--role", required=True, choices=[role.label for role in Role],
                        help="reader: reads; writer: plus writes; admin: plus deletion, purge, destructive type changes")
    create.add_argument("--name", help="a label for listing and revoking (e.g. the pipeline using it)")
    create.add_argument("--expires", metavar="DURATION", help="lifetime: 90d, 12h, 30m, 2w (default: none)")
    create.add_argument("--db", help=DB_HELP)
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="every token, without its secret")
    listing.add_argument("--db", help=DB_HELP)
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_list)
    revoke = actions.add_parser("revoke", help="refuse a token from now on")
    revoke.add_argument("token", metavar="ID_OR_NAME", help="the token's id (its 12 hex digits) or name")
    revoke.add_argument("--db", help=DB_HELP)
    revoke.set_defaults(handler=_revoke)


def _store(args: argparse.Namespace):
    url, _embedded = database_url(args)
    return open_database(url, command="token").store()


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _create(args: argparse.Namespace) -> int:
    try:
        expires = parse_duration(args.expires) if args.expires else None
        with _store(args) as store:
            text, info = create_token(store, namespace=args.namespace, role=Role.parse(args.role),
                                      name=args.name, expires_in_ms=expires)  # fmt: skip
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
    print(text, flush=True)
    print(f"token {info.id} ({info.role.label} in namespace {info.namespace}, expires {_time(info.expires_ms)}): "
          "store it now, it is not shown again", file=sys.stderr)  # fmt: skip
    return 0


def _row(info: TokenInfo, now_ms: int) -> dict:
    return {"id": info.id, "name": info.name, "namespace": info.namespace, "role": info.role.label,
            "status": info.status(now_ms), "created": _time(info.created_ms), "expires": _time(info.expires_ms),
            "revoked": _time(info.revoked_ms)}  # fmt: skip


def _list(args: argparse.Namespace) -> int:
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    with _store(args) as store:
        rows = [_row(info, now) for info in list_tokens(store)]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    header = ("id", "name", "namespace", "role", "status", "created", "expires")
    table = [header] + [tuple(str(row[key] if row[key] is not None else "-") for key in header) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with _store(args) as store:
        revoked = revoke_token(store, args.token)
    if not revoked:
        raise NotFoundError(f"no active token with id or name {args.token!r}")
    for info in revoked:
        print(f"revoked token {info.id}" + (f" ({info.name})" if info.name else ""))
    return 0
