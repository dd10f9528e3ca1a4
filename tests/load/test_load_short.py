"""The load suite's driver, short: 4 ml-metadata clients against 2 replicas on one PostgreSQL database.

bench/load/scale.py's ``run_load`` as the benchmark runs it (real `mlineage serve` processes, the real
ml-metadata client in its own environment, a fresh database), for about ten seconds: no call fails or
answers wrong, every kind of call ran on both replicas, and every acknowledged write is in the database
exactly once, which the checker would notice if it were not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import postgres_database
from grpc_server import require_mlmd_python
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "load"))

import scale  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.mlmd]


@pytest.fixture(scope="module")
def load_run() -> tuple[str, dict]:
    python = require_mlmd_python()
    url = postgres_database("mlineage_load")
    result = scale.run_load(url, replicas=2, clients=4, processes=2, duration=10, mlmd_python=python)
    return url, result


def test_short_load_has_no_errors_and_every_kind_of_call_ran(load_run) -> None:
    _, result = load_run
    assert result["errors"] == 0, result["error_samples"]
    assert result["ops_per_s"] > 0
    calls = {row["op"]: row["calls"] for row in result["rows"]}
    assert all(calls[op] > 0 for op in scale.OPS), calls
    assert all(row["p99_ms"] is not None and row["p99_ms"] >= row["p50_ms"] for row in result["rows"])


def test_clients_are_spread_over_both_replicas(load_run) -> None:
    _, result = load_run
    assert len(result["cpu_s"]["per_replica"]) == 2
    assert all(cpu > 0.5 for cpu in result["cpu_s"]["per_replica"]), result["cpu_s"]


def test_every_acknowledged_write_is_in_the_database_exactly_once(load_run) -> None:
    _, result = load_run
    verification = result["verification"]
    assert verification["acknowledged"] > 50
    assert verification["acknowledged_twice"] == 0
    assert verification["found_exactly_once"] == verification["acknowledged"], verification
    assert verification["missing"] == [] and verification["duplicated"] == []
    assert scale.clean(result)


def test_the_checker_notices_a_lost_write(load_run) -> None:
    url, result = load_run
    tags = result["acknowledged_tags"]
    lost = tags[len(tags) // 2]
    engine = create_engine(url)
    try:  # take one acknowledged output away, as a store that lost it would
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE artifact_properties SET string_value = 'gone' WHERE name = 'load_write' AND string_value = :tag"
                ),
                {"tag": lost},
            )
    finally:
        engine.dispose()
    verification = scale.verify_acknowledged(url, result["label"], tags)
    assert verification["missing"] == [lost]
    assert verification["found_exactly_once"] == verification["acknowledged"] - 1
