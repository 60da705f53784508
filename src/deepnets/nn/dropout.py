"""Dropout in the lecture's two conventions: classic (scale at test time) and inverted.

At each training iteration every unit is retained with probability p (the lecture's p is the
*keep* probability; torch.nn.Dropout's argument is the drop probability 1 − p):

    training:  z̃ = m ∘ z · a,   m_i ~ Bernoulli(p) independently
    testing:   z̃ = z · b

    classic   (Srivastava et al. 2014):  a = 1,    b = p   (equivalently the outgoing weights
                                                           are scaled down by p at test time)
    inverted  (TensorFlow, torch):        a = 1/p,  b = 1

Both give the same expected value, E[z̃ | training] = z̃ at test time (p·z for classic, z for
inverted), so the test-time network is the mean of the 2ⁿ thinned networks for a linear layer.

>>> import torch
>>> z = torch.ones(2, 4)
>>> g = torch.Generator().manual_seed(0)
>>> dropout(z, 0.5, mode="inverted", generator=g)
tensor([[2., 0., 2., 2.],
        [2., 0., 2., 0.]])
>>> dropout(z, 0.5, mode="classic", training=False)
tensor([[0.5000, 0.5000, 0.5000, 0.5000],
        [0.5000, 0.5000, 0.5000, 0.5000]])

Reference: Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014), "Dropout: a simple
way to prevent neural networks from overfitting", JMLR 15:1929-1958.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ..errors import ConfigError

__all__ = ["dropout", "dropout_mask", "Dropout", "DROPOUT_MODES"]

DropoutMode = Literal["classic", "inverted"]

# mode -> (training scale a, test scale b) as functions of the keep probability p
DROPOUT_MODES = {
    "classic": (lambda p: 1.0, lambda p: p),
    "inverted": (lambda p: 1.0 / p, lambda p: 1.0),
}


def _check(p: float, mode: str) -> None:
    """Refuse a keep probability outside (0, 1] or an unknown mode, naming the value."""
    if mode not in DROPOUT_MODES:
        raise ConfigError(f"dropout mode must be one of {sorted(DROPOUT_MODES)}, got {mode!r}")
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 < p <= 1.0:
        raise ConfigError(f"keep probability p must be in (0, 1], got {p!r} "
                          "(the lecture's p keeps a unit; torch's p drops it)")


def dropout_mask(shape, p: float, *, generator: torch.Generator | None = None,
                 device=None, dtype=torch.float32) -> Tensor:
    """A 0/1 mask with m_i ~ Bernoulli(p) independently (1 keeps the unit).

    Args:
        shape: the mask's shape (that of the activations).
        p: keep probability in (0, 1].
        generator: the torch.Generator to draw from (default: the global one).
        device, dtype: of the mask.
    """
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)  # U(0, 1)
    return (u < p).to(dtype)


def dropout(z: Tensor, p: float = 0.5, *, mode: DropoutMode = "inverted", training: bool = True,
            generator: torch.Generator | None = None) -> Tensor:
    """Dropout of activations z with keep probability p: a·m∘z while training, b·z at test.

    (a, b) = (1, p) for ``mode="classic"`` and (1/p, 1) for ``mode="inverted"``; see the module
    docstring.

    Args:
        z: activations, any shape; every element is dropped independently.
        p: keep probability in (0, 1] (default 0.5). Note: torch's argument is 1 − p.
        mode: "classic" or "inverted" (default "inverted").
        training: draw a mask (True) or apply the test-time scaling (False).
        generator: torch.Generator for the mask (default: the global generator).

    Reference: Srivastava et al. (2014), JMLR 15.
    """
    _check(p, mode)
    train_scale, test_scale = DROPOUT_MODES[mode]
    if not training:
        b = test_scale(p)
        return z if b == 1.0 else z * b
    if p == 1.0:
        return z
    m = dropout_mask(z.shape, p, generator=generator, device=z.device, dtype=z.dtype)
    a = train_scale(p)
    return z * m if a == 1.0 else z * m * a


class Dropout(nn.Module):
    """Dropout layer with keep probability p in the lecture's classic or inverted convention.

    Training mode (``module.train()``): z̃ = a·m∘z, m_i ~ Bernoulli(p); evaluation mode
    (``module.eval()``): z̃ = b·z, with (a, b) = (1, p) classic, (1/p, 1) inverted.

    Args:
        p: keep probability in (0, 1] (default 0.5); torch.nn.Dropout takes 1 − p instead.
        mode: "classic" (scale by p at test time) or "inverted" (divide by p while training).
        generator: optional torch.Generator drawing the masks, for reproducible runs.

    Reference: Srivastava et al. (2014), "Dropout: a simple way to prevent neural networks from
    overfitting", JMLR 15.
    """

    def __init__(self, p: float = 0.5, mode: DropoutMode = "inverted", *,
                 generator: torch.Generator | None = None):
        super().__init__()
        _check(p, mode)
        self.p = float(p)
        self.mode = mode
        self.generator = generator

    def forward(self, z: Tensor) -> Tensor:
        return dropout(z, self.p, mode=self.mode, training=self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p} (keep), mode={self.mode!r}"
