"""Input scaling fitted on the training split only, as modules that travel with the weights.

- ``"standard"``: x' = (x − mean) / std, zero mean and unit variance per feature.
- ``"range"``: x' = low + (high − low)(x − min)/(max − min), e.g. (0.15, 0.85) for logistic
  units or (−1.716, 1.716) for LeCun's tanh (the lecture's hint).
- ``"global_range"``: the same map with one min and max over all features, for images: every
  pixel gets the same affine map, so a convolution sees one intensity scale (digits 0..16 with
  range (0, 1) become x/16, background 0).
- ``"none"``: x' = x.

A constant feature (std or range 0) is left centred and unscaled rather than divided by zero.

>>> import torch
>>> s = Scaler.fit(torch.tensor([[0.0], [2.0]]), "range", (0.15, 0.85))
>>> s(torch.tensor([[1.0]]))
tensor([[0.5000]])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError

SCALINGS = ("standard", "range", "global_range", "none")


class Scaler(nn.Module):
    """x' = (x − shift) · scale + offset, per feature; the buffers are saved with the model."""

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("shift", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.register_buffer("offset", torch.zeros(n_features))

    @classmethod
    def fit(cls, x: Tensor, method: str = "standard", feature_range=(0.15, 0.85)) -> "Scaler":
        """Fit on the training features ``x`` (N, p) only."""
        if method not in SCALINGS:
            raise ConfigError(f"unknown scaling {method!r}: expected one of {list(SCALINGS)}")
        s = cls(x.shape[1])
        x = x.double()
        if method == "standard":
            std = x.std(0, unbiased=False)
            s.shift.copy_(x.mean(0))
            s.scale.copy_(torch.where(std > 0, 1.0 / std, torch.ones_like(std)))
        elif method in ("range", "global_range"):
            low, high = (float(v) for v in feature_range)
            if not high > low:
                raise ConfigError(f"scaling range must be (low, high) with high > low, got {tuple(feature_range)}")
            if method == "range":
                lo, hi = x.min(0).values, x.max(0).values  # (p,) per feature
            else:
                lo, hi = x.min().expand(x.shape[1]), x.max().expand(x.shape[1])  # one pair for all p
            span = hi - lo
            s.shift.copy_(lo)
            s.scale.copy_(torch.where(span > 0, (high - low) / span, torch.ones_like(span)))
            s.offset.fill_(low)
        return s

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.shift) * self.scale + self.offset


class TargetScaler(nn.Module):
    """Regression targets standardised on the training part: z = (y − mean) / std per column.

    The network learns z, so the cost and a penalty's strength do not depend on the units of the
    target; ``forward`` maps the network's outputs back to the target's units, y = z·std + mean,
    and ``Sequential(network, target_scaler)`` predicts in those units. A constant column keeps
    std 1.

    >>> t = TargetScaler.fit(torch.tensor([[1.0], [3.0]]))
    >>> t.encode(torch.tensor([[3.0]])), t(torch.tensor([[-1.0]]))
    (tensor([[1.]]), tensor([[1.]]))
    """

    def __init__(self, n_targets: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_targets))
        self.register_buffer("std", torch.ones(n_targets))

    @classmethod
    def fit(cls, y: Tensor) -> "TargetScaler":
        """Fit on the training targets ``y`` (N, k) only."""
        y = y.double().reshape(y.shape[0], -1)
        s = cls(y.shape[1])
        std = y.std(0, unbiased=False)
        s.mean.copy_(y.mean(0))
        s.std.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        return s

    def encode(self, y: Tensor) -> Tensor:
        """z = (y − mean) / std."""
        return (y - self.mean) / self.std

    def forward(self, z: Tensor) -> Tensor:
        return z * self.std + self.mean
