"""The web UI in headless chromium against `mlineage serve` on a populated store (see conftest.py).

Each page draws with no console error and no request outside the server; the lineage explorer
shows a known model's lineage and grows on a click; a node's history, diff and as-of show the
earlier value; bad input is a readable message on the page.
"""

from __future__ import annotations

import re
import urllib.parse

import httpx

# The REST answers a page shows as 4xx on purpose: Chromium logs each as "Failed to load resource".
EXPECTED_HTTP_ERROR = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


def clean(watched, *, allow_http_errors: bool = False) -> None:
    errors = [e for e in watched.errors if not (allow_http_errors and EXPECTED_HTTP_ERROR.match(e))]
    assert errors == [], errors
    assert watched.outside == [], watched.outside


def graph_nodes(page, name: str = "cy") -> set[str]:
    return set(page.evaluate(f"window.mlineage.{name}.nodes().map((n) => n.id())"))


def graph_edges(page) -> set[tuple[str, str]]:
    return {tuple(x) for x in page.evaluate("window.mlineage.cy.edges().map((e) => [e.source().id(), e.target().id()])")}


def click_node(page, node_id: str) -> None:
    x, y = page.evaluate(
        """(id) => { const n = window.mlineage.cy.getElementById(id); const p = n.renderedPosition();
                     const r = document.getElementById('lineage-graph').getBoundingClientRect();
                     return [r.left + p.x, r.top + p.y]; }""",
        node_id,
    )
    page.mouse.click(x, y)


def test_root_leads_to_the_ui_whose_files_are_all_served_here(populated):
    with httpx.Client(base_url=populated.base) as http:
        root = http.get("/", follow_redirects=False)
        assert root.status_code == 307 and root.headers["location"] == "/ui"
        page = http.get("/ui")
        assert page.status_code == 200 and "/ui/static/js/app.js" in page.text
        references = re.findall(r'(?:src|href)\s*=\s*"([^"#]+)"', page.text)
        assert all(r.startswith(("/", "data:")) for r in references), references
        assert http.get("/ui/static/js/app.js").headers["content-type"].startswith("text/javascript")
        assert http.get("/ui/static/vendor/cytoscape.min.js").status_code == 200
        assert http.get("/ui/static/../__init__.py").status_code == 404
        assert http.get("/ui/static/%2e%2e/__init__.py").status_code == 404
        paths = http.get("/openapi.json").json()["paths"]
        assert not [p for p in paths if p == "/" or p.startswith("/ui")]


def test_each_page_draws_with_no_console_error_and_nothing_from_outside(watched, populated):
    tfx, page = populated.tfx, watched.page
    watched.open("/runs", ready="#runs table")
    runs = watched.text("#runs")
    assert "taxi/r1" in runs and "taxi/r2" in runs and "chicago_taxi.20261201-120000" in runs
    page.wait_for_function("() => !document.querySelector('#runs').innerText.includes('…')")
    assert "loss=" in watched.text("#runs")  # key metrics of the step client's runs
    assert "FAILED" in watched.text("#runs")  # the TFX run's state, from its failed Pusher
    watched.shot("runs")

    watched.open(f"/run/{populated.step_runs['taxi/r1']}", ready="#run-charts .uplot")
    assert {"learning_rate", "0.01", "batch_size"} <= set(watched.text("#run-params").split())
    assert "python_version" in watched.text("#run-environment")
    page.wait_for_function("() => window.mlineage && window.mlineage.runCy && window.mlineage.runCy.nodes().length === 4")
    watched.shot("run-step-client")

    watched.open(f"/run/{tfx['run']}", ready="#run-graph canvas")
    page.wait_for_function("() => window.mlineage.runCy.nodes().length >= 7")
    assert "CsvExampleGen" in watched.text() and "Trainer" in watched.text("#run-io")
    watched.shot("run-tfx")

    watched.open(f"/node/artifact/{tfx['examples']}", ready="#node-contexts .pill")
    page.wait_for_selector("#open-lineage")
    text = watched.text()
    assert "/tfx/CsvExampleGen/examples/1" in text and "span" in text and "chicago_taxi.20261201-120000" in text
    watched.open(f"/node/execution/{tfx['trainer']}", ready="#open-lineage")
    assert "INPUT" in watched.text() and "OUTPUT" in watched.text()
    watched.open(f"/node/context/{tfx['run']}", ready="a[href^='#/run/']")
    assert "chicago_taxi" in watched.text()  # its parent, the pipeline

    watched.open("/types", ready="#types-context table")
    assert "PushedModel" in watched.text("#types-artifact") and "split_names: STRING" in watched.text("#types-artifact")
    watched.open("/types/artifact/Examples", ready="main table")
    assert "/tfx/CsvExampleGen/examples/1" in watched.text()
    watched.shot("types")

    clean(watched)


