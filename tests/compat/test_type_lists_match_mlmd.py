"""MLMD's listing of every type answers types without their external_id (its reads by name, id and
external id answer it): mlineage's ml_metadata-named methods and its gRPC service answer the same,
checked against MLMD in-process; REST's own listing keeps the external ids."""

from __future__ import annotations

import json
import subprocess

import pytest
from grpc_server import mlineage_server, require_mlmd_python

from mlineage import metadata_store_pb2 as pb

pytestmark = pytest.mark.mlmd

_SCRIPT = """
import json, sys
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as m
if len(sys.argv) > 1:
    host, port = sys.argv[1].rsplit(":", 1)
    store = metadata_store.MetadataStore(m.MetadataStoreClientConfig(host=host, port=int(port)))
else:
    config = m.ConnectionConfig()
    config.fake_database.SetInParent()
    store = metadata_store.MetadataStore(config)
    store.put_artifact_type(m.ArtifactType(name="Data", external_id="type:data"))
    store.put_execution_type(m.ExecutionType(name="Train", external_id="type:train"))
    store.put_context_type(m.ContextType(name="Run", external_id="type:run"))
def listed(types):
    return sorted([t.name, t.external_id, t.HasField("external_id")] for t in types if t.name in ("Data", "Train", "Run"))
print(json.dumps({
    "artifact": listed(store.get_artifact_types()),
    "execution": listed(store.get_execution_types()),
    "context": listed(store.get_context_types()),
    "by_name": store.get_artifact_type("Data").external_id,
}))
"""


def _put_types(store) -> None:
    store.put_artifact_type(pb.ArtifactType(name="Data", external_id="type:data"))
    store.put_execution_type(pb.ExecutionType(name="Train", external_id="type:train"))
    store.put_context_type(pb.ContextType(name="Run", external_id="type:run"))


def test_type_lists_answer_as_mlmd_does(store, store_url):
    python = require_mlmd_python()
    reference = json.loads(subprocess.run([python, "-c", _SCRIPT], capture_output=True, text=True, check=True).stdout)
    assert reference["artifact"] == [["Data", "", False]] and reference["by_name"] == "type:data"
    _put_types(store)
    mine = {
        "artifact": sorted([t.name, t.external_id, t.HasField("external_id")] for t in store.get_artifact_types()
                           if t.name == "Data"),  # fmt: skip
        "execution": sorted([t.name, t.external_id, t.HasField("external_id")] for t in store.get_execution_types()
                            if t.name == "Train"),  # fmt: skip
        "context": sorted([t.name, t.external_id, t.HasField("external_id")] for t in store.get_context_types()
                          if t.name == "Run"),  # fmt: skip
        "by_name": store.get_artifact_type("Data").external_id,
    }
    assert mine == reference
    with mlineage_server(store_url) as server:
        served = subprocess.run([python, "-c", _SCRIPT, server.target], capture_output=True, text=True, timeout=120)
        assert served.returncode == 0, served.stderr[-2000:]
        assert json.loads(served.stdout) == reference
    # mlineage's own listing keeps them.
    assert {t.name: t.external_id for t in store.list_types("artifact")}["Data"] == "type:data"
