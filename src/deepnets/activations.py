"""The lecture's activation functions g(y), each with its derivative g'(y).

The co-state recursion needs g' at every layer: δ(l) = λ(l) ∘ g'(ŷ(l)). Each activation is
a small object with ``forward(y) -> z`` and ``derivative(z) -> g'(y)``, written through the
output z = g(y) alone (logistic: g' = α z (1 − z); tanh: g' = α (1 − z²); ReLU: 1[z > 0]), so the
forward pass keeps only the layer outputs ẑ(l) for the backward pass, as the lecture's algorithm
does ("determine ẑ(l) and g'(ŷ(l)) and remember them"). Every activation here has z > 0 exactly
when y > 0, which is what makes that possible.

>>> import torch
>>> g = get_activation("logistic", alpha=2.0)
>>> y = torch.tensor([0.0])
>>> g(y), g.derivative(g(y))
(tensor([0.5000]), tensor([0.5000]))
>>> get_activation("lecun_tanh")(torch.tensor([1.5]))
tensor([1.3069])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ._registry import lookup
from .errors import ConfigError


class Activation:
    """An elementwise g with its derivative g'(y) written through the output z = g(y)."""

    name: str = ""

    def __call__(self, y: Tensor) -> Tensor:
        return self.forward(y)

    def forward(self, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, z: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def delta(self, lam: Tensor, z: Tensor) -> Tensor:
        """δ = λ ∘ g'(ŷ), the co-state recursion's local step through this nonlinearity."""
        return lam * self.derivative(z)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


@dataclass(repr=False)
class Logistic(Activation):
    """g(y) = 1 / (1 + exp(−α y)),  g' = α g (1 − g)."""

    alpha: float = 1.0
    name = "logistic"

    def forward(self, y):
        return torch.sigmoid(self.alpha * y) if self.alpha != 1.0 else torch.sigmoid(y)

    def derivative(self, z):
        d = z * (1 - z)
        return d * self.alpha if self.alpha != 1.0 else d


@dataclass(repr=False)
class Tanh(Activation):
    """g(y) = a · tanh(α y),  g' = a α (1 − (g/a)²).

    ``a = 1`` is the lecture's tanh(αy); ``a = 1.716, α = 2/3`` is LeCun's scaled tanh
    (LeCun, Bottou, Orr & Müller 1998, "Efficient BackProp"), whose values at y = ±1 are ±1.
    """

    alpha: float = 1.0
    scale: float = 1.0
    name = "tanh"

    def forward(self, y):
        z = torch.tanh(self.alpha * y) if self.alpha != 1.0 else torch.tanh(y)
        return z * self.scale if self.scale != 1.0 else z

    def derivative(self, z):
        if self.scale == 1.0:
            d = 1 - z * z
        else:
            u = z / self.scale
            d = (1 - u * u) * self.scale
        return d * self.alpha if self.alpha != 1.0 else d


@dataclass(repr=False)
class ReLU(Activation):
    """g(y) = max(0, y),  g' = 1[y > 0] (0 at y = 0, as torch)."""

    name = "relu"

    def forward(self, y):
        return torch.relu(y)

    def derivative(self, z):
        return (z > 0).to(z.dtype)

    def delta(self, lam, z):
        return torch.ops.aten.threshold_backward(lam, z, 0.0)  # λ where z > 0, else 0 (one kernel)


@dataclass(repr=False)
class LeakyReLU(Activation):
    """g(y) = y for y > 0, a·y otherwise (the lecture's a ≈ 0.1);  g' = 1 or a."""

    a: float = 0.1
    name = "leaky_relu"

    def forward(self, y):
        return torch.nn.functional.leaky_relu(y, self.a)

    def derivative(self, z):
        return torch.where(z > 0, 1.0, self.a).to(z.dtype)


@dataclass(repr=False)
class ELU(Activation):
    """g(y) = y for y > 0, α (exp(y) − 1) otherwise;  g' = 1 or g + α (Clevert et al. 2016)."""

    alpha: float = 1.0
    name = "elu"

    def forward(self, y):
        return torch.nn.functional.elu(y, self.alpha)

    def derivative(self, z):
        return torch.where(z > 0, torch.ones_like(z), z + self.alpha)


@dataclass(repr=False)
class Identity(Activation):
    """g(y) = y,  g' = 1 (linear units)."""

    name = "identity"

    def forward(self, y):
        return y

    def derivative(self, z):
        return torch.ones_like(z)

    def delta(self, lam, z):
        return lam


@dataclass(repr=False)
class Step(Activation):
    """The unit step U(y) = 1[y ≥ 0] of the lecture's hand-set XOR networks; g' = 0.

    Not trainable by gradient descent (its derivative is zero almost everywhere): it exists to
    reproduce the slide's threshold-logic networks.
    """

    name = "step"

    def forward(self, y):
        return (y >= 0).to(y.dtype)

    def derivative(self, z):
        return torch.zeros_like(z)


def lecun_tanh() -> Tanh:
    """LeCun's 1.716 · tanh(2y/3) (the lecture's suggested α = 1.716, β = 2/3)."""
    return Tanh(alpha=2.0 / 3.0, scale=1.716)


#: name -> factory; keyword arguments (alpha, a) pass through.
ACTIVATIONS = {
    "logistic": Logistic,
    "sigmoid": Logistic,
    "tanh": Tanh,
    "lecun_tanh": lambda: lecun_tanh(),
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "identity": Identity,
    "linear": Identity,
    "step": Step,
}


def get_activation(spec, **kwargs) -> Activation:
    """Return an :class:`Activation` from a name (``"tanh"``), a name with a parameter
    (``"tanh:0.5"``, ``"leaky_relu:0.01"``), or an Activation instance (returned as is)."""
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"activation must be a name such as 'tanh' or an Activation, got {spec!r}")
    name, _, param = spec.partition(":")
    name = name.strip().lower()
    lookup(name, ACTIVATIONS, what="activation")
    if param:
        try:
            value = float(param)
        except ValueError:
            raise ConfigError(f"activation parameter in {spec!r} must be a number, got {param!r}") from None
        key = {"leaky_relu": "a"}.get(name, "alpha")
        if name in ("relu", "identity", "linear", "step", "lecun_tanh"):
            raise ConfigError(f"activation {name!r} takes no parameter, got {spec!r}")
        kwargs = {key: value, **kwargs}
    if name == "lecun_tanh" and kwargs:
        raise ConfigError(f"activation 'lecun_tanh' takes no parameter, got {kwargs}")
    act = ACTIVATIONS[name](**kwargs)
    for key in ("alpha", "a", "scale"):
        v = getattr(act, key, None)
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ConfigError(f"activation {name!r}: {key} must be a positive number, got {v}")
    return act
