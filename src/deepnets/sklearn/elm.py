"""``ELMClassifier`` and ``ELMRegressor``: the extreme learning machine as scikit-learn estimators.

Each holds a :class:`deepnets.zoo.ELM` (float64) in ``model_``; the inputs are standardised with
the training set's mean and standard deviation before the random hidden layer (its weights are
drawn for unit-variance inputs), and the output weights are solved in closed form by
:meth:`~deepnets.zoo.ELM.solve`: no epochs, no learning rate.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._registry import check_choice, check_number, check_positive_int
from ..activations import get_activation
from ..errors import ConfigError, DataError
from ..zoo.elm import ELM
from ..zoo.elm_solve import PENALTIES

__all__ = ["ELMClassifier", "ELMRegressor"]


class _BaseELM(BaseEstimator):
    """The parameters, input scaling and solve shared by the two estimators."""

    def __init__(self, n_hidden=500, *, activation="tanh", scale=1.0, penalty="ridge", lam=None, l1_ratio=0.5,
                 lambdas=None, random_state=None):
        self.n_hidden = n_hidden
        self.activation = activation
        self.scale = scale
        self.penalty = penalty
        self.lam = lam
        self.l1_ratio = l1_ratio
        self.lambdas = lambdas
        self.random_state = random_state

    def _check_params(self) -> None:
        check_positive_int("n_hidden", int(self.n_hidden) if isinstance(self.n_hidden, np.integer) else self.n_hidden)
        get_activation(self.activation)
        check_number("scale", self.scale, low=0.0, low_open=True)
        check_choice("penalty", self.penalty, PENALTIES)
        if self.lam is not None:
            check_number("lam", self.lam, low=0.0, low_open=self.penalty != "ridge")
        check_number("l1_ratio", self.l1_ratio, low=0.0, high=1.0, low_open=True)
        if self.lambdas is not None and self.penalty != "ridge":
            raise ConfigError(f"lambdas is the GCV grid of penalty='ridge'; penalty={self.penalty!r} picks λ "
                              f"by cross-validation: leave lambdas=None")

    def _solve(self, X: np.ndarray, y: torch.Tensor, n_out: int) -> None:
        """Standardise X, draw the hidden layer from ``random_state`` and solve for the output weights."""
        self._check_params()
        self._mean = X.mean(0)  # (F,)
        std = X.std(0)
        self._std = np.where(std > 0, std, 1.0)  # a constant column stays constant (zero after centring)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.model_ = ELM(X.shape[1], int(self.n_hidden), n_out, activation=self.activation, scale=self.scale,
                          seed=seed).double()
        self.model_.solve(self._inputs(X), y, lam=self.lam, penalty=self.penalty, l1_ratio=self.l1_ratio,
                          lambdas=self.lambdas)
        self.lam_ = self.model_.lam_

    def _inputs(self, X: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((np.asarray(X, np.float64) - self._mean) / self._std)  # (N, F)

    def _scores(self, X) -> np.ndarray:
        """ẑ(x), (N, C), in float64."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        with torch.no_grad():
            return self.model_(self._inputs(X)).numpy()


class ELMClassifier(ClassifierMixin, _BaseELM):
    """An extreme learning machine classifier: one output per class fitted to one-hot targets.

    h_i(x) = g(w_iᵀx + w_i0) with K random fixed units; v minimises
    ½ Σ_n ‖zⁿ − ẑⁿ‖² + λ P(v) for one-hot zⁿ; the class is argmax_c ẑ_c(x) (Huang et al. 2006).

    Args:
        n_hidden: K, the number of random hidden units. Default 500.
        activation: g (``"tanh"``, ``"logistic"``, ``"relu"``, ...). Default ``"tanh"``.
        scale: the spread of the random hidden weights (inputs are standardised first). Default 1.
        penalty: ``"ridge"`` (closed form), ``"lasso"`` or ``"elastic_net"`` (scikit-learn's
            coordinate descent). Default ``"ridge"``.
        lam: λ of the lecture's cost; None chooses it (GCV for ridge, 5-fold CV per output for
            LASSO / elastic net). Default None.
        l1_ratio: ρ of the elastic net, in (0, 1]. Default 0.5.
        lambdas: the ridge GCV grid (default s₁²·10^t, t from −10 to 1, s₁ the top singular value of H).
        random_state: seed of the hidden layer (None: NumPy's global generator).

    Attributes:
        classes_, n_features_in_, model_ (the :class:`deepnets.zoo.ELM`), lam_ (the λ used).

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ELMClassifier(100, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    def fit(self, X, y) -> "ELMClassifier":
        """Fit the output weights on features X (N, F) and labels y (N,)."""
        X, y = validate_data(self, X, y, reset=True, dtype=(np.float64, np.float32))
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self._encoder = LabelEncoder().fit(y)
        self.classes_ = self._encoder.classes_
        if len(self.classes_) < 2:
            raise DataError(f"ELMClassifier needs at least 2 classes in y, got 1 class: {self.classes_[0]!r}")
        codes = torch.from_numpy(self._encoder.transform(y).astype(np.int64))
        self._solve(X, codes, len(self.classes_))
        return self

    def decision_function(self, X) -> np.ndarray:
        """The class scores ẑ(x), (N, C); for two classes ẑ₁ − ẑ₀, (N,) (positive: ``classes_[1]``)."""
        z = self._scores(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict(self, X) -> np.ndarray:
        """The class of the largest score (ties go to the first)."""
        z = self._scores(X)  # checks the fit first
        return self.classes_[np.argmax(z, axis=1)]


class ELMRegressor(RegressorMixin, _BaseELM):
    """An extreme learning machine regressor: K random fixed hidden units, a linear output.

    ẑ(x) = Σ_i v_i g(w_iᵀx + w_i0) + v₀, v minimising ½ Σ_n ‖zⁿ − ẑⁿ‖² + λ P(v) (Huang et al. 2006).

    Args: those of :class:`ELMClassifier`.

    Attributes:
        n_features_in_, n_outputs_, model_ (the :class:`deepnets.zoo.ELM`), lam_ (the λ used).

    >>> import numpy as np
    >>> X = np.linspace(-2, 2, 100).reshape(-1, 1)
    >>> reg = ELMRegressor(50, random_state=0).fit(X, np.sin(2 * X).ravel())
    >>> bool(reg.score(X, np.sin(2 * X).ravel()) > 0.99)
    True
    """

    def fit(self, X, y) -> "ELMRegressor":
        """Fit the output weights on features X (N, F) and targets y (N,) or (N, C)."""
        X, y = validate_data(self, X, y, reset=True, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32))
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self._solve(X, torch.from_numpy(y.reshape(len(y), -1).copy()), self.n_outputs_)  # a copy: y may be read-only
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y may be (N, C): C linear outputs
        return tags

    def predict(self, X) -> np.ndarray:
        """ẑ(x), (N,) or (N, C)."""
        z = self._scores(X)
        return z.ravel() if self._y_1d else z
