"""EarlyStopping: stops on a stalled monitor and restores the best weights; two of them (on
different monitors) keep their own states through an interruption and a resume."""


import pytest
import torch

import deepnets
from deepnets import MLP, Callback, EarlyStopping, fit
from deepnets.errors import TrainingInterrupted
from deepnets.train.callbacks import Checkpointer, GracefulStop
from signals import KillAt


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


def _two_stoppers():
    return (EarlyStopping("val_loss", patience=6),
            EarlyStopping("loss", patience=5, min_delta=5e-4, restore_best_weights=False))


def _run(callbacks):
    net = MLP([3, 16, 1], seed=0)
    h = fit(net, _toy(64), validation=_toy(32, seed=9), epochs=200, batch_size=16, optimizer="adam", lr=0.02,
            seed=1, callbacks=callbacks)
    return net, h


def _state(es):
    return es.best, es.best_epoch, es.wait, es.stopped_epoch


def test_two_early_stoppings_resume_each_with_its_own_state(tmp_path):
    full = _two_stoppers()
    net, hist = _run(list(full))
    stopped = min(e for e in (full[0].stopped_epoch, full[1].stopped_epoch) if e is not None)
    assert stopped >= 25  # the kill below (in epoch 21 of 4 batches) comes before either stops
    cut = _two_stoppers()
    with pytest.raises(TrainingInterrupted):
        _run([*cut, GracefulStop(), KillAt(20 * 4 + 2), Checkpointer(tmp_path, every_epochs=1)])
    assert cut[0].wait != cut[1].wait or cut[0].best != cut[1].best  # two different states were saved
    resumed = _two_stoppers()
    net2, hist2 = _run([*resumed, Checkpointer(tmp_path, resume=True)])
    assert hist2.history == hist.history and hist2.epoch == hist.epoch
    for a, b in zip(full, resumed):
        assert _state(a) == _state(b)
    for p, q in zip(net.parameters(), net2.parameters()):
        assert torch.equal(p, q)
