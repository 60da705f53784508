"""``MLPRegressor``: the lecture's multilayer perceptron as a scikit-learn regressor, with the
Laplace predictive standard deviation."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .base import BaseMLP, as_tensor

__all__ = ["MLPRegressor"]


class MLPRegressor(RegressorMixin, BaseMLP):
    """A multilayer perceptron regressor trained by :func:`deepnets.fit`, with the lecture's options.

    ẑ(l) = g(W(l) ẑ(l−1) + b(l)) with a linear output layer, trained on the LMS cost
    E(W) = (1/N) Σ_n ½ Σ_i (z_i^n − ẑ_i^n)² + Σ_l γ_l E_l(w(l)).

    ``predict(X, return_std=True)`` adds the Laplace predictive standard deviation
    σ_i(x) = √(1/β_i + ∇f_iᵀ H⁻¹ ∇f_i), H = β Σ_n J_nᵀ J_n + α I (MacKay 1992), with β_i = N / Σ_n
    (z_i^n − ẑ_i^n)² the noise precision of output i estimated from the training residuals
    (``noise_precision_``) and α = ``prior_precision``; the posterior is built once, at the
    training inputs, on the first such call.

    Args: those of :class:`~deepnets.sklearn.MLPClassifier` but ``probit`` and ``loss`` (the cost
    is LMS); ``laplace`` picks the posterior (``"full"``, ``"diagonal"``, ``"kron"``, ``"last_layer"``).

    Attributes:
        n_features_in_, n_outputs_, model_ (the trained :class:`~deepnets.nn.mlp.MLP`), n_iter_,
        loss_curve_, noise_precision_ (β per output), validation_loss_curve_, starts_, best_seed_.

    >>> import numpy as np
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> reg = MLPRegressor((8,), max_iter=30, random_state=0).fit(X, np.sin(3 * X).ravel())
    >>> mean, std = reg.predict(X[:3], return_std=True)
    >>> mean.shape, std.shape, bool((std > 0).all())
    ((3,), (3,), True)
    """

    _output = "linear"
    _loss = "lms"

    def fit(self, X, y, hints=None) -> "MLPRegressor":
        """Train on features X (N, F) and targets y (N,) or (N, C); ``hints`` (N,) or (N, H):
        extra targets learnt by H hint outputs during training only."""
        X, y = validate_data(self, X, y, reset=True, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32))
        target = self._target(y)
        self._train(X, target, target.shape[1], None, hints)
        self._set_noise_precision(X, target)
        return self

    def _target(self, y) -> torch.Tensor:
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        return as_tensor(y.reshape(len(y), -1))  # (N, C)

    def _set_noise_precision(self, X, target: torch.Tensor) -> None:
        """β_i = N / Σ_n e_in²: the maximum-likelihood noise precision of each output on the training set."""
        with torch.no_grad():
            e = self.model_(as_tensor(X)).double() - target.double()  # (N, C)
        sse = (e * e).sum(0)
        self.noise_precision_ = (len(e) / sse.clamp_min(1e-12)).numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y may be (N, C): C linear output units
        return tags

    def partial_fit(self, X, y) -> "MLPRegressor":
        """One epoch over (X, y) from the current weights (the optimizer's state kept across calls)."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32))
        n_outputs = getattr(self, "n_outputs_", None)
        target = self._target(y)
        if n_outputs is not None and target.shape[1] != n_outputs:
            raise ValueError(f"partial_fit targets have {target.shape[1]} outputs, the first call had {n_outputs}")
        self._partial_train(X, target, target.shape[1])
        self._set_noise_precision(X, target)
        return self

    def predict(self, X, return_std: bool = False):
        """ẑ(x), (N,) or (N, C); with ``return_std``, also the Laplace predictive σ of the same shape."""
        mean = self._forward(X).double().numpy()
        if not return_std:
            return mean.ravel() if self._y_1d else mean
        check_is_fitted(self, "noise_precision_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        la = self._laplace("lms", beta=torch.as_tensor(self.noise_precision_, dtype=torch.float32))
        _, cov = la.predict(as_tensor(X))  # (N, C, C)
        std = torch.diagonal(cov, dim1=1, dim2=2).clamp_min(0).sqrt().double().numpy()  # (N, C)
        if self._y_1d:
            return mean.ravel(), std.ravel()
        return mean, std