def test_compare_selected_runs_highlights_the_differing_param(watched, populated):
    page = watched.page
    watched.open("/runs", ready="#runs table")
    page.check("input[aria-label='select taxi/r1']")
    page.check("input[aria-label='select taxi/r2']")
    page.click("#compare-selected")
    page.wait_for_selector("#compare-params table")
    differing = [cell.inner_text() for cell in page.query_selector_all("#compare-params td.differs")]
    assert differing == ["Trainer.learning_rate", "0.01", "0.05"]  # batch_size is the same in both
    page.fill("#compare-options input[name=metric]", "loss")
    page.select_option("#compare-options select[name=mode]", "min")
    page.click("#compare-options button")
    page.wait_for_selector("#compare-best")
    assert watched.text("#compare-best").endswith("taxi/r1")
    page.wait_for_selector("#compare-charts .uplot")
    assert page.query_selector("#parallel polyline") is not None
    watched.shot("compare")
    clean(watched)


def test_lineage_explorer_draws_the_models_lineage_expands_and_exports(watched, populated):
    tfx, page = populated.tfx, watched.page
    model, trainer, examples, schema = (f"a{tfx['model']}", f"e{tfx['trainer']}", f"a{tfx['examples']}",
                                        f"a{tfx['schema']}")
    watched.open(f"/lineage/artifact/{tfx['model']}?direction=up&hops=2", ready="#lineage-counts")
    assert graph_nodes(page) == {model, trainer, examples, schema}
    assert graph_edges(page) == {(examples, trainer), (schema, trainer), (trainer, model)}
    watched.shot("lineage-model")

    # A click on the examples loads their neighbours: ExampleGen made them, SchemaGen read them.
    click_node(page, examples)
    page.wait_for_selector("#expanded")
    assert {f"e{tfx['example_gen']}", f"e{tfx['schema_gen']}"} <= graph_nodes(page)

    # The path between two nodes is highlighted.
    page.select_option("#click-mode", "path")
    click_node(page, f"e{tfx['example_gen']}")
    click_node(page, model)
    page.wait_for_selector(".path-note")
    assert watched.text(".path-note").startswith("Path: 4 nodes, 3 edges")
    on_path = set(page.evaluate("window.mlineage.cy.nodes('.path').map((n) => n.id())"))
    assert on_path == {f"e{tfx['example_gen']}", examples, trainer, model}

    page.click("#export-mermaid")
    mermaid = watched.text("#mermaid-text")
    assert mermaid.startswith("flowchart LR") and f"{trainer} --> {model}" in mermaid
    with page.expect_download() as download:
        page.click("#export-svg")
    assert download.value.suggested_filename.endswith(".svg")
    clean(watched)


def test_lineage_explorer_offers_more_when_the_server_caps_the_walk(watched, populated):
    tfx, page = populated.tfx, watched.page
    watched.open(f"/lineage/artifact/{tfx['model']}?direction=up&hops=4&max_nodes=2", ready="#load-more")
    first = graph_nodes(page)
    assert len(first) == 2 and "truncated" in watched.text("#lineage-status")
    page.click("#load-more")
    page.wait_for_function(f"() => window.mlineage.cy.nodes().length > {len(first)}")
    assert first < graph_nodes(page)
    # The deleted push shows as a tombstone downstream of the model.
    watched.open(f"/lineage/artifact/{tfx['model']}?direction=down&hops=2", ready="#lineage-counts")
    deleted = page.evaluate("window.mlineage.cy.nodes('[?deleted]').map((n) => n.id())")
    assert deleted == [f"a{tfx['pushed']}"]
    clean(watched)


