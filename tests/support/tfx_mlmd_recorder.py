"""Writes a pipeline spec (tests/support/tfx_style_pipeline.py) as TFX's orchestrator does, with the real ml-metadata client.

    python tests/support/tfx_mlmd_recorder.py SPEC_JSON HOST:PORT

Not a test module; it runs under the ml-metadata environment (protobuf 4.25). For each node, in
order, the calls TFX's portable orchestrator makes (context_lib, execution_publish_utils): the
contexts ``pipeline``, ``pipeline_run`` (named by the run id) and ``node`` (``<pipeline>.<node>``)
got or made; the execution type named by the component's class path; the execution registered
RUNNING with its input artifacts (INPUT events) in those contexts; then published COMPLETE with
its output artifacts, LIVE, as OUTPUT events. Event paths are TFX's: a ``key`` step (the input or
output key) and an ``index`` step. Prints {"pushed": {node: PushedModel id}} as JSON.
"""

from __future__ import annotations

import json
import sys

from google.protobuf import struct_pb2
from ml_metadata.metadata_store import MetadataStore
from ml_metadata.proto import metadata_store_pb2 as mlmd

_DATA_TYPES = {"INT": mlmd.INT, "STRING": mlmd.STRING, "DOUBLE": mlmd.DOUBLE}


def _event(kind: int, key: str, index: int) -> mlmd.Event:
    event = mlmd.Event(type=kind)
    event.path.steps.add().key = key
    event.path.steps.add().index = index
    return event


def _set(target: mlmd.Value, value: dict, ids: dict[str, int]) -> None:
    (kind, data), = value.items()
    if kind == "int":
        target.int_value = data
    elif kind == "double":
        target.double_value = data
    elif kind == "string":
        target.string_value = data
    elif kind == "struct":  # TFX's JSON-valued property: a dict is the Struct itself
        struct = struct_pb2.Struct()
        struct.update(data)
        target.struct_value.CopyFrom(struct)
    elif kind == "id_of":
        target.int_value = ids[data]
    else:
        raise ValueError(f"unknown value kind {kind!r}")


def record(spec: dict, store: MetadataStore) -> dict:
    artifact_types = {}
    for name, declared in spec["artifact_types"].items():
        message = mlmd.ArtifactType(name=name)
        for prop, data_type in declared["properties"].items():
            message.properties[prop] = _DATA_TYPES[data_type]
        if declared["base_type"]:
            message.base_type = mlmd.ArtifactType.SystemDefinedBaseType.Value(declared["base_type"])
        artifact_types[name] = store.put_artifact_type(message)

    def context(type_name: str, name: str) -> mlmd.Context:
        type_id = store.put_context_type(mlmd.ContextType(name=type_name))
        found = store.get_context_by_type_and_name(type_name, name)
        if found is not None:
            return found
        [context_id] = store.put_contexts([mlmd.Context(type_id=type_id, name=name)])
        return store.get_contexts_by_id([context_id])[0]

    pipeline = spec["pipeline"]
    ids: dict[str, int] = {}  # NODE.KEY.INDEX -> artifact id
    for node in spec["nodes"]:
        contexts = [context("pipeline", pipeline), context("pipeline_run", spec["run_id"]),
                    context("node", f"{pipeline}.{node['id']}")]
        execution_type = store.put_execution_type(mlmd.ExecutionType(name=node["type"]))
        inputs = []
        for key, refs in node["inputs"].items():
            for index, ref in enumerate(refs):
                [artifact] = store.get_artifacts_by_id([ids[ref]])
                inputs.append((artifact, _event(mlmd.Event.INPUT, key, index)))
        execution = mlmd.Execution(type_id=execution_type, last_known_state=mlmd.Execution.RUNNING)
        execution_id, _, _ = store.put_execution(execution, inputs, contexts, reuse_context_if_already_exist=True)
        outputs, names = [], []
        for key, artifacts in node["outputs"].items():
            for index, spec_artifact in enumerate(artifacts):
                artifact = mlmd.Artifact(type_id=artifact_types[spec_artifact["type"]], uri=spec_artifact["uri"],
                                         state=mlmd.Artifact.LIVE)
                for group in ("properties", "custom_properties"):
                    for prop, value in spec_artifact[group].items():
                        _set(getattr(artifact, group)[prop], value, ids)
                outputs.append((artifact, _event(mlmd.Event.OUTPUT, key, index)))
                names.append(f"{node['id']}.{key}.{index}")
        [execution] = store.get_executions_by_id([execution_id])
        execution.last_known_state = mlmd.Execution.COMPLETE
        _, artifact_ids, _ = store.put_execution(execution, outputs, contexts, reuse_context_if_already_exist=True)
        ids.update(zip(names, artifact_ids, strict=True))
    return {"pushed": {node["id"]: ids[f"{node['id']}.pushed_model.0"] for node in spec["nodes"]
                       if "pushed_model" in node["outputs"]}}


def main() -> None:
    spec = json.loads(open(sys.argv[1]).read())
    host, _, port = sys.argv[2].rpartition(":")
    config = mlmd.MetadataStoreClientConfig(host=host, port=int(port))
    print(json.dumps(record(spec, MetadataStore(config))))


if __name__ == "__main__":
    main()
