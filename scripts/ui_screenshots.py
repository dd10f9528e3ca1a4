"""Take the README's screenshots of the web UI (the lineage explorer, a comparison) from a freshly populated store.

    python scripts/ui_screenshots.py [--out docs/images]

Starts ``mlineage serve`` on a new SQLite file in a temporary folder, records two runs of a small
TFX-shaped pipeline through the step client (the second with another learning rate, reading the
first's model to warm-start), opens the pages in Debian's chromium through Playwright and writes
``lineage.png`` and ``compare.png``. Run it again after a change to the pages to retake them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("MLINEAGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1180, "height": 900}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def populate(url: str) -> None:
    """Two runs of pipeline "taxi": ExampleGen → StatisticsGen → SchemaGen → Transform → Trainer → Evaluator → Pusher."""
    import mlineage

    for run_id, rate in (("2026-11-30", 0.01), ("2026-12-01", 0.03)):
        with mlineage.run("taxi", run_id=run_id, url=url) as run:
            data = f"gs://taxi/examples/{run_id}"
            with run.step("ExampleGen") as step:
                step.output("Examples", uri=data, span=int(run_id[-2:]))
            with run.step("StatisticsGen") as step:
                step.input("Examples", uri=data)
                step.output("ExampleStatistics", uri=f"{data}/stats")
            with run.step("SchemaGen") as step:
                step.input("ExampleStatistics", uri=f"{data}/stats")
                step.output("Schema", uri=f"{data}/schema")
            with run.step("Transform") as step:
                step.input("Examples", uri=data)
                step.input("Schema", uri=f"{data}/schema")
                step.output("TransformGraph", uri=f"{data}/transform")
            with run.step("Trainer") as step:
                step.input("TransformGraph", uri=f"{data}/transform")
                if run_id != "2026-11-30":
                    step.input("Model", uri="gs://taxi/models/2026-11-30")  # warm start from the previous run
                step.log_params(learning_rate=rate, batch_size=256, epochs=8)
                for epoch in range(8):
                    step.log_metric("loss", 0.9 / (epoch + 1) ** (1 + 10 * rate) + 0.05, step=epoch)
                    step.log_metric("accuracy", 0.7 + 0.25 * (1 - 1 / (epoch + 1)) * (1 + 3 * rate), step=epoch)
                step.output_model(f"gs://taxi/models/{run_id}", framework="tensorflow")
            with run.step("Evaluator") as step:
                step.input("Model", uri=f"gs://taxi/models/{run_id}")
                step.input("Examples", uri=data)
                step.output("ModelBlessing", uri=f"gs://taxi/blessing/{run_id}", blessed=1)
            with run.step("Pusher") as step:
                step.input("Model", uri=f"gs://taxi/models/{run_id}")
                step.input("ModelBlessing", uri=f"gs://taxi/blessing/{run_id}")
                step.output("PushedModel", uri=f"gs://serving/taxi/{run_id}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images", help="folder of the PNGs")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"no chromium at {CHROMIUM} (set MLINEAGE_CHROMIUM)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlineage-shots-") as tmp:
        os.environ["MLINEAGE_JOURNAL_DIR"] = str(Path(tmp) / "journal")
        grpc_port, http_port = free_port(), free_port()
        command = [sys.executable, "-m", "mlineage.cli", "serve", "--db", f"sqlite:///{tmp}/store.db", "--create",
                   "--host", "127.0.0.1", "--grpc-port", str(grpc_port), "--http-port", str(http_port)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{http_port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise RuntimeError("mlineage serve did not get ready")
            populate(f"grpc://127.0.0.1:{grpc_port}")
            api = f"{base}/api/v1"
            runs = httpx.get(f"{api}/contexts", params={"type_name": "pipeline_run"}).json()["contexts"]
            run_ids = ",".join(sorted(r["id"] for r in runs))
            [model] = httpx.get(f"{api}/artifacts", params={"filter": "uri = 'gs://taxi/models/2026-12-01'"}).json()["artifacts"]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(f"{base}/ui#/lineage/artifact/{model['id']}?direction=up&hops=4")
                page.wait_for_selector("#lineage-counts")
                page.evaluate("window.mlineage.cy.fit(undefined, 16)")
                page.wait_for_timeout(300)
                page.screenshot(path=str(args.out / "lineage.png"), clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": 860})
                page.goto(f"{base}/ui#/compare?runs={run_ids}&metric=loss&mode=min")
                page.wait_for_selector("#compare-charts .uplot")
                page.screenshot(path=str(args.out / "compare.png"), clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": 760})
                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    for name in ("lineage.png", "compare.png"):
        path = args.out / name
        print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
