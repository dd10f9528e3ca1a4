"""One pipeline recorded twice, TFX-style through the real ml-metadata client and through mlineage.integrations: the same graph.

examples/pipeline_end_to_end.py runs once in the TFX environment (TFDV, TF.Transform, Keras, TFMA, a
TF Serving and a Triton push), recorded through the integrations into one `mlineage serve`
(tests/support/tfx_style_pipeline.py). The same run is then written into a second server as TFX's
orchestrator and standard components write it, with the real ml-metadata client
(tests/support/tfx_mlmd_recorder.py: component class paths, pipeline/pipeline_run/node contexts,
events with key and index paths, the properties TFX's executors set, computed with TFDV's and TFMA's
own readers). The two stores must agree on the artifact types (names, declared properties, base
types), the execution types and node contexts, what each node reads and writes under which keys,
the properties TFX sets, and the shape of each pushed model's upstream lineage back to the raw
examples. What the integrations record beyond TFX is listed here (ADDED, URIS) and in
docs/integrations.md; anything else that differs fails.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import json_format
from grpc_server import mlineage_server, require_mlmd_python
from paths import SUPPORT
from tfx_scripts import run_tfx_script

import mlineage
from mlineage.lineage import lineage
from mlineage.proto import metadata_store_pb2 as pb

RUN_ID = "shape-1"
PIPELINE = "taxi_end_to_end"
#: Declared properties the integrations set where TFX's executors leave them unset (node, output key, name).
ADDED = {("ExampleValidator", "anomalies", "span"), ("Transform", "transformed_examples", "span")}
#: Outputs whose URI differs, and how: the schema file itself (TFX: its directory); the pushed model where it
#: was pushed (TFX: a copy in the Pusher's own output directory; the destination is pushed_destination).
URIS = {"Schema": lambda tfx_artifact: f"{tfx_artifact.uri}/schema.pbtxt",
        "PushedModel": lambda tfx_artifact: tfx_artifact.custom_properties["pushed_destination"].string_value}


@dataclass
class Recorded:
    ours: Any
    tfx: Any
    pushed: dict[str, dict[str, int]]  # node -> {"ours": id, "tfx": id}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Recorded:
    mlmd_python = require_mlmd_python()
    root = tmp_path_factory.mktemp("shape")
    (root / "ours").mkdir()
    (root / "tfx").mkdir()
    with mlineage_server(root / "ours") as ours, mlineage_server(root / "tfx") as theirs:
        summary = run_tfx_script("tfx_style_pipeline.py", root / "wd", f"grpc://{ours.target}", RUN_ID,
                                 env={"MLINEAGE_JOURNAL_DIR": str(root / "journal")})
        result = subprocess.run(
            [mlmd_python, str(SUPPORT / "tfx_mlmd_recorder.py"), str(root / "wd" / "tfx_spec.json"), theirs.target],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-4000:]
        tfx_pushed = json.loads(result.stdout.strip().splitlines()[-1])["pushed"]
        yield Recorded(
            ours=mlineage.connect(ours.db_url), tfx=mlineage.connect(theirs.db_url),
            pushed={"Pusher": {"ours": summary["pushed"]["tf_serving"]["id"], "tfx": tfx_pushed["Pusher"]},
                    "TritonPusher": {"ours": summary["pushed"]["triton"]["id"], "tfx": tfx_pushed["TritonPusher"]}},
        )  # fmt: skip


def _stores(recorded: Recorded) -> dict[str, Any]:
    return {"ours": recorded.ours, "tfx": recorded.tfx}


def _node_of_execution(store) -> dict[int, str]:
    """Execution id -> node id, by the ``node`` contexts (``<pipeline>.<node>``)."""
    found = {}
    for context in store.get_contexts_by_type("node"):
        for execution in store.get_executions_by_context(context.id):
            found[execution.id] = context.name.removeprefix(f"{PIPELINE}.")
    return found


def _path(event: pb.Event) -> tuple[str, int]:
    key, index = event.path.steps
    return key.key, index.index


def _node_events(store) -> dict[str, list[tuple]]:
    """node -> sorted (event type, key, index, artifact type) of what its execution read and wrote."""
    nodes = _node_of_execution(store)
    types = {t.id: t.name for t in store.get_artifact_types()}
    artifacts = {a.id: a for a in store.get_artifacts()}
    found: dict[str, list[tuple]] = {}
    for event in store.get_events_by_execution_ids(list(nodes)):
        found.setdefault(nodes[event.execution_id], []).append(
            (pb.Event.Type.Name(event.type), *_path(event), types[artifacts[event.artifact_id].type_id]))
    return {node: sorted(events) for node, events in found.items()}


def _outputs(store) -> dict[tuple[str, str, int], pb.Artifact]:
    """(node, output key, index) -> the artifact written there."""
    nodes = _node_of_execution(store)
    artifacts = {a.id: a for a in store.get_artifacts()}
    return {(nodes[e.execution_id], *_path(e)): artifacts[e.artifact_id]
            for e in store.get_events_by_execution_ids(list(nodes)) if e.type == pb.Event.OUTPUT}


def _value(value: pb.Value) -> Any:
    kind = value.WhichOneof("value")
    return json_format.MessageToDict(value.struct_value) if kind == "struct_value" else getattr(value, kind)


def test_the_artifact_types_are_tfx_types_declared_the_same(recorded):
    used = {}
    for name, store in _stores(recorded).items():
        types = {t.id: t for t in store.get_artifact_types()}
        used[name] = {types[a.type_id].name: types[a.type_id] for a in store.get_artifacts()}
    assert sorted(used["ours"]) == sorted(used["tfx"]) == [
        "ExampleAnomalies", "ExampleStatistics", "Examples", "Model", "ModelBlessing", "ModelEvaluation", "ModelRun",
        "PushedModel", "Schema", "TransformGraph"]  # fmt: skip
    for type_name, tfx_type in used["tfx"].items():
        ours = used["ours"][type_name]
        assert dict(ours.properties) == dict(tfx_type.properties), type_name
        assert ours.base_type == tfx_type.base_type, type_name
    assert dict(used["ours"]["Examples"].properties) == {"span": pb.INT, "version": pb.INT, "split_names": pb.STRING}


def test_executions_are_typed_by_component_class_path_in_tfx_contexts(recorded):
    per_store = {}
    for name, store in _stores(recorded).items():
        execution_types = {t.id: t.name for t in store.get_execution_types()}
        nodes = _node_of_execution(store)
        executions = store.get_executions_by_id(list(nodes))
        per_store[name] = {nodes[e.id]: execution_types[e.type_id] for e in executions}
        for execution in executions:  # each node's execution, and what it read and wrote, in its three contexts
            wanted = {("pipeline", PIPELINE), ("node", f"{PIPELINE}.{nodes[execution.id]}")}
            contexts = {(c.type, c.name) for c in store.get_contexts_by_execution(execution.id)}
            assert wanted <= contexts and "pipeline_run" in {t for t, _ in contexts}
            for event in store.get_events_by_execution_ids([execution.id]):
                attributed = {(c.type, c.name) for c in store.get_contexts_by_artifact(event.artifact_id)}
                assert ("node", f"{PIPELINE}.{nodes[execution.id]}") in attributed
    assert per_store["ours"] == per_store["tfx"]
    assert per_store["ours"]["TritonPusher"] == per_store["ours"]["Pusher"] == "tfx.components.pusher.component.Pusher"
    assert len(per_store["ours"]) == 9


def test_each_node_reads_and_writes_the_same_artifacts_under_tfx_keys(recorded):
    ours, tfx = _node_events(recorded.ours), _node_events(recorded.tfx)
    assert ours == tfx
    assert ("INPUT", "model_blessing", 0, "ModelBlessing") in ours["Pusher"]
    assert ("OUTPUT", "transformed_examples", 0, "Examples") in ours["Transform"]


def test_outputs_carry_the_properties_tfx_sets_with_the_same_values(recorded):
    ours, tfx = _outputs(recorded.ours), _outputs(recorded.tfx)
    assert sorted(ours) == sorted(tfx)
    model_ids = {"ours": ours[("Trainer", "model", 0)].id, "tfx": tfx[("Trainer", "model", 0)].id}
    types = {t.id: t.name for t in recorded.tfx.get_artifact_types()}
    compared = 0
    for (node, key, index), theirs in tfx.items():
        mine = ours[(node, key, index)]
        type_name = types[theirs.type_id]
        assert mine.uri == (URIS[type_name](theirs) if type_name in URIS else theirs.uri), (node, key)
        for name, value in theirs.properties.items():
            assert _value(mine.properties[name]) == _value(value), (node, key, name)
            compared += 1
        extra = {(node, key, name) for name in mine.properties if name not in theirs.properties}
        assert extra <= ADDED, extra
        for name, value in theirs.custom_properties.items():
            assert name in mine.custom_properties, (node, key, name)
            if name == "current_model_id":  # the trained model's id, in each store
                assert (value.int_value, mine.custom_properties[name].int_value) == (model_ids["tfx"],
                                                                                     model_ids["ours"])
            else:
                assert _value(mine.custom_properties[name]) == _value(value), (node, key, name)
            compared += 1
    assert compared == 16  # every value TFX sets on these outputs
    blessed = _value(ours[("ExampleValidator", "anomalies", 0)].custom_properties["blessed"])
    assert set(blessed) == {"train", "eval"}


def _upstream_edges(store, pushed_id: int) -> set[tuple]:
    """Edges of a pushed model's upstream lineage, each node named by what it is in the pipeline: an execution
    by its node, an artifact by the node, key and index it was written under."""
    nodes = _node_of_execution(store)
    graph = lineage(store, artifact_ids=[pushed_id], direction="upstream", max_hops=40).graph
    written = {e.artifact_id: (nodes[e.execution_id], *_path(e)) for e in graph.events if e.type == pb.Event.OUTPUT}
    return {(written[e.artifact_id], pb.Event.Type.Name(e.type), _path(e), nodes[e.execution_id])
            for e in graph.events}


@pytest.mark.parametrize("pusher", ["Pusher", "TritonPusher"])
def test_each_pushed_models_upstream_lineage_has_the_same_shape_back_to_the_raw_examples(recorded, pusher):
    ids = recorded.pushed[pusher]
    ours, tfx = _upstream_edges(recorded.ours, ids["ours"]), _upstream_edges(recorded.tfx, ids["tfx"])
    assert ours == tfx
    assert (("CsvExampleGen", "examples", 0), "INPUT", ("examples", 0), "StatisticsGen") in ours
    assert (("Trainer", "model", 0), "INPUT", ("model", 0), pusher) in ours
    assert {edge[3] for edge in ours} == {"CsvExampleGen", "StatisticsGen", "SchemaGen", "Transform", "Trainer",
                                         "Evaluator", pusher}  # fmt: skip
