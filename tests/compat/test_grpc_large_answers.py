"""Large nodes over gRPC: every list answer fits ml-metadata's default 4 MiB receive limit, paged by size.

The real ml-metadata client (its default channel options) lists 6 artifacts of 900 KB each, with and
without list options and by context; a 3 MB artifact is taken and read back, as an MLMD server does,
and a 10 MB one is refused by the node size limit.
"""

from __future__ import annotations

import pytest
from conftest import BACKENDS, postgres_database
from grpc_server import mlineage_server, require_mlmd_python, run_mlmd_scenarios
from mysql_databases import mysql_database

import mlineage

ALL = [f"b{index}" for index in range(6)]


@pytest.mark.mlmd
@pytest.mark.parametrize("backend", [*BACKENDS, "mysql"])
def test_lists_of_large_nodes_stay_under_the_clients_receive_limit(backend, tmp_path):
    python = require_mlmd_python()
    db = tmp_path if backend == "sqlite" else (
        mysql_database("mlineage_large") if backend == "mysql" else postgres_database("mlineage_large"))
    with mlineage_server(db) as server:
        result = run_mlmd_scenarios(python, server.target, ["large_answers"])["large_answers"]
        # mlineage's own gRPC client follows the size-cut pages too.
        client = mlineage.connect(f"grpc://{server.target}")
        try:
            # The six blobs and the 3 MB artifact the scenario wrote last (about 8.4 MB in all).
            assert len(client.get_artifacts()) == 7
            assert len(client.get_artifacts_by_type("large_answers__Blob")) == 7
        finally:
            client.close()
    assert result["get_artifacts"] == ALL and result["by_context"] == ALL
    # ml-metadata's get_artifacts_by_type sends no options and follows no token: its whole answer (5.4 MB)
    # is more than the client takes, against MLMD's server too. mlineage's client pages it (above).
    assert result["by_type"] == {"error": "ResourceExhaustedError"}
    assert result["get_artifacts_newest_first"] == ALL[::-1]
    assert result["get_artifacts_limit_5"] == 5
    assert result["put_10_mb_artifact"] == "InvalidArgumentError"
    # What an MLMD server takes over gRPC (up to its 4 MiB receive limit), the node limit takes too.
    assert result["put_and_read_3_mb_artifact"] == 3_000_000
