"""The browser tests' fixtures and helpers: `mlineage serve` on a populated store, Debian's chromium through Playwright.

The store holds a TFX-style run written by the real ml-metadata client (tests/ui/tfx_style_run.py)
and two runs of the step client, a push to Triton recorded by integrations.serving with three scrapes
of its metrics (a local endpoint, read by serving.watch), then a REST update (a second revision) and
a deletion (a tombstone). One server and one browser serve the whole module; each test gets a fresh page that
records console errors and aborts (and records) any request that leaves the server.
Screenshots go to tests/ui/screenshots/ (git-ignored; MLINEAGE_UI_ARTIFACTS names another folder).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from grpc_server import mlineage_server, require_mlmd_python

import mlineage
from mlineage.integrations import serving

HERE = Path(__file__).resolve().parent
ARTIFACTS = Path(os.environ.get("MLINEAGE_UI_ARTIFACTS") or HERE / "screenshots")
CHROMIUM = os.environ.get("MLINEAGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _require_browser() -> None:
    """Skip without Playwright or chromium; fail instead when MLINEAGE_REQUIRE_BROWSER=1 (scripts/test.sh)."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (it is a dev dependency)"
    if problem is None and not Path(CHROMIUM).exists():
        problem = f"no chromium at {CHROMIUM} (Debian's chromium package; scripts/setup_env.sh installs it)"
    if problem:
        if os.environ.get("MLINEAGE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{problem} but MLINEAGE_REQUIRE_BROWSER=1")
        pytest.skip(problem)


@dataclass
class Populated:
    base: str
    tfx: dict[str, int]
    step_runs: dict[str, int]  # run name → pipeline_run context id
    trainer: int  # the step client's Trainer execution of run "r1"
    api: httpx.Client
    deployment: int  # the "resnet-prod" deployment context, scraped three times
    pipelines: dict[str, int]  # pipeline name → pipeline context id


TRITON_CONFIG = 'name: "resnet50"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\n'


def _triton_metrics(scrape: int) -> str:
    """Triton's /metrics after `scrape` scrapes: counters that grow by 100 requests a scrape, 20 ms each."""
    requests = 100 * scrape
    return "\n".join([
        "# TYPE nv_inference_request_success counter",
        f'nv_inference_request_success{{model="resnet50",version="2"}} {requests}',
        "# TYPE nv_inference_request_failure counter",
        f'nv_inference_request_failure{{model="resnet50",version="2",reason="BACKEND"}} {scrape}',
        "# TYPE nv_inference_count counter",
        f'nv_inference_count{{model="resnet50",version="2"}} {8 * requests}',
        "# TYPE nv_inference_request_duration_us counter",
        f'nv_inference_request_duration_us{{model="resnet50",version="2"}} {20_000 * requests}',
        "# TYPE nv_gpu_utilization gauge",
        f'nv_gpu_utilization{{gpu_uuid="GPU-7a1b0c2d-1111-2222-3333-444455556666"}} {0.5 + 0.1 * scrape}',
        "",
    ])


@contextmanager
def _triton_endpoint() -> Iterator[str]:
    """A local HTTP endpoint answering Triton's metrics text, one more scrape's worth at each request."""
    served = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            served[0] += 1
            body = _triton_metrics(served[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def _deployment(url: str, root: Path) -> None:
    """A push to Triton recorded by integrations.serving, and three scrapes of its metrics by serving.watch."""
    model = root / "triton" / "resnet50"
    for version in ("1", "2"):
        (model / version).mkdir(parents=True)
        (model / version / "model.onnx").write_bytes(b"onnx-" + version.encode())
    (model / "config.pbtxt").write_text(TRITON_CONFIG)
    with _triton_endpoint() as endpoint:
        with mlineage.run("taxi", run_id="deploy", url=url) as run, run.step("Pusher") as step:
            serving.record_push(step, model, deployment="resnet-prod", endpoint=endpoint)
        store = mlineage.connect(url)
        try:
            assert serving.watch(store, endpoint, "resnet-prod", 0.05, count=3) == 0
        finally:
            store.close()


def _step_client_runs(url: str) -> None:
    for run_id, rate in (("r1", 0.01), ("r2", 0.05)):
        with mlineage.run("taxi", run_id=run_id, url=url) as run:
            with run.step("Ingest") as step:
                step.output("Examples", uri=f"gs://b/taxi/{run_id}", span=3)
            with run.step("Trainer") as step:
                step.input("Examples", uri=f"gs://b/taxi/{run_id}", span=3)
                step.log_params(learning_rate=rate, batch_size=256)
                for epoch in range(6):
                    step.log_metric("loss", 1.0 / (epoch + 1) + rate, step=epoch)
                step.output_model(f"gs://b/models/{run_id}", framework="tensorflow")


@pytest.fixture(scope="module")
def populated(tmp_path_factory) -> Iterator[Populated]:
    _require_browser()
    python = require_mlmd_python()
    root = tmp_path_factory.mktemp("ui")
    with mlineage_server(root, http=True) as server, pytest.MonkeyPatch.context() as patch:
        base = f"http://{server.host}:{server.http_port}"
        done = subprocess.run([python, str(HERE / "tfx_style_run.py"), server.target],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        tfx = json.loads(done.stdout)
        patch.setenv("MLINEAGE_JOURNAL_DIR", str(root / "journal"))
        _step_client_runs(f"grpc://{server.target}")
        _deployment(f"grpc://{server.target}", root)
        with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as api:
            runs = api.get("/contexts", params={"type_name": "pipeline_run", "page_size": 50}).json()["contexts"]
            step_runs = {c["name"]: int(c["id"]) for c in runs if c["name"].startswith("taxi/")}
            trainers = api.get("/executions", params={"filter": "name = 'taxi/r1/Trainer'"}).json()["executions"]
            time.sleep(0.05)  # the revisions below get later timestamps than the first one
            changed = api.patch(f"/artifacts/{tfx['model']}",
                                json={"custom_properties": {"note": {"string_value": "second cut"}}})
            assert changed.status_code == 200, changed.text
            assert api.delete(f"/artifacts/{tfx['pushed']}").status_code == 204
            [deployment] = api.get("/contexts", params={"type_name": "deployment"}).json()["contexts"]
            pipelines = {c["name"]: int(c["id"]) for c in
                         api.get("/contexts", params={"type_name": "pipeline"}).json()["contexts"]}
            yield Populated(base, tfx, step_runs, int(trainers[0]["id"]), api, int(deployment["id"]), pipelines)


@dataclass
class Watched:
    """A page, the console errors it logged and the requests it tried outside the server."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def open(self, fragment: str, *, ready: str | None = None) -> None:
        """Go to /ui#fragment and wait until the page has drawn (body[data-ready], and `ready` if given)."""
        self.page.goto(f"{self.base}/ui#{fragment}")
        self.page.wait_for_selector("body[data-ready]", timeout=20_000)
        if ready:
            self.page.wait_for_selector(ready, timeout=20_000)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    def text(self, selector: str = "main") -> str:
        return self.page.inner_text(selector)


@pytest.fixture(scope="module")
def browser(populated) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def watched(browser, populated) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    watched = Watched(page, populated.base)

    def guard(route: Any) -> None:
        if route.request.url.startswith(populated.base + "/"):
            route.continue_()
        else:
            watched.outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.on("console", lambda message: message.type == "error" and watched.errors.append(message.text))
    page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    try:
        yield watched
    finally:
        context.close()
