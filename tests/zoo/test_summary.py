"""Counting parameters and multiply-accumulates by hooks, against closed forms."""

import torch
from torch import nn

from deepnets.zoo import count_macs, count_parameters


def test_conv_linear_and_groups():
    assert count_macs(nn.Conv2d(3, 6, 5), (3, 32, 32)) == 28 * 28 * 6 * 5 * 5 * 3
    assert count_macs(nn.Conv2d(8, 16, 3, groups=4, padding=1), (8, 10, 10)) == 100 * 16 * 9 * 2
    assert count_macs(nn.Conv2d(3, 4, (1, 7), stride=2), (3, 9, 15)) == 5 * 5 * 4 * 7 * 3
    assert count_macs(nn.Linear(10, 4), (6, 10)) == 6 * 10 * 4  # applied to 6 rows
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    assert count_macs(net, (1, 6, 6), batch=3) == 3 * (16 * 2 * 9 + 32 * 3)


def test_callers_model_is_left_alone():
    net = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))
    net.train()
    w = net[0].weight.detach().clone()
    assert count_macs(net, (4,)) == 12
    assert net.training and net[0].weight.device.type == "cpu"
    torch.testing.assert_close(net[0].weight, w)
    assert count_macs(net, (4,), device=None) == 12  # on the model's own device
    assert not any(m._forward_hooks for m in net.modules())


def test_count_parameters_skips_frozen():
    net = nn.Linear(4, 3)
    net.bias.requires_grad_(False)
    assert count_parameters(net) == 12 and count_parameters(net, trainable_only=False) == 15
