"""The HTML reports in a real headless browser (Chromium, driven by Playwright): the page loads
with no console errors, every figure is decoded and shown at a non-zero size, nothing overlaps or
overflows the window, and the screenshot shows each figure where the page puts it.

Skipped, with the reason, where Playwright or a Chromium executable is missing (``make test``
installs both where the machine allows: Playwright from PyPI, Chromium from Debian's packages).
"""

import io
import os
import shutil

import pytest

from deepnets.config import experiment_from_file
from deepnets.experiment import run_experiment
from deepnets.experiment.tour import run_tour
from deepnets.report.run_report import run_report

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = os.environ.get("DEEPNETS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium executable (apt-get install chromium)")

_LAYOUT = """() => {
  const boxes = [...document.images].map(i => {
    const r = i.getBoundingClientRect();
    return {complete: i.complete, natural: i.naturalWidth, x: r.left + scrollX, y: r.top + scrollY,
            w: r.width, h: r.height};
  });
  return {boxes, scrollWidth: document.documentElement.scrollWidth, innerWidth,
          height: document.documentElement.scrollHeight, title: document.title,
          h1: document.querySelector('h1').getBoundingClientRect().top};
}"""


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Exception as e:  # a Chromium that cannot start here is a reason to skip, said as such
            pytest.skip(f"Chromium at {CHROMIUM} does not start: {e}")
        yield b
        b.close()


def _check_page(browser, path, n_figures):
    from matplotlib.image import imread

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: errors.append(f"fetched {r.url}") if not r.url.startswith(("file:", "data:")) else None)
    page.goto(f"file://{path}")
    page.wait_for_load_state("load")
    layout = page.evaluate(_LAYOUT)
    shot = imread(io.BytesIO(page.screenshot(full_page=True)), format="png")
    page.close()
    assert errors == []
    boxes = layout["boxes"]
    assert len(boxes) == n_figures
    for b in boxes:
        assert b["complete"] and b["natural"] > 0 and b["w"] > 50 and b["h"] > 50  # decoded and visible
        assert b["x"] >= 0 and b["x"] + b["w"] <= layout["innerWidth"]
    for i, a in enumerate(boxes):  # no two figures overlap
        for b in boxes[i + 1:]:
            assert a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"] \
                or b["y"] + b["h"] <= a["y"]
    assert layout["scrollWidth"] <= layout["innerWidth"]  # no horizontal scrolling
    assert 0 <= layout["h1"] < 200  # the title is at the top
    # the screenshot: the page is as tall as its layout, and each figure's box holds a drawn plot
    # (not a blank or broken-image area): its pixels vary
    assert abs(shot.shape[0] - layout["height"]) <= 2 and shot.shape[1] == 1280
    for b in boxes:
        region = shot[int(b["y"]) + 2:int(b["y"] + b["h"]) - 2, int(b["x"]) + 2:int(b["x"] + b["w"]) - 2, :3]
        assert region.size and region.std() > 0.05


def test_a_run_report_in_chromium(browser, tmp_path):
    exp = experiment_from_file(None, ["train.epochs=2", "model.hidden=[8]", "train.early_stopping=false"])
    exp.run.out, exp.run.progress, exp.run.costates = str(tmp_path), False, True
    path = run_report(run_experiment(exp, source="digits").path)
    _check_page(browser, path, n_figures=3)


def test_the_tour_page_in_chromium(browser, tmp_path):
    _, path = run_tour(out=str(tmp_path), quick=True, only=["sin", "henon"], progress=lambda s: None)
    _check_page(browser, os.path.abspath(path), n_figures=2)
