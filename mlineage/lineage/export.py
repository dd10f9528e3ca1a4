"""Views of a lineage answer: a networkx MultiDiGraph, and DOT, GraphML, Mermaid and node-link JSON text.

Every view is built from the networkx graph, itself built from the one model
(a ``LineageGraph`` message, or a ``Lineage`` answer that wraps one). Nodes are
keyed ``("artifact", id)`` / ``("execution", id)`` and carry their type, name,
uri, state and properties; edges follow the data: an input event is an edge
artifact -> execution, an output event execution -> artifact, keyed by the
event type's name.
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx
from google.protobuf import json_format

from mlineage.lineage.node_keys import Node, kind_of, node_of
from mlineage.metadata.kinds import ARTIFACT, EXECUTION
from mlineage.metadata.lineage_engine.traversal import INPUT_EVENTS
from mlineage.proto import metadata_store_pb2 as pb


def _value(value: pb.Value) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "struct_value":
        return json_format.MessageToDict(value.struct_value)
    if which == "proto_value":
        return {"type_url": value.proto_value.type_url}
    return getattr(value, which)


def _properties(message) -> dict[str, Any]:
    return {name: _value(value) for name, value in sorted(message.properties.items())}


def _custom_properties(message) -> dict[str, Any]:
    return {name: _value(value) for name, value in sorted(message.custom_properties.items())}


def to_networkx(answer, *, contexts: bool = True) -> nx.MultiDiGraph:
    """The answer (a ``Lineage`` or a ``LineageGraph``) as a MultiDiGraph in the direction of the data.

    Node attributes: kind, id, type, name, uri (artifacts), state, properties,
    custom_properties, create_time_since_epoch, contexts (names of the contexts
    the node belongs to, when ``contexts``) and hop (for a ``Lineage``); a deleted
    node the walk ran through has kind, id, type, name, hop, deleted=True and deleted_ms.
    Edge attributes: type (event type name), path, milliseconds_since_epoch.
    """
    graph_message: pb.LineageGraph = getattr(answer, "graph", answer)
    hops: dict[Node, int] = getattr(answer, "hops", {})
    starting = set(getattr(answer, "starting", ()))
    graph = nx.MultiDiGraph()
    context_names = {c.id: c.name for c in graph_message.contexts}
    member_of: dict[Node, list[str]] = {}
    if contexts:
        for attribution in graph_message.attributions:
            member_of.setdefault(node_of(ARTIFACT, attribution.artifact_id), []).append(
                context_names.get(attribution.context_id, str(attribution.context_id))
            )
        for association in graph_message.associations:
            member_of.setdefault(node_of(EXECUTION, association.execution_id), []).append(
                context_names.get(association.context_id, str(association.context_id))
            )
    for kind, messages in ((ARTIFACT, graph_message.artifacts), (EXECUTION, graph_message.executions)):
        enum, state_field = kind.message.State, kind.state_field
        assert state_field is not None  # artifacts and executions have one
        for message in messages:
            key = node_of(kind, message.id)
            attributes: dict[str, Any] = {
                "kind": kind.name,
                "id": message.id,
                "type": message.type,
                "name": message.name,
                "state": enum.Name(getattr(message, state_field)) if message.HasField(state_field) else "",
                "properties": _properties(message),
                "custom_properties": _custom_properties(message),
                "create_time_since_epoch": message.create_time_since_epoch,
            }
            if kind.has_uri:
                attributes["uri"] = message.uri
            if contexts:
                attributes["contexts"] = sorted(member_of.get(key, []))
            if key in hops:
                attributes["hop"] = hops[key]
            if key in starting:
                attributes["starting"] = True
            graph.add_node(key, **attributes)
    # Deleted nodes the walk ran through: drawn as tombstones, so the path through them stays whole.
    for tombstone in getattr(answer, "tombstones", ()):
        kind = ARTIFACT if tombstone.kind == ARTIFACT.name else EXECUTION
        key = node_of(kind, tombstone.id)
        attributes = {
            "kind": kind.name, "id": tombstone.id, "type": tombstone.type_name or "", "name": tombstone.name or "",
            "deleted": True, "deleted_ms": tombstone.deleted_ms,
        }  # fmt: skip
        if key in hops:
            attributes["hop"] = hops[key]
        graph.add_node(key, **attributes)
    for event in graph_message.events:
        artifact, execution = node_of(ARTIFACT, event.artifact_id), node_of(EXECUTION, event.execution_id)
        source, target = (artifact, execution) if event.type in INPUT_EVENTS else (execution, artifact)
        type_name = pb.Event.Type.Name(event.type)
        path = [step.key if step.HasField("key") else step.index for step in event.path.steps]
        graph.add_edge(
            source, target, key=type_name, type=type_name, path=path,
            milliseconds_since_epoch=event.milliseconds_since_epoch,
        )  # fmt: skip
    return graph


def node_id(node: Node) -> str:
    """A node's key as text: ``artifact:12``."""
    return f"{node[0]}:{node[1]}"


