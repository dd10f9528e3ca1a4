"""Hand-built lineage graphs and the GetLineageSubgraph queries asked of them, for MLMD and mlineage alike.

The module runs under either store: ``build`` writes a graph through the
MLMD-style API and ``answer`` asks one query, both given the store and its
``metadata_store_pb2`` module. Answers are reduced to node *names* so that
they compare across stores whatever ids each assigns.

Under the ml-metadata venv it regenerates the expected answers that
tests/test_lineage_mlmd.py checks mlineage against:

    .venvs/mlmd/bin/python tests/lineage_scenarios.py > tests/data/lineage_mlmd_expected.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

# --- graphs ------------------------------------------------------------------------------------
# artifacts: name -> (type, state or None); executions: name -> (type, last_known_state or None)
# events: (artifact, execution, Event.Type name); contexts: name -> (type, [member names])

ARTIFACT_TYPES = ["Dataset", "Examples", "Schema", "Model", "Metrics"]
EXECUTION_TYPES = ["ExampleGen", "SchemaGen", "Trainer", "Evaluator", "Pusher"]
CONTEXT_TYPES = ["Pipeline", "PipelineRun", "Experiment"]


def _chain() -> dict[str, Any]:
    # d0 -> x1 -> a1 -> x2 -> a2 -> x3 -> a3
    return {
        "artifacts": {
            "d0": ("Dataset", "LIVE"),
            "a1": ("Examples", "LIVE"),
            "a2": ("Model", "LIVE"),
            "a3": ("Metrics", "DELETED"),
        },
        "executions": {"x1": ("ExampleGen", "COMPLETE"), "x2": ("Trainer", "COMPLETE"), "x3": ("Evaluator", "FAILED")},
        "events": [
            ("d0", "x1", "INPUT"),
            ("a1", "x1", "OUTPUT"),
            ("a1", "x2", "INPUT"),
            ("a2", "x2", "OUTPUT"),
            ("a2", "x3", "INPUT"),
            ("a3", "x3", "OUTPUT"),
        ],
        "contexts": {
            "run1": ("PipelineRun", ["x1", "a1", "x2", "a2"]),
            "run2": ("PipelineRun", ["x3", "a3"]),
            "pipe": ("Pipeline", ["x1", "x2", "x3"]),
        },
    }


def _diamond() -> dict[str, Any]:
    # d0 -> split -> {train, eval}; train -> t1 -> m1; train -> t2 -> m2; {m1, m2, eval} -> judge -> metrics
    # plus the other event kinds and an artifact that one execution both reads and writes.
    return {
        "artifacts": {
            "d0": ("Dataset", None),
            "train": ("Examples", None),
            "eval": ("Examples", None),
            "m1": ("Model", "LIVE"),
            "m2": ("Model", "PENDING"),
            "metrics": ("Metrics", None),
            "cache": ("Dataset", None),
        },
        "executions": {
            "split": ("ExampleGen", None),
            "t1": ("Trainer", "COMPLETE"),
            "t2": ("Trainer", "RUNNING"),
            "judge": ("Evaluator", None),
        },
        "events": [
            ("d0", "split", "DECLARED_INPUT"),
            ("train", "split", "OUTPUT"),
            ("eval", "split", "DECLARED_OUTPUT"),
            ("train", "t1", "INPUT"),
            ("m1", "t1", "OUTPUT"),
            ("train", "t2", "INTERNAL_INPUT"),
            ("m2", "t2", "PENDING_OUTPUT"),
            ("m1", "judge", "INPUT"),
            ("m2", "judge", "INPUT"),
            ("eval", "judge", "INPUT"),
            ("metrics", "judge", "INTERNAL_OUTPUT"),
            ("cache", "t1", "INPUT"),
            ("cache", "t1", "OUTPUT"),
        ],
        "contexts": {"run": ("PipelineRun", ["split", "t1", "t2", "judge", "train", "m1", "m2", "metrics"])},
    }


def _fan() -> dict[str, Any]:
    # ds1..ds5 -> merge -> merged -> fit1..fit4 -> m1..m4 -> ev1..ev4 -> r1..r4
    artifacts: dict[str, tuple] = {f"ds{i}": ("Dataset", "LIVE") for i in range(1, 6)}
    artifacts["merged"] = ("Examples", "LIVE")
    executions: dict[str, tuple] = {"merge": ("ExampleGen", "COMPLETE")}
    events = [(f"ds{i}", "merge", "INPUT") for i in range(1, 6)] + [("merged", "merge", "OUTPUT")]
    for i in range(1, 5):
        artifacts[f"m{i}"] = ("Model", "LIVE" if i % 2 else "DELETED")
        artifacts[f"r{i}"] = ("Metrics", None)
        executions[f"fit{i}"] = ("Trainer", "COMPLETE")
        executions[f"ev{i}"] = ("Evaluator", "COMPLETE" if i < 4 else "FAILED")
        events += [
            ("merged", f"fit{i}", "INPUT"),
            (f"m{i}", f"fit{i}", "OUTPUT"),
            (f"m{i}", f"ev{i}", "INPUT"),
            (f"r{i}", f"ev{i}", "OUTPUT"),
        ]
    return {"artifacts": artifacts, "executions": executions, "events": events, "contexts": {}}


def _shared() -> dict[str, Any]:
    # Two runs read one dataset; contexts overlap.
    return {
        "artifacts": {
            "raw": ("Dataset", "LIVE"),
            "shared": ("Dataset", "LIVE"),
            "ma": ("Model", "LIVE"),
            "mb": ("Model", "LIVE"),
            "pa": ("Metrics", None),
        },
        "executions": {
            "ingest": ("ExampleGen", "COMPLETE"),
            "xa": ("Trainer", "COMPLETE"),
            "xb": ("Trainer", "COMPLETE"),
            "pusha": ("Pusher", "COMPLETE"),
        },
        "events": [
            ("raw", "ingest", "INPUT"),
            ("shared", "ingest", "OUTPUT"),
            ("shared", "xa", "INPUT"),
            ("ma", "xa", "OUTPUT"),
            ("shared", "xb", "INPUT"),
            ("mb", "xb", "OUTPUT"),
            ("ma", "pusha", "INPUT"),
            ("pa", "pusha", "OUTPUT"),
        ],
        "contexts": {
            "runA": ("PipelineRun", ["xa", "ma", "pusha", "pa"]),
            "runB": ("PipelineRun", ["xb", "mb"]),
            "pipeline": ("Pipeline", ["xa", "xb", "pusha", "ingest"]),
            "exp": ("Experiment", ["shared", "raw"]),
        },
    }


def _cycle() -> dict[str, Any]:
    # a1 -> x1 -> a2 -> x2 -> a1, and x1 also reads a2 (a loop of length two)
    return {
        "artifacts": {"a1": ("Dataset", None), "a2": ("Model", None), "a3": ("Metrics", None)},
        "executions": {"x1": ("Trainer", None), "x2": ("Evaluator", None)},
        "events": [
            ("a1", "x1", "INPUT"),
            ("a2", "x1", "OUTPUT"),
            ("a2", "x2", "INPUT"),
            ("a1", "x2", "OUTPUT"),
            ("a3", "x2", "OUTPUT"),
            ("a2", "x1", "INPUT"),
        ],
        "contexts": {"loop": ("PipelineRun", ["a1", "x1"])},
    }


def _long() -> dict[str, Any]:
    # c0 -> y1 -> c1 -> ... -> y60 -> c60: 120 hops end to end, past MLMD's 100-hop ceiling.
    artifacts = {f"c{i}": ("Examples", None) for i in range(61)}
    executions = {f"y{i}": ("Trainer", None) for i in range(1, 61)}
    events = []
    for i in range(1, 61):
        events += [(f"c{i - 1}", f"y{i}", "INPUT"), (f"c{i}", f"y{i}", "OUTPUT")]
    return {"artifacts": artifacts, "executions": executions, "events": events, "contexts": {}}


def _many() -> dict[str, Any]:
    # 105 datasets read by one execution: more starting nodes than MLMD takes.
    artifacts = {f"s{i:03d}": ("Dataset", None) for i in range(105)}
    artifacts["out"] = ("Model", None)
    events = [(name, "big", "INPUT") for name in artifacts if name != "out"] + [("out", "big", "OUTPUT")]
    return {"artifacts": artifacts, "executions": {"big": ("Trainer", None)}, "events": events, "contexts": {}}


GRAPHS = {
    "chain": _chain,
    "diamond": _diamond,
    "fan": _fan,
    "shared": _shared,
    "cycle": _cycle,
    "long": _long,
    "many": _many,
}

# --- queries -----------------------------------------------------------------------------------
# start: ("artifacts"|"executions", filter); hops: int or None; direction: enum name or None;
# ending_artifacts / ending_executions: (filter or None, include or None); mask: list or None.

DIRECTIONS = [None, "DIRECTION_UNSPECIFIED", "UPSTREAM", "DOWNSTREAM", "BIDIRECTIONAL"]


def _sweep(start: tuple[str, str], hops: list[int | None]) -> list[dict[str, Any]]:
    return [{"start": start, "hops": h, "direction": d} for d in DIRECTIONS for h in hops]


def _queries() -> dict[str, list[dict[str, Any]]]:
    chain = _sweep(("artifacts", "name = 'a2'"), [None, 0, 1, 2, 3, 4, 200])
    chain += _sweep(("executions", "name = 'x2'"), [0, 1, 2, 3, 5])
    chain += [
        {"start": ("artifacts", "name = 'a2'"), "direction": d, "ending_artifacts": ("name = 'a1'", inc)}
        for d in DIRECTIONS
        for inc in (None, False, True)
    ]
    chain += [
        {"start": ("artifacts", "name = 'a3'"), "direction": d, "ending_executions": ("type = 'Trainer'", inc)}
        for d in ("UPSTREAM", "BIDIRECTIONAL")
        for inc in (False, True)
    ]
    chain += [
        # A starting node that is also an ending node.
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "ending_artifacts": ("name = 'a2'", False)},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "ending_artifacts": ("name = 'a2'", True)},
        {"start": ("artifacts", "name = 'a2' OR name = 'a1'"), "ending_artifacts": ("name = 'a2'", False)},
        {"start": ("executions", "name = 'x2'"), "ending_executions": ("name = 'x2'", True)},
        # Ending nodes given without a filter, or with an empty one.
        {"start": ("artifacts", "name = 'a2'"), "hops": 3, "ending_artifacts": (None, True)},
        {"start": ("artifacts", "name = 'a2'"), "hops": 3, "ending_artifacts": ("", False)},
        {"start": ("artifacts", "name = 'a2'"), "hops": 3, "ending_executions": ("", True)},
        # Ending conditions on state, properties-free columns and contexts.
        {"start": ("artifacts", "name = 'd0'"), "direction": "DOWNSTREAM", "ending_artifacts": ("state = DELETED", True)},
        {"start": ("artifacts", "name = 'd0'"), "direction": "DOWNSTREAM",
         "ending_executions": ("last_known_state = FAILED", False)},
        {"start": ("artifacts", "name = 'd0'"), "ending_artifacts": ("contexts_r.name = 'run2'", False)},
        # Read masks.
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "mask": ["artifacts"]},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "mask": ["events", "executions"]},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "mask": ["contexts", "attributions", "associations"]},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "mask": ["artifacts", "artifact_types", "context_types"]},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "mask": ["execution_types"]},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "mask": ["artifacts.id", "executions"]},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "mask": ["parent_contexts", "bogus", "artifacts"]},
        # The server's own answer (what the gRPC method returns, before the client hydrates it).
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "raw": True},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "raw": True, "mask": ["artifacts", "events"]},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "raw": True, "mask": ["artifact_types", "contexts"]},
        {"start": ("artifacts", "name = 'a2'"), "hops": 2, "raw": True, "mask": ["artifacts.id", "bogus"]},
        {"start": ("executions", "name = 'x2'"), "direction": "UPSTREAM", "raw": True,
         "ending_artifacts": ("name = 'd0'", True)},
        # Errors.
        {"start": ("artifacts", "name = 'nothing'")},
        {"start": ("artifacts", "name = 'a2'"), "hops": -1},
        {"start": ("artifacts", "")},
        {"start": None},
        {"start": ("artifacts", "nme = 'a2'")},
        {"start": ("artifacts", "name = 'a2'"), "ending_artifacts": ("name =", False)},
    ]
    diamond = _sweep(("artifacts", "name = 'metrics'"), [None, 1, 2, 3, 4, 5])
    diamond += _sweep(("artifacts", "name = 'd0'"), [None, 2, 3, 4])
    diamond += _sweep(("artifacts", "name = 'cache'"), [1, 2])
    diamond += _sweep(("executions", "name = 't1'"), [1, 2, 3])
    diamond += [
        {"start": ("artifacts", "name = 'metrics'"), "direction": d, "ending_artifacts": ("type = 'Examples'", inc)}
        for d in ("UPSTREAM", "BIDIRECTIONAL")
        for inc in (False, True)
    ]
    diamond += [
        {"start": ("artifacts", "name = 'd0'"), "direction": d, "ending_executions": ("name = 't2'", inc)}
        for d in ("DOWNSTREAM", "BIDIRECTIONAL")
        for inc in (False, True)
    ]
    fan = _sweep(("artifacts", "type = 'Model'"), [None, 1, 2, 4])
    fan += _sweep(("artifacts", "name = 'ds3'"), [None, 2, 4, 6])
    fan += _sweep(("executions", "type = 'Evaluator' AND last_known_state = FAILED"), [None, 3])
    fan += [
        {"start": ("artifacts", "name = 'ds1'"), "direction": d, "ending_artifacts": ("type = 'Model'", inc)}
        for d in ("DOWNSTREAM", "BIDIRECTIONAL")
        for inc in (False, True)
    ]
    fan += [
        {"start": ("artifacts", "type = 'Metrics'"), "direction": "UPSTREAM",
         "ending_executions": ("type = 'Trainer'", True), "ending_artifacts": ("type = 'Examples'", True)},
        {"start": ("artifacts", "type = 'Metrics'"), "direction": "UPSTREAM",
         "ending_executions": ("type = 'Trainer'", False), "ending_artifacts": ("state = DELETED", True)},
    ]
    shared = _sweep(("artifacts", "name = 'ma'"), [None, 1, 2, 3, 4])
    shared += _sweep(("artifacts", "name = 'shared'"), [None, 1, 2])
    shared += _sweep(("executions", "name = 'pusha'"), [None, 2])
    shared += [
        {"start": ("artifacts", "name = 'ma'"), "direction": "BIDIRECTIONAL",
         "ending_artifacts": ("name = 'shared'", inc)}
        for inc in (False, True)
    ]
    cycle = _sweep(("artifacts", "name = 'a1'"), [None, 1, 2, 3, 4])
    cycle += _sweep(("executions", "name = 'x2'"), [None, 1, 2, 3])
    cycle += [
        {"start": ("artifacts", "name = 'a1'"), "direction": d, "ending_artifacts": ("name = 'a2'", inc)}
        for d in ("UPSTREAM", "DOWNSTREAM")
        for inc in (False, True)
    ]
    long = [
        {"start": ("artifacts", "name = 'c60'"), "direction": "UPSTREAM", "hops": h} for h in (None, 99, 100, 101, 150)
    ]
    long += [{"start": ("artifacts", "name = 'c0'"), "hops": h} for h in (None, 150)]
    long += [{"start": ("executions", "name = 'y60'"), "direction": "UPSTREAM"}]
    many = [
        {"start": ("artifacts", "type = 'Dataset'"), "hops": h, "mask": ["artifacts", "executions", "events"]}
        for h in (0, 1, 2)
    ]
    return {"chain": chain, "diamond": diamond, "fan": fan, "shared": shared, "cycle": cycle, "long": long,
            "many": many}


QUERIES = _queries()

# --- running them -----------------------------------------------------------------------------


def put_types(store, pb) -> dict[str, int]:
    """The scenario types (put again, they keep their ids); type ids by name."""
    ids = {}
    for name in ARTIFACT_TYPES:
        ids[name] = store.put_artifact_type(pb.ArtifactType(name=name))
    for name in EXECUTION_TYPES:
        ids[name] = store.put_execution_type(pb.ExecutionType(name=name))
    for name in CONTEXT_TYPES:
        ids[name] = store.put_context_type(pb.ContextType(name=name))
    return ids


def build_graph(store, pb, graph: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Write one graph; returns its ids by kind and name."""
    type_ids = put_types(store, pb)
    artifacts = []
    for name, (type_name, state) in graph["artifacts"].items():
        artifact = pb.Artifact(type_id=type_ids[type_name], name=name, uri=f"/data/{name}")
        if state:
            artifact.state = pb.Artifact.State.Value(state)
        artifacts.append(artifact)
    executions = []
    for name, (type_name, state) in graph["executions"].items():
        execution = pb.Execution(type_id=type_ids[type_name], name=name)
        if state:
            execution.last_known_state = pb.Execution.State.Value(state)
        executions.append(execution)
    artifact_ids = dict(zip(graph["artifacts"], store.put_artifacts(artifacts), strict=True))
    execution_ids = dict(zip(graph["executions"], store.put_executions(executions), strict=True))
    events = []
    for artifact, execution, kind in graph["events"]:
        event = pb.Event(artifact_id=artifact_ids[artifact], execution_id=execution_ids[execution])
        event.type = pb.Event.Type.Value(kind)
        step = event.path.steps.add()
        step.key = f"{artifact}@{execution}"
        events.append(event)
    store.put_events(events)
    context_ids = {}
    for name, (type_name, members) in graph["contexts"].items():
        [context_ids[name]] = store.put_contexts([pb.Context(type_id=type_ids[type_name], name=name)])
        store.put_attributions_and_associations(
            [pb.Attribution(context_id=context_ids[name], artifact_id=artifact_ids[m]) for m in members
             if m in artifact_ids],
            [pb.Association(context_id=context_ids[name], execution_id=execution_ids[m]) for m in members
             if m in execution_ids],
        )
    return {"artifact": artifact_ids, "execution": execution_ids, "context": context_ids}


