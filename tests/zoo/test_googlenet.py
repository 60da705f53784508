"""GoogLeNet: Table 1's module widths, both variants' counts, auxiliary heads, a CPU pass."""

import pytest
import torch

from deepnets.nn.conv import count_weights
from deepnets.zoo import count_macs, googlenet
from deepnets.zoo.googlenet import INCEPTION_V1_TABLE

# Table 1's "output size" depth of each module
DEPTHS = {"3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512, "4d": 528, "4e": 832,
          "5a": 832, "5b": 1024}


def _table_one_parameters(wide_kernel, batch_norm):
    """Table 1 counted by the lecture's formula (bias) or with BN's gamma and beta instead."""
    def conv(f, k1, l):
        return count_weights(f, k1, l, bias=not batch_norm) + (2 * l if batch_norm else 0)

    n = conv(7, 3, 64) + conv(1, 64, 64) + conv(3, 64, 192)
    c = 192
    for name, (n1, n3r, n3, n5r, n5, npool) in INCEPTION_V1_TABLE.items():
        n += (conv(1, c, n1) + conv(1, c, n3r) + conv(3, n3r, n3) + conv(1, c, n5r)
              + conv(wide_kernel, n5r, n5) + conv(1, c, npool))
        c = n1 + n3 + n5 + npool
        assert c == DEPTHS[name]
    return n + (1024 + 1) * 1000


def test_parameter_counts(meta_params):
    assert meta_params(googlenet) == _table_one_parameters(3, True) == 6_624_904
    assert meta_params(googlenet, variant="paper") == _table_one_parameters(5, False) == 6_998_552
    aux = (count_weights(1, 512, 128, bias=False) + count_weights(1, 528, 128, bias=False)
           + 2 * (2 * 128) + 2 * (2048 + 1) * 1024 + 2 * (1024 + 1) * 1000)  # BN: 2 per map
    assert meta_params(googlenet, aux_heads=True) == 6_624_904 + aux


def test_module_outputs_and_multiply_adds():
    with torch.device("meta"):
        net = googlenet(variant="paper").eval()
        seen = {}

        def record(name):
            def hook(module, inputs, output):
                seen[name] = output.shape
            return hook

        for name, m in net.named_modules():
            if type(m).__name__ == "Inception":
                m.register_forward_hook(record(name))
        net(torch.zeros(1, 3, 224, 224))
    assert [s[1] for s in seen.values()] == list(DEPTHS.values())
    assert [s[-1] for s in seen.values()] == [28, 28, 14, 14, 14, 14, 14, 7, 7]
    # Szegedy et al. (2015), Section 5: "1.5 billion multiply-adds"
    with torch.device("meta"):
        assert abs(count_macs(googlenet(), (3, 224, 224)) / 1.5e9 - 1) < 0.02


def test_aux_heads_in_training_only():
    torch.manual_seed(0)
    net = googlenet(4, aux_heads=True)
    outs = net(torch.randn(2, 3, 80, 80))
    assert isinstance(outs, tuple) and [o.shape for o in outs] == [(2, 4)] * 3
    (outs[0].sum() + 0.3 * (outs[1].sum() + outs[2].sum())).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.eval()
    assert net(torch.randn(2, 3, 80, 80)).shape == (2, 4)


@pytest.mark.parametrize("variant", ["bn", "paper"])
def test_forward_backward_smallest_input(variant, forward_backward):
    forward_backward(googlenet(5, 1, variant=variant), (1, 31, 31), 5)
