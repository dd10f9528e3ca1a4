"""The one table of roles: every RPC of every service served and every HTTP route is placed in it."""

from __future__ import annotations

import re

import pytest
from google.protobuf import descriptor_pool

from mlineage.api.grpc.history import HISTORY_SERVICE
from mlineage.api.grpc.metrics import METRIC_SERVICE
from mlineage.api.grpc.service import MLMD_SERVICE, OUR_SERVICE
from mlineage.api.rest.app import create_app
from mlineage.auth import policy
from mlineage.auth.identity import Role
from mlineage.metadata.store import Store
from mlineage.proto import history_pb2, metadata_store_service_pb2, metric_series_pb2  # noqa: F401 - descriptors


def _methods(service: str) -> list[str]:
    pool = descriptor_pool.Default()
    name = OUR_SERVICE if service == MLMD_SERVICE else service  # MLMD's name serves our descriptor
    return [f"/{service}/{method.name}" for method in pool.FindServiceByName(name).methods]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('policy') / 'p.db'}")
    yield create_app(store)
    store.close()


@pytest.mark.parametrize("service", [MLMD_SERVICE, OUR_SERVICE, METRIC_SERVICE, HISTORY_SERVICE])
def test_every_rpc_is_in_the_table(service):
    methods = _methods(service)
    assert methods
    assert [m for m in methods if m not in policy.GRPC] == []


def test_the_table_names_no_rpc_that_is_not_served():
    served = {m for s in (MLMD_SERVICE, OUR_SERVICE, METRIC_SERVICE, HISTORY_SERVICE) for m in _methods(s)}
    extra = {m for m in policy.GRPC if m not in served and not m.startswith(("/grpc.health", "/grpc.reflection"))}
    assert extra == set()


def test_reads_need_reader_writes_writer_deletion_admin():
    assert policy.grpc_needed(f"/{MLMD_SERVICE}/GetArtifacts") is Role.READER
    assert policy.grpc_needed(f"/{MLMD_SERVICE}/PutArtifacts") is Role.WRITER
    assert policy.grpc_needed(f"/{HISTORY_SERVICE}/DeleteNodes") is Role.ADMIN
    assert policy.grpc_needed("/grpc.health.v1.Health/Check") is None
    assert policy.grpc_needed("/some.Unknown/Method") is Role.ADMIN  # closed until placed


def test_a_destructive_type_change_needs_admin():
    request = metadata_store_service_pb2.PutArtifactTypeRequest(can_delete_fields=True)
    assert policy.grpc_needed(f"/{MLMD_SERVICE}/PutArtifactType", request) is Role.ADMIN
    request.can_delete_fields = False
    assert policy.grpc_needed(f"/{MLMD_SERVICE}/PutArtifactType", request) is Role.WRITER


def _example_path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "7", template)


def test_every_route_of_the_openapi_document_is_in_the_table(app):
    roles = policy.RouteRoles()
    operations = [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item]
    assert len(operations) > 50
    missing = [f"{m} {p}" for m, p in operations if not roles.lookup(m, _example_path(p))[0]]
    assert missing == []
    # Each is placed by its own entry (or MLflow's prefixes), and the entry is the one its template names.
    for method, path in operations:
        if (method, path) in policy.REST:
            assert roles.needed(method, _example_path(path)) is policy.REST[(method, path)], (method, path)


def test_every_route_of_the_application_is_in_the_table(app):
    # Those outside the document too: /docs, its assets, the UI, MLflow's API.
    roles = policy.RouteRoles()
    missing = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD":
                continue
            path = _example_path(route.path)
            if not roles.lookup(method, path)[0]:
                missing.append(f"{method} {route.path}")
    assert missing == []


def test_rest_roles():
    roles = policy.RouteRoles()
    assert roles.needed("GET", "/api/v1/artifacts/12") is Role.READER
    assert roles.needed("POST", "/api/v1/artifacts") is Role.WRITER
    assert roles.needed("DELETE", "/api/v1/artifacts/12") is Role.ADMIN
    assert roles.needed("POST", "/api/v1/purge") is Role.ADMIN
    assert roles.needed("GET", "/api/v1/artifact_types/by-name") is Role.READER
    assert roles.needed("GET", "/healthz") is None
    assert roles.needed("POST", "/api/2.0/mlflow/runs/create") is Role.WRITER
    assert roles.needed("GET", "/api/2.0/mlflow/experiments/search") is Role.READER
    assert roles.needed("GET", "/api/v1/not-a-route") is Role.ADMIN
    assert roles.needed("HEAD", "/api/v1/artifacts") is Role.READER
