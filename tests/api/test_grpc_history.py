"""Writes through gRPC are recorded as gRPC's, with the caller's address: the real ml-metadata client
against `mlineage serve`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess

from grpc_server import mlineage_server, require_mlmd_python

from mlineage.api.grpc.service import MetadataStoreServicer
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_service_pb2 as svc

# Runs under the ml-metadata environment: writes through MLMD's own client, prints the ids.
_CLIENT = """
import json, sys
from ml_metadata.metadata_store import MetadataStore
from ml_metadata.proto import metadata_store_pb2 as mlmd
host, port = sys.argv[1].rsplit(":", 1)
config = mlmd.MetadataStoreClientConfig(host=host, port=int(port))
store = MetadataStore(config)
model_type = mlmd.ArtifactType(name="Model")
model_type.properties["acc"] = mlmd.DOUBLE
type_id = store.put_artifact_type(model_type)
trainer = store.put_execution_type(mlmd.ExecutionType(name="Trainer"))
run_type = store.put_context_type(mlmd.ContextType(name="Run"))
[model] = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/model/1")])
[artifact] = store.get_artifacts_by_id([model])
artifact.properties["acc"].double_value = 0.9
store.put_artifacts([artifact])
[parent, child] = store.put_contexts([mlmd.Context(type_id=run_type, name="p"), mlmd.Context(type_id=run_type, name="c")])
store.put_parent_contexts([mlmd.ParentContext(parent_id=parent, child_id=child)])
execution_id, _, _ = store.put_execution(
    mlmd.Execution(type_id=trainer), [(artifact, mlmd.Event(type=mlmd.Event.OUTPUT))], [])
store.put_attributions_and_associations([mlmd.Attribution(artifact_id=model, context_id=child)], [])
print(json.dumps({"model": model, "execution": execution_id, "context": child}))
"""


def test_writes_of_the_ml_metadata_client_are_attributed_to_grpc_with_the_peer(store_url, tmp_path):
    python = require_mlmd_python()
    with mlineage_server(store_url) as server:
        result = subprocess.run([python, "-c", _CLIENT, server.target], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        ids = json.loads(result.stdout)
        store = Store(store_url)
        try:
            model = store.get_artifact_history(ids["model"])
            execution = store.get_execution_history(ids["execution"])
            context = store.get_context_history(ids["context"])
        finally:
            store.close()
    assert [r.operation for r in model] == ["create", "update"]
    assert model[1].changed == ("properties.acc",)
    for revision in (*model, *execution, *context):
        assert revision.surface == "grpc"
        assert revision.actor is None
        host, _, port = revision.peer.rpartition(":")
        assert host == "127.0.0.1" and port.isdigit(), revision.peer


def test_every_put_rpc_records_its_changes_as_grpc():
    methods = [method.name for method in svc.DESCRIPTOR.services_by_name["MetadataStoreService"].methods]
    attributed = {name for name in methods if getattr(getattr(MetadataStoreServicer, name), "records_as_grpc", False)}
    assert attributed == {name for name in methods if name.startswith("Put")}
