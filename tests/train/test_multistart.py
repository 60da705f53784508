import copy

import pytest
import torch

from deepnets import MLP, fit
from deepnets.errors import ConfigError
from deepnets.train.loop import evaluate
from deepnets.train.multistart import multistart


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(60, 1, generator=g) * 6 - 3
    return (x[:40], torch.sin(x[:40])), (x[40:], torch.sin(x[40:]))


def build(seed):
    return MLP([1, 4, 1], activation="tanh", output="linear", seed=seed)


def test_multistart_keeps_the_start_with_the_least_validation_loss():
    train, val = _data()
    kw = dict(optimizer="adam", lr=0.05, epochs=30, batch_size=None)
    with pytest.warns(UserWarning):
        res = multistart(build, train, val, 3, seeds=[5, 7, 9], **kw)
    assert [r["seed"] for r in res.table] == [5, 7, 9]
    best = min(res.table, key=lambda r: r["val_loss"])
    assert res.best_seed == best["seed"]
    assert evaluate(res.model, *val)["loss"] == pytest.approx(best["val_loss"])
    # every row reproduces on its own: same seed, same network, same loss
    for row in res.table:
        net = build(row["seed"])
        with pytest.warns(UserWarning):
            fit(net, train, seed=row["seed"], **kw)
        assert evaluate(net, *val)["loss"] == pytest.approx(row["val_loss"])
        assert row["epochs"] == 30


def test_multistart_warns_about_a_small_training_set_once():
    train, val = _data()
    with pytest.warns(UserWarning) as record:
        multistart(build, train, val, 3, optimizer="adam", epochs=1, batch_size=None)
    assert sum("examples" in str(w.message) for w in record) == 1


def test_multistart_checks_its_arguments():
    train, val = _data()
    with pytest.raises(ConfigError, match="one seed per start"):
        multistart(build, train, val, 2, seeds=[1])
    with pytest.raises(ConfigError, match="positive integer"):
        multistart(build, train, val, 0)
    with pytest.raises(ConfigError, match="seeds="):
        multistart(build, train, val, 2, seed=3)
