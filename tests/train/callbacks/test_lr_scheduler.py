"""LRScheduler: a torch scheduler stepped after each epoch or after each batch."""

import pytest
import torch

from deepnets import Callback, fit
from deepnets.errors import ConfigError
from deepnets.train.callbacks import LRScheduler


class LRs(Callback):
    def __init__(self):
        self.seen = []

    def on_batch_begin(self, batch, logs=None):
        self.seen.append(self.loop.optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize("interval,expected", [("epoch", [0.1] * 4 + [0.05] * 4), ("batch", [0.1 * 0.5 ** k for k in range(8)])])
def test_the_rate_halves_each_epoch_or_each_batch(interval, expected):
    x, y = torch.randn(16, 2), torch.randn(16, 1)
    seen = LRs()
    sched = LRScheduler(lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5), interval=interval)
    fit(torch.nn.Linear(2, 1), (x, y), epochs=2, batch_size=4, optimizer="sgd", lr=0.1, callbacks=[seen, sched])
    assert seen.seen == pytest.approx(expected)
    assert sched.state_dict()["last_epoch"] == {"epoch": 2, "batch": 8}[interval]


def test_a_built_scheduler_and_bad_arguments():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.1)
    fit(model, (torch.randn(8, 2), torch.randn(8, 1)), epochs=2, optimizer=opt, callbacks=[LRScheduler(sched)])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.1 ** 2)
    with pytest.raises(ConfigError, match="interval"):
        LRScheduler(sched, interval="step")
    with pytest.raises(ConfigError, match="scheduler"):
        LRScheduler(3)
