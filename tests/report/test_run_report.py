"""The HTML run report: self-contained, escaped, with whatever figures and metrics the run has."""

import base64
import json
import re
from html.parser import HTMLParser

import pytest

from deepnets.cli import main
from deepnets.config import experiment_from_file
from deepnets.errors import CheckpointError
from deepnets.experiment import run_experiment
from deepnets.report.html import Page, png_data_uri
from deepnets.report.run_report import read_history, run_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Collect(HTMLParser):
    """Every tag's attributes and every text piece of a page, read by the standard library's parser."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(path):
    p = _Collect()
    p.feed(open(path, encoding="utf-8").read())
    return p


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    exp = experiment_from_file(None, ["train.epochs=3", "model.hidden=[8]", "train.early_stopping=false"])
    exp.run.out, exp.run.progress, exp.run.costates = str(out), False, True
    return run_experiment(exp, source="digits")


def test_the_report_embeds_every_figure_and_refers_to_nothing_outside(digits_run, tmp_path):
    from pathlib import Path

    folder = Path(digits_run.path)
    path = Path(run_report(folder))
    assert path == folder / "report.html"
    page = _parse(path)
    images = [a["src"] for t, a in page.tags if t == "img"]
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert {"learning_curve.png", "confusion.png", "costates.png"} <= set(pngs)
    assert len(images) == len(pngs)
    for src, name in zip(images, ["learning_curve.png", "confusion.png", "costates.png"]):
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == (folder / name).read_bytes()  # the run's own figure
    # nothing is fetched: no script, no link, no src or href that is not a data: URI
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe")]
    assert all(v.startswith("data:") for _, a in page.tags for k, v in a.items() if k in ("src", "href"))
    text = " ".join(page.text)
    test_accuracy = json.loads((folder / "summary.json").read_text())["metrics"]["test"]["accuracy"]
    assert f"{test_accuracy:.4g}" in text
    assert (folder / "config.toml").read_text().splitlines()[0] in text


def test_a_run_without_a_learning_curve_png_gets_one_drawn_from_its_metrics(digits_run, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(digits_run.path, folder)
    (folder / "learning_curve.png").unlink()
    page = _parse(run_report(folder, tmp_path / "r.html"))
    captions = [t for t in page.text if "drawn from metrics.jsonl" in t]
    assert len(captions) == 1
    assert read_history(folder / "metrics.jsonl")["loss"] == digits_run.history["loss"]


def test_user_text_is_escaped_and_a_non_png_is_refused():
    page = Page("<script>alert(1)</script>")
    page.table([["<b>x</b>"]])
    html = page.render()
    assert "<script>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    with pytest.raises(ValueError, match="PNG"):
        png_data_uri(b"GIF89a....")


def test_the_command_writes_the_report_and_refuses_a_folder_that_is_not_a_run(digits_run, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", digits_run.path, "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"<!DOCTYPE html>")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"deepnets: error: .*not a run folder \(no config.toml\)", err)
    with pytest.raises(CheckpointError):
        run_report(tmp_path / "missing")