def query_options(pb, query: dict[str, Any]):
    options = pb.LineageSubgraphQueryOptions()
    start = query.get("start")
    if start is not None:
        which, filter_query = start
        nodes = options.starting_artifacts if which == "artifacts" else options.starting_executions
        nodes.SetInParent()
        if filter_query:
            nodes.filter_query = filter_query
    if query.get("hops") is not None:
        options.max_num_hops = query["hops"]
    if query.get("direction") is not None:
        options.direction = pb.LineageSubgraphQueryOptions.Direction.Value(query["direction"])
    for field in ("ending_artifacts", "ending_executions"):
        if field in query:
            filter_query, include = query[field]
            ending = getattr(options, field)
            ending.SetInParent()
            if filter_query is not None:
                ending.filter_query = filter_query
            if include is not None:
                ending.include_ending_nodes = include
    return options


def normalize(graph, names: dict[str, dict[int, str]]) -> dict[str, Any]:
    """A LineageGraph by names, each list sorted, so that two stores' answers compare equal."""
    artifact, execution, context = names["artifact"], names["execution"], names["context"]
    return {
        "artifacts": sorted(artifact[a.id] for a in graph.artifacts),
        "executions": sorted(execution[e.id] for e in graph.executions),
        "contexts": sorted(context[c.id] for c in graph.contexts),
        "events": sorted(
            [artifact[e.artifact_id], execution[e.execution_id], e.type, [s.key for s in e.path.steps]]
            for e in graph.events
        ),
        "attributions": sorted([context[a.context_id], artifact[a.artifact_id]] for a in graph.attributions),
        "associations": sorted([context[a.context_id], execution[a.execution_id]] for a in graph.associations),
        "artifact_types": sorted(t.name for t in graph.artifact_types),
        "execution_types": sorted(t.name for t in graph.execution_types),
        "context_types": sorted(t.name for t in graph.context_types),
        # Hydrated nodes carry their type name (empty when dehydrated).
        "artifact_type_of": sorted({a.type for a in graph.artifacts}),
    }


