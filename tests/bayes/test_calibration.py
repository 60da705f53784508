import math

import numpy as np
import pytest
import torch

from deepnets.bayes.calibration import brier, calibration_report, ece, nll, reliability_bins
from deepnets.report import reliability_diagram
from deepnets.errors import DataError


def test_worked_example():
    # confidences 0.9 (right), 0.8 (wrong), 0.6 (right), 0.55 (right) with 2 bins (0, .5], (.5, 1]
    p = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.45, 0.55]], dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 1])
    # all four land in bin 2: acc = 3/4, conf = (0.9 + 0.8 + 0.6 + 0.55)/4 = 0.7125
    assert ece(p, y, n_bins=2) == pytest.approx(abs(0.75 - 0.7125))
    assert nll(p, y) == pytest.approx(-(math.log(0.9) + math.log(0.2) + math.log(0.6) + math.log(0.55)) / 4)
    assert brier(p, y) == pytest.approx((2 * 0.1 ** 2 + 2 * 0.8 ** 2 + 2 * 0.4 ** 2 + 2 * 0.45 ** 2) / 4)


def test_ece_against_a_loop_over_bins():
    g = torch.Generator().manual_seed(0)
    p = torch.softmax(3 * torch.randn(500, 4, generator=g, dtype=torch.float64), 1)
    y = torch.randint(0, 4, (500,), generator=g)
    conf, pred = p.max(1)
    want = 0.0
    for lo, hi in zip(np.linspace(0, 1, 11)[:-1], np.linspace(0, 1, 11)[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            want += m.double().mean() * abs((pred[m] == y[m]).double().mean() - conf[m].mean())
    assert ece(p, y, n_bins=10) == pytest.approx(float(want))
    assert int(reliability_bins(p, y, 10)["count"].sum()) == 500


def test_binary_column_and_sklearn_brier():
    from sklearn.metrics import brier_score_loss, log_loss

    g = torch.Generator().manual_seed(1)
    p1 = torch.rand(200, generator=g, dtype=torch.float64)
    y = (torch.rand(200, generator=g, dtype=torch.float64) < p1).long()
    r = calibration_report(p1, y)
    assert r["brier"] == pytest.approx(2 * brier_score_loss(y.numpy(), p1.numpy()))
    assert r["nll"] == pytest.approx(log_loss(y.numpy(), p1.numpy()))


def test_diagram_and_errors(tmp_path):
    p = torch.tensor([[0.7, 0.3], [0.2, 0.8]])
    y = torch.tensor([0, 0])
    reliability_diagram({"map": (p, y)}, str(tmp_path / "r.png"), n_bins=5)
    assert (tmp_path / "r.png").stat().st_size > 1000
    with pytest.raises(DataError, match="labels"):
        nll(p, torch.tensor([0, 2]))
