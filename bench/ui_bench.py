"""The web UI's speed in headless chromium: each page's first paint on a 1M-node store, a 1,000-node lineage layout.

Anchor: the same pages on a 10k-node store of the same shape, in the same run (the UI's cost should
grow with what a page shows, not with the store). Both stores come from ``bench/gen_store.py`` (its
cache under ``bench/results/lineage_<nodes>/``); each is copied once to a file of its own
(``--store-dir``, default the system's temporary folder) so that ``mlineage serve`` can upgrade it
without touching the lineage bench's cache, and reused by later runs.

For every page (runs, a run, a node, lineage) a fresh browser context (no cache) opens ``/ui#/…``
against ``mlineage serve`` on that store and reports, from the page's own performance timeline:

* ``fcp``: first-contentful-paint (the page's frame and "Loading…");
* ``drawn``: the page's data drawn (the UI's ``mlineage:ready`` mark, when ``body[data-ready]`` is set);
* ``complete``: what a page fills in after drawing (the runs page's key metrics and states).

Goal: ``fcp`` and ``drawn`` under 300 ms on the 1M store. The lineage explorer then lays out the
1,000-node walk (both directions) from the store's last model (``max_nodes=1000``), goal within 2 s: ``layout`` is
the layout's time (the UI's layered.js over 300 nodes, dagre below), ``laid out`` what the page reports (request, script loading and layout).

    python bench/ui_bench.py                         # 1M vs 10k, 5 rounds
    python bench/ui_bench.py --nodes 10000 --anchor-nodes 10000 --rounds 2   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
sys.path.insert(0, str(BENCH_DIR))

CHROMIUM = os.environ.get("MLINEAGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FIRST_PAINT_GOAL_MS = 300.0
LAYOUT_GOAL_MS = 2000.0
LINEAGE_NODES = 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def store_copy(nodes: int, store_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The bench's own copy of gen_store's SQLite store of ``nodes`` (generated and copied once)."""
    import gen_store

    meta = gen_store.generate(nodes)
    source = Path(meta["stores"]["sqlite"].removeprefix("sqlite:///"))
    target = store_dir / f"mlineage_ui_{nodes}.db"
    if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
        print(f"copying {source} to {target}", flush=True)
        shutil.copyfile(source, f"{target}.part")
        os.replace(f"{target}.part", target)
    return target, meta


class Serve:
    """``mlineage serve`` on one SQLite file, HTTP only, on a free loopback port."""

    def __init__(self, path: Path) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "mlineage.cli", "serve", "--db", f"sqlite:///{path}", "--host", "127.0.0.1",
                   "--grpc-port", "0", "--http-port", str(port), "--upgrade"]  # fmt: skip
        env = {**os.environ, "MLINEAGE_LOG_LEVEL": "WARNING"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"mlineage serve exited {self.process.returncode}: {self.log.read()[-3000:]!r}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("mlineage serve did not get ready within 300 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def pages_of(base: str, meta: dict[str, Any]) -> dict[str, str]:
    """The fragments measured: the runs of the generated PipelineRun type, its newest run, the last model."""
    with httpx.Client(base_url=f"{base}/api/v1", timeout=60) as api:
        newest = api.get("/contexts", params={"type_name": "PipelineRun", "page_size": 1,
                                               "order_by": "create_time desc"}).json()["contexts"][0]
    model = meta["landmarks"]["last_model"]
    return {
        "runs": "/runs?type=PipelineRun&pipeline_type=Pipeline",
        "run": f"/run/{newest['id']}",
        "node": f"/node/artifact/{model}",
        "lineage": f"/lineage/artifact/{model}?direction=up&hops=3",
    }


TIMINGS = """() => {
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const mark = (name) => { const m = performance.getEntriesByName(name)[0]; return m ? m.startTime : null; };
  return {fcp: paint ? paint.startTime : null, drawn: mark('mlineage:ready'), complete: mark('mlineage:complete'),
          errors: document.querySelectorAll('[role=alert]').length};
}"""


def measure_page(browser: Any, base: str, fragment: str, *, complete: bool) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{base}/ui#{fragment}")
        page.wait_for_selector("body[data-ready]", timeout=60_000)
        if complete:
            page.wait_for_function("() => performance.getEntriesByName('mlineage:complete').length > 0", timeout=60_000)
        found = page.evaluate(TIMINGS)
        if found["errors"]:
            raise RuntimeError(f"{fragment}: the page shows an error: {page.inner_text('[role=alert]')}")
        return found
    finally:
        context.close()


def measure_layout(browser: Any, base: str, model: int, shot: Path | None = None) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{base}/ui#/lineage/artifact/{model}?direction=both&hops=100&max_nodes={LINEAGE_NODES}")
        page.wait_for_selector("#lineage-counts", timeout=120_000)
        if shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.locator("#lineage-graph").screenshot(path=str(shot))
        return page.evaluate("() => ({...window.mlineage.timings, nodes: window.mlineage.cy.nodes().length,"
                             " edges: window.mlineage.cy.edges().length})")
    finally:
        context.close()


def run_store(browser: Any, path: Path, meta: dict[str, Any], rounds: int) -> dict[str, Any]:
    server = Serve(path)
    try:
        fragments = pages_of(server.base, meta)
        measure_page(browser, server.base, fragments["runs"], complete=True)  # warm the server's caches once
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in fragments}
        layouts = []
        for round_ in range(rounds):
            for name, fragment in fragments.items():
                samples[name].append(measure_page(browser, server.base, fragment, complete=name == "runs"))
            # The last round's graph as a picture (after its figures are taken), to see what the layout drew.
            shot = RESULTS / f"ui_lineage_{meta['nodes']}.png" if round_ == rounds - 1 else None
            layouts.append(measure_layout(browser, server.base, meta["landmarks"]["last_model"], shot))
    finally:
        server.stop()

    def median(values: list[Any]) -> float | None:
        numbers = [v for v in values if v is not None]
        return statistics.median(numbers) if numbers else None

    pages = {name: {key: median([s[key] for s in found]) for key in ("fcp", "drawn", "complete")}
             for name, found in samples.items()}
    layout = {key: median([x[key] for x in layouts]) for key in ("fetchMs", "layoutMs", "laidOutMs")}
    layout.update(nodes=layouts[-1]["nodes"], edges=layouts[-1]["edges"], name=layouts[-1].get("layout"))
    return {"nodes": meta["nodes"], "fragments": fragments, "pages": pages, "layout": layout,
            "raw": {"pages": samples, "layouts": layouts}}


