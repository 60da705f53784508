import pytest
import torch
from torch import nn

from deepnets.errors import ConfigError
from deepnets.prune import apply_masks, compact_mlp


def test_dead_units_are_removed_and_constants_folded_with_identical_outputs():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.Sigmoid(), nn.Linear(6, 5), nn.Tanh(),
                        nn.Linear(5, 3), nn.Softmax(dim=1)).double()
    m0 = torch.ones(6, 4, dtype=torch.bool)
    m0[1] = False        # unit 1 of layer 1 has no inputs: constant σ(b) ≠ 0, folded
    m1 = torch.ones(5, 6, dtype=torch.bool)
    m1[:, 4] = False     # unit 4 of layer 1 feeds nothing: dropped
    m1[2] = False        # unit 2 of layer 2 has no inputs: constant tanh(b), folded
    m1[3, :] = False
    m1[3, 1] = True      # unit 3 of layer 2 only hears the constant unit 1: constant too
    apply_masks(net, {"0.weight": m0, "2.weight": m1})
    small = compact_mlp(net)
    assert [m.out_features for m in small if isinstance(m, nn.Linear)] == [4, 3, 3]
    assert isinstance(small[-1], nn.Softmax)
    x = torch.randn(20, 4, dtype=torch.float64)
    assert torch.allclose(small(x), net(x), atol=1e-14)
    assert not any("parametrizations" in n for n, _ in small.named_parameters())


def test_no_bias_linear_gets_a_bias_when_constants_fold():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        net[0].weight[0] = 0.0
    small = compact_mlp(net)
    assert small[2].bias is not None and small[2].in_features == 2
    x = torch.randn(5, 3)
    assert torch.allclose(small(x), net(x), atol=1e-6)


def test_non_elementwise_module_between_linears_is_refused():
    net = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3), nn.Linear(3, 1))
    with pytest.raises(ConfigError, match="LayerNorm"):
        compact_mlp(net)



class _Chain(nn.Module):
    def __init__(self, residual=False):
        super().__init__()
        self.body = nn.ModuleList([nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)])
        self.residual = residual

    def forward(self, x):
        h = x
        for m in self.body:
            h = m(h)
        return h + x[:, :2] if self.residual else h


def test_any_model_that_is_its_layers_in_order_is_accepted():
    torch.manual_seed(2)
    net = _Chain()
    with torch.no_grad():
        net.body[2].weight[:, 0] = 0.0
    small = compact_mlp(net)
    assert small[0].out_features == 3
    x = torch.randn(5, 3)
    assert torch.allclose(small(x), net(x), atol=1e-6)
    with pytest.raises(ConfigError, match="in order"):
        compact_mlp(_Chain(residual=True))
