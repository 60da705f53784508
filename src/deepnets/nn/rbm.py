"""The restricted Boltzmann machine with binary (Bernoulli) visible and hidden units.

Visible units v ∈ {0, 1}^p, hidden units h ∈ {0, 1}^r, weights W (r × p, like
``torch.nn.Linear.weight`` and scikit-learn's ``components_``), visible biases b, hidden biases c:

    energy        E(v, h) = −bᵀv − cᵀh − hᵀWv,      p(v, h) = exp(−E(v, h)) / Z
    free energy   F(v) = −log Σ_h exp(−E(v, h)) = −bᵀv − Σ_j log(1 + exp(c_j + W_j v))
    conditionals  p(h_j = 1 | v) = σ(c_j + W_j v),  p(v_i = 1 | h) = σ(b_i + (Wᵀh)_i)

There are no connections within a layer, so each conditional factorises and one block Gibbs step
v → h → v samples a whole layer at once. ``transform(v) = p(h = 1 | v)`` is the code a deep
network's layer gets when the RBM initialises it (σ(Wv + c) is an ``nn.Linear`` with weight W and
bias c followed by the logistic function).

The pseudo-likelihood (Besag 1975) replaces the intractable log p(v) = −F(v) − log Z by

    log PL(v) = Σ_i log p(v_i | v_−i) = Σ_i log σ(F(ṽ⁽ⁱ⁾) − F(v)),

where ṽ⁽ⁱ⁾ is v with bit i flipped; scikit-learn's ``BernoulliRBM.score_samples`` estimates it
by one random bit per example, p · log σ(F(ṽ⁽ⁱ⁾) − F(v)) with i uniform, whose expectation over i
is log PL(v): :meth:`BernoulliRBM.pseudo_likelihood` is that estimator (same definition, so the
numbers compare) and :meth:`BernoulliRBM.log_pseudo_likelihood` its expectation, exactly.

>>> import torch
>>> rbm = BernoulliRBM(6, 3, generator=torch.Generator().manual_seed(0))
>>> v = torch.tensor([[1., 0., 1., 1., 0., 0.]])
>>> rbm.transform(v).shape, bool(rbm.free_energy(v) < 0)
(torch.Size([1, 3]), True)
>>> bool(torch.allclose(rbm.log_likelihood(v), -rbm.free_energy(v) - rbm.log_partition()))
True

References: Smolensky 1986 ("harmonium"); Hinton 2002, "Training products of experts by minimizing
contrastive divergence", Neural Computation 14(8); Besag 1975, "Statistical analysis of non-lattice
data", The Statistician 24(3); Hinton 2010, "A practical guide to training restricted Boltzmann
machines", UTML TR 2010-003.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import check_number, check_positive_int
from ..errors import ConfigError, DataError

__all__ = ["BernoulliRBM"]

MAX_ENUMERATED_UNITS = 20  # log_partition enumerates 2^min(p, r) states of the smaller layer


def _all_states(n: int, *, dtype, device) -> Tensor:
    """Every binary vector of length n, (2ⁿ, n)."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=dtype, device=device)