def test_history_diff_and_as_of_show_the_earlier_value(watched, populated):
    tfx, page = populated.tfx, watched.page
    watched.open(f"/node/artifact/{tfx['model']}", ready="#history li")
    assert "second cut" in watched.text("#properties")
    assert len(page.query_selector_all("#history li")) == 2
    page.click("#diff-show")
    page.wait_for_selector("#diff table")
    assert "custom_properties.note" in watched.text("#diff")
    assert watched.text("#diff .before") == "first cut" and watched.text("#diff .after") == "second cut"

    page.click("#history li >> nth=0 >> .as-of-link")
    page.wait_for_selector("#as-of-notice")
    assert "first cut" in watched.text("#properties") and "second cut" not in watched.text("#properties")
    watched.shot("node-as-of")
    clean(watched)


def test_bad_input_is_a_readable_message_on_the_page(watched, populated):
    page = watched.page
    watched.open("/runs", ready="#run-search")
    page.fill("#run-search input", "name ==")
    page.click("#run-search button")
    page.wait_for_selector("[role=alert]")
    assert watched.text("[role=alert]").startswith("INVALID_ARGUMENT: Invalid `filter_query`")
    watched.shot("runs-bad-filter")

    watched.open("/node/artifact/999999", ready="[role=alert]")
    assert watched.text("[role=alert]") == "NOT_FOUND: no artifact with id 999999"
    watched.open("/run/999999", ready="[role=alert]")
    assert "NOT_FOUND" in watched.text("[role=alert]")
    watched.open("/node/gadget/1", ready="[role=alert]")
    assert "INVALID_ARGUMENT" in watched.text("[role=alert]")
    watched.open("/lineage/artifact/999999", ready="[role=alert]")
    assert "NOT_FOUND" in watched.text("[role=alert]")
    watched.open("/nowhere", ready="[role=alert]")
    assert "no page" in watched.text("[role=alert]")

    # A deleted node: its tombstone and what it was, from its history.
    watched.open(f"/node/artifact/{populated.tfx['pushed']}", ready="#tombstone")
    assert "Deleted at" in watched.text("#tombstone") and "/serving/taxi/1" in watched.text()
    clean(watched, allow_http_errors=True)


def test_a_pipelines_runs_include_tfx_runs_without_a_parent_link(watched, populated):
    tfx, page = populated.tfx, watched.page
    # The second TFX run is tied to its pipeline only through its execution, as TFX often leaves it.
    assert populated.api.get(f"/contexts/{tfx['unlinked_run']}/parents").json().get("contexts", []) == []
    watched.open("/runs", ready="#pipelines .pill")
    page.click("#pipelines a.pill:text-is('chicago_taxi')")
    page.wait_for_function("() => document.querySelector('h1').innerText === 'Runs of chicago_taxi' && document.querySelector('#runs table')")
    runs = watched.text("#runs")
    assert "chicago_taxi.20261201-120000" in runs and "chicago_taxi.20261202-120000" in runs
    assert "taxi/r1" not in runs
    page.click("#pipelines a.pill:text-is('taxi')")
    page.wait_for_function("() => document.querySelector('h1').innerText === 'Runs of taxi' && document.querySelector('#runs table')")
    runs = watched.text("#runs")
    assert "taxi/r1" in runs and "taxi/r2" in runs and "chicago_taxi" not in runs
    # A filter narrows the pipeline's runs; an unknown pipeline is a readable error.
    narrowed = urllib.parse.urlencode({"pipeline": populated.pipelines["chicago_taxi"], "filter": "name LIKE '%1202%'"})
    watched.open(f"/runs?{narrowed}", ready="#runs table")
    assert "chicago_taxi.20261202-120000" in watched.text("#runs")
    assert "chicago_taxi.20261201-120000" not in watched.text("#runs")
    clean(watched)
    watched.open("/runs?pipeline=999999", ready="[role=alert]")
    assert "NOT_FOUND" in watched.text("[role=alert]")


