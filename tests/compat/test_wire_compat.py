"""mlineage's protobuf model is MLMD's, field for field and number for number.

MLMD's descriptors are read under the ml-metadata environment (protobuf 4.25)
in a subprocess, ours in-process, both reduced to package-free JSON by
tests/descriptor_dump.py, and compared.
"""

from __future__ import annotations

import json
import runpy
import subprocess
from typing import Any

import pytest
from paths import SUPPORT

_DUMP_SCRIPT = SUPPORT / "descriptor_dump.py"
_dump = runpy.run_path(str(_DUMP_SCRIPT))

MLMD_MODULES = ["ml_metadata.proto.metadata_store_pb2", "ml_metadata.proto.metadata_store_service_pb2"]
OUR_MODULES = ["mlineage.proto.metadata_store_pb2", "mlineage.proto.metadata_store_service_pb2"]


@pytest.fixture(scope="module")
def mlmd() -> dict[str, Any]:
    python = _dump["mlmd_python"]()
    if python is None:
        pytest.skip("no ml-metadata environment: set MLINEAGE_MLMD_PYTHON or create .venvs/mlmd")
    result = subprocess.run(
        [python, str(_DUMP_SCRIPT), *MLMD_MODULES], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return _dump["dump_modules"](OUR_MODULES)


def _differences(kind: str, theirs: dict[str, Any], mine: dict[str, Any]) -> list[str]:
    """One line per MLMD item that ours lacks or describes differently (per field for messages)."""
    problems = []
    for name, expected in sorted(theirs.items()):
        actual = mine.get(name)
        if actual is None:
            problems.append(f"{kind} {name}: missing")
        elif kind == "message" and actual["fields"] != expected["fields"]:
            for field in sorted(set(expected["fields"]) | set(actual["fields"])):
                if actual["fields"].get(field) != expected["fields"].get(field):
                    problems.append(
                        f"{name}.{field}: ours {actual['fields'].get(field)} != MLMD {expected['fields'].get(field)}"
                    )
        elif actual != expected:
            problems.append(f"{kind} {name}: ours {actual} != MLMD {expected}")
    return problems


pytestmark = pytest.mark.mlmd


def test_every_mlmd_message_has_identical_fields_in_ours(mlmd, ours):
    assert _differences("message", mlmd["messages"], ours["messages"]) == []


def test_every_mlmd_enum_has_identical_values_in_ours(mlmd, ours):
    assert _differences("enum", mlmd["enums"], ours["enums"]) == []


def test_service_has_every_mlmd_method_with_the_same_messages(mlmd, ours):
    assert len(mlmd["methods"]) == 52
    assert ours["methods"] == mlmd["methods"]


def test_map_fields_use_entries_with_mlmd_key_and_value_types(mlmd, ours):
    entries = {name: m for name, m in mlmd["messages"].items() if m["map_entry"]}
    assert "Artifact.PropertiesEntry" in entries
    assert "GetParentContextsByContextsResponse.ContextsEntry" in entries
    for name, entry in entries.items():
        assert ours["messages"][name]["map_entry"], name
        assert ours["messages"][name]["fields"] == entry["fields"], name


def test_descriptor_dump_sees_defaults_oneofs_and_packing(ours):
    # Guards the comparison itself: a dump that dropped these would compare equal vacuously.
    messages = ours["messages"]
    assert messages["ListOperationOptions"]["fields"]["max_result_size"]["default"] == "20"
    assert messages["ListOperationOptions.OrderByField"]["fields"]["field"]["default"] == "ID"
    assert messages["Value"]["fields"]["struct_value"]["oneof"] == "value"
    assert messages["PutLineageSubgraphResponse"]["fields"]["artifact_ids"]["packed"] is True
    assert messages["TransactionOptions"]["extension_ranges"] == [[1000, 536870912]]
