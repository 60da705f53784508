import torch
import pytest
from torch import nn

from deepnets.curvature import ParamLayout
from deepnets.errors import ConfigError


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_flatten_unflatten_round_trip_keeps_names_and_values():
    net = _mlp()
    layout = ParamLayout.from_module(net)
    w = layout.flatten(dict(net.named_parameters()))
    assert w.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    back = layout.unflatten(w)
    for n, p in net.named_parameters():
        assert torch.equal(back[n], p)
    # leading batch dims survive
    W = torch.stack([w, 2 * w])
    assert torch.equal(layout.unflatten(W)["2.bias"][1], 2 * net[2].bias)
    assert torch.equal(w[layout.slice("2.weight")], net[2].weight.reshape(-1))


@pytest.mark.parametrize("kind,count", [("global", 1), ("tensor", 4), ("layer", 2), ("neuron", 6)])
def test_blocks_partition_every_weight_once(kind, count):
    layout = ParamLayout.from_module(_mlp())
    blocks = layout.blocks(kind)
    assert len(blocks) == count
    allidx = torch.cat(blocks).sort().values
    assert torch.equal(allidx, torch.arange(layout.numel))


def test_neuron_block_is_row_plus_bias():
    net = _mlp()
    layout = ParamLayout.from_module(net)
    w = layout.flatten(dict(net.named_parameters()))
    b = layout.blocks("neuron")[1]  # unit 1 of the first layer
    assert torch.equal(w[b], torch.cat([net[0].weight[1], net[0].bias[1:2]]))


def test_user_mistakes_raise_config_error():
    net = _mlp()
    with pytest.raises(ConfigError, match="unknown parameter"):
        ParamLayout.from_module(net, ["nope"])
    layout = ParamLayout.from_module(net)
    with pytest.raises(ConfigError, match="length"):
        layout.unflatten(torch.zeros(3))
    with pytest.raises(ConfigError, match="block kind"):
        layout.blocks("row")
