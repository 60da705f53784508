"""Bayesian neural networks by the Laplace approximation and the evidence framework.

- :class:`Laplace` -- N(w_MAP, H⁻¹) with a registry of approximations (:data:`POSTERIORS`:
  full, diagonal, kron, last_layer), the regression predictive Σ_z = diag(1/β) + ∇fᵀ H⁻¹ ∇f and
  probit / mean-field moderated class probabilities, Monte Carlo as a check
- :mod:`~deepnets.bayes.predictive` -- the pure predictive formulas
"""

from .laplace import Laplace
from .logits import LIKELIHOODS, LogitView, infer_likelihood, logit_model
from .posterior import (POSTERIORS, DiagonalPosterior, FullPosterior, KronPosterior,
                        LastLayerPosterior)
from .predictive import (mean_field_softmax, moderated, monte_carlo, probit,
                         regression_covariance)

__all__ = [
    "Laplace",
    "POSTERIORS", "FullPosterior", "DiagonalPosterior", "KronPosterior", "LastLayerPosterior",
    "LIKELIHOODS", "LogitView", "logit_model", "infer_likelihood",
    "regression_covariance", "probit", "mean_field_softmax", "moderated", "monte_carlo",
]
