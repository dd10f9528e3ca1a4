"""The one table of what each gRPC method and REST route needs: no credential, or a role.

Every RPC of the services ``mlineage serve`` answers and every route of the HTTP
application is named here (tests/auth/test_policy.py walks the services'
descriptors and the OpenAPI document against it); a method or route missing
from it needs ``admin``, so a new endpoint is closed until it is placed.

Reads need ``reader``; writes of nodes, events, links, metric series and
OpenLineage events need ``writer``; deleting nodes, purging, and destructive
type changes (``can_delete_fields``) need ``admin``. Health, the OpenAPI
document, ``/docs`` and ``/metrics`` need no credential (probes and scrapers
carry none; the metrics hold counts, never records).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mlineage.auth.identity import Role

PUBLIC = None  # no credential needed
R, W, A = Role.READER, Role.WRITER, Role.ADMIN

_MLMD_WRITES = (
    "PutArtifactType", "PutExecutionType", "PutContextType", "PutTypes", "PutArtifacts", "PutExecutions",
    "PutEvents", "PutExecution", "PutLineageSubgraph", "PutContexts", "PutAttributionsAndAssociations",
    "PutParentContexts",
)  # fmt: skip
_MLMD_READS = (
    "GetArtifactType", "GetArtifactTypesByID", "GetArtifactTypes", "GetExecutionType", "GetExecutionTypesByID",
    "GetExecutionTypes", "GetContextType", "GetContextTypesByID", "GetContextTypes", "GetArtifacts",
    "GetExecutions", "GetContexts", "GetArtifactsByID", "GetExecutionsByID", "GetContextsByID",
    "GetArtifactsByType", "GetExecutionsByType", "GetContextsByType", "GetArtifactByTypeAndName",
    "GetExecutionByTypeAndName", "GetContextByTypeAndName", "GetArtifactsByURI", "GetEventsByExecutionIDs",
    "GetEventsByArtifactIDs", "GetArtifactsByExternalIds", "GetExecutionsByExternalIds",
    "GetContextsByExternalIds", "GetArtifactTypesByExternalIds", "GetExecutionTypesByExternalIds",
    "GetContextTypesByExternalIds", "GetContextsByArtifact", "GetContextsByExecution",
    "GetParentContextsByContext", "GetChildrenContextsByContext", "GetParentContextsByContexts",
    "GetChildrenContextsByContexts", "GetArtifactsByContext", "GetExecutionsByContext", "GetLineageGraph",
    "GetLineageSubgraph",
)  # fmt: skip


def _mlmd(service: str) -> dict[str, Role]:
    table = {f"/{service}/{name}": W for name in _MLMD_WRITES}
    table.update({f"/{service}/{name}": R for name in _MLMD_READS})
    return table


# gRPC: full method path -> the role it needs (PUBLIC: none).
GRPC: dict[str, Role | None] = {
    **_mlmd("ml_metadata.MetadataStoreService"),
    **_mlmd("mlineage.v1.MetadataStoreService"),
    "/mlineage.v1.MetricService/PutMetricSeries": W,
    "/mlineage.v1.MetricService/GetMetricSeries": R,
    "/mlineage.v1.HistoryService/GetNodeHistory": R,
    "/mlineage.v1.HistoryService/DeleteNodes": A,
    "/mlineage.v1.HistoryService/ReadAsOf": R,
    "/mlineage.v1.HistoryService/GetLineage": R,
    "/grpc.health.v1.Health/Check": PUBLIC,
    "/grpc.health.v1.Health/Watch": PUBLIC,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": R,
}

# A write that needs more than its method's role, by the request it carries: destructive type changes.
_TYPE_PUTS = ("PutArtifactType", "PutExecutionType", "PutContextType", "PutTypes")
GRPC_ESCALATIONS: dict[str, Callable[[Any], Role | None]] = {
    f"/{service}/{name}": (lambda request: A if getattr(request, "can_delete_fields", False) else None)
    for service in ("ml_metadata.MetadataStoreService", "mlineage.v1.MetadataStoreService")
    for name in _TYPE_PUTS
}


def _nodes() -> dict[tuple[str, str], Role | None]:
    table: dict[tuple[str, str], Role | None] = {}
    for kind in ("artifact", "execution", "context"):
        plural = f"/api/v1/{kind}s"
        table.update({
            ("POST", f"/api/v1/{kind}_types"): W, ("GET", f"/api/v1/{kind}_types"): R,
            ("GET", f"/api/v1/{kind}_types/by-name"): R, ("GET", f"/api/v1/{kind}_types/{{type_id}}"): R,
            ("POST", plural): W, ("GET", plural): R, ("PUT", f"{plural}/{{id}}"): W,
            ("PATCH", f"{plural}/{{id}}"): W, ("GET", f"{plural}/{{id}}"): R, ("DELETE", f"{plural}/{{id}}"): A,
            ("POST", f"{plural}:batchPut"): W, ("GET", f"{plural}/{{id}}/history"): R,
            ("GET", f"{plural}/{{id}}/history/diff"): R,
        })  # fmt: skip
    return table


# REST: (method, route template) -> the role it needs (PUBLIC: none).
REST: dict[tuple[str, str], Role | None] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/assets/{name}"): PUBLIC,
    ("GET", "/"): PUBLIC,
    # The web UI's page and files (mlineage.ui) hold no records: the page signs in to read /api/v1.
    ("GET", "/ui"): PUBLIC,
    ("GET", "/ui/"): PUBLIC,
    ("GET", "/ui/static/{file}"): PUBLIC,
    ("GET", "/ui/static/js/{file}"): PUBLIC,
    ("GET", "/ui/static/js/pages/{file}"): PUBLIC,
    ("GET", "/ui/static/vendor/{file}"): PUBLIC,
    **_nodes(),
    ("POST", "/api/v1/types:batchPut"): W,
    ("GET", "/api/v1/artifacts/{id}/contexts"): R,
    ("GET", "/api/v1/artifacts/{id}/events"): R,
    ("GET", "/api/v1/executions/{id}/contexts"): R,
    ("GET", "/api/v1/executions/{id}/events"): R,
    ("GET", "/api/v1/contexts/{id}/artifacts"): R,
    ("GET", "/api/v1/contexts/{id}/executions"): R,
    ("GET", "/api/v1/contexts/{id}/parents"): R,
    ("GET", "/api/v1/contexts/{id}/children"): R,
    ("POST", "/api/v1/executions:put"): W,
    ("POST", "/api/v1/lineage_subgraph:put"): W,
    ("POST", "/api/v1/purge"): A,
    ("POST", "/api/v1/events"): W,
    ("GET", "/api/v1/events"): R,
    ("POST", "/api/v1/events:batchPut"): W,
    ("POST", "/api/v1/attributions"): W,
    ("POST", "/api/v1/associations"): W,
    ("POST", "/api/v1/attributions_and_associations:batchPut"): W,
    ("POST", "/api/v1/parent_contexts"): W,
    ("GET", "/api/v1/executions/{execution_id}/metrics"): R,
    ("GET", "/api/v1/executions/{execution_id}/metrics/{name}"): R,
    ("GET", "/api/v1/lineage"): R,
    ("GET", "/api/v1/compare"): R,  # run comparison reports
    ("POST", "/api/v1/lineage"): W,  # OpenLineage's ingest
    ("GET", "/api/v1/lineage_subgraph"): R,
    ("POST", "/api/v1/lineage_subgraph:query"): R,  # a read with its query in the body
    ("GET", "/api/v1/executions/{id}/openlineage"): R,
    ("GET", "/api/v1/openlineage/events"): R,
    ("GET", "/api/v1/openlineage/received"): R,
}

# MLflow's API (api/mlflow), by prefix and method: reads GET, everything else is a tracking write
# (MLflow's own deletes are soft, restorable ones). HEAD and OPTIONS are as GET.
REST_PREFIXES: tuple[tuple[str, dict[str, Role]], ...] = (
    ("/api/2.0/mlflow/", {"GET": R, "POST": W, "PATCH": W, "PUT": W, "DELETE": W}),
    ("/ajax-api/2.0/mlflow/", {"GET": R, "POST": W, "PATCH": W, "PUT": W, "DELETE": W}),
    ("/api/2.0/mlflow-artifacts/", {"GET": R, "POST": W, "PATCH": W, "PUT": W, "DELETE": W}),
    ("/ajax-api/2.0/mlflow-artifacts/", {"GET": R, "POST": W, "PATCH": W, "PUT": W, "DELETE": W}),
)


class RouteRoles:
    """Request method and path -> the role the REST table says it needs (``admin`` when it is not there)."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], Role | None] = {}
        self._patterns: dict[str, list[tuple[re.Pattern[str], Role | None]]] = {}
        for (method, template), role in REST.items():
            if "{" not in template:
                self._exact[(method, template)] = role
                continue
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self._patterns.setdefault(method, []).append((re.compile(regex), role))

    def lookup(self, method: str, path: str) -> tuple[bool, Role | None]:
        """(whether the table places ``method path``, the role it needs: None is public)."""
        method = "GET" if method in ("HEAD", "OPTIONS") else method
        key = (method, path)
        if key in self._exact:
            return True, self._exact[key]
        for pattern, role in self._patterns.get(method, ()):
            if pattern.match(path):
                return True, role
        for prefix, by_method in REST_PREFIXES:
            if path.startswith(prefix) and method in by_method:
                return True, by_method[method]
        return False, A

    def needed(self, method: str, path: str) -> Role | None:
        """The role for ``method path`` (None: public; ``admin`` for what the table does not place)."""
        return self.lookup(method, path)[1]


def grpc_needed(method: str, request: Any = None) -> Role | None:
    """The role a gRPC call needs (``admin`` for a method not in the table)."""
    role = GRPC.get(method, A)
    escalate = GRPC_ESCALATIONS.get(method)
    if escalate is not None and request is not None:
        higher = escalate(request)
        if higher is not None and (role is None or higher > role):
            return higher
    return role
