"""The Laplace approximation of a trained network: posterior, predictive, samples."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..curvature.jacobian import per_sample_jacobian
from ..errors import ConfigError, DataError
from ..losses import infer_likelihood, likelihood_model, likelihood_name
from .posterior import POSTERIORS
from .predictive import moderated, monte_carlo, regression_covariance

PREDICTIVE_METHODS = ("probit", "mc")


class Laplace:
    """Gaussian posterior N(w_MAP, H⁻¹) around trained weights, H = Σ_n G_n Λ_n G_nᵀ + diag(α).

    Predictive for regression: ẑ(x) with Σ_z(x) = diag(1/β) + ∇fᵀ H⁻¹ ∇f; for classification
    the probit-moderated (binary) or mean-field (softmax) probabilities, or a Monte Carlo average
    over the linearised network (see :mod:`deepnets.bayes.predictive`).

    Args:
        model: the trained network (weights = w_MAP). The posterior is over the activations a
            that enter the likelihood (:func:`deepnets.losses.likelihood_model`): the outputs for
            ``"lms"``, the logits for ``"cross_entropy"`` (a deepnets MLP with a softmax or
            logistic output is taken through its logits; any other module outputs them).
        likelihood: ``"lms"`` (alias ``"regression"``: Gaussian noise of precision β) or
            ``"cross_entropy"`` (softmax over C > 1 logits, Bernoulli on one; aliases
            ``"multiclass"``, ``"binary"``), as :func:`deepnets.fit` names them. Default: from
            the model (:func:`deepnets.losses.infer_likelihood`: an MLP's output, ``"lms"`` for a
            plain module).
        approx: ``"full"`` (default), ``"diagonal"``, ``"kron"`` or ``"last_layer"``
            (:data:`~deepnets.bayes.posterior.POSTERIORS`).
        alpha: prior precision α: a scalar; or a vector over all P trainable weights (e.g.
            :attr:`EvidenceResult.weight_alpha`) for ``full``/``diagonal``/``last_layer`` (the last
            takes its own entries); for ``kron`` a scalar or one per Linear layer.
        beta: output noise precision β = 1/σ² (scalar or (C,)); regression only.
        chunk_size: samples per chunk of the per-sample Jacobian for ``full``, ``diagonal`` and
            ``last_layer`` (default: chunks of at most 2²² Jacobian entries): H is summed chunk by
            chunk, so the memory does not grow with the number of samples. (``kron`` needs only
            the Jacobian by the biases.)

    Reference: MacKay 1992 ("A practical Bayesian framework for backprop networks");
    Daxberger et al. 2021 ("Laplace Redux").

    >>> net = torch.nn.Linear(2, 1)
    >>> la = Laplace(net, alpha=1.0, beta=4.0).fit(torch.randn(20, 2))
    >>> mean, cov = la.predict(torch.zeros(3, 2))
    >>> cov.shape
    torch.Size([3, 1, 1])
    """

    def __init__(self, model: nn.Module, likelihood: str | None = None, *, approx: str = "full",
                 alpha=1.0, beta=1.0, chunk_size: int | None = None):
        if approx not in POSTERIORS:
            raise ConfigError(f"unknown approx {approx!r}; expected one of {sorted(POSTERIORS)}")
        self.model = model
        self.asked = likelihood or infer_likelihood(model)  # the name given (checked against C at fit)
        self.likelihood = likelihood_name(self.asked)
        self.f = likelihood_model(model, self.likelihood)
        self.approx = approx
        self.alpha, self.beta = alpha, beta
        if chunk_size is not None and chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
        self.posterior = POSTERIORS[approx]()
        self.posterior.chunk_size = chunk_size

    def fit(self, x: Tensor) -> "Laplace":
        """Build H at the training inputs x (N, ...); the labels do not enter the Gauss-Newton H."""
        if x.ndim < 2 or x.shape[0] == 0:
            raise DataError(f"expected training inputs of shape (N, features), got {tuple(x.shape)}")
        with torch.no_grad():
            outputs = self.f(x)  # (N, C)
        self.posterior.fit(self.f, x, loss=self.asked, outputs=outputs,
                           beta=self.beta, alpha=self.alpha)
        return self

    def _check_fitted(self):
        if not hasattr(self.posterior, "layout"):
            raise ConfigError("call Laplace.fit(x_train) first")

    def functional_covariance(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(a_MAP(x), S(x))``: the activations (N, C) and S = G(x)ᵀ H⁻¹ G(x), (N, C, C)."""
        self._check_fitted()
        with torch.no_grad():
            mu = self.f(x).reshape(x.shape[0], -1)  # (N, C)
        return mu, self.posterior.covariance(self.f, x)

    def predict(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Regression predictive ``(ẑ(x) (N, C), Σ_z(x) (N, C, C))``, Σ_z = diag(1/β) + ∇fᵀ H⁻¹ ∇f."""
        if self.likelihood != "lms":
            raise ConfigError(f"predict() is the regression ('lms') predictive; this Laplace has likelihood "
                              f"{self.likelihood!r}: use predict_proba()")
        mu, S = self.functional_covariance(x)
        return mu, regression_covariance(S, self.beta)

    def sample_outputs(self, x: Tensor, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """Linearised output samples a_MAP(x) + G(x)ᵀ δ, δ ~ N(0, H⁻¹): shape (n, N, C)."""
        self._check_fitted()
        J, _ = per_sample_jacobian(self.f, x, names=self.posterior.layout.names)  # (N, C, P)
        delta = self.posterior.sample(n, generator).to(J.dtype)  # (n, P)
        with torch.no_grad():
            mu = self.f(x).reshape(x.shape[0], -1)  # (N, C)
        return mu + torch.einsum("ncp,sp->snc", J, delta)  # (n, N, C)

    def predict_proba(self, x: Tensor, method: str = "probit", *, n_samples: int = 1000,
                      generator: torch.Generator | None = None) -> Tensor:
        """Class probabilities (N, K): probit/mean-field moderation or a Monte Carlo average.

        K = 2 (p(0), p(1)) for one logistic output, K = C for a softmax.
        """
        if self.likelihood != "cross_entropy":
            raise ConfigError(f"predict_proba() needs the 'cross_entropy' likelihood; this Laplace has "
                              f"{self.likelihood!r}: use predict()")
        if method not in PREDICTIVE_METHODS:
            raise ConfigError(f"unknown method {method!r}; expected one of {list(PREDICTIVE_METHODS)}")
        if method == "mc":
            return monte_carlo(self.sample_outputs(x, n_samples, generator=generator))
        mu, S = self.functional_covariance(x)
        return moderated(mu, S)
