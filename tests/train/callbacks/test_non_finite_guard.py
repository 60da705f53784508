"""NonFiniteGuard: stops before a step with a NaN loss, naming epoch and batch, weights kept."""

import pytest
import torch

from deepnets import MLP, Callback, fit
from deepnets.errors import TrainingDiverged


def _toy(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = (x[:, :1] * 0.5 - x[:, 1:2] ** 2 * 0.3)
    return x, y


def test_non_finite_guard_names_epoch_and_batch_and_keeps_weights():
    x, y = _toy(16)
    y_bad = y.clone()
    y_bad[9] = float("nan")
    net = MLP([3, 4, 1], seed=0)
    weights = {}

    class Keep(Callback):
        def on_batch_begin(self, batch, logs=None):
            weights["before"] = [p.detach().clone() for p in net.parameters()]

    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch 3: loss is nan") as err:
        fit(net, (x, y_bad), epochs=5, batch_size=4, shuffle=False, callbacks=[Keep()], optimizer="sgd")
    assert all(torch.equal(a, b) for a, b in zip(weights["before"], net.parameters()))
    assert err.value.history is not None