def label(attributes: dict[str, Any]) -> str:
    """``Type name`` or ``Type #id`` for an unnamed node."""
    name = attributes.get("name") or f"#{attributes.get('id')}"
    return f"{attributes.get('type') or attributes.get('kind')} {name}"


def _flat(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Text keys and scalar attributes (for GraphML), properties flattened to ``property.<name>``."""
    flat = nx.MultiDiGraph()
    for node, attributes in graph.nodes(data=True):
        values: dict[str, Any] = {}
        for name, value in attributes.items():
            if name in ("properties", "custom_properties"):
                prefix = "property" if name == "properties" else "custom_property"
                for key, inner in value.items():
                    if inner is not None:
                        values[f"{prefix}.{key}"] = inner if isinstance(inner, (str, int, float, bool)) else json.dumps(inner)
            elif name == "contexts":
                values[name] = ",".join(value)
            else:
                values[name] = value
        flat.add_node(node_id(node), **values)
    for source, target, key, attributes in graph.edges(keys=True, data=True):
        flat.add_edge(
            node_id(source), node_id(target), key=key, type=attributes["type"],
            path="/".join(str(step) for step in attributes["path"]),
            milliseconds_since_epoch=attributes["milliseconds_since_epoch"],
        )  # fmt: skip
    return flat


def to_graphml(graph: nx.MultiDiGraph) -> str:
    return "\n".join(nx.generate_graphml(_flat(graph))) + "\n"


def to_node_link(graph: nx.MultiDiGraph) -> dict[str, Any]:
    """networkx's node-link form (``nodes``/``edges``), keys as text: ready for ``json.dumps``."""
    relabelled = nx.relabel_nodes(graph, node_id, copy=True)
    try:
        return nx.node_link_data(relabelled, edges="edges")
    except TypeError:  # networkx < 3.4 names the key "links" and has no option
        data = nx.node_link_data(relabelled)
        data["edges"] = data.pop("links")
        return data


def to_json(graph: nx.MultiDiGraph) -> str:
    return json.dumps(to_node_link(graph), indent=2, sort_keys=True) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: nx.MultiDiGraph, *, name: str = "lineage") -> str:
    """Graphviz DOT: artifacts as ellipses, executions as boxes, starting nodes bold."""
    lines = [f"digraph {_quote(name)} {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for node, attributes in graph.nodes(data=True):
        shape = "ellipse" if kind_of(node) is ARTIFACT else "box"
        text = label(attributes)
        if attributes.get("state"):
            text += f"\n{attributes['state']}"
        style = ', style="bold"' if attributes.get("starting") else ""
        lines.append(f"  {_quote(node_id(node))} [label={_quote(text)}, shape={shape}{style}];")
    for source, target, key in graph.edges(keys=True):
        lines.append(f"  {_quote(node_id(source))} -> {_quote(node_id(target))} [label={_quote(key)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(graph: nx.MultiDiGraph) -> str:
    """A Mermaid flowchart: artifacts as stadiums, executions as subroutines."""
    lines = ["flowchart LR"]
    ids = {node: f"{node[0][0]}{node[1]}" for node in graph.nodes}
    for node, attributes in graph.nodes(data=True):
        text = _mermaid_text(label(attributes))
        opening, closing = ('(["', '"])') if kind_of(node) is ARTIFACT else ('[["', '"]]')
        lines.append(f"  {ids[node]}{opening}{text}{closing}")
    for source, target, key in graph.edges(keys=True):
        lines.append(f"  {ids[source]} -->|{key}| {ids[target]}")
    for node, attributes in graph.nodes(data=True):
        if attributes.get("starting"):
            lines.append(f"  style {ids[node]} stroke-width:3px")
    return "\n".join(lines) + "\n"
