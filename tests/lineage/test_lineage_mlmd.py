"""GetLineageSubgraph answers exactly as MLMD (ml-metadata 1.17.1) answers, on both backends.

The graphs and queries are tests/lineage_scenarios.py; MLMD's answers to them,
produced in-process under the ml-metadata venv, are checked in as
tests/data/lineage_mlmd_expected.json, and ``test_expected_answers_are_mlmds``
re-derives them from MLMD whenever that venv is present.
"""

from __future__ import annotations

import json
import runpy
import subprocess

import pytest
from paths import DATA, SUPPORT

from mlineage.proto import metadata_store_pb2 as pb

SCENARIOS = SUPPORT / "lineage_scenarios.py"
EXPECTED = DATA / "lineage_mlmd_expected.json"
scenarios = runpy.run_path(str(SCENARIOS))


def _expected() -> dict:
    return json.loads(EXPECTED.read_text())["results"]


@pytest.mark.parametrize("graph_name", list(scenarios["GRAPHS"]))
def test_lineage_subgraph_matches_mlmd(store, graph_name):
    ids = scenarios["build_graph"](store, pb, scenarios["GRAPHS"][graph_name]())
    expected = _expected()[graph_name]
    queries = scenarios["QUERIES"][graph_name]
    assert len(expected) == len(queries), "regenerate tests/data/lineage_mlmd_expected.json"
    mismatches = []
    for query, want in zip(queries, expected, strict=True):
        got = scenarios["answer"](store, pb, ids, query)
        if got != want:
            diff = {k: (got.get(k), want.get(k)) for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)}
            mismatches.append(f"{query}: (ours, MLMD) {diff}")
    assert not mismatches, "\n".join(mismatches[:10])


@pytest.mark.mlmd
def test_expected_answers_are_mlmds():
    python = runpy.run_path(str(SUPPORT / "descriptor_dump.py"))["mlmd_python"]()
    if python is None:
        pytest.skip("no ml-metadata environment: set MLINEAGE_MLMD_PYTHON or create .venvs/mlmd")
    result = subprocess.run([python, str(SCENARIOS)], capture_output=True, text=True, check=True, timeout=600)
    assert json.loads(result.stdout)["results"] == _expected()
