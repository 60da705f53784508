"""Batch, layer and weight normalization as the lecture writes them.

Batch normalization (Ioffe & Szegedy 2015), for the activation u_j^(l,n) of node j over the
mini-batch B:

    m_j = (1/|B|) Σ_{n∈B} u_j^(n)
    s_j = (1/(|B| − 1)) Σ_{n∈B} (u_j^(n) − m_j)²          <- the lecture's unbiased variance
    û_j^(n) = (u_j^(n) − m_j) / sqrt(s_j + ε)
    y_j^(n) = γ_j û_j^(n) + β_j                           (γ, β learned)

and running averages of m_j and s_j replace them at test time. For a (N, C, H, W) feature map
a channel is a node and B holds all N·H·W positions (Ioffe & Szegedy, §3.2).

*Difference from torch.nn.BatchNorm*: torch normalises with the biased variance
(1/|B|) Σ (u − m)² while training (and keeps the unbiased one in ``running_var``, as here).
``unbiased=False`` reproduces torch exactly; the default follows the lecture. The two differ by
a factor sqrt((|B| − 1)/|B|) in û, negligible for large batches, 0.7 for |B| = 2.

Layer normalization (Ba, Kiros & Hinton 2016) normalises over the features of each sample
instead: for sample n with H features u_1..u_H, m = mean_i u_i, s = (1/H) Σ (u_i − m)²,
y_i = γ_i (u_i − m)/sqrt(s + ε) + β_i; it behaves the same in training and testing.

Weight normalization (Salimans & Kingma 2016) normalises the weights instead of the
activations: W = g · V/‖V‖ for each output unit's weight vector, optimising over g and V.

>>> import torch
>>> u = torch.tensor([[1.0], [3.0]])
>>> batch_norm(u, torch.ones(1), torch.zeros(1), eps=0.0)  # s = 2, û = ±1/sqrt(2)
tensor([[-0.7071],
        [ 0.7071]])
>>> batch_norm(u, torch.ones(1), torch.zeros(1), eps=0.0, unbiased=False)  # torch's form
tensor([[-1.],
        [ 1.]])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError

__all__ = ["batch_norm", "batch_norm_backward", "layer_norm", "weight_norm",
           "BatchNorm", "LayerNorm", "WeightNormLinear"]


def _reduce_dims(u: Tensor) -> tuple[int, ...]:
    """The axes the mini-batch statistics run over: all but the feature axis 1."""
    if u.dim() < 2:
        raise DataError(f"batch normalization expects (N, C) or (N, C, ...) input, got shape "
                        f"{tuple(u.shape)}")
    return (0, *range(2, u.dim()))


def _per_feature(t: Tensor, u: Tensor) -> Tensor:
    """Shape a per-feature vector (C,) so it broadcasts against u of shape (N, C, ...)."""
    return t.view(1, -1, *([1] * (u.dim() - 2)))


def batch_norm(u: Tensor, gamma: Tensor | None, beta: Tensor | None, *, eps: float = 1e-5,
               training: bool = True, running_mean: Tensor | None = None,
               running_var: Tensor | None = None, momentum: float = 0.1,
               unbiased: bool = True) -> Tensor:
    """Batch normalization y = γ (u − m)/sqrt(s + ε) + β with the lecture's s = Σ(u − m)²/(|B| − 1).

    In training the statistics come from the mini-batch and, where given, the running buffers
    are updated in place: r ← (1 − momentum) r + momentum · (statistic), with the unbiased
    variance stored in ``running_var`` whatever ``unbiased`` says (as torch does). In testing
    (``training=False``) the running averages are used.

    Args:
        u: activations (N, C) or (N, C, H, W) (any (N, C, ...)); statistics per channel C.
        gamma, beta: learned scale γ and shift β of shape (C,), or None for 1 and 0.
        eps: ε added to the variance (default 1e-5).
        training: use batch statistics (True) or the running averages (False).
        running_mean, running_var: (C,) buffers, updated in place while training.
        momentum: weight of the new batch in the running averages (default 0.1).
        unbiased: normalise with 1/(|B| − 1) as the lecture (True) or 1/|B| as torch (False).

    Reference: Ioffe & Szegedy (2015), "Batch normalization: accelerating deep network training
    by reducing internal covariate shift", ICML.
    """
    dims = _reduce_dims(u)
    if training:
        B = u.numel() // u.shape[1]  # |B|: values per feature in this mini-batch
        if B < 2:
            raise DataError(f"batch normalization in training needs |B| >= 2 values per feature "
                            f"(the variance divides by |B| - 1), got input shape {tuple(u.shape)}")
        m = u.mean(dim=dims)  # (C,)
        sq = ((u - _per_feature(m, u)) ** 2).sum(dim=dims)  # (C,) Σ (u − m)²
        s_unbiased = sq / (B - 1)
        s = s_unbiased if unbiased else sq / B
        if running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(m.detach(), alpha=momentum)
        if running_var is not None:
            with torch.no_grad():
                running_var.mul_(1 - momentum).add_(s_unbiased.detach(), alpha=momentum)
    else:
        if running_mean is None or running_var is None:
            raise ConfigError("batch normalization at test time needs running_mean and running_var")
        m, s = running_mean, running_var
    u_hat = (u - _per_feature(m, u)) / torch.sqrt(_per_feature(s, u) + eps)
    if gamma is not None:
        u_hat = u_hat * _per_feature(gamma, u)
    if beta is not None:
        u_hat = u_hat + _per_feature(beta, u)
    return u_hat


def batch_norm_backward(dy: Tensor, u: Tensor, gamma: Tensor | None, *, eps: float = 1e-5,
                        unbiased: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """The co-states through a training-mode batch norm: (∂J/∂u, ∂J/∂γ, ∂J/∂β) from ∂J/∂y.

    With σ = sqrt(s + ε), ∂J/∂û = γ ∂J/∂y and d = |B| − 1 (|B| for ``unbiased=False``):

        ∂J/∂u = (1/σ) [∂J/∂û − mean_B(∂J/∂û) − û · Σ_B(∂J/∂û · û) / d]
        ∂J/∂γ = Σ_B ∂J/∂y · û,    ∂J/∂β = Σ_B ∂J/∂y

    (the mean's own derivative drops out because Σ_B (u − m) = 0). "Backpropagation can be
    modified easily", as the lecture says; this is that modification, checked against autograd.

    Args:
        dy: ∂J/∂y, the shape of u.
        u: the layer's input (N, C, ...) of the forward pass.
        gamma: γ (C,) or None for 1.
        eps, unbiased: as in :func:`batch_norm`.
    """
    dims = _reduce_dims(u)
    B = u.numel() // u.shape[1]
    m = u.mean(dim=dims)
    sq = ((u - _per_feature(m, u)) ** 2).sum(dim=dims)
    sigma = torch.sqrt(sq / (B - 1 if unbiased else B) + eps)  # (C,)
    u_hat = (u - _per_feature(m, u)) / _per_feature(sigma, u)
    du_hat = dy * _per_feature(gamma, u) if gamma is not None else dy
    d = B - 1 if unbiased else B
    du = (du_hat - _per_feature(du_hat.mean(dim=dims), u)
          - u_hat * _per_feature((du_hat * u_hat).sum(dim=dims) / d, u)) / _per_feature(sigma, u)
    return du, (dy * u_hat).sum(dim=dims), dy.sum(dim=dims)


def layer_norm(u: Tensor, normalized_shape: tuple[int, ...], gamma: Tensor | None = None,
               beta: Tensor | None = None, *, eps: float = 1e-5) -> Tensor:
    """Layer normalization: y = γ (u − m)/sqrt(s + ε) + β with m, s over each sample's features.

    m and s = (1/H) Σ (u_i − m)² run over the trailing ``normalized_shape`` axes (H values), as in
    Ba et al. and torch.nn.LayerNorm; γ and β have shape ``normalized_shape``.

    Args:
        u: (N, *normalized_shape) or any (..., *normalized_shape).
        normalized_shape: the feature axes, e.g. (D,) or (C, H, W).
        gamma, beta: elementwise scale and shift, or None for 1 and 0.
        eps: ε (default 1e-5).

    Reference: Ba, Kiros & Hinton (2016), "Layer normalization", arXiv:1607.06450.
    """
    k = len(normalized_shape)
    if tuple(u.shape[u.dim() - k:]) != tuple(normalized_shape):
        raise DataError(f"layer normalization over {tuple(normalized_shape)} expects input ending "
                        f"in those axes, got shape {tuple(u.shape)}")
    dims = tuple(range(u.dim() - k, u.dim()))
    m = u.mean(dim=dims, keepdim=True)
    s = ((u - m) ** 2).mean(dim=dims, keepdim=True)  # biased, 1/H
    y = (u - m) / torch.sqrt(s + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def weight_norm(V: Tensor, g: Tensor) -> Tensor:
    """W = g · V/‖V‖, one norm per output unit (row of V, or filter of a conv weight).

    Args:
        V: direction, (out, in) or (out, in, kh, kw); the norm runs over all axes but the first.
        g: length, (out,).

    Reference: Salimans & Kingma (2016), "Weight normalization: a simple reparameterization to
    accelerate training of deep neural networks", NeurIPS.
    """
    norm = V.flatten(1).norm(dim=1)  # (out,) ‖V_j‖
    return V * (g / norm).view(-1, *([1] * (V.dim() - 1)))


class BatchNorm(nn.Module):
    """Batch normalization layer with the lecture's |B| − 1 variance, for (N, C) and (N, C, H, W).

    y = γ (u − m)/sqrt(s + ε) + β with mini-batch statistics in training (updating running
    averages) and the running averages in evaluation; see :func:`batch_norm`.

    Args:
        num_features: C, the number of nodes (channels) normalised separately.
        eps: ε (default 1e-5).
        momentum: weight of each new batch in the running averages (default 0.1).
        affine: learn γ and β (default True).
        unbiased: the lecture's 1/(|B| − 1) (default) or torch's 1/|B| for normalising.

    Reference: Ioffe & Szegedy (2015), ICML.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, *,
                 affine: bool = True, unbiased: bool = True):
        super().__init__()
        if not isinstance(num_features, int) or num_features < 1:
            raise ConfigError(f"num_features must be a positive integer, got {num_features!r}")
        if not 0.0 < momentum <= 1.0:
            raise ConfigError(f"momentum must be in (0, 1], got {momentum!r}")
        if not eps >= 0.0:
            raise ConfigError(f"eps must be >= 0, got {eps!r}")
        self.num_features, self.eps, self.momentum, self.unbiased = num_features, eps, momentum, unbiased
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None  # γ
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None  # β
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, u: Tensor) -> Tensor:
        if u.dim() < 2 or u.shape[1] != self.num_features:
            raise DataError(f"BatchNorm({self.num_features}) expects (N, {self.num_features}, ...) "
                            f"input, got shape {tuple(u.shape)}")
        return batch_norm(u, self.weight, self.bias, eps=self.eps, training=self.training,
                          running_mean=self.running_mean, running_var=self.running_var,
                          momentum=self.momentum, unbiased=self.unbiased)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"unbiased={self.unbiased}")


