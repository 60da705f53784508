"""Inception-v4: the published count, each stage's count from the paper's figures, grids 35/17/8, a CPU pass."""

import pytest
import torch

from deepnets.cli import main
from deepnets.zoo import count_parameters, inception_v4


def _convs(c_in, *layers):
    """Parameters of a chain of conv (no bias) -> BN (γ, β) layers: Σ kh·kw·c_in·c_out + 2·c_out."""
    total = 0
    for kh, kw, c_out in layers:
        total += kh * kw * c_in * c_out + 2 * c_out
        c_in = c_out
    return total


# Each stage counted by hand from the paper's figures (3-9), independently of the module.
STEM = (_convs(3, (3, 3, 32), (3, 3, 32), (3, 3, 64)) + _convs(64, (3, 3, 96))
        + _convs(160, (1, 1, 64), (3, 3, 96)) + _convs(160, (1, 1, 64), (7, 1, 64), (1, 7, 64), (3, 3, 96))
        + _convs(192, (3, 3, 192)))
BLOCK_A = (_convs(384, (1, 1, 96)) * 2 + _convs(384, (1, 1, 64), (3, 3, 96))
           + _convs(384, (1, 1, 64), (3, 3, 96), (3, 3, 96)))
REDUCTION_A = _convs(384, (3, 3, 384)) + _convs(384, (1, 1, 192), (3, 3, 224), (3, 3, 256))
BLOCK_B = (_convs(1024, (1, 1, 128)) + _convs(1024, (1, 1, 384))
           + _convs(1024, (1, 1, 192), (1, 7, 224), (7, 1, 256))
           + _convs(1024, (1, 1, 192), (1, 7, 192), (7, 1, 224), (1, 7, 224), (7, 1, 256)))
REDUCTION_B = (_convs(1024, (1, 1, 192), (3, 3, 192))
               + _convs(1024, (1, 1, 256), (1, 7, 256), (7, 1, 320), (3, 3, 320)))
BLOCK_C = (_convs(1536, (1, 1, 256)) * 2 + _convs(1536, (1, 1, 384)) + _convs(384, (1, 3, 256)) * 2
           + _convs(1536, (1, 1, 384), (1, 3, 448), (3, 1, 512)) + _convs(512, (3, 1, 256)) * 2)


def test_parameter_count_is_the_published_one(meta_params):
    # osmr/imgclsmob's InceptionV4 asserts 42,679,816; timm's inception_v4 card: 42.7 M
    assert meta_params(inception_v4) == 42_679_816
    hand = STEM + 4 * BLOCK_A + REDUCTION_A + 7 * BLOCK_B + REDUCTION_B + 3 * BLOCK_C + 1536 * 1000 + 1000
    assert meta_params(inception_v4) == hand


def test_each_stage_matches_the_figures():
    with torch.device("meta"):
        net = inception_v4()
    counts = {name: count_parameters(getattr(net, name)) for name in
              ("stem", "blocks_a", "reduction_a", "blocks_b", "reduction_b", "blocks_c")}
    assert counts == {"stem": STEM, "blocks_a": 4 * BLOCK_A, "reduction_a": REDUCTION_A,
                      "blocks_b": 7 * BLOCK_B, "reduction_b": REDUCTION_B, "blocks_c": 3 * BLOCK_C}
    assert net.head[2].p == pytest.approx(0.2)  # dropout with keep probability 0.8


def test_grid_sizes_and_widths_at_299():
    with torch.device("meta"):
        net = inception_v4().eval()
        h = net.stem[3](net.stem[:3](torch.zeros(1, 3, 299, 299)))
        assert h.shape == (1, 160, 73, 73)
        h = net.stem(torch.zeros(1, 3, 299, 299))
        assert h.shape == (1, 384, 35, 35)
        h = net.blocks_a(h)
        assert h.shape == (1, 384, 35, 35)
        h = net.reduction_a(h)
        assert h.shape == (1, 1024, 17, 17)  # 384 + n + m = 384 + 384 + 256
        h = net.reduction_b(net.blocks_b(h))
        assert h.shape == (1, 1536, 8, 8)
        assert net.blocks_c(h).shape == (1, 1536, 8, 8)


def test_forward_backward_smallest_input(forward_backward):
    forward_backward(inception_v4(5), (3, 75, 75), 5)
    with torch.device("meta"), pytest.raises(RuntimeError):
        inception_v4(5).eval()(torch.zeros(1, 3, 74, 74))


def test_cli_models_lists_it(capsys):
    assert main(["models", "inception_v4"]) == 0
    out = capsys.readouterr().out
    assert "inception_v4" in out and "42,679,816" in out
