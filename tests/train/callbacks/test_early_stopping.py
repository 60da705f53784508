"""EarlyStopping: stops on a stalled monitor and restores the best weights."""

import pytest
import torch

import deepnets
from deepnets import MLP, Callback, EarlyStopping, fit


def _toy(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = (x[:, :1] * 0.5 - x[:, 1:2] ** 2 * 0.3)
    return x, y


def test_early_stopping_restores_best():
    x, y = _toy(64)
    xv, yv = _toy(32, seed=9)
    best = {}

    class Spy(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs["val_loss"] < best.get("v", 1e9):
                best["v"] = logs["val_loss"]

    net = MLP([3, 64, 1], seed=0)
    es = EarlyStopping("val_loss", patience=3, min_delta=0.0)
    h = fit(net, (x, y), validation=(xv, yv), epochs=500, optimizer="adam", lr=0.05, callbacks=[Spy(), es])
    assert len(h.epoch) < 500 and es.stopped_epoch is not None
    val_now = deepnets.evaluate(net, xv, yv)["loss"]
    assert val_now == pytest.approx(best["v"], rel=1e-5)
