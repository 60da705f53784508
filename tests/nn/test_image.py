"""The image front: reshape, central zero padding, resize, random shifts (checked by brute force)."""

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.nn.image import ToImage, random_shift, to_image


def test_reshape_and_central_padding_match_a_hand_placed_canvas():
    x = torch.randn(3, 2 * 8 * 8)
    z = to_image(x, (2, 8, 8), pad_to=(13, 12))  # odd margin: 2 above, 3 below; 2 and 2 at the sides
    canvas = torch.zeros(3, 2, 13, 12)
    canvas[:, :, 2:10, 2:10] = x.view(3, 2, 8, 8)
    assert torch.equal(z, canvas)
    seq = to_image(torch.arange(10.0).view(2, 5), (1, 5), pad_to=(8,))
    assert torch.equal(seq[0, 0], torch.tensor([0.0, 0, 1, 2, 3, 4, 0, 0]))


def test_resize_keeps_constants_and_averages_like_area_interpolation_when_shrinking():
    z = to_image(torch.full((2, 64), 0.7), (1, 8, 8), resize_to=(28, 28), pad_to=(32, 32))
    assert z.shape == (2, 1, 32, 32)
    assert torch.allclose(z[:, :, 2:30, 2:30], torch.full((2, 1, 28, 28), 0.7))
    assert float(z[:, :, :2].abs().sum()) == 0.0  # the border is zero padding
    # bilinear halving with align_corners=False samples at the centre of each 2x2 block:
    # the block mean (independent answer: reshape and average)
    x = torch.randn(4, 36)
    half = to_image(x, (1, 6, 6), resize_to=(3, 3))
    blocks = x.view(4, 1, 3, 2, 3, 2).mean(dim=(3, 5))
    assert torch.allclose(half, blocks, atol=1e-6)


def test_random_shift_moves_each_sample_by_an_offset_within_range():
    torch.manual_seed(0)
    z = torch.rand(64, 2, 6, 7) + 0.1  # no zeros inside, so a shift is identifiable
    s = 2
    out = random_shift(z, s, generator=torch.Generator().manual_seed(3))
    seen = set()
    padded = torch.nn.functional.pad(z, [s] * 4)
    for n in range(z.shape[0]):
        matches = [(d, e) for d in range(-s, s + 1) for e in range(-s, s + 1)
                   if torch.equal(out[n], padded[n, :, s - d:s - d + 6, s - e:s - e + 7])]
        assert len(matches) == 1, n
        seen.add(matches[0])
    assert len(seen) >= 20  # 25 offsets possible; 64 draws cover nearly all of them
    seq = torch.rand(32, 1, 9) + 0.1
    out1 = random_shift(seq, 1, generator=torch.Generator().manual_seed(0))
    pad1 = torch.nn.functional.pad(seq, [1, 1])
    for n in range(32):
        assert any(torch.equal(out1[n], pad1[n, :, 1 - d:1 - d + 9]) for d in (-1, 0, 1))


def test_front_shifts_only_in_training_mode():
    front = ToImage((1, 4, 4), pad_to=(8, 8), shift=2, generator=torch.Generator().manual_seed(0))
    x = torch.rand(16, 16) + 0.1
    still = to_image(x, (1, 4, 4), pad_to=(8, 8))
    assert not torch.equal(front(x), still)
    front.eval()
    assert torch.equal(front(x), still)
    assert front.output_shape == (1, 8, 8)
    assert ToImage((1, 8, 8), resize_to=(28, 28)).output_shape == (1, 28, 28)


@pytest.mark.parametrize("build,error,message", [
    (lambda: to_image(torch.zeros(2, 60), (1, 8, 8)), DataError, "needs rows of 64 features"),
    (lambda: to_image(torch.zeros(2, 64), (1, 8, 8), pad_to=(6, 6)), ConfigError, "smaller than"),
    (lambda: to_image(torch.zeros(2, 64), (1, 8, 8), pad_to=(32,)), ConfigError, "must list 2 positive"),
    (lambda: ToImage((64,)), ConfigError, "data.view.shape must be [C, L] or [C, H, W]"),
    (lambda: ToImage((1, 8, 8), shift=-1), ConfigError, "data.view.shift must be a non-negative integer"),
])
def test_mistakes_raise_named_errors(build, error, message):
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        build()
