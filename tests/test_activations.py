"""Every activation's g' (written through z = g(y)) against autograd, and the registry's errors."""

import pytest
import torch

from deepnets.activations import ACTIVATIONS, get_activation, lecun_tanh
from deepnets.errors import ConfigError

SPECS = ["logistic", "logistic:2.5", "tanh", "tanh:0.5", "lecun_tanh", "relu", "leaky_relu:0.1", "elu", "elu:0.7",
         "identity"]


@pytest.mark.parametrize("spec", SPECS)
def test_derivative_matches_autograd(spec):
    g = get_activation(spec)
    y = torch.linspace(-3, 3, 61, dtype=torch.float64).requires_grad_(True)
    y = y[(y.detach().abs() > 1e-9)].detach().requires_grad_(True)  # skip the kink at 0
    z = g(y)
    (dz,) = torch.autograd.grad(z.sum(), y)
    torch.testing.assert_close(g.derivative(z.detach()), dz)
    lam = torch.randn_like(y)
    torch.testing.assert_close(g.delta(lam, z.detach()), lam * dz)


def test_lecture_formulas():
    y = torch.tensor([0.3, -1.2], dtype=torch.float64)
    g = get_activation("logistic:2")
    torch.testing.assert_close(g(y), 1 / (1 + torch.exp(-2 * y)))
    z = g(y)
    torch.testing.assert_close(g.derivative(z), 2 * z * (1 - z))  # g' = α g (1 − g)
    t = get_activation("tanh:0.5")
    torch.testing.assert_close(t.derivative(t(y)), 0.5 * (1 - torch.tanh(0.5 * y) ** 2))  # α(1 − g²)
    # LeCun's tanh: 1.716 tanh(2y/3), which is ≈ ±1 at y = ±1
    torch.testing.assert_close(lecun_tanh()(y), 1.716 * torch.tanh(2 * y / 3))
    assert abs(float(lecun_tanh()(torch.tensor(1.0))) - 1.0) < 1e-3


def test_step_unit():
    u = get_activation("step")
    assert u(torch.tensor([-0.5, 0.0, 0.5])).tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("bad", ["tanhh", "relu:2", "leaky_relu:x", "logistic:-1", 3])
def test_bad_names(bad):
    with pytest.raises(ConfigError):
        get_activation(bad)


def test_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'tanh'"):
        get_activation("tahn")


def test_registry_complete():
    assert {"logistic", "tanh", "lecun_tanh", "relu", "leaky_relu", "elu", "identity"} <= set(ACTIVATIONS)
