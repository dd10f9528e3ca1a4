"""A lineage answer as an indented tree for the terminal: upstream and/or downstream of the start."""

from __future__ import annotations

from typing import Any

import networkx as nx

from mlineage.lineage.export import label, to_networkx
from mlineage.metadata.lineage_engine.traversal import Direction

Node = tuple[str, int]


def _describe(attributes: dict[str, Any]) -> str:
    text = f"{label(attributes)} [{attributes['kind']} {attributes['id']}]"
    if attributes.get("state"):
        text += f" {attributes['state']}"
    if attributes.get("uri"):
        text += f"  {attributes['uri']}"
    return text


def _branch(graph: nx.MultiDiGraph, node: Node, upstream: bool, prefix: str, seen: set[Node], lines: list[str]) -> None:
    neighbours = graph.predecessors(node) if upstream else graph.successors(node)
    children = sorted(set(neighbours), key=lambda n: (graph.nodes[n].get("hop", 0), n))
    for index, child in enumerate(children):
        last = index == len(children) - 1
        connector = "└── " if last else "├── "
        if child in seen:
            lines.append(f"{prefix}{connector}{_describe(graph.nodes[child])} (shown above)")
            continue
        seen.add(child)
        lines.append(f"{prefix}{connector}{_describe(graph.nodes[child])}")
        _branch(graph, child, upstream, prefix + ("    " if last else "│   "), seen, lines)


def render_tree(answer, *, graph: nx.MultiDiGraph | None = None) -> str:
    """The lineage of each starting node: its inputs' history (upstream) and what it fed (downstream).

    A node reached twice (a diamond, a shared dataset) is printed in full once and
    referred to afterwards.
    """
    graph = graph if graph is not None else to_networkx(answer)
    direction = getattr(answer, "direction", Direction.BOTH)
    lines: list[str] = []
    for start in getattr(answer, "starting", ()):
        if start not in graph:
            continue
        lines.append(_describe(graph.nodes[start]))
        for upstream, title in ((True, "upstream"), (False, "downstream")):
            if direction is Direction.BOTH:
                if not (graph.pred[start] if upstream else graph.succ[start]):
                    continue
                lines.append(f"  {title}:")
                prefix = "  "
            elif (direction is Direction.UPSTREAM) != upstream:
                continue
            else:
                prefix = ""
            _branch(graph, start, upstream, prefix, {start}, lines)
    if getattr(answer, "truncated", False):
        lines.append(f"… truncated at {graph.number_of_nodes()} nodes (more with a larger --max-nodes)")
    return "\n".join(lines) + "\n"
