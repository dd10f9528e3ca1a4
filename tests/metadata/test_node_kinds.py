"""NodeKind is the one vocabulary for "which kind of node": light to import, and used by every layer named here."""

from __future__ import annotations

import subprocess
import sys

from mlineage.api import requests
from mlineage.api.rest import nodes as rest_nodes
from mlineage.client import records as rec
from mlineage.metadata import kinds
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import tables as t


def test_importing_the_kinds_and_the_client_records_loads_no_sqlalchemy():
    probe = ("import sys\nimport mlineage.metadata.kinds, mlineage.client.records, mlineage.client.tracking\n"
             "print('sqlalchemy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_each_kind_knows_its_tables_type_kind_and_messages():
    assert (ARTIFACT.table, EXECUTION.table, CONTEXT.table) == (t.artifacts, t.executions, t.contexts)
    assert (ARTIFACT.properties, CONTEXT.properties) == (t.artifact_properties, t.context_properties)
    assert [k.type_kind for k in (ARTIFACT, EXECUTION, CONTEXT)] == [t.KIND_ARTIFACT, t.KIND_EXECUTION,
                                                                     t.KIND_CONTEXT]
    assert [k.plural for k in kinds.ALL_KINDS] == ["artifacts", "executions", "contexts"]
    assert kinds.KIND_BY_MESSAGE[pb.Execution] is EXECUTION
    assert kinds.KIND_BY_TYPE_MESSAGE[pb.ContextType] is CONTEXT
    assert kinds.kind_named("artifact") is ARTIFACT


def test_journal_records_and_rest_name_kinds_by_node_kind():
    assert (rec.ContextRecord.KIND, rec.ExecutionRecord.KIND, rec.ArtifactRecord.KIND) == (CONTEXT, EXECUTION,
                                                                                           ARTIFACT)
    assert rec.ExecutionPropertiesRecord.KIND is EXECUTION
    assert not hasattr(rest_nodes, "Kind")  # REST's own kind class is gone
    assert set(rest_nodes._WIRE) == set(kinds.ALL_KINDS)
    assert not hasattr(requests, "_KIND_OF_MESSAGE")
