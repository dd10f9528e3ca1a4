"""``mlineage lineage``: the lineage of one artifact or execution, as a tree, DOT, Mermaid, JSON or GraphML.

On a database the lineage engine walks it in SQL; on a server (``grpc://``)
the server runs the same walk (HistoryService.GetLineage), so the output is
the same whichever URL is given.
"""

from __future__ import annotations

import argparse
import sys

from mlineage.cli.stores import READ_URL_HELP, open_for_reading, read_url
from mlineage.metadata.kinds import ARTIFACT, EXECUTION, NodeKind

FORMATS = ("tree", "dot", "mermaid", "json", "graphml")


def add_parser(commands) -> None:
    """Register the ``lineage`` subcommand on the CLI's subparsers."""
    parser = commands.add_parser(
        "lineage",
        help="show where an artifact came from and what it fed",
        description="Walk the lineage of one artifact or execution and print it.",
    )
    parser.add_argument("--url", "--db", dest="url", help=READ_URL_HELP)
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--artifact", metavar="ID|URI|TYPE:NAME", help="the artifact to start from")
    start.add_argument("--execution", metavar="ID|TYPE:NAME", help="the execution to start from")
    parser.add_argument("--direction", choices=["up", "down", "both"], default="both",
                        help="upstream (where it came from), downstream (what it fed) or both (default)")
    parser.add_argument("--depth", type=int, default=10, help="hops to walk; artifact -> execution is one (default 10)")
    parser.add_argument("--format", choices=FORMATS, default="tree", help="output format (default: a tree)")
    parser.add_argument("--max-nodes", type=int, default=1000, help="stop after this many nodes (default 1000)")
    parser.add_argument("--as-of", metavar="TS", dest="as_of",
                        help="the lineage as the store held it then: RFC 3339 with a zone or epoch ms "
                             "(on a database, not through a server)")
    parser.set_defaults(handler=run)


def _resolve(store, kind: NodeKind, reference: str) -> list[int]:
    """Ids for an artifact or execution named by id, by TYPE:NAME, or (artifacts) by URI."""
    from mlineage.errors import NotFoundError

    reference = reference.strip()
    if reference.isdigit():
        return [int(reference)]
    uri_like = "://" in reference or reference.startswith(("/", "."))
    if kind is ARTIFACT and (uri_like or ":" not in reference):
        found = store.get_artifacts_by_uri(reference)
        if not found:
            raise NotFoundError(f"no artifact has the uri {reference!r}")
        return [artifact.id for artifact in found]
    type_name, _, name = reference.partition(":")
    if not name:
        raise NotFoundError(f"{reference!r} is neither an id nor TYPE:NAME")
    getter = store.get_artifact_by_type_and_name if kind is ARTIFACT else store.get_execution_by_type_and_name
    node = getter(type_name, name)
    if node is None:
        raise NotFoundError(f"no {kind.name} of type {type_name!r} named {name!r}")
    return [node.id]


def run(args: argparse.Namespace) -> int:
    from mlineage.lineage import export
    from mlineage.lineage.tree import render_tree

    if args.depth < 0:
        print("error: --depth must not be negative", file=sys.stderr)
        return 2
    store = open_for_reading(read_url(args), command="lineage")
    try:
        served = hasattr(store, "call")
        reader = store if args.as_of is None else _as_of(store, args.as_of, served)
        kind = ARTIFACT if args.artifact is not None else EXECUTION
        ids = _resolve(reader, kind, args.artifact if args.artifact is not None else args.execution)
        # One walk whichever the store: a server answers it with HistoryService.GetLineage.
        answer = _walk(reader, kind, ids, direction=args.direction, max_hops=args.depth, max_nodes=args.max_nodes)
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


def _as_of(store, moment: str, served: bool):
    """The store as of ``moment`` (INVALID_ARGUMENT for a bad moment, or through a server: no as-of there yet)."""
    from mlineage.errors import InvalidArgumentError

    if served:
        raise InvalidArgumentError("--as-of reads the database itself: give --db sqlite:///PATH or postgresql://…")
    return store.as_of(moment)


def _walk(store, kind: NodeKind, ids: list[int], *, direction: str, max_hops: int, max_nodes: int):
    from mlineage.lineage.query import lineage

    return lineage(
        store,
        artifact_ids=ids if kind is ARTIFACT else (),
        execution_ids=ids if kind is EXECUTION else (),
        direction=direction,
        max_hops=max_hops,
        max_nodes=max_nodes,
    )