class BernoulliRBM(nn.Module):
    """A restricted Boltzmann machine with binary visible and hidden units.

    Args:
        n_visible: p, the number of visible units.
        n_hidden: r, the number of hidden units.
        std: the weights start as N(0, std²) (default 0.01, as Hinton 2010 and scikit-learn);
            the biases start at zero.
        generator: the torch.Generator that draws the initial weights (default: the global one).
        dtype, device: of the parameters.

    Attributes:
        weight: W, (r, p). visible_bias: b, (p,). hidden_bias: c, (r,).
    """

    def __init__(self, n_visible: int, n_hidden: int, *, std: float = 0.01,
                 generator: torch.Generator | None = None, dtype=None, device=None):
        super().__init__()
        check_positive_int("n_visible", n_visible)
        check_positive_int("n_hidden", n_hidden)
        std = check_number("std", std, low=0.0)
        weight = torch.randn(n_hidden, n_visible, generator=generator, dtype=dtype or torch.get_default_dtype())
        self.weight = nn.Parameter(weight.to(device) * std)                         # (r, p)
        self.visible_bias = nn.Parameter(torch.zeros(n_visible, dtype=weight.dtype, device=device))  # b, (p,)
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden, dtype=weight.dtype, device=device))    # c, (r,)

    @property
    def n_visible(self) -> int:
        return self.weight.shape[1]

    @property
    def n_hidden(self) -> int:
        return self.weight.shape[0]

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"

    def check_visible(self, v: Tensor, what: str = "v") -> Tensor:
        """``v`` as a (N, p) tensor of the parameters' dtype, or a DataError naming what came."""
        if not isinstance(v, Tensor):
            raise DataError(f"{what} must be a torch.Tensor of shape (N, {self.n_visible}), got {type(v).__name__}")
        if v.dim() != 2 or v.shape[1] != self.n_visible:
            raise DataError(f"{what} must have shape (N, {self.n_visible}) (one row of visible units per "
                            f"example), got {tuple(v.shape)}")
        return v.to(self.weight.dtype)

    # ---- energies -------------------------------------------------------------------------------

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """E(v, h) = −bᵀv − cᵀh − hᵀWv for each row of v (N, p) and h (N, r); returns (N,)."""
        v = self.check_visible(v)
        return -(v @ self.visible_bias) - (h @ self.hidden_bias) - ((h @ self.weight) * v).sum(1)

    def free_energy(self, v: Tensor) -> Tensor:
        """F(v) = −bᵀv − Σ_j softplus(c_j + W_j v) = −log Σ_h exp(−E(v, h)); v (N, p) -> (N,)."""
        v = self.check_visible(v)
        return -(v @ self.visible_bias) - F.softplus(v @ self.weight.T + self.hidden_bias).sum(1)

    def log_partition(self) -> Tensor:
        """log Z = log Σ_v exp(−F(v)), exactly, by enumerating the smaller layer's 2^min(p, r) states.

        With r < p the sum runs over h instead: log Z = log Σ_h exp(cᵀh + Σ_i softplus(b_i + (Wᵀh)_i)).
        Only for small RBMs (min(p, r) ≤ 20); a ConfigError otherwise.
        """
        p, r = self.n_visible, self.n_hidden
        if min(p, r) > MAX_ENUMERATED_UNITS:
            raise ConfigError(f"log_partition enumerates 2^min(n_visible, n_hidden) states, at most "
                              f"2^{MAX_ENUMERATED_UNITS}; got n_visible={p}, n_hidden={r}")
        if p <= r:
            v = _all_states(p, dtype=self.weight.dtype, device=self.weight.device)      # (2^p, p)
            return torch.logsumexp(-self.free_energy(v), 0)
        h = _all_states(r, dtype=self.weight.dtype, device=self.weight.device)          # (2^r, r)
        minus_f = h @ self.hidden_bias + F.softplus(h @ self.weight + self.visible_bias).sum(1)
        return torch.logsumexp(minus_f, 0)

    def log_likelihood(self, v: Tensor) -> Tensor:
        """log p(v) = −F(v) − log Z for each row of v (N, p), exactly (small RBMs: see log_partition)."""
        return -self.free_energy(v) - self.log_partition()

    # ---- conditionals and Gibbs sampling --------------------------------------------------------

    def hidden_probs(self, v: Tensor) -> Tensor:
        """p(h_j = 1 | v) = σ(c_j + W_j v); v (N, p) -> (N, r)."""
        return torch.sigmoid(self.check_visible(v) @ self.weight.T + self.hidden_bias)

    def visible_probs(self, h: Tensor) -> Tensor:
        """p(v_i = 1 | h) = σ(b_i + (Wᵀh)_i); h (N, r) -> (N, p)."""
        return torch.sigmoid(h @ self.weight + self.visible_bias)

    def transform(self, v: Tensor) -> Tensor:
        """The code of v: p(h = 1 | v), (N, r), as scikit-learn's ``BernoulliRBM.transform``."""
        return self.hidden_probs(v)

    forward = transform

    def sample_hidden(self, v: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """h ~ p(h | v), a 0/1 tensor (N, r)."""
        return torch.bernoulli(self.hidden_probs(v), generator=generator)

    def sample_visible(self, h: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """v ~ p(v | h), a 0/1 tensor (N, p)."""
        return torch.bernoulli(self.visible_probs(h), generator=generator)

    def gibbs(self, v: Tensor, k: int = 1, *, generator: torch.Generator | None = None) -> Tensor:
        """k steps of block Gibbs sampling from v: h ~ p(h | v), then v ~ p(v | h), k times; (N, p)."""
        check_positive_int("k (Gibbs steps)", k)
        v = self.check_visible(v)
        for _ in range(k):
            v = self.sample_visible(self.sample_hidden(v, generator=generator), generator=generator)
        return v

    # ---- pseudo-likelihood ----------------------------------------------------------------------

    def pseudo_likelihood(self, v: Tensor, index: Tensor | None = None, *,
                          generator: torch.Generator | None = None) -> Tensor:
        """scikit-learn's estimate of the log pseudo-likelihood: p · log σ(F(ṽ) − F(v)), (N,).

        ṽ is v with one bit flipped in each row: bit ``index[n]`` of row n, or, when ``index`` is
        None, a bit drawn uniformly from ``generator`` (as ``BernoulliRBM.score_samples`` does). Its
        expectation over the bit is :meth:`log_pseudo_likelihood`.

        Args:
            v: binary visible vectors (N, p).
            index: which bit to flip in each row, int (N,) in [0, p); default: drawn at random.
            generator: draws the bits when ``index`` is None (default: the global generator).
        """
        v = self.check_visible(v)
        n, p = v.shape
        if index is None:
            index = torch.randint(0, p, (n,), generator=generator, device=v.device)
        elif not isinstance(index, Tensor) or index.shape != (n,) or index.dtype.is_floating_point:
            raise DataError(f"index must be an integer tensor of shape ({n},), one bit per row, got "
                            f"{getattr(index, 'dtype', type(index).__name__)} {tuple(getattr(index, 'shape', ()))}")
        elif n and (int(index.min()) < 0 or int(index.max()) >= p):
            raise DataError(f"index must hold bits in [0, {p}), got values in [{int(index.min())}, {int(index.max())}]")
        rows = torch.arange(n, device=v.device)
        flipped = v.clone()
        flipped[rows, index] = 1 - flipped[rows, index]
        return p * F.logsigmoid(self.free_energy(flipped) - self.free_energy(v))

    def log_pseudo_likelihood(self, v: Tensor) -> Tensor:
        """log PL(v) = Σ_i log p(v_i | v_−i) = Σ_i log σ(F(ṽ⁽ⁱ⁾) − F(v)), exactly, (N,) (Besag 1975).

        The mean of :meth:`pseudo_likelihood` over all p choices of the flipped bit; costs p + 1
        free energies per row.
        """
        v = self.check_visible(v)
        n, p = v.shape
        f_v = self.free_energy(v)                                            # (N,)
        total = torch.zeros_like(f_v)
        eye = torch.eye(p, dtype=v.dtype, device=v.device)
        for i in range(p):
            flipped = v + eye[i] * (1 - 2 * v[:, i:i + 1])                   # (N, p), bit i flipped
            total += F.logsigmoid(self.free_energy(flipped) - f_v)
        return total