def answer(store, pb, ids: dict[str, dict[str, int]], query: dict[str, Any]) -> dict[str, Any]:
    """One query's answer, or the name of the error class it raised."""
    names = {kind: {v: k for k, v in by_name.items()} for kind, by_name in ids.items()}
    try:
        if query.get("raw"):
            graph = server_answer(store, pb, query_options(pb, query), query.get("mask") or [])
        else:
            graph = store.get_lineage_subgraph(query_options(pb, query), query.get("mask"))
    except Exception as exc:  # noqa: BLE001 - the class name is the answer
        return {"error": type(exc).__name__}
    return normalize(graph, names)


def server_answer(store, pb, options, mask: list[str]):
    """GetLineageSubgraph's own answer: MLMD's through its in-process RPC, mlineage's through the
    function its gRPC service calls."""
    if hasattr(store, "_call"):  # ml_metadata.MetadataStore
        from ml_metadata.proto import metadata_store_service_pb2 as svc

        request = svc.GetLineageSubgraphRequest(lineage_subgraph_query_options=options)
        request.read_mask.paths.extend(mask)
        response = svc.GetLineageSubgraphResponse()
        store._call("GetLineageSubgraph", request, response)
        return response.lineage_subgraph
    from mlineage.metadata.lineage_engine.mlmd import lineage_subgraph

    return lineage_subgraph(store, options, mask, dehydrated=True)


