"""The lecture's initialisations: ranges and variances."""

import math

import pytest
import torch

from deepnets import MLP
from deepnets.errors import ConfigError
from deepnets.init import init_linear_


def _draw(scheme, fan_in=200, fan_out=300):
    w, b = torch.empty(fan_out, fan_in), torch.empty(fan_out)
    init_linear_(w, b, scheme, generator=torch.Generator().manual_seed(0))
    return w, b


def test_lecun_uniform_range():
    w, b = _draw("lecun_uniform")
    r = 2.4 / 200
    assert float(w.abs().max()) <= r and float(w.abs().max()) > 0.95 * r
    assert float(w.var()) == pytest.approx(r * r / 3, rel=0.05)  # U(−r, r) has variance r²/3


def test_he_normal_variance():
    w, b = _draw("he_normal")
    assert float(w.var()) == pytest.approx(2 / 200, rel=0.05)
    assert float(b.abs().max()) == 0


def test_xavier_and_torch():
    w, b = _draw("xavier")
    assert float(w.abs().max()) <= math.sqrt(6 / 500) and float(b.abs().max()) == 0
    assert float(w.var()) == pytest.approx(6 / 500 / 3, rel=0.05)  # U(−r, r): r²/3 = 2/(fan_in + fan_out)
    w2, b = _draw("xavier_bias")
    assert torch.equal(w2, w)  # the same weights from the same stream, then the biases
    r = math.sqrt(6 / 500)
    assert float(b.abs().max()) <= r and float(b.abs().max()) > 0.9 * r
    w, b = _draw("torch")
    assert float(w.abs().max()) <= 1 / math.sqrt(200) and float(b.abs().max()) <= 1 / math.sqrt(200)


def test_seeded_and_unknown():
    a = MLP([3, 4, 2], init="he_normal", seed=5)
    b = MLP([3, 4, 2], init="he_normal", seed=5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ConfigError, match="unknown init"):
        MLP([3, 2], init="glorot2")
