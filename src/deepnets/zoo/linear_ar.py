"""The linear autoregressive baseline AR(p) (ARX(p, q) with inputs), fitted by least squares.

    ŷ_t = c + Σ_{k=1}^{p} a_k y_{t−k} + Σ_j Σ_{k=1}^{q} b_{jk} uʲ_{t−k}  =  c + wᵀ x_t

on the delay-tap rows x_t of :func:`deepnets.data.series.delay_taps`. The weights minimise
Σ_t (y_t − c − wᵀ x_t)² over the training rows: the least-squares solution of the design matrix
[X 1], computed in float64 by ``torch.linalg.lstsq`` (the SVD driver "gelsd", so collinear taps
get the minimum-norm answer). It is the model an NARX MLP must beat: the lecture's NARMA models
"generalize autoregressive models with nonlinear hidden units".

Reference: Box & Jenkins 1970, *Time Series Analysis: Forecasting and Control* (conditional least
squares for AR models).

>>> import torch
>>> y = torch.tensor([1., 2., 4., 8., 16., 32.])        # y_t = 2 y_{t-1}
>>> x, t = y[:-1].unsqueeze(1), y[1:].unsqueeze(1)
>>> ar = LinearAR.fit(x, t)
>>> round(float(ar.weight[0, 0]), 6), abs(round(float(ar.bias[0]), 6))
(2.0, 0.0)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import DataError


def least_squares_ar(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Least-squares weights w and intercept c of ŷ = c + wᵀx, in float64.

    Args:
        x: delay-tap rows (N, k).
        y: targets (N,) or (N, 1).

    Returns:
        ``(w (k,), c ())`` minimising Σ_n (y_n − c − wᵀ x_n)².
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1, 1)               # (N, 1)
    if x.dim() != 2 or x.shape[0] != y.shape[0]:
        raise DataError(f"least squares needs rows x (N, k) and N targets, got {tuple(x.shape)} and {y.shape[0]}")
    if x.shape[0] < 1:
        raise DataError("least squares needs at least one row")
    A = torch.cat([x, torch.ones(x.shape[0], 1, dtype=torch.float64)], dim=1)  # (N, k + 1): [X 1]
    theta = torch.linalg.lstsq(A, y, driver="gelsd").solution                  # (k + 1, 1)
    return theta[:-1, 0], theta[-1, 0]


class LinearAR(nn.Module):
    """A fitted linear AR / ARX model: ŷ = c + wᵀx on delay-tap rows (a torch module, float64).

    Build it with :meth:`fit`; it then forecasts like any model over delay taps
    (:func:`deepnets.zoo.narx.iterated_forecast`).

    Args:
        n_taps: k = p + q·m, the row width.
    """

    def __init__(self, n_taps: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, n_taps, dtype=torch.float64), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(1, dtype=torch.float64), requires_grad=False)

    @classmethod
    def fit(cls, x: Tensor, y: Tensor) -> "LinearAR":
        """The least-squares AR/ARX on rows x (N, k) and targets y (N,) or (N, 1)."""
        w, c = least_squares_ar(x, y)
        model = cls(w.shape[0])
        with torch.no_grad():
            model.weight.copy_(w.unsqueeze(0))
            model.bias.copy_(c.reshape(1))
        return model

    def forward(self, x: Tensor) -> Tensor:
        return x.to(torch.float64) @ self.weight.T + self.bias                 # (N, k) @ (k, 1) -> (N, 1)


__all__ = ["least_squares_ar", "LinearAR"]
