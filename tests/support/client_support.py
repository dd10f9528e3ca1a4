"""Fixtures and helpers shared by the client tests (not a test module)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from client_server import Server

import mlineage
from mlineage.client.records import from_value
from mlineage.proto import metadata_store_pb2 as pb

TARGETS = ["sqlite", "postgresql", "grpc"]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """One `mlineage serve` (SQLite file) for a test module."""
    db = tmp_path_factory.mktemp("server") / "mlineage.db"
    with Server(f"sqlite:///{db}") as running:
        yield running


@pytest.fixture(params=TARGETS)
def target(request, tmp_path, monkeypatch) -> str:
    """A store URL: an embedded SQLite file, the test PostgreSQL database, or `mlineage serve` over gRPC."""
    monkeypatch.setenv("MLINEAGE_JOURNAL_DIR", str(tmp_path / "journal"))
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'client.db'}"
    if request.param == "postgresql":
        from tests.conftest import _reset_postgres  # by its path: "conftest" is whichever one loaded last

        url = request.getfixturevalue("postgres_store_url")
        _reset_postgres(url)
        return url
    return request.getfixturevalue("server").url


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def props(node) -> dict:
    """Custom and declared properties of a node as Python values."""
    values = {name: from_value(value) for name, value in node.custom_properties.items()}
    values.update({name: from_value(value) for name, value in node.properties.items()})
    return values


def execution(store, key: str) -> pb.Execution:
    [found] = store.get_executions_by_external_ids([key])
    return found


def metric_series(store, execution_ids, names=()):
    """Series through whichever store this is (GrpcStore has the method; Store goes through metadata.metrics)."""
    if hasattr(store, "get_metric_series"):
        return store.get_metric_series(execution_ids, names)
    from mlineage.metadata import metrics

    return metrics.get_metric_series(store, execution_ids, names)


def connect(url: str):
    return mlineage.connect(url)
