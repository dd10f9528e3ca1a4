"""A lineage node's key, ``(kind name, id)``: plain data (a networkx node, a JSON pair) that names its NodeKind."""

from __future__ import annotations

from mlineage.errors import InvalidArgumentError
from mlineage.metadata.kinds import ARTIFACT, EXECUTION, KINDS, NodeKind

#: A node by its kind's name (``NodeKind.name``) and id: ("artifact", 12), ("execution", 3).
Node = tuple[str, int]


def node_of(kind: NodeKind, node_id: int) -> Node:
    """The key of a node of ``kind`` (an artifact or an execution)."""
    return (kind.name, node_id)


def kind_of(node: Node) -> NodeKind:
    """The kind of a node key: ARTIFACT or EXECUTION; INVALID_ARGUMENT for anything else."""
    kind = KINDS.get(node[0])
    if kind is not ARTIFACT and kind is not EXECUTION:
        raise InvalidArgumentError(f"a lineage node is an artifact or an execution, not {node[0]!r}")
    return kind


__all__ = ["Node", "kind_of", "node_of"]
