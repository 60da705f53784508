"""Curvature of a network's error surface: Jacobians, outer-product Hessians, their inverse.

Shared by Optimal Brain Surgeon pruning (:mod:`deepnets.prune`), the extended Kalman filter
optimizers (:mod:`deepnets.optim.ekf`) and the Laplace posterior (:mod:`deepnets.bayes`).

- :func:`per_sample_jacobian`, :func:`output_jacobian` -- G = ∂ẑ/∂w as (N, C, P);
  :func:`jacobian_chunks` -- the same a chunk of samples at a time
- :class:`ParamLayout` -- flat vector w ↔ named tensors; per-layer / per-neuron index blocks
- :func:`gauss_newton`, :func:`gauss_newton_factors` -- Q = Σ G Λ G^T, Λ from the loss names of
  :mod:`deepnets.losses` ("lms", "cross_entropy"); :func:`accumulate_gauss_newton` -- Q (or its
  diagonal) summed chunk by chunk from a model and its inputs, in memory independent of N
- :func:`make_positive_definite` -- Q + μI when Q is not positive definite
- :func:`woodbury_inverse` -- Q^{-1} by the Hassibi & Stork recursion
- :func:`diagonal_curvature`, :func:`block_curvature` -- diagonal / block approximations
- :func:`hessian_vector_product` -- exact Hv by double backward
"""

from .approx import assemble_blocks, block_curvature, diagonal_curvature
from .gauss_newton import (accumulate_gauss_newton, gauss_newton, gauss_newton_factors,
                           make_positive_definite)
from .hvp import hessian_vector_product
from .jacobian import jacobian_chunks, output_jacobian, per_sample_jacobian
from .params import ParamLayout
from .woodbury import woodbury_inverse

__all__ = [
    "ParamLayout",
    "per_sample_jacobian", "output_jacobian", "jacobian_chunks",
    "gauss_newton", "gauss_newton_factors", "accumulate_gauss_newton", "make_positive_definite",
    "woodbury_inverse",
    "diagonal_curvature", "block_curvature", "assemble_blocks",
    "hessian_vector_product",
]
