import pytest
import torch
from torch import nn

from deepnets.errors import ConfigError
from deepnets.prune import apply_masks, get_masks, remove_masks, sparsity


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))


@pytest.mark.parametrize("make_opt", [
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda p: torch.optim.Adam(p, lr=0.1),
])
def test_pruned_weights_stay_zero_through_training(make_opt):
    net = _net()
    mask = torch.rand(5, 4, generator=torch.Generator().manual_seed(1)) > 0.5
    apply_masks(net, {"0.weight": mask})
    opt = make_opt(net.parameters())
    x, z = torch.randn(16, 4), torch.randn(16, 2)
    for _ in range(5):
        opt.zero_grad()
        ((net(x) - z) ** 2).mean().backward()
        opt.step()
    assert torch.all(net[0].weight[~mask] == 0)
    assert torch.any(net[0].weight[mask] != 0)
    assert sparsity(net) == int((~mask).sum()) / mask.numel()


def test_masks_survive_a_state_dict_round_trip_and_can_be_baked():
    net = _net()
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[0, 3] = False
    apply_masks(net, {"2.weight": mask})
    sd = net.state_dict()
    fresh = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    apply_masks(fresh, ["2.weight"])  # all ones, then loaded
    fresh.load_state_dict(sd)
    assert torch.equal(get_masks(fresh)["2.weight"], mask)
    x = torch.randn(3, 4)
    assert torch.equal(fresh(x), net(x))
    remove_masks(fresh)
    assert "2.weight" in dict(fresh.named_parameters()) and get_masks(fresh) == {}
    assert fresh[2].weight[0, 3] == 0 and torch.equal(fresh(x), net(x))


def test_masks_accumulate_and_check_shapes():
    net = _net()
    a = torch.ones(5, 4, dtype=torch.bool)
    a[0, 0] = False
    b = torch.ones(5, 4, dtype=torch.bool)
    b[1, 1] = False
    apply_masks(net, {"0.weight": a})
    apply_masks(net, {"0.weight": b})
    assert int((~get_masks(net)["0.weight"]).sum()) == 2
    with pytest.raises(ConfigError, match="shape"):
        apply_masks(net, {"0.weight": torch.ones(4, 5, dtype=torch.bool)})
    with pytest.raises(ConfigError, match="not a parameter"):
        apply_masks(net, ["0.nothing"])
