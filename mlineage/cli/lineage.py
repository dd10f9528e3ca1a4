"""``mlineage lineage``: the lineage of one artifact or execution, as a tree, DOT, Mermaid, JSON or GraphML."""

from __future__ import annotations

import argparse
import sys

FORMATS = ("tree", "dot", "mermaid", "json", "graphml")


def add_parser(commands, *, db_help: str) -> None:
    """Register the ``lineage`` subcommand on the CLI's subparsers."""
    parser = commands.add_parser(
        "lineage",
        help="show where an artifact came from and what it fed",
        description="Walk the lineage of one artifact or execution and print it.",
    )
    parser.add_argument("--db", help=db_help)
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--artifact", metavar="ID|URI|TYPE:NAME", help="the artifact to start from")
    start.add_argument("--execution", metavar="ID|TYPE:NAME", help="the execution to start from")
    parser.add_argument("--direction", choices=["up", "down", "both"], default="both",
                        help="upstream (where it came from), downstream (what it fed) or both (default)")
    parser.add_argument("--depth", type=int, default=10, help="hops to walk; artifact -> execution is one (default 10)")
    parser.add_argument("--format", choices=FORMATS, default="tree", help="output format (default: a tree)")
    parser.add_argument("--max-nodes", type=int, default=1000, help="stop after this many nodes (default 1000)")
    parser.set_defaults(handler=run)


def _resolve(store, kind: str, reference: str) -> list[int]:
    """Ids for an artifact or execution named by id, by TYPE:NAME, or (artifacts) by URI."""
    from mlineage.errors import NotFoundError

    reference = reference.strip()
    if reference.isdigit():
        return [int(reference)]
    uri_like = "://" in reference or reference.startswith(("/", "."))
    if kind == "artifact" and (uri_like or ":" not in reference):
        found = store.get_artifacts_by_uri(reference)
        if not found:
            raise NotFoundError(f"no artifact has the uri {reference!r}")
        return [artifact.id for artifact in found]
    type_name, _, name = reference.partition(":")
    if not name:
        raise NotFoundError(f"{reference!r} is neither an id nor TYPE:NAME")
    getter = store.get_artifact_by_type_and_name if kind == "artifact" else store.get_execution_by_type_and_name
    node = getter(type_name, name)
    if node is None:
        raise NotFoundError(f"no {kind} of type {type_name!r} named {name!r}")
    return [node.id]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from mlineage.cli import _db_url
    from mlineage.lineage import export
    from mlineage.lineage.query import lineage
    from mlineage.lineage.tree import render_tree
    from mlineage.metadata.engine import normalize_url
    from mlineage.metadata.store import Store

    url = normalize_url(_db_url(args))
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        print(f"error: no database at {parsed.database}", file=sys.stderr)
        return 2
    if args.depth < 0:
        print("error: --depth must not be negative", file=sys.stderr)
        return 2
    store = Store(url)
    try:
        kind = "artifact" if args.artifact is not None else "execution"
        ids = _resolve(store, kind, args.artifact if args.artifact is not None else args.execution)
        answer = lineage(
            store,
            artifact_ids=ids if kind == "artifact" else (),
            execution_ids=ids if kind == "execution" else (),
            direction=args.direction,
            max_hops=args.depth,
            max_nodes=args.max_nodes,
        )
    finally:
        store.close()
    graph = export.to_networkx(answer)
    if args.format == "tree":
        text = render_tree(answer, graph=graph)
    elif args.format == "dot":
        text = export.to_dot(graph)
    elif args.format == "mermaid":
        text = export.to_mermaid(graph)
    elif args.format == "json":
        text = export.to_json(graph)
    else:
        text = export.to_graphml(graph)
    sys.stdout.write(text)
    if answer.truncated and args.format != "tree":
        print(f"note: truncated at {args.max_nodes} nodes; raise --max-nodes for more", file=sys.stderr)
    return 0