def fmt(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:7.0f}"


def ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or not b else f"{a / b:5.2f}x"


def report(big: dict[str, Any], small: dict[str, Any]) -> bool:
    ok = True
    print(f"\nfirst paint, ms (median): {big['nodes']:,} nodes vs the anchor, {small['nodes']:,} nodes")
    print(f"{'page':8} {'what':9} {'anchor':>8} {'large':>8} {'ratio':>7}  goal")
    for name, measured in big["pages"].items():
        for key in ("fcp", "drawn", "complete"):
            value, anchor = measured[key], small["pages"][name][key]
            if value is None:
                continue
            judged = key in ("fcp", "drawn")
            passed = value < FIRST_PAINT_GOAL_MS
            ok &= passed or not judged
            verdict = ("PASS" if passed else "FAIL") + f" < {FIRST_PAINT_GOAL_MS:.0f}" if judged else "(shown)"
            print(f"{name:8} {key:9} {fmt(anchor):>8} {fmt(value):>8} {ratio(value, anchor):>7}  {verdict}")
    lay, anchor_lay = big["layout"], small["layout"]
    print(f"\nlineage explorer, {lay['nodes']} nodes / {lay['edges']} edges (anchor {anchor_lay['nodes']} nodes),"
          f" layout {lay.get('name')}, ms:")
    for key, label in (("fetchMs", "request"), ("layoutMs", "layout"), ("laidOutMs", "laid out")):
        passed = (lay[key] or 0) < LAYOUT_GOAL_MS
        judged = key == "laidOutMs"
        ok &= passed or not judged
        verdict = ("PASS" if passed else "FAIL") + f" < {LAYOUT_GOAL_MS:.0f}" if judged else "(shown)"
        print(f"  {label:9} {fmt(anchor_lay[key]):>8} {fmt(lay[key]):>8} {ratio(lay[key], anchor_lay[key]):>7}  {verdict}")
    if lay["nodes"] < LINEAGE_NODES:
        print(f"  note: the walk has {lay['nodes']} nodes, fewer than {LINEAGE_NODES}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000, help="the large store (default 1000000)")
    parser.add_argument("--anchor-nodes", type=int, default=10_000, help="the anchor store (default 10000)")
    parser.add_argument("--rounds", type=int, default=5, help="page loads per page and store (default 5)")
    parser.add_argument("--store-dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the bench's copies of the stores live (default: the temporary folder)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"no chromium at {CHROMIUM} (set MLINEAGE_CHROMIUM)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    stores = {n: store_copy(n, args.store_dir) for n in dict.fromkeys([args.anchor_nodes, args.nodes])}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            results = {n: run_store(browser, path, meta, args.rounds) for n, (path, meta) in stores.items()}
        finally:
            browser.close()
    ok = report(results[args.nodes], results[args.anchor_nodes])
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "ui_bench.json"
    out.write_text(json.dumps({"rounds": args.rounds, "results": {str(k): v for k, v in results.items()},
                               "load": os.getloadavg()}, indent=2))
    print(f"\nresults: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
