"""The HTML report opened in headless Chromium: every plot rendered at its size and not blank, nothing fetched.

The page's screenshot is kept in tests/reports/artifacts/ (ignored by git; CI keeps it as an artifact).
Skipped without chromium, unless MLINEAGE_REQUIRE_BROWSER=1 (scripts/test.sh), which makes it fail instead.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from chromium_cdp import Chromium, chromium_path
from PIL import Image

from mlineage.reports import compare, render

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

IMAGES = """JSON.stringify([...document.images].map(i => {
  const r = i.getBoundingClientRect();
  return {plot: i.closest('figure').dataset.plot, complete: i.complete, natural: [i.naturalWidth, i.naturalHeight],
          shown: [r.width, r.height], x: r.left + window.scrollX, y: r.top + window.scrollY,
          declared: [i.width, i.height]};
}))"""


@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None:
        if os.environ.get("MLINEAGE_REQUIRE_BROWSER") == "1":
            pytest.fail("no chromium on PATH but MLINEAGE_REQUIRE_BROWSER=1")
        pytest.skip("no chromium on PATH (scripts/setup_env.sh installs Debian's package)")
    with Chromium() as opened:
        yield opened


def _not_blank(png: bytes, size: tuple[int, int]) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == size
    pixels = list(image.get_flattened_data()) if hasattr(image, "get_flattened_data") else list(image.getdata())
    inked = sum(1 for r, g, b in pixels if min(r, g, b) < 200)
    assert inked / len(pixels) > 0.01, "the plot is blank"
    assert len(set(pixels)) > 20, "the plot is one flat colour"


def test_every_plot_renders_and_nothing_is_fetched(taxi_store, browser, tmp_path):
    comparison = compare(taxi_store, pipeline="taxi")
    report = tmp_path / "report.html"
    report.write_text(render(comparison, "html", metric="accuracy"))
    page = browser.open_page(report.as_uri())
    images = json.loads(page.evaluate(IMAGES))
    # r3's "diverged" is only NaN: nothing to draw, so no plot of it
    assert [i["plot"] for i in images] == ["series:accuracy", "series:loss", "bars", "parallel", "lineage"]
    for image in images:
        assert image["complete"] and image["natural"] == image["declared"], image
        assert image["shown"] == image["declared"], image
        shot = page.screenshot({"x": image["x"], "y": image["y"], "width": image["shown"][0],
                                "height": image["shown"][1]})
        _not_blank(shot, tuple(image["declared"]))
    requested = page.requested_urls()
    assert requested and requested[0] == report.as_uri()
    assert all(url == report.as_uri() or url.startswith("data:") for url in requested), requested
    assert page.evaluate("document.title") == "mlineage comparison"
    ARTIFACTS.mkdir(exist_ok=True)
    whole = ARTIFACTS / "compare_report.png"
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    whole.write_bytes(page.screenshot({"x": 0, "y": 0, "width": 1280, "height": height}))
    print(f"screenshot: {whole}")
    assert Image.open(whole).size == (1280, height)
