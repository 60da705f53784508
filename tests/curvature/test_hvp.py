import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian

from deepnets.curvature import ParamLayout, hessian_vector_product
from deepnets.errors import ConfigError


def test_hvp_equals_hessian_times_vector():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    x = torch.randn(10, 3, dtype=torch.float64)
    z = torch.randn(10, 1, dtype=torch.float64)
    layout = ParamLayout.from_module(net)
    params = list(net.parameters())
    v = [torch.randn_like(p) for p in params]
    Hv = hessian_vector_product(lambda: 0.5 * ((z - net(x)) ** 2).sum(), params, v)
    w = layout.flatten(dict(net.named_parameters())).detach()
    H = hessian(lambda w: 0.5 * ((z - functional_call(net, layout.unflatten(w), (x,))) ** 2).sum())(w)
    assert torch.allclose(layout.flatten(Hv), H @ layout.flatten(v), atol=1e-10)


def test_hvp_checks_shapes():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ConfigError, match="does not match"):
        hessian_vector_product(lambda: (w ** 2).sum(), [w], [torch.zeros(3)])
