"""deploy/grafana: every query of the dashboard names metrics and labels that a running server exposes.

A real `mlineage serve` (with --auth tokens, so that the access-control
counters exist) answers a few gRPC calls and HTTP requests, a refused one
among them; its /metrics is parsed with prometheus_client's own parser. Each
panel's PromQL is then read for the series it selects, the labels it filters
and groups by, and the labels its legend prints: each must be one the server
exposes (the scrape's own `instance` and `job` aside). The dashboard's layout
is checked as Grafana lays it out: unique panel ids, a 24-column grid.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from grpc_server import start_server
from paths import REPO_ROOT
from prometheus_client.parser import text_string_to_metric_families

from mlineage.proto import metadata_store_service_pb2 as svc

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "mlineage-dashboard.json"
SCRAPE_LABELS = {"instance", "job"}  # added by Prometheus when it scrapes, not by the server
SERIES = re.compile(r"\b((?:mlineage|process)_[a-z_]+)\b(\{[^}]*\})?")
BY = re.compile(r"\bby \(([^)]*)\)")
LEGEND = re.compile(r"\{\{(\w+)\}\}")


def _panels() -> list[dict]:
    return json.loads(DASHBOARD.read_text())["panels"]


def _exposed(directory: Path) -> dict[str, set[str]]:
    """Series name -> the label names its samples carry, from a live server's /metrics."""
    server = start_server(f"sqlite:///{directory / 'm.db'}", http=True, extra_args=["--auth", "tokens"])
    try:
        base = f"http://127.0.0.1:{server.http_port}"
        for path in ("/healthz", "/api/v1/artifact_types"):  # the second is refused: no credential
            try:
                urllib.request.urlopen(base + path, timeout=10).close()
            except urllib.error.HTTPError as refused:
                assert refused.code == 401
        with grpc.insecure_channel(server.target) as channel:
            call = channel.unary_unary("/ml_metadata.MetadataStoreService/GetArtifactTypes",
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=svc.GetArtifactTypesResponse.FromString)
            try:
                call(svc.GetArtifactTypesRequest(), timeout=30)
            except grpc.RpcError as refused:
                assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
        with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        assert server.terminate() == 0
    exposed: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        names = {"counter": [family.name + "_total"], "gauge": [family.name],
                 "histogram": [family.name + s for s in ("_bucket", "_sum", "_count")]}.get(family.type, [family.name])
        for name in names:
            exposed.setdefault(name, set())
        for sample in family.samples:
            exposed.setdefault(sample.name, set()).update(sample.labels)
    return exposed


def query_problems(expr: str, legend: str, exposed: dict[str, set[str]]) -> list[str]:
    """What in one query names a series or label the server does not expose (empty: nothing)."""
    series = SERIES.findall(expr)
    if not series:
        return [f"no mlineage series in {expr}"]
    problems = []
    grouped = {label.strip() for clause in BY.findall(expr) for label in clause.split(",")}
    for name, selector in series:
        if name not in exposed:
            problems.append(f"{name} is not in /metrics")
            continue
        filtered = set(re.findall(r"(\w+)\s*[=!~]+", selector))
        labels = exposed[name] | SCRAPE_LABELS | ({"le"} if name.endswith("_bucket") else set())
        # Labels are known from samples; a labelled counter with none yet (no denial so far) has none.
        if exposed[name] and (filtered | grouped) - labels:
            problems.append(f"{name} has no label {sorted((filtered | grouped) - labels)}")
    printed = set(LEGEND.findall(legend))
    if not printed <= grouped | SCRAPE_LABELS:
        problems.append(f"the legend prints {sorted(printed - grouped - SCRAPE_LABELS)}, which is not grouped by")
    return problems


def test_every_query_selects_exposed_series_by_exposed_labels(tmp_path):
    exposed = _exposed(tmp_path)
    queries = [(panel["title"], target) for panel in _panels() for target in panel.get("targets", [])]
    assert len(queries) >= 18
    for title, target in queries:
        assert query_problems(target["expr"], target.get("legendFormat", ""), exposed) == [], title
    # The check itself catches a wrong name, a label the metric lacks, and a legend of an ungrouped label.
    assert query_problems("rate(mlineage_grpc_request_total[5m])", "", exposed)
    assert query_problems("sum by (route) (rate(mlineage_grpc_requests_total[5m]))", "", exposed)
    assert query_problems('rate(mlineage_http_requests_total{code="OK"}[5m])', "", exposed)
    assert query_problems("sum by (method) (rate(mlineage_grpc_requests_total[5m]))", "{{code}}", exposed)


def test_the_queries_cover_both_apis_access_control_and_the_processes():
    text = DASHBOARD.read_text()
    for name in ("mlineage_grpc_requests_total", "mlineage_grpc_request_duration_seconds_bucket",
                 "mlineage_http_requests_total", "mlineage_http_request_duration_seconds_bucket",
                 "mlineage_auth_failures_total", "mlineage_read_only", "mlineage_info",
                 "process_resident_memory_bytes"):
        assert name in text, name


def test_the_layout_is_a_grafana_grid_with_unique_ids_and_a_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    panels = _panels()
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert all(target["refId"] for target in panel["targets"])
    # No two panels share a cell of the grid.
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]
