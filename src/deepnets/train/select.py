"""Model selection: k-fold and blocked (forward-chaining, for time series) cross-validation, the
.632 bootstrap, and the prediction error PE.

Every estimator works on an *experiment*: any function ``experiment(train, test) -> errors``
that trains a fresh model on the pair ``train = (x, y)`` and returns the per-sample errors e_n on
the pair ``test`` (a tensor (N_test,)). :func:`fit_experiment` makes one from a model builder and
``fit``'s arguments, with e_n = Σ_i (z_i^n − ẑ_i^n)², the squared error the lecture's E sums.

Network size from the prediction error (the lecture; Akaike 1970, Barron 1984, Moody 1992):

    PE = 2E/N + 2 N_W σ_e² / N,   E = ½ Σ_n Σ_i (z_i^n − ẑ_i^n)²,

2E/N is the training error per sample and 2 N_W σ_e²/N the optimism of a fit with N_W weights to
targets with noise variance σ_e². σ_e² is unknown; :func:`select_hidden_size` estimates it, as is
usual for such criteria, by the residual variance of the largest network tried (the least biased
one): σ̂_e² = 2E_max / (N·C − N_W,max) when N·C > N_W,max, else 2E_max / (N·C) (C outputs).
Give ``sigma2=`` to use a known noise variance instead (the lecture calls σ_e² the noise
variance; with noisy-input training of known variance, or targets of known noise, pass it). The
estimate is only as good as the largest network: one too small to fit the signal inflates σ̂_e²
and PE then favours small networks; one with N_W near N·C leaves few degrees of freedom.

>>> import torch
>>> folds = kfold_indices(10, 3, seed=0)
>>> sorted(torch.cat([test for _, test in folds]).tolist()) == list(range(10))
True
>>> prediction_error(E=5.0, N=100, n_weights=10, sigma2=0.2)
0.14
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from .._registry import check_positive_int, eval_mode
from ..errors import ConfigError, DataError
from ..losses import code_targets
from .loop import FewExamplesWarning, fit

__all__ = [
    "kfold_indices", "blocked_indices", "CV_SCHEMES", "cross_validate", "CVResult", "bootstrap_indices", "bootstrap_632", "err632",
    "loo_bootstrap_error", "Bootstrap632Result", "prediction_error", "noise_variance", "squared_errors",
    "fit_experiment", "select_hidden_size", "SizeRow", "n_weights",
]

Experiment = Callable[[tuple, tuple], Tensor]

#: Efron's weight: a bootstrap sample holds a given point with probability 1 − (1 − 1/N)^N → 0.632
W632 = 1.0 - math.exp(-1.0)


def n_weights(model: torch.nn.Module) -> int:
    """N_W, the number of trainable weights (biases included)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _check_pair(data, what: str):
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, Tensor) for t in data)):
        raise DataError(f"{what} must be a pair of tensors (x, y), got {type(data).__name__}")
    x, y = data
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise DataError(f"{what}: {x.shape[0]} inputs but {y.shape[0]} targets (need the same, > 0)")
    return x, y


