"""The extreme learning machine: a random, fixed hidden layer and output weights in closed form.

    h_i(x) = g(w_iᵀ x + w_i0),  i = 1, ..., K (K reasonably large; w_i, w_i0 drawn at random, fixed)
    ẑ(x) = Σ_i v_i h_i(x) + v_0,  v minimising ½ Σ_n (zⁿ − ẑⁿ)² + (λ/2) vᵀv  (regularised LS),

or a LASSO / elastic-net penalty instead of (λ/2) vᵀv (the lecture's "Variations" slide). Only v is
learnt, by one linear solve (see :mod:`deepnets.zoo.elm_solve`): no gradient descent, no epochs.
Classification fits one output per class to one-hot targets and predicts the argmax.

The hidden weights are drawn uniformly, w_ij ~ U(−a, a) with a = scale·√(3/F) (so wᵀx has variance
scale² for standardised inputs) and w_i0 ~ U(−scale, scale): standardise the inputs first.

Reference: Huang, Zhu & Siew 2006, "Extreme learning machine: theory and applications",
Neurocomputing 70 (ridge output weights: Huang et al. 2012, IEEE Trans. SMC-B 42).

>>> import torch
>>> x = torch.linspace(-2, 2, 200).unsqueeze(1)                     # (200, 1)
>>> elm = ELM(1, 100, 1, activation="tanh", seed=0).solve(x, torch.sin(2 * x), lam=1e-6)
>>> bool((elm(x) - torch.sin(2 * x)).abs().max() < 1e-2)
True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .._registry import check_choice, check_number, check_positive_int
from ..activations import get_activation
from ..errors import DataError
from .elm_solve import PENALTIES, ridge_output, sparse_output

__all__ = ["ELM"]


class ELM(nn.Module):
    """An extreme learning machine: K random fixed hidden units g(w_iᵀx + w_i0), a linear output.

    Args:
        n_inputs: F, the input width.
        n_hidden: K, the number of random hidden units.
        n_outputs: C, the output width (the number of classes for a classifier).
        activation: g, any :data:`deepnets.ACTIVATIONS` name (``"logistic"``, ``"tanh"``,
            ``"relu"``, ...). Default ``"tanh"``.
        scale: the spread of the random weights (see the module's docstring). Default 1.
        seed: the seed of the hidden weights (the same seed gives the same machine).

    Attributes:
        weight (K, F), bias (K,): the fixed hidden layer (buffers: saved, never trained).
        output: the ``nn.Linear(K, C)`` holding v and v₀ after :meth:`solve`.
        lam_: the λ used by the last solve (a float for ridge, a per-output list for LASSO/EN).
    """

    def __init__(self, n_inputs: int, n_hidden: int, n_outputs: int, *, activation="tanh", scale: float = 1.0,
                 seed: int = 0):
        super().__init__()
        for name, value in (("n_inputs", n_inputs), ("n_hidden", n_hidden), ("n_outputs", n_outputs)):
            check_positive_int(name, value)
        check_number("scale", scale, low=0.0, low_open=True)
        self.g = get_activation(activation)
        gen = torch.Generator().manual_seed(int(seed))
        a = scale * math.sqrt(3.0 / n_inputs)
        self.register_buffer("weight", (torch.rand(n_hidden, n_inputs, generator=gen) * 2 - 1) * a)  # (K, F)
        self.register_buffer("bias", (torch.rand(n_hidden, generator=gen) * 2 - 1) * scale)  # (K,)
        self.output = nn.Linear(n_hidden, n_outputs)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)
        self.lam_ = None

    def hidden(self, x: Tensor) -> Tensor:
        """H = g(x Wᵀ + w₀): the hidden outputs (N, K) of inputs x (N, F)."""
        if x.ndim != 2 or x.shape[1] != self.weight.shape[1]:
            raise DataError(f"ELM expects inputs of shape (N, {self.weight.shape[1]}), got {tuple(x.shape)}")
        return self.g(x.to(self.weight.dtype) @ self.weight.T + self.bias)  # (N, K)

    def forward(self, x: Tensor) -> Tensor:
        """ẑ = H v + v₀, (N, C): regression outputs, or class scores (argmax: the class)."""
        return self.output(self.hidden(x))

    def targets(self, y: Tensor) -> Tensor:
        """Z (N, C): y itself for real targets, one-hot rows for integer class labels y (N,)."""
        C = self.output.out_features
        if y.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
            if y.ndim != 1:
                raise DataError(f"class labels must be 1-D (N,), got shape {tuple(y.shape)}")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= C):
                raise DataError(f"class labels must lie in [0, {C - 1}] (n_outputs = {C}), "
                                f"got labels from {int(y.min())} to {int(y.max())}")
            return nn.functional.one_hot(y.long(), C).double()  # (N, C)
        z = y.reshape(len(y), -1) if y.ndim == 1 else y
        if z.ndim != 2 or z.shape[1] != C:
            raise DataError(f"targets must have shape (N,) or (N, {C}), got {tuple(y.shape)}")
        return z.double()

    @torch.no_grad()
    def solve(self, x: Tensor, y: Tensor, *, lam=None, penalty: str = "ridge", l1_ratio: float = 0.5,
              lambdas=None) -> "ELM":
        """Set the output weights in closed form (ridge) or by coordinate descent (LASSO, elastic net).

        Minimises ½ Σ_n ‖zⁿ − ẑⁿ‖² + λ P(v) over v and the unpenalised v₀, P = ½ vᵀv for
        ``"ridge"``, ‖v‖₁ for ``"lasso"``, ρ‖v‖₁ + (1 − ρ)/2 vᵀv for ``"elastic_net"``.

        Args:
            x: inputs (N, F).
            y: real targets (N,) or (N, C), or integer class labels (N,) (fitted as one-hot rows).
            lam: λ; None chooses it: GCV over ``lambdas`` for ridge, 5-fold cross-validation
                (scikit-learn's ``ElasticNetCV``, per output) for LASSO and elastic net.
            penalty: ``"ridge"``, ``"lasso"`` or ``"elastic_net"``. Default ``"ridge"``.
            l1_ratio: ρ of the elastic net, in (0, 1]. Default 0.5.
            lambdas: the GCV grid of λ for ridge (default: s₁²·10^t, t from −10 to 1).

        Returns:
            self, with ``output`` set and ``lam_`` the λ used.
        """
        check_choice("penalty", penalty, PENALTIES)
        if len(x) != len(y):
            raise DataError(f"x and y must have the same number of rows, got {len(x)} and {len(y)}")
        if len(x) == 0:
            raise DataError("ELM.solve needs at least 1 sample, got 0")
        h, z = self.hidden(x).double(), self.targets(y)  # (N, K), (N, C)
        if not (torch.isfinite(h).all() and torch.isfinite(z).all()):
            raise DataError("ELM.solve needs finite inputs and targets, got NaN or inf")
        if penalty == "ridge":
            v, v0, self.lam_ = ridge_output(h, z, lam, lambdas)
        else:
            rho = 1.0 if penalty == "lasso" else check_number("l1_ratio", l1_ratio, low=0.0, high=1.0, low_open=True)
            v, v0, lams = sparse_output(h, z, lam, l1_ratio=rho)
            self.lam_ = [float(v) for v in lams]
        self.output.weight.copy_(v.T.to(self.output.weight.dtype))  # (C, K)
        self.output.bias.copy_(v0.to(self.output.bias.dtype))  # (C,)
        return self