def run_all(make_store, pb) -> dict[str, list[dict[str, Any]]]:
    """Every graph in a fresh store from ``make_store()``; every query's answer, in QUERIES order."""
    results = {}
    for graph_name, make_graph in GRAPHS.items():
        store = make_store()
        ids = build_graph(store, pb, make_graph())
        results[graph_name] = [answer(store, pb, ids, q) for q in QUERIES[graph_name]]
    return results


def _mlmd_main() -> None:
    import os
    import tempfile

    import ml_metadata
    from ml_metadata.proto import metadata_store_pb2 as pb

    directory = tempfile.mkdtemp(prefix="lineage_mlmd_")
    counter = iter(range(1_000_000))

    def make_store():
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = os.path.join(directory, f"g{next(counter)}.db")
        config.sqlite.connection_mode = 3
        return ml_metadata.MetadataStore(config)

    results = run_all(make_store, pb)
    # One answer a line: reviewable diffs when MLMD's answers change.
    graphs = [
        f"{json.dumps(name)}: [\n" + ",\n".join(json.dumps(a, sort_keys=True) for a in answers) + "\n]"
        for name, answers in results.items()
    ]
    sys.stdout.write(
        f'{{"ml_metadata": {json.dumps(ml_metadata.__version__)}, "results": {{\n' + ",\n".join(graphs) + "\n}}\n"
    )


if __name__ == "__main__":
    _mlmd_main()
