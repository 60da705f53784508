"""Bayesian neural networks by the Laplace approximation and the evidence framework.

- :class:`Laplace` -- N(w_MAP, H⁻¹) with a registry of approximations (:data:`POSTERIORS`:
  full, diagonal, kron, last_layer), the regression predictive Σ_z = diag(1/β) + ∇fᵀ H⁻¹ ∇f and
  probit / mean-field moderated class probabilities, Monte Carlo as a check
- :mod:`~deepnets.bayes.predictive` -- the pure predictive formulas
- :func:`evidence_ard` -- MacKay's re-estimation of α (one per input's outgoing weights: ARD)
  and β (per output) alternating with MAP training, Gamma hyper-priors
- :func:`gradient_ard` -- the lecture's ARD objective l(α, β) (or the log evidence) minimised by
  gradient over ln α, ln β, alternating with MAP training (:mod:`~deepnets.bayes.ard_objective`)
- :func:`input_sensitivity` -- the RMS derivative of the outputs by each input (a relevance that
  does not depend on how the weights split a linear effect between layers)
- :mod:`~deepnets.bayes.calibration` -- NLL, Brier score, ECE, reliability bins

Their figures (the reliability diagram, the ARD relevance bars) are in :mod:`deepnets.report`.

The likelihoods (``"lms"``, ``"cross_entropy"``: the names :func:`deepnets.fit` takes), what a
model's outputs are and its logits, are those of :mod:`deepnets.losses`.
"""

from .calibration import (brier, calibration_report, class_probabilities, ece, nll,
                          reliability_bins)
from .ard_objective import ard_objective, gradient_ard
from .evidence import EvidenceResult, ard_groups, evidence_ard, reestimate
from .laplace import Laplace
from .sensitivity import input_sensitivity
from .posterior import (POSTERIORS, DiagonalPosterior, FullPosterior, KronPosterior,
                        LastLayerPosterior)
from .predictive import (mean_field_softmax, moderated, monte_carlo, probit,
                         regression_covariance)

__all__ = [
    "Laplace",
    "POSTERIORS", "FullPosterior", "DiagonalPosterior", "KronPosterior", "LastLayerPosterior",
    "evidence_ard", "EvidenceResult", "ard_groups", "reestimate", "gradient_ard", "ard_objective",
    "input_sensitivity",
    "nll", "brier", "ece", "reliability_bins", "calibration_report", "class_probabilities",
    "regression_covariance", "probit", "mean_field_softmax", "moderated", "monte_carlo",
]
