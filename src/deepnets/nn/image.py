"""Flat feature rows as sequences or images: reshape, resize, zero-pad (a parameter-free front).

A dataset row of p features becomes a (C, L) sequence or a (C, H, W) image with C·L = p or
C·H·W = p, optionally resized (linear / bilinear interpolation) and then zero-padded
symmetrically to a target size. The classic case: LeNet-5 reads 32×32 planes, so 28×28 MNIST
digits are padded by 2 on each side (LeCun et al. 1998, Section III.A); the 8×8 digits of
scikit-learn are padded to 32×32, or resized to 28×28 and padded by 2.

With ``shift`` > 0 the front also augments: in training mode each sample is moved by an integer
offset drawn uniformly from −shift..shift on every spatial axis (zeros fill in), the random
translations that LeNet-5's authors used to distort their training digits (Section IX) and
Simard et al. (2003) found the cheapest large gain for CNNs; in evaluation mode it does nothing.

Because the front is a module, a run folder's model takes the flat rows a CSV holds, and the
scaler fitted on flat rows stays as it is.

>>> import torch
>>> front = ToImage((1, 8, 8), pad_to=(32, 32))
>>> front(torch.ones(2, 64)).shape
torch.Size([2, 1, 32, 32])
>>> float(front(torch.ones(1, 64)).sum())  # zero padding adds nothing
64.0
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError

__all__ = ["ToImage", "to_image", "random_shift"]

_MODES = {1: "linear", 2: "bilinear"}  # spatial dims -> interpolation mode


def _sizes(name: str, value, dims: int) -> tuple[int, ...] | None:
    if value is None or len(value) == 0:
        return None
    value = tuple(value)
    if len(value) != dims or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ConfigError(f"{name} must list {dims} positive integer size(s) for a {dims}-D input, got {list(value)}")
    return value


def to_image(x: Tensor, shape, *, resize_to=None, pad_to=None) -> Tensor:
    """(N, p) rows -> (N, C, L) or (N, C, H, W): view as ``shape``, resize, zero-pad centrally.

    Padding P_before = ⌊(T − S)/2⌋, P_after = T − S − P_before on each spatial axis of size S
    and target T.

    Args:
        x: (N, p) features, p = prod(shape).
        shape: (C, L) or (C, H, W).
        resize_to: (L',) or (H', W') to interpolate to first (linear / bilinear,
            ``align_corners=False``), or None.
        pad_to: (L'',) or (H'', W'') at least the current size, or None.
    """
    shape = tuple(shape)
    if x.dim() != 2 or x.shape[1] != math.prod(shape):
        raise DataError(f"data.view.shape {list(shape)} needs rows of {math.prod(shape)} features, "
                        f"got input of shape {tuple(x.shape)}")
    z = x.reshape(x.shape[0], *shape)  # (N, C, L) or (N, C, H, W)
    dims = len(shape) - 1
    resize_to = _sizes("data.view.resize_to", resize_to, dims)
    pad_to = _sizes("data.view.pad_to", pad_to, dims)
    if resize_to is not None and resize_to != tuple(z.shape[2:]):
        z = nn.functional.interpolate(z, size=resize_to, mode=_MODES[dims], align_corners=False)
    if pad_to is not None:
        now = tuple(z.shape[2:])
        if any(t < s for t, s in zip(pad_to, now)):
            raise ConfigError(f"data.view.pad_to {list(pad_to)} is smaller than the input's size {list(now)}")
        pads = []
        for t, s in reversed(list(zip(pad_to, now))):  # F.pad lists the last axis first
            before = (t - s) // 2
            pads += [before, t - s - before]
        z = nn.functional.pad(z, pads)
    return z


def random_shift(z: Tensor, shift: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Move each sample of (N, C, L) or (N, C, H, W) by its own offset in −shift..shift per axis.

    out[n, c, i, j] = z[n, c, i − d_n, j − e_n] where the index is inside the image, else 0;
    d_n, e_n ~ U{−shift, ..., shift} independently.

    Args:
        z: the batch.
        shift: largest offset s in samples/pixels (0 returns ``z``).
        generator: torch.Generator drawing the offsets (default: torch's global one).
    """
    if shift == 0:
        return z
    N, dims = z.shape[0], z.dim() - 2
    padded = nn.functional.pad(z, [shift] * (2 * dims))  # (N, C, L + 2s) or (N, C, H + 2s, W + 2s)
    n = torch.arange(N, device=z.device)
    index = []
    for axis in range(dims):
        size = z.shape[2 + axis]
        d = torch.randint(0, 2 * shift + 1, (N,), generator=generator).to(z.device)  # window start, s - d_n
        index.append(d[:, None] + torch.arange(size, device=z.device))  # (N, size)
    if dims == 1:
        out = padded.permute(0, 2, 1)[n[:, None], index[0]]  # (N, L, C)
        return out.permute(0, 2, 1)  # (N, C, L)
    out = padded.permute(0, 2, 3, 1)[n[:, None, None], index[0][:, :, None], index[1][:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2)  # (N, C, H, W)


class ToImage(nn.Module):
    """The module form of :func:`to_image`, placed in front of a convolutional network.

    Args:
        shape: (C, L) for sequences or (C, H, W) for images; C·L or C·H·W must equal the
            number of features.
        resize_to: spatial size to interpolate to (default None: keep).
        pad_to: spatial size to zero-pad to, after resizing (default None: keep).
        shift: training only, move each sample by up to this many samples/pixels per axis at
            random after padding (default 0: off).
        generator: torch.Generator drawing the shifts (default: torch's global one).
    """

    def __init__(self, shape, *, resize_to=None, pad_to=None, shift: int = 0,
                 generator: torch.Generator | None = None):
        super().__init__()
        shape = tuple(shape)
        if len(shape) not in (2, 3) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                               for v in shape):
            raise ConfigError(f"data.view.shape must be [C, L] or [C, H, W] of positive integers, got {list(shape)}")
        if isinstance(shift, bool) or not isinstance(shift, int) or shift < 0:
            raise ConfigError(f"data.view.shift must be a non-negative integer, got {shift!r}")
        dims = len(shape) - 1
        self.shape, self.shift, self.generator = shape, shift, generator
        self.resize_to = _sizes("data.view.resize_to", resize_to, dims)
        self.pad_to = _sizes("data.view.pad_to", pad_to, dims)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """(C, ...) of one transformed row."""
        size = self.pad_to or self.resize_to or self.shape[1:]
        return (self.shape[0], *size)

    def forward(self, x: Tensor) -> Tensor:
        z = to_image(x, self.shape, resize_to=self.resize_to, pad_to=self.pad_to)
        return random_shift(z, self.shift, generator=self.generator) if self.training else z

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}, resize_to={self.resize_to}, pad_to={self.pad_to}, shift={self.shift}"
