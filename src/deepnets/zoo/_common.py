"""Pieces the zoo's families share: argument checks and the conv-BN-ReLU unit."""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError


def check_sizes(**sizes) -> None:
    """Raise ConfigError naming each argument that is not a positive int (num_classes=0 ...)."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def pick(registry: dict, name: str, what: str):
    """registry[name], or a ConfigError that lists the names on offer."""
    if name not in registry:
        raise ConfigError(f"unknown {what} {name!r}; expected one of {sorted(registry)}")
    return registry[name]


class ConvBNReLU(nn.Sequential):
    """Convolution (no bias: BN's β replaces it), batch normalization, ReLU.

    Args:
        in_channels, out_channels: K₁ and L.
        kernel_size: F, an int or (kh, kw).
        stride, padding: S and P (ints or pairs).
        eps: batch-norm ε (1e-5 as torch; 1e-3 in the TF-slim Inception models).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 eps: float = 1e-5):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            nn.BatchNorm2d(out_channels, eps=eps),
            nn.ReLU(inplace=True),
        )