def kfold_indices(n: int, k: int, *, seed: int = 0) -> list[tuple[Tensor, Tensor]]:
    """``k`` pairs ``(train_idx, test_idx)``: a random permutation of 0..n−1 cut into k folds of
    sizes ⌊n/k⌋ or ⌈n/k⌉; each sample is in exactly one test fold.

    Args:
        n: the number of samples.
        k: the number of folds, 2 <= k <= n (k = n is leave-one-out).
        seed: seed of the permutation.
    """
    if not isinstance(k, int) or not 2 <= k <= n:
        raise ConfigError(f"k-fold cross-validation needs 2 <= k <= N = {n}, got k = {k!r}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    folds = torch.tensor_split(perm, k)
    return [(torch.cat([f for j, f in enumerate(folds) if j != i]), folds[i]) for i in range(k)]


def blocked_indices(n: int, k: int) -> list[tuple[Tensor, Tensor]]:
    """``k`` pairs ``(train_idx, test_idx)`` of blocked (forward-chaining) cross-validation for
    samples in time order: 0..n−1 cut into k + 1 contiguous blocks B_0, ..., B_k of sizes
    ⌈n/(k+1)⌉ (the first n mod (k+1) blocks) or ⌊n/(k+1)⌋ (the rest); fold j = 1..k trains on
    B_0 ∪ ... ∪ B_{j−1} and tests on B_j. Every training index precedes every test index (no
    fold trains on the future); the training sets grow, and B_0 is never a test block.

    Args:
        n: the number of samples, in time order.
        k: the number of folds, 1 <= k <= n − 1.

    >>> [(tr.tolist(), te.tolist()) for tr, te in blocked_indices(7, 3)]
    [([0, 1], [2, 3]), ([0, 1, 2, 3], [4, 5]), ([0, 1, 2, 3, 4, 5], [6])]

    Reference: the rolling-origin evaluation of forecasts (Tashman 2000, Int. J. Forecasting
    16:437-450); Bergmeir & Benítez (2012), Information Sciences 191:192-213, on blocked CV.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n - 1:
        raise ConfigError(f"blocked cross-validation needs 1 <= k <= N - 1 = {n - 1}, got k = {k!r}")
    blocks = torch.tensor_split(torch.arange(n), k + 1)
    return [(torch.arange(int(blocks[j][0])), blocks[j]) for j in range(1, k + 1)]


#: cross_validate's schemes: how the folds are cut
CV_SCHEMES = ("kfold", "blocked")


@dataclass
class CVResult:
    """Cross-validation: ``error`` = the mean of e_n over the samples tested, each predicted by
    a model that did not see it (k-fold: every sample; blocked: all but the first block, whose
    ``per_sample`` entries are NaN)."""

    error: float
    fold_errors: list[float]
    per_sample: Tensor


def cross_validate(experiment: Experiment, data, k: int = 5, *, seed: int = 0, scheme: str = "kfold") -> CVResult:
    """k-fold or blocked (forward-chaining) cross-validation of ``experiment`` on ``data = (x, y)``.

    k-fold (``scheme="kfold"``, :func:`kfold_indices`): CV = (1/N) Σ_{j=1}^{k} Σ_{n ∈ F_j}
    e_n(W_{−j}), W_{−j} trained on every fold but F_j. Blocked (``scheme="blocked"``, for rows in
    time order, :func:`blocked_indices`): CV = (1/(N − |B_0|)) Σ_{j=1}^{k} Σ_{n ∈ B_j} e_n(W_{<j}),
    W_{<j} trained on the blocks before B_j only, so no model sees the future of what it predicts.

    Args:
        experiment: ``experiment(train, test) -> per-sample errors on test`` (see the module).
        data: the pair ``(x, y)`` (blocked: rows in time order).
        k: the number of folds. Default 5.
        seed: seed of the k-fold permutation (blocked folds are not random).
        scheme: ``"kfold"`` (default) or ``"blocked"``.

    Reference: Stone 1974, "Cross-validatory choice and assessment of statistical predictions".
    """
    if scheme not in CV_SCHEMES:
        raise ConfigError(f"cross-validation scheme must be one of {list(CV_SCHEMES)}, got {scheme!r}")
    x, y = _check_pair(data, "cross-validation data")
    folds = kfold_indices(x.shape[0], k, seed=seed) if scheme == "kfold" else blocked_indices(x.shape[0], k)
    per_sample = torch.full((x.shape[0],), math.nan, dtype=torch.float64)
    fold_errors, once = [], FewExamplesOnce()
    for tr, te in folds:
        e = _errors(experiment, (x[tr], y[tr]), (x[te], y[te]), once=once)
        per_sample[te] = e
        fold_errors.append(float(e.mean()))
    tested = torch.cat([te for _, te in folds])
    return CVResult(float(per_sample[tested].mean()), fold_errors, per_sample)


class FewExamplesOnce:
    """Lets the first :class:`FewExamplesWarning` of many training runs through, and no later one.

    ``with once(): fit(...)`` for each run: the warning is given once per estimate, not per fold.
    """

    def __init__(self):
        self.warned = False

    @contextlib.contextmanager
    def __call__(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            if issubclass(w.category, FewExamplesWarning):
                if self.warned:
                    continue
                self.warned = True
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def _errors(experiment, train, test, *, once: FewExamplesOnce) -> Tensor:
    with once():
        e = torch.as_tensor(experiment(train, test), dtype=torch.float64).reshape(-1)
    if e.shape[0] != test[0].shape[0]:
        raise DataError(f"the experiment must return one error per test sample: {test[0].shape[0]} expected, "
                        f"{e.shape[0]} came")
    return e


def bootstrap_indices(n: int, B: int, *, seed: int = 0) -> Tensor:
    """B bootstrap samples of 0..n−1, drawn with replacement, (B, n)."""
    check_positive_int("the number of bootstrap samples B", B)
    return torch.randint(n, (B, n), generator=torch.Generator().manual_seed(seed))


def loo_bootstrap_error(errors: Tensor, in_bag: Tensor) -> float:
    """Efron's ε̂0, the leave-one-out bootstrap error.

    ε̂0 = (1/N') Σ_n (1/|C_n|) Σ_{b ∈ C_n} e_n(W_b), C_n the replicates whose sample does not hold
    n, N' the number of samples with C_n non-empty.

    Args:
        errors: e_n(W_b), (B, N); entries where ``in_bag`` is True are ignored.
        in_bag: True where sample n is in bootstrap sample b, (B, N).
    """
    out = ~in_bag
    counts = out.sum(0)  # |C_n|, (N,)
    seen = counts > 0
    if not bool(seen.any()):
        raise DataError("no sample was left out of any bootstrap sample: use more replicates B")
    sums = torch.where(out, errors.double(), torch.zeros((), dtype=torch.float64)).sum(0)  # (N,)
    return float((sums[seen] / counts[seen]).mean())


def err632(apparent: float, eps0: float) -> float:
    """Efron's .632 estimate: err_.632 = 0.368 · err_app + 0.632 · ε̂0 (weight 1 − e^{−1} ≈ 0.632)."""
    return (1.0 - W632) * apparent + W632 * eps0


@dataclass
class Bootstrap632Result:
    """``error`` = err_.632; ``apparent`` = training error on all the data; ``eps0`` = ε̂0."""

    error: float
    apparent: float
    eps0: float
    B: int


def bootstrap_632(experiment: Experiment, data, B: int = 20, *, seed: int = 0) -> Bootstrap632Result:
    """The .632 bootstrap estimate of the prediction error of ``experiment`` on ``data = (x, y)``.

    err_.632 = 0.368 · err_app + 0.632 · ε̂0: err_app = (1/N) Σ_n e_n(W) with W trained on all
    the data; ε̂0 from :func:`loo_bootstrap_error` over B models trained on bootstrap samples,
    each scored on the samples it did not see.

    Args:
        experiment: ``experiment(train, test) -> per-sample errors on test``.
        data: the pair ``(x, y)``.
        B: the number of bootstrap replicates. Default 20 (Efron & Tibshirani use 50-200).
        seed: seed of the bootstrap samples.

    Reference: Efron 1983, "Estimating the error rate of a prediction rule: improvement on
    cross-validation", JASA 78; Efron & Tibshirani 1993, "An Introduction to the Bootstrap", §17.
    """
    x, y = _check_pair(data, "bootstrap data")
    N = x.shape[0]
    once = FewExamplesOnce()
    apparent = float(_errors(experiment, (x, y), (x, y), once=once).mean())
    idx = bootstrap_indices(N, B, seed=seed)  # (B, N)
    in_bag = torch.zeros(B, N, dtype=torch.bool)
    in_bag[torch.arange(B).unsqueeze(1), idx] = True
    errors = torch.zeros(B, N, dtype=torch.float64)
    for b in range(B):
        out = torch.nonzero(~in_bag[b]).flatten()
        if out.numel():
            errors[b, out] = _errors(experiment, (x[idx[b]], y[idx[b]]), (x[out], y[out]), once=once)
    eps0 = loo_bootstrap_error(errors, in_bag)
    return Bootstrap632Result(err632(apparent, eps0), apparent, eps0, B)


def prediction_error(E: float, N: int, n_weights: int, sigma2: float) -> float:
    """PE = 2E/N + 2 N_W σ_e² / N (the lecture; Akaike's FPE / Barron's PSE for least squares).

    Args:
        E: the training cost ½ Σ_n Σ_i (z_i^n − ẑ_i^n)².
        N: the number of training samples.
        n_weights: N_W.
        sigma2: σ_e², the noise variance (see :func:`noise_variance`).
    """
    if N <= 0:
        raise ConfigError(f"N must be positive, got {N}")
    return 2.0 * E / N + 2.0 * n_weights * sigma2 / N


def noise_variance(E: float, N: int, n_outputs: int, n_weights: int) -> float:
    """σ̂_e² from a large network's residuals: 2E / (N·C − N_W), or 2E / (N·C) when N·C <= N_W."""
    dof = N * n_outputs - n_weights
    return 2.0 * E / (dof if dof > 0 else N * n_outputs)


@torch.no_grad()
def squared_errors(model: torch.nn.Module, x: Tensor, y: Tensor, *, coding: str = "one_hot") -> Tensor:
    """e_n = Σ_i (z_i^n − ẑ_i^n)², (N,); class labels are coded (``one_hot`` or ``pm1``) first."""
    with eval_mode(model):
        pred = model(x)
    z = y if y.is_floating_point() else code_targets(y, pred.shape[1], coding, pred.dtype)
    return ((z.reshape(pred.shape) - pred) ** 2).sum(1)  # (N,)


def fit_experiment(build_model: Callable[[], torch.nn.Module], *, coding: str = "one_hot", **fit_kwargs) -> Experiment:
    """An experiment for :func:`cross_validate` / :func:`bootstrap_632`: ``build_model()`` then
    ``fit(model, train, **fit_kwargs)``, scored by :func:`squared_errors` on the test pair."""
    def experiment(train, test):
        model = build_model()
        fit(model, train, **fit_kwargs)
        return squared_errors(model, *test, coding=coding)

    return experiment


@dataclass
class SizeRow:
    """One hidden-layer size: N_W, training error 2E/N, held-out error, PE (σ_e² shared by all rows)."""

    size: int
    weights: int
    train_error: float
    heldout_error: float
    pe: float = math.nan


def select_hidden_size(build_model: Callable[[int], torch.nn.Module], train, sizes: Sequence[int], *,
                       validation=None, cv: int = 0, bootstrap: int = 0, sigma2: float | None = None,
                       coding: str = "one_hot", seed: int = 0, cv_scheme: str = "kfold", **fit_kwargs) -> tuple[list[SizeRow], float]:
    """Train one network per hidden-layer size and tabulate training error, held-out error and PE.

    For each size h: W_h = fit(build_model(h), train); training error 2E/N = (1/N) Σ_n e_n(W_h);
    held-out error (1/N_val) Σ e_n on ``validation``, or the ``cv``-fold cross-validation error,
    or the .632 bootstrap estimate over ``bootstrap`` replicates;
    PE = 2E/N + 2 N_W σ_e²/N with σ_e² = ``sigma2`` or, by default, :func:`noise_variance` of
    the largest size (see the module docstring).

    Args:
        build_model: ``build_model(h) -> model`` with h hidden units.
        train: the training pair ``(x, y)``.
        sizes: the hidden-layer sizes to try.
        validation: a held-out pair; or give ``cv`` >= 2 for k-fold cross-validation on ``train``,
            or ``bootstrap`` = B >= 1 for the .632 bootstrap with B replicates (one of the three).
        sigma2: a known noise variance σ_e² (default: estimated from the largest network).
        coding: how class labels become targets for the squared error. Default "one_hot".
        seed: fit's seed and the folds' seed.
        cv_scheme: ``"kfold"`` (default) or ``"blocked"`` (forward chaining, for rows in time
            order): see :func:`cross_validate`.
        **fit_kwargs: passed to :func:`~deepnets.train.loop.fit`.

    Returns:
        ``(rows, sigma2)``: one :class:`SizeRow` per size (in the order given) and the σ_e² used.
    """
    x, y = _check_pair(train, "training data")
    sizes = [int(h) for h in sizes]
    if not sizes or any(h < 1 for h in sizes):
        raise ConfigError(f"hidden-layer sizes must be positive integers, got {sizes}")
    if cv_scheme not in CV_SCHEMES:
        raise ConfigError(f"cross-validation scheme must be one of {list(CV_SCHEMES)}, got {cv_scheme!r}")
    if sum((validation is not None, cv >= 2, bootstrap >= 1)) != 1:
        raise ConfigError("give exactly one held-out estimate: a validation pair, cv >= 2 (k-fold "
                          "cross-validation) or bootstrap >= 1 (the .632 bootstrap)")
    N = x.shape[0]
    rows, E_of, once = [], {}, FewExamplesOnce()
    for h in sizes:
        model = build_model(h)
        with once():
            fit(model, (x, y), seed=seed, **fit_kwargs)
        e_train = squared_errors(model, x, y, coding=coding)
        with torch.no_grad():
            C = int(model(x[:1]).shape[1])  # outputs
        E_of[h] = (0.5 * float(e_train.sum()), n_weights(model), C)
        if validation is not None:
            held = float(squared_errors(model, *_check_pair(validation, "validation data"), coding=coding).mean())
        else:
            exp = fit_experiment(lambda h=h: build_model(h), coding=coding, seed=seed, **fit_kwargs)
            held = (cross_validate(exp, (x, y), cv, seed=seed, scheme=cv_scheme).error if cv >= 2
                    else bootstrap_632(exp, (x, y), bootstrap, seed=seed).error)
        rows.append(SizeRow(h, E_of[h][1], 2.0 * E_of[h][0] / N, held))
    if sigma2 is None:
        E_max, W_max, C = E_of[max(sizes)]
        sigma2 = noise_variance(E_max, N, C, W_max)
    for r in rows:
        r.pe = prediction_error(r.train_error * N / 2.0, N, r.weights, sigma2)
    return rows, sigma2
