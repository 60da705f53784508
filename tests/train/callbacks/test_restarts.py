"""RestartOnStall beside early stopping: the best weights kept are those the best epoch's
validation loss was measured on, even when a restart is decided at that same epoch."""

import logging

import pytest

import torch

from deepnets import MLP, fit
from deepnets.train import evaluate
from deepnets.train.callbacks import EarlyStopping, RestartOnStall


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).long()
    return (x[:200], y[:200]), (x[200:], y[200:])


@pytest.mark.filterwarnings("ignore::deepnets.train.setup.FewExamplesWarning")
def test_a_restart_at_the_best_epoch_does_not_replace_the_best_weights(caplog):
    caplog.set_level(logging.INFO)
    train, val = _data()
    net = MLP([5, 12, 2], activation="tanh", output="softmax", seed=0)
    # window 1, min_fall 0.99: the loss cannot fall 99% in one epoch, so a restart is decided
    # after epoch 2, an epoch whose validation loss is the best so far
    stopper = EarlyStopping("val_loss", patience=2)
    h = fit(net, train, validation=val, loss="cross_entropy", optimizer="adam", lr=0.03, epochs=12, batch_size=32,
            callbacks=[RestartOnStall(window=1, min_fall=0.99, max_restarts=1, seed=5), stopper])
    # (the count logged at an epoch is the one before its own decision)
    assert h.history["restarts"][:3] == [0, 0, 1] and stopper.best_epoch == 1  # restart decided at the best epoch
    assert len(h.epoch) < 12  # early stopping ended the run, restoring the best weights
    # the independent answer: the validation loss the restored weights give is the best one logged
    assert evaluate(net, *val, loss="cross_entropy")["loss"] == stopper.best == min(h.history["val_loss"])
