"""The HTML report of a run folder: ``deepnets report RUN`` writes ``RUN/report.html``.

One self-contained page (:mod:`.html`) with whatever the run has: what was trained (data, sizes,
weights, epochs, time), the metrics of every split, the series forecast against its AR/ARX
baseline, every figure the run wrote (learning curves, confusion matrix, per-layer error-signal
norms, forecasts, pruning curves, calibration diagrams, relevance bars: each PNG in the folder),
the learning curve drawn from ``metrics.jsonl`` when the run has no PNG of it, and the resolved
``config.toml``. It reads the folder's files only; nothing is trained or loaded into a model.
"""

from __future__ import annotations

import json
import os
import tempfile

from ..errors import CheckpointError
from .html import PNG_SIGNATURE, Page
from .plots import learning_curve

#: captions of the figures a run writes, in the order the report shows them; other PNGs follow
CAPTIONS = {
    "learning_curve.png": "learning curves: cost per epoch (training and validation) and validation metrics",
    "confusion.png": "confusion matrix of the test split",
    "costates.png": "per-layer error-signal norms ‖δ(l)‖ before and after training",
    "forecast.png": "forecasts against the series (one-step and iterated)",
}

#: a PNG larger than this is left out of the page (and said so), not embedded
MAX_FIGURE_BYTES = 20 * 2**20


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot be read as JSON ({e})") from None


def read_history(path: str) -> dict:
    """``metrics.jsonl`` as columns: ``{"loss": [...], "val_loss": [...], ...}`` (one value an epoch)."""
    history: dict = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill while it was appended: the rest is still shown
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    history.setdefault(key, []).append(float(value))
    return history


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _overview(page: Page, summary: dict) -> None:
    keys = ("dataset", "task", "n_classes", "sizes", "output", "loss", "n_weights", "n_train", "n_val",
            "n_test", "epochs_run", "restarts", "train_seconds")
    rows = [[k, _num(summary[k])] for k in keys if k in summary]
    if rows:
        page.heading("What was trained")
        page.table(rows)
    metrics = summary.get("metrics") or {}
    names = sorted({m for split in metrics.values() for m in split})
    if names:
        page.heading("Metrics")
        page.table([[split] + [_num(metrics[split].get(m, "")) for m in names] for split in metrics],
                   header=["split"] + names)


def _forecast(page: Page, forecast: dict) -> None:
    rows = []
    for segment, seg in (forecast.get("segments") or {}).items():
        for kind in ("one_step", "iterated"):
            part = seg.get(kind) or {}
            if "model" in part and "ar" in part:
                rows.append([segment, kind.replace("_", "-"), _num(part["model"]["nmse"]), _num(part["ar"]["nmse"])])
    if rows:
        page.heading(f"Forecasts (NMSE; baseline {forecast.get('baseline', 'AR')})")
        page.table(rows, header=["segment", "forecast", "network", "baseline"])


def _figures(page: Page, folder: str) -> None:
    pngs = sorted((f for f in os.listdir(folder) if f.lower().endswith(".png")),
                  key=lambda f: (list(CAPTIONS).index(f) if f in CAPTIONS else len(CAPTIONS), f))
    history_path = os.path.join(folder, "metrics.jsonl")
    drawn = None
    if "learning_curve.png" not in pngs and os.path.isfile(history_path):
        history = read_history(history_path)
        if history:
            with tempfile.TemporaryDirectory() as tmp:
                learning_curve(history, os.path.join(tmp, "curve.png"))
                with open(os.path.join(tmp, "curve.png"), "rb") as f:
                    drawn = f.read()
    if not pngs and drawn is None:
        return
    page.heading("Figures")
    if drawn is not None:
        page.figure(drawn, CAPTIONS["learning_curve.png"] + " (drawn from metrics.jsonl)")
    for name in pngs:
        path = os.path.join(folder, name)
        if os.path.getsize(path) > MAX_FIGURE_BYTES:
            page.paragraph(f"{name}: left out ({os.path.getsize(path)} bytes, over {MAX_FIGURE_BYTES})")
            continue
        with open(path, "rb") as f:
            png = f.read()
        if not png.startswith(PNG_SIGNATURE):
            page.paragraph(f"{name}: left out (not a PNG file)")
            continue
        page.figure(png, CAPTIONS.get(name, os.path.splitext(name)[0].replace("_", " ")))


def run_report(run_dir, out=None) -> str:
    """Write the HTML report of the run folder ``run_dir`` to ``out`` (default
    ``run_dir/report.html``); returns the path written."""
    folder = os.fspath(run_dir)
    if not os.path.isdir(folder):
        raise CheckpointError(f"{folder}: no such run folder")
    summary_path, config_path = os.path.join(folder, "summary.json"), os.path.join(folder, "config.toml")
    if not os.path.isfile(config_path):
        raise CheckpointError(f"{folder}: not a run folder (no config.toml)")
    summary = _read_json(summary_path) if os.path.isfile(summary_path) else {}
    if not isinstance(summary, dict):
        raise CheckpointError(f"{summary_path}: expected a JSON object, got {type(summary).__name__}")
    page = Page(f"deepnets run {os.path.basename(os.path.abspath(folder))}")
    if not summary:
        page.paragraph("This run has no summary.json: it was interrupted before its test.")
    _overview(page, summary)
    if isinstance(summary.get("forecast"), dict):
        _forecast(page, summary["forecast"])
    _figures(page, folder)
    page.heading("Experiment (config.toml)")
    with open(config_path, encoding="utf-8", errors="replace") as f:
        page.preformatted(f.read())
    return page.write(out or os.path.join(folder, "report.html"))
