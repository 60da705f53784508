"""make_step chooses the step strategy once, from the literal registry STEPS; each strategy's
gradient agrees with autograd's."""

import pytest
import torch
from torch import nn

from deepnets import MLP, fit
from deepnets.errors import ConfigError
from deepnets.losses import LMS
from deepnets.optim import EKF
from deepnets.regularizers import WeightDecay
from deepnets.train import batch_loss
from deepnets.train.optimizers import make_optimizer
from deepnets.train.step import STEPS, AutogradStep, CostateStep, make_step, step_kind


@batch_loss
def pair_mse(model, batch):
    x, y = batch
    return LMS()(model(x), y)


def test_the_strategy_for_each_model_optimizer_and_loss():
    mlp, seq = MLP([3, 4, 1], seed=0), nn.Sequential(nn.Linear(3, 1))
    adam = make_optimizer("adam", mlp)
    assert step_kind(mlp, adam, LMS()) == "costate"
    assert step_kind(mlp, adam, LMS(), amp=torch.bfloat16) == "autograd"
    assert step_kind(mlp, adam, LMS(), compile=True) == "autograd"
    assert step_kind(seq, adam, LMS()) == "autograd"
    assert step_kind(mlp, adam, pair_mse) == "batch_loss"
    ekf = EKF(mlp.parameters())
    assert step_kind(mlp, ekf, LMS()) == "kalman"
    with pytest.raises(ConfigError, match="batch loss"):
        step_kind(mlp, ekf, pair_mse)
    assert set(STEPS) == {"costate", "autograd", "batch_loss", "kalman"}
    step = make_step(mlp, adam, LMS())
    assert type(step) is CostateStep and step.fused is not None  # Adam's fused kernel, called directly


@pytest.mark.parametrize("loss", [LMS(), pair_mse])
def test_costate_autograd_and_batch_loss_gradients_agree(loss):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g)
    a, b = MLP([3, 4, 1], activation="tanh", seed=0), MLP([3, 4, 1], activation="tanh", seed=0)
    b.use_costate = False
    sa = make_step(a, torch.optim.SGD(a.parameters(), lr=0.1), LMS())
    sb = make_step(b, torch.optim.SGD(b.parameters(), lr=0.1), loss)
    assert type(sa) is CostateStep and isinstance(sb, AutogradStep)
    torch.testing.assert_close(sa((x, y), 0), sb((x, y), 0))
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
        torch.testing.assert_close(p, q)


def test_a_kalman_optimizer_refuses_a_penalty_it_would_ignore():
    net = MLP([2, 3, 1], activation="tanh", seed=0)
    x, y = torch.randn(8, 2), torch.randn(8, 1)
    with pytest.raises(ConfigError, match="EKF updates from .outputs, targets. alone: a penalty"):
        fit(net, (x, y), optimizer="ekf", penalty=WeightDecay(1e-3), epochs=1)
