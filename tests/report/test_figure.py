"""Figures leave no global state behind and are written atomically."""

import subprocess
import sys

import pytest
import torch

from deepnets import atomic
from deepnets.report import (confusion_matrix, costate_norms, learning_curve, new_figure, plot_relevance,
                             reliability_diagram, save_png)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_figure_is_a_png(tmp_path):
    learning_curve({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "val_accuracy": [0.5, 0.7]}, tmp_path / "a.png")
    confusion_matrix([[3, 1], [0, 4]], tmp_path / "b.png")
    costate_norms({"before": [1.0, 0.1], "after": [0.5, 0.05]}, tmp_path / "c.png")
    plot_relevance(["x1", "x2"], torch.tensor([1.0, 1e-3]), tmp_path / "d.png")
    p = torch.softmax(torch.randn(50, 3, generator=torch.Generator().manual_seed(0)), 1)
    reliability_diagram({"m": (p, p.argmax(1))}, tmp_path / "e.png", n_bins=5)
    for name in "abcde":
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG_MAGIC


def test_drawing_sets_no_backend_and_leaves_no_pyplot_figures():
    # in a fresh interpreter: the backend a user chose stays chosen, pyplot's figure list stays empty
    code = (
        "import matplotlib; matplotlib.use('svg');"
        "import matplotlib.pyplot as plt, tempfile, os;"
        "from deepnets.report import learning_curve;"
        "d = tempfile.mkdtemp(); learning_curve({'loss': [1.0, 0.5]}, os.path.join(d, 'x.png'));"
        "print(matplotlib.get_backend(), len(plt.get_fignums()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["svg", "0"]


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "curve.png"
    path.write_bytes(b"old")
    fig, ax = new_figure()
    ax.plot([0, 1], [1, 0])

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", fail)
    with pytest.raises(OSError):
        save_png(fig, path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["curve.png"]  # no temp file left
