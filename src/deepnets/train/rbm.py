"""Training a Bernoulli RBM by contrastive divergence (CD-k) and persistent CD (PCD).

The log-likelihood gradient of an RBM (:class:`deepnets.nn.BernoulliRBM`) is a data term minus a
model term:

    ∂ log p(v) / ∂W = E_data[p(h = 1 | v) vᵀ] − E_model[h vᵀ]
    ∂ log p(v) / ∂b = E_data[v] − E_model[v],   ∂ log p(v) / ∂c = E_data[p(h = 1 | v)] − E_model[h]

The model term needs samples from p(v, h). CD-k (Hinton 2002) starts a Gibbs chain at each data
vector and stops it after k steps, v⁰ = v → h⁰ → v¹ → … → vᵏ; PCD (Tieleman 2008, "stochastic
maximum likelihood", as scikit-learn's ``BernoulliRBM``) keeps the chains ("fantasy particles")
from one update to the next instead of restarting them at the data. Either way the negative
statistics are those of vᵏ with p(h = 1 | vᵏ) in place of a sampled h, and the update over a
minibatch, with learning rate η, momentum μ and weight decay λ (on W only, Hinton 2010), is

    Δθ ← μ Δθ + η (ĝ_θ − λ θ),   θ ← θ + Δθ

(ascent: the gradient estimate ĝ points up the log-likelihood). CD-k is biased for small k; as
k → ∞ its estimate tends to the exact gradient (tested against enumeration on a tiny RBM).

>>> import torch
>>> from deepnets.nn import BernoulliRBM
>>> x = torch.tensor([[1., 1., 0., 0.], [0., 0., 1., 1.]]).repeat(50, 1)
>>> rbm = BernoulliRBM(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
>>> before = rbm.log_likelihood(x).mean()
>>> history = train_rbm(rbm, x, epochs=20, batch_size=10, lr=0.1, seed=0)
>>> bool(rbm.log_likelihood(x).mean() > before)
True

References: Hinton 2002, "Training products of experts by minimizing contrastive divergence",
Neural Computation 14(8); Tieleman 2008, "Training restricted Boltzmann machines using
approximations to the likelihood gradient", ICML; Hinton 2010, "A practical guide to training
restricted Boltzmann machines", UTML TR 2010-003.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from .._registry import check_number, check_positive_int
from ..activations import Logistic, get_activation
from ..errors import ConfigError, DataError
from ..nn.rbm import BernoulliRBM

__all__ = ["train_rbm", "cd_gradient", "RBMHistory", "rbm_layer", "check_probabilities"]

log = logging.getLogger(__name__)


@dataclass
class RBMHistory:
    """What :func:`train_rbm` did.

    Attributes:
        epochs: the epochs run.
        updates: the parameter updates made (minibatches).
        pseudo_likelihood: after each epoch, the mean log pseudo-likelihood of the training data
            (scikit-learn's one-random-bit estimate with a fixed per-epoch generator), when a
            callback or ``verbose`` asked for it; else empty.
        chains: PCD's persistent chains (their visible states) after training, or None for CD.
    """

    epochs: int = 0
    updates: int = 0
    pseudo_likelihood: list[float] = field(default_factory=list)
    chains: Tensor | None = None


def check_probabilities(x, what: str = "x") -> Tensor:
    """``x`` as a floating (N, p) tensor with every value in [0, 1] (binary data or probabilities),
    else a DataError that names the shape or the range that came."""
    if not isinstance(x, Tensor):
        raise DataError(f"{what} must be a torch.Tensor (N, p) of values in [0, 1], got {type(x).__name__}")
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"{what} must be a non-empty 2-D tensor (N examples, p visible units), got shape {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        x = x.to(torch.get_default_dtype())
    lo, hi = float(x.min()), float(x.max())
    if not (0.0 <= lo and hi <= 1.0):  # NaN fails both comparisons
        raise DataError(f"an RBM's visible units are binary or probabilities in [0, 1]; {what} has values in "
                        f"[{lo:g}, {hi:g}] (scale the inputs to [0, 1] first, e.g. x / x.max())")
    return x


@torch.no_grad()
def cd_gradient(rbm: BernoulliRBM, v: Tensor, *, k: int = 1, chains: Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The CD-k (or PCD-k) estimate of the log-likelihood gradient on a minibatch v (B, p).

    Positive phase on the data: h⁺ = p(h = 1 | v). Negative phase: k Gibbs steps from ``chains``
    (PCD) or from v itself (CD), ending at vᵏ (S, p), with h⁻ = p(h = 1 | vᵏ):

        ĝ_W = h⁺ᵀv / B − h⁻ᵀvᵏ / S,   ĝ_b = mean(v) − mean(vᵏ),   ĝ_c = mean(h⁺) − mean(h⁻).

    Returns:
        (ĝ_W (r, p), ĝ_b (p,), ĝ_c (r,), vᵏ): vᵏ are the chains to continue for PCD.
    """
    h_pos = rbm.hidden_probs(v)                                          # (B, r)
    v_neg = rbm.gibbs(v if chains is None else chains, k, generator=generator)   # (S, p)
    h_neg = rbm.hidden_probs(v_neg)                                      # (S, r)
    g_w = h_pos.T @ v / v.shape[0] - h_neg.T @ v_neg / v_neg.shape[0]    # (r, p)
    g_b = v.mean(0) - v_neg.mean(0)                                      # (p,)
    g_c = h_pos.mean(0) - h_neg.mean(0)                                  # (r,)
    return g_w, g_b, g_c, v_neg


def _cd_update(params, velocity, v: Tensor, chains: Tensor | None, *, k: int, lr: float, mu: float, lam: float,
               generator) -> Tensor:
    """One update θ ← θ + Δθ, Δθ = μΔθ + η(ĝ − λθ) (λ on W only), in place, with the statistics of
    :func:`cd_gradient` accumulated straight into Δθ (or θ when μ = 0) by fused matmuls; the
    random draws come in the same order as :func:`cd_gradient`'s. Returns vᵏ (S, p)."""
    W, b, c = params                                                     # (r, p), (p,), (r,)
    h_pos = torch.addmm(c, v, W.T).sigmoid_()                            # (B, r)
    v_neg = v if chains is None else chains
    for _ in range(k):
        h = torch.bernoulli(torch.addmm(c, v_neg, W.T).sigmoid_(), generator=generator)      # (S, r)
        v_neg = torch.bernoulli(torch.addmm(b, h, W).sigmoid_(), generator=generator)        # (S, p)
    h_neg = torch.addmm(c, v_neg, W.T).sigmoid_()                        # (S, r)
    step = params if velocity is None else [d.mul_(mu) for d in velocity]
    if lam:
        step[0].add_(W, alpha=-lr * lam)
    a, s = lr / v.shape[0], lr / v_neg.shape[0]
    step[0].addmm_(h_pos.T, v, alpha=a).addmm_(h_neg.T, v_neg, alpha=-s)  # η(h⁺ᵀv/B − h⁻ᵀvᵏ/S)
    step[1].add_(v.sum(0), alpha=a).add_(v_neg.sum(0), alpha=-s)
    step[2].add_(h_pos.sum(0), alpha=a).add_(h_neg.sum(0), alpha=-s)
    if velocity is not None:
        for p, d in zip(params, velocity):
            p.add_(d)
    return v_neg


def _check_options(k, epochs, batch_size, lr, momentum, weight_decay) -> None:
    check_positive_int("k (Gibbs steps)", k)
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_number("lr", lr, low=0.0, low_open=True)
    if check_number("momentum", momentum, low=0.0) >= 1:
        raise ConfigError(f"momentum must be in [0, 1), got {momentum!r}")
    check_number("weight_decay", weight_decay, low=0.0)


def train_rbm(rbm: BernoulliRBM, x: Tensor, *, epochs: int = 10, batch_size: int = 10,
              lr: float = 0.1, k: int = 1, persistent: bool = False, momentum: float = 0.0,
              weight_decay: float = 0.0, shuffle: bool = True, seed: int | None = None,
              generator: torch.Generator | None = None,
              callback: Callable[[int, BernoulliRBM, dict], None] | None = None,
              verbose: bool = False) -> RBMHistory:
    """Train ``rbm`` in place on the rows of x by CD-k, or PCD-k with ``persistent=True``.

    Each epoch runs over x in minibatches (shuffled by the generator unless ``shuffle=False``, which
    keeps x's order, as scikit-learn does) and makes one update per minibatch, as the module
    docstring writes it. PCD keeps ``batch_size`` chains, started from uniform random bits.

    Args:
        rbm: the :class:`~deepnets.nn.BernoulliRBM` to train (its parameters change in place).
        x: training data (N, p), binary or probabilities in [0, 1].
        epochs: passes over x (default 10, as scikit-learn's ``n_iter``).
        batch_size: examples per update (default 10, as scikit-learn).
        lr: the learning rate η (default 0.1, as scikit-learn's ``learning_rate``).
        k: Gibbs steps per update (default 1).
        persistent: PCD (Tieleman 2008) instead of CD (default False).
        momentum: μ in [0, 1) (default 0). weight_decay: λ ≥ 0 on W (default 0).
        shuffle: reshuffle the minibatches each epoch (default True).
        seed, generator: the randomness (shuffles, chains, Gibbs samples); a seed makes a fresh
            generator; both None draw from torch's global generator.
        callback: called after each epoch as ``callback(epoch, rbm, logs)``, logs =
            {"epoch", "pseudo_likelihood"}; it may raise StopIteration to end training early.
        verbose: log each epoch's logs at INFO level on the ``deepnets.train.rbm`` logger.
    """
    _check_options(k, epochs, batch_size, lr, momentum, weight_decay)
    x = check_probabilities(x).to(rbm.weight.dtype)
    if x.shape[1] != rbm.n_visible:
        raise DataError(f"x has {x.shape[1]} columns but the RBM has {rbm.n_visible} visible units")
    x = x.to(rbm.weight.device)
    if seed is not None:
        generator = torch.Generator(device=x.device).manual_seed(seed)
    n = x.shape[0]
    params = (rbm.weight, rbm.visible_bias, rbm.hidden_bias)
    velocity = [torch.zeros_like(p) for p in params] if momentum else None
    chains = None
    if persistent:
        chains = torch.bernoulli(torch.full((min(batch_size, n), rbm.n_visible), 0.5, dtype=x.dtype,
                                            device=x.device), generator=generator)
    history = RBMHistory()
    for epoch in range(epochs):
        xs = x[torch.randperm(n, generator=generator, device=x.device)] if shuffle else x  # (N, p), this epoch's order
        with torch.no_grad():
            for start in range(0, n, batch_size):
                v = xs[start:start + batch_size]                                # (B, p)
                v_neg = _cd_update(params, velocity, v, chains, k=k, lr=lr, mu=momentum,
                                   lam=weight_decay, generator=generator)
                if persistent:
                    chains = v_neg
                history.updates += 1
        history.epochs = epoch + 1
        if callback is None and not verbose:
            continue
        logs = {"epoch": epoch, "pseudo_likelihood": _epoch_pseudo_likelihood(rbm, x, epoch)}
        history.pseudo_likelihood.append(logs["pseudo_likelihood"])
        if verbose:
            log.info("RBM epoch %d: pseudo-likelihood %.4f", epoch + 1, logs["pseudo_likelihood"])
        if callback is not None:
            try:
                callback(epoch, rbm, logs)
            except StopIteration:
                break
    history.chains = chains
    return history


@torch.no_grad()
def _epoch_pseudo_likelihood(rbm: BernoulliRBM, x: Tensor, epoch: int) -> float:
    """The mean of scikit-learn's one-bit estimate over x, its bits from a generator of its own
    (seeded by the epoch), so asking for logs never changes the training's random stream."""
    g = torch.Generator(device=x.device).manual_seed(epoch)
    value = float(rbm.pseudo_likelihood(x, generator=g).mean())
    return value if math.isfinite(value) else float("nan")


def rbm_layer(x: Tensor, n_hidden: int, *, activation="logistic", seed: int = 0, epochs: int = 10, lr: float = 0.1,
              batch_size: int = 10, k: int = 1, persistent: bool = True, momentum: float = 0.5,
              weight_decay: float = 2e-4) -> tuple[Tensor, Tensor, Tensor]:
    """One layer of greedy layer-wise pretraining (Hinton, Osindero & Teh 2006): an RBM on x.

    Trains a :class:`~deepnets.nn.BernoulliRBM` with ``n_hidden`` hidden units on x (values in
    [0, 1]: the data, or the codes of the RBM below) by :func:`train_rbm`, and returns the
    weights of the deep net's layer h = g(W x + w_0) whose output is the RBM's p(h = 1 | x) =
    σ(W_rbm x + c): for the logistic g(y) = σ(α y), W = W_rbm / α and w_0 = c / α. This is
    ``kind = "rbm"`` of :data:`deepnets.train.pretrain.PRETRAINERS` and honours its contract.

    Args:
        x: (N, p) inputs in [0, 1]. n_hidden: the hidden units r.
        activation: the layer's g; an RBM's hidden units are logistic, so only ``"logistic"``
            (any α) is accepted (a ConfigError names another).
        seed: the initial weights N(0, 0.01²) and the training's draws. Default 0.
        epochs, lr, batch_size, k, persistent, momentum, weight_decay: as :func:`train_rbm`;
            defaults PCD-1 (as scikit-learn), 10 epochs of batch 10, η = 0.1, with the momentum
            μ = 0.5 and weight decay λ = 2e-4 of Hinton & Salakhutdinov's (2006) pretraining (on
            the digits with 5% of the labels, 20 epochs of batch 10 then fine-tuning gave a test
            accuracy of 0.85-0.90 with them, 0.84-0.87 without, over 3 seeds).

    Returns:
        (weight (n_hidden, p), bias (n_hidden,), codes p(h = 1 | x) (N, n_hidden)), detached, in
        x's dtype; the codes lie in (0, 1), a valid input to the next RBM.

    Reference: Hinton, Osindero & Teh 2006, "A fast learning algorithm for deep belief nets",
    Neural Computation 18(7); Bengio, Lamblin, Popovici & Larochelle 2007, "Greedy layer-wise
    training of deep networks", NIPS.
    """
    g = get_activation(activation)
    if not isinstance(g, Logistic):
        raise ConfigError(f"pretraining kind 'rbm' trains logistic units, p(h = 1 | v) = σ(Wv + c), so the layer's "
                          f"activation must be 'logistic', got {g.name!r} (kind 'autoencoder' takes any)")
    check_positive_int("n_hidden", n_hidden)
    try:
        x = check_probabilities(x)
    except DataError as e:
        raise DataError(f"{e}; in an experiment file, data.scale = \"range\" maps each input to scale_range "
                        "(default [0.15, 0.85])") from None
    rbm = BernoulliRBM(x.shape[1], n_hidden, generator=torch.Generator().manual_seed(seed), dtype=x.dtype,
                       device=x.device)
    train_rbm(rbm, x, epochs=epochs, batch_size=batch_size, lr=lr, k=k, persistent=persistent,
              momentum=momentum, weight_decay=weight_decay, seed=seed + 1)
    with torch.no_grad():
        codes = rbm.transform(x)                                         # (N, r)
        alpha = float(g.alpha)
        return rbm.weight.detach() / alpha, rbm.hidden_bias.detach() / alpha, codes.detach()