class LayerNorm(nn.Module):
    """Layer normalization over the features of each sample; see :func:`layer_norm`.

    Args:
        normalized_shape: the trailing feature axes, an int D or a tuple such as (C, H, W).
        eps: ε (default 1e-5).
        affine: learn elementwise γ and β (default True).

    Reference: Ba, Kiros & Hinton (2016), arXiv:1607.06450.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, *, affine: bool = True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(not isinstance(d, int) or d < 1 for d in shape):
            raise ConfigError(f"normalized_shape must be positive integers, got {normalized_shape!r}")
        self.normalized_shape, self.eps = shape, eps
        self.weight = nn.Parameter(torch.ones(shape)) if affine else None  # γ
        self.bias = nn.Parameter(torch.zeros(shape)) if affine else None  # β

    def forward(self, u: Tensor) -> Tensor:
        return layer_norm(u, self.normalized_shape, self.weight, self.bias, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class WeightNormLinear(nn.Module):
    """A linear layer y = W x + b with W = g · V/‖V‖ (one g per output unit), trained over g, V.

    At construction V gets torch.nn.Linear's initialisation and g = ‖V‖, so W = V at first.

    Args:
        in_features, out_features: sizes of x and y.
        bias: learn b (default True).

    Reference: Salimans & Kingma (2016), NeurIPS.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        self.in_features, self.out_features = in_features, out_features
        V = torch.empty(out_features, in_features)
        nn.init.kaiming_uniform_(V, a=math.sqrt(5))  # torch.nn.Linear's default
        self.V = nn.Parameter(V)  # (out, in) direction
        self.g = nn.Parameter(V.norm(dim=1))  # (out,) length
        if bias:
            bound = 1 / math.sqrt(in_features)
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    @property
    def weight(self) -> Tensor:
        """The effective W = g · V/‖V‖, (out, in)."""
        return weight_norm(self.V, self.g)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight, self.bias)  # (..., in) -> (..., out)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