def test_serving_view_shows_a_deployments_metrics_per_model_version(watched, populated):
    page = watched.page
    watched.open("/serving", ready="#deployments table")
    assert "resnet-prod" in watched.text("#deployments") and "triton" in watched.text("#deployments")
    page.click("#deployments a:text-is('resnet-prod')")
    page.wait_for_selector("#serving-charts .uplot")
    rows = [r.inner_text().split("\t") for r in page.query_selector_all("#serving-versions tbody tr")]
    # Three scrapes of a Triton endpoint whose counters grow by 100 requests of 20 ms each per scrape.
    assert [r[:6] for r in rows] == [["resnet50", "2", "300", "3", "2400", "20 ms"]]
    assert "GPU-7a1b0c2d" in watched.text("#serving-gpus") and "80 %" in watched.text("#serving-gpus")
    charts = page.evaluate("window.mlineage.servingCharts")
    assert [c["title"] for c in charts] == ["resnet50 v2 · requests/s", "resnet50 v2 · mean latency (ms)", "utilisation (%)"]
    latency = charts[1]["series"][0]
    assert len(latency) == 2 and all(abs(v - 20.0) < 1e-9 for v in latency)
    assert [round(v) for v in charts[2]["series"][0]] == [60, 70, 80]
    watched.shot("serving")
    clean(watched)
    watched.open(f"/serving/{populated.step_runs['taxi/r1']}", ready="#serving-versions")
    assert "No ModelServing execution" in watched.text("#serving-versions")
    watched.open("/serving/nope", ready="[role=alert]")
    assert "INVALID_ARGUMENT" in watched.text("[role=alert]")


# A lineage-shaped DAG of 1,000 nodes in the page: artifacts a0..a499 and executions e0..e499, each execution
# reading one to three earlier artifacts (some far back, so edges skip ranks) and writing the next artifact.
LARGE_LINEAGE = """async () => {
  const graph = await import('/ui/static/js/graph.js');
  let seed = 17;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const elems = [];
  const edges = [];
  for (let i = 0; i < 500; i++) {
    elems.push({group: 'nodes', data: {id: `a${i}`, kind: 'artifact', label: `A ${i}`}});
    elems.push({group: 'nodes', data: {id: `e${i}`, kind: 'execution', label: `E ${i}`}});
    edges.push([`e${i}`, `a${i}`]);
    for (let k = 0; k < 1 + (i % 3) && i > 0; k++) edges.push([`a${Math.floor(rnd() * i)}`, `e${i}`]);
  }
  edges.forEach(([s, t], i) => elems.push({group: 'edges', data: {id: `x${i}`, source: s, target: t}}));
  const options = graph.layout(1000);
  const t0 = performance.now();
  const cy = window.cytoscape({headless: true, elements: elems, layout: options});
  const ms = performance.now() - t0;
  const at = (id) => cy.getElementById(id).position();
  const ranks = {};
  cy.nodes().forEach((n) => { (ranks[n.position().x] ||= []).push(n.position().y); });
  let closest = Infinity;
  for (const ys of Object.values(ranks)) {
    ys.sort((a, b) => a - b);
    for (let i = 1; i < ys.length; i++) closest = Math.min(closest, ys[i] - ys[i - 1]);
  }
  return {name: options.name, small: graph.layout(40).name, ms, ranks: Object.keys(ranks).length, closest,
          backwards: edges.filter(([s, t]) => !(at(s).x < at(t).x)).length,
          finite: cy.nodes().every((n) => Number.isFinite(n.position().x) && Number.isFinite(n.position().y))};
}"""


def test_a_1000_node_lineage_is_laid_out_in_ranks_left_to_right_well_within_two_seconds(watched, populated):
    tfx, page = populated.tfx, watched.page
    watched.open(f"/lineage/artifact/{tfx['model']}?direction=up&hops=1", ready="#lineage-counts")  # Cytoscape loaded
    found = page.evaluate(LARGE_LINEAGE)
    assert found["name"] == "layered" and found["small"] == "dagre", found
    assert found["finite"] and found["backwards"] == 0, found
    # Every node in its own row of its rank: at least a node's height (42) plus the gap (18) apart.
    assert found["closest"] >= 60 - 1e-6 and found["ranks"] > 10, found
    assert found["ms"] < 2000, found
    clean(watched)
