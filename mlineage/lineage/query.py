"""Lineage for people and programs: a walk from some nodes, answered as a full LineageGraph with hops.

``lineage(store, artifact_ids=[...])`` is the engine (traversal.py) with
readable options (direction names, type and state filters, ending filters)
and a hydrated answer: nodes with their properties, the events walked, the
contexts the nodes belong to and the types they use. A node cap answers a
page with ``truncated=True`` and a ``cursor`` for the next page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mlineage.errors import InvalidArgumentError
from mlineage.lineage.node_keys import Node, node_of
from mlineage.metadata import history
from mlineage.metadata.kinds import ARTIFACT, EXECUTION
from mlineage.metadata.lineage_engine.traversal import (
    MAX_HOPS_DEFAULT,
    Direction,
    Ending,
    filter_test,
    type_state_test,
)
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

_DIRECTION_NAMES = {
    "up": Direction.UPSTREAM,
    "upstream": Direction.UPSTREAM,
    "down": Direction.DOWNSTREAM,
    "downstream": Direction.DOWNSTREAM,
    "both": Direction.BOTH,
    "bidirectional": Direction.BOTH,
}


def direction_of(value: Direction | str) -> Direction:
    """A Direction from itself or a name: up, upstream, down, downstream, both, bidirectional."""
    if isinstance(value, Direction):
        return value
    found = _DIRECTION_NAMES.get(str(value).lower())
    if found is None:
        raise InvalidArgumentError(f"unknown direction {value!r}: use up, down or both")
    return found


def _states(values: Iterable[int | str] | None, enum) -> list[int] | None:
    if values is None:
        return None
    states = []
    for value in values:
        if isinstance(value, str):
            try:
                states.append(enum.Value(value.upper()))
            except ValueError:
                raise InvalidArgumentError(
                    f"unknown state {value!r}; one of {', '.join(enum.keys())}"
                ) from None
        else:
            states.append(int(value))
    return states


@dataclass
class Lineage:
    """A lineage answer: the graph (hydrated), each node's hop from the start, and paging."""

    graph: pb.LineageGraph
    starting: list[Node]
    direction: Direction
    hops: dict[Node, int] = field(default_factory=dict)
    truncated: bool = False
    cursor: str | None = None
    max_hops: int = MAX_HOPS_DEFAULT
    # Deleted nodes the walk ran through (their rows are gone; the events to them are in ``graph``).
    tombstones: list[history.Tombstone] = field(default_factory=list)

    def artifacts(self) -> list[pb.Artifact]:
        return list(self.graph.artifacts)

    def executions(self) -> list[pb.Execution]:
        return list(self.graph.executions)


def lineage(
    store: Store,
    *,
    artifact_ids: Iterable[int] = (),
    execution_ids: Iterable[int] = (),
    direction: Direction | str = Direction.BOTH,
    max_hops: int = MAX_HOPS_DEFAULT,
    ending_artifacts: str | None = None,
    ending_executions: str | None = None,
    include_ending: bool = True,
    artifact_types: Sequence[str] | None = None,
    execution_types: Sequence[str] | None = None,
    artifact_states: Iterable[int | str] | None = None,
    execution_states: Iterable[int | str] | None = None,
    max_nodes: int | None = None,
    cursor: str | None = None,
    with_contexts: bool = True,
) -> Lineage:
    """Walk from the given nodes and answer the lineage graph around them.

    ``ending_*`` are MLMD filter queries naming nodes where the walk stops
    (kept in the answer unless ``include_ending=False``). The type and state
    filters keep only nodes of those types or states and prune the walk behind
    the others (as MLMD's boundaries do). ``max_nodes`` caps one page; pass the
    returned ``cursor`` (with the same other arguments) for the next one.
    """
    artifact_ids = list(dict.fromkeys(int(i) for i in artifact_ids))
    execution_ids = list(dict.fromkeys(int(i) for i in execution_ids))
    if not artifact_ids and not execution_ids:
        raise InvalidArgumentError("lineage needs at least one starting artifact or execution")
    walk_direction = direction_of(direction)
    ending = Ending(
        artifacts=filter_test({ARTIFACT: ending_artifacts}) if ending_artifacts is not None else None,
        executions=filter_test({EXECUTION: ending_executions}) if ending_executions is not None else None,
        include_artifacts=include_ending,
        include_executions=include_ending,
    )
    states = _states(artifact_states, pb.Artifact.State), _states(execution_states, pb.Execution.State)
    keep = type_state_test(
        artifact_types=artifact_types,
        execution_types=execution_types,
        artifact_states=states[0],
        execution_states=states[1],
    )
    # What the walk's tests are, for the cursor's binding (type and state filters as sets). A server's
    # client (GrpcStore.lineage_page) sends these to the server as they are, in this order.
    bound = [
        ending_artifacts,
        ending_executions,
        *(None if names is None else sorted(set(names)) for names in (artifact_types, execution_types)),
        *(None if values is None else sorted(set(values)) for values in states),
    ]
    page = store.lineage_page(
        artifact_ids=artifact_ids,
        execution_ids=execution_ids,
        direction=walk_direction,
        max_hops=max_hops,
        ending=ending,
        keep=keep,
        max_nodes=max_nodes,
        cursor=cursor,
        bound=bound,
        with_contexts=with_contexts,
    )
    walk, graph, tombstones = page.walk, page.graph, page.tombstones
    hops = {node_of(ARTIFACT, i): h for i, h in walk.artifacts.items()}
    hops.update({node_of(EXECUTION, i): h for i, h in walk.executions.items()})
    starting = [node_of(ARTIFACT, i) for i in artifact_ids] + [node_of(EXECUTION, i) for i in execution_ids]
    return Lineage(
        graph=graph,
        starting=starting,
        direction=walk_direction,
        hops=hops,
        truncated=walk.truncated,
        cursor=walk.cursor,
        max_hops=max_hops,
        tombstones=tombstones,
    )
