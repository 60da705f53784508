"""``MLPClassifier``: the lecture's multilayer perceptron as a scikit-learn classifier."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._registry import check_choice
from ..errors import ConfigError, DataError
from .base import BaseMLP, as_tensor

__all__ = ["MLPClassifier"]

#: the costs a classifier trains with (names of :func:`deepnets.get_loss`)
CLASSIFIER_LOSSES = ("cross_entropy", "lms")


class MLPClassifier(ClassifierMixin, BaseMLP):
    """A multilayer perceptron classifier trained by :func:`deepnets.fit`, with the lecture's options.

    ẑ(l) = g(W(l) ẑ(l−1) + b(l)); the output unit is softmax over C > 2 classes and logistic for
    two (one unit, p(class 1)). It minimises E(W) = (1/N) Σ_n E_n + Σ_l γ_l E_l(w(l)), with E_n the
    cross-entropy −Σ_i z_i ln ẑ_i (or the LMS cost ½ Σ_i (z_i − ẑ_i)²) and E_l a weight penalty.

    Args:
        hidden_layer_sizes: widths M(1), ..., M(L−1) of the hidden layers. Default ``(32,)``.
        activation: the hidden nonlinearity g: any :data:`deepnets.ACTIVATIONS` name, e.g.
            ``"tanh"``, ``"logistic"``, ``"lecun_tanh"`` (1.716 tanh(2y/3), LeCun et al. 1998),
            ``"relu"``, ``"leaky_relu:0.1"``, ``"logistic:2"``. Default ``"tanh"``.
        init: the initial weights: ``"torch"``, ``"lecun_uniform"`` (±2.4/fan_in), ``"he_normal"``,
            ``"xavier"``, ``"xavier_bias"`` (:mod:`deepnets.init`). Default ``"torch"``.
        optimizer: any name of :data:`deepnets.optim.OPTIMIZERS` (``"sgd"``, ``"adam"``,
            ``"delta_bar_delta"``, ``"quickprop"``, ``"scaled_conjugate_gradient"``, ``"ekf"``,
            ...; second-order ones want ``batch_size=None``). Default ``"adam"``.
        learning_rate: η; None keeps the optimizer's own. Default None.
        optimizer_options: more keyword arguments of the optimizer (``{"momentum": 0.9}``).
        batch_size: samples per step; 1 = online, None = full batch. Default 32.
        max_iter: epochs. Default 200.
        penalty: None, ``"weight_decay"`` (Σ ½ w²), ``"weight_elimination"`` (Σ (w/w0)²/(1 + (w/w0)²),
            Weigend et al. 1991) or ``"curvature_smoothing"`` (:mod:`deepnets.regularizers`).
        gamma: the penalty's weight γ (the lecture's γ ≈ 0.001 − 0.1 σ_e²). Default 1e-3.
        penalty_options: more keyword arguments of the penalty (``{"w0": 0.5}``).
        adaptive_lambda: Weigend et al.'s rule changes gamma after every epoch
            (:class:`~deepnets.adaptive_lambda.AdaptiveLambda`): True with its defaults, or a dict of
            its settings (``{"target_error": 0.01, "delta_lambda": 1e-5}``); ``lambda_curve_``
            then holds gamma per epoch. Needs ``penalty``; not with ``partial_fit``. Default None.
        early_stopping: hold out ``validation_fraction`` (stratified) and stop when its cost has not
            fallen by ``tol`` for ``n_iter_no_change`` epochs, keeping the best epoch's weights.
        validation_fraction, n_iter_no_change, tol: Default 0.1, 10, 0.
        n_starts: multi-start: train this many networks from different seeds and keep the one with
            the least validation cost (on a held-out ``validation_fraction``). Default 1.
        hint_weight: γ of the hint cost when ``fit`` is given ``hints`` (Abu-Mostafa 1990). Default 1.
        laplace: the Laplace posterior of the moderated probabilities: ``"full"``, ``"diagonal"``,
            ``"kron"`` or ``"last_layer"``. Default ``"full"`` (P × P for P weights: take ``"kron"``
            or ``"last_layer"`` for large networks). Built once, on the first moderated call.
        prior_precision: α of the Gaussian prior N(0, 1/α) of the Laplace posterior. Default 1.
        probit: ``predict_proba`` moderated by the weights' uncertainty: σ(μ/√(1 + π s²/8)) for
            two classes (MacKay 1992), the mean-field softmax for more. Default False.
        loss: ``"cross_entropy"`` (default) or ``"lms"`` (the lecture's LMS cost on one-hot targets).
        random_state: seed of the weights, the batch order and the held-out split (None: drawn
            from NumPy's global generator).

    Attributes:
        classes_, n_features_in_, model_ (the trained :class:`~deepnets.nn.mlp.MLP`), n_iter_,
        loss_curve_ (None after multi-start), validation_loss_curve_ (with early stopping), lambda_curve_
        (with adaptive_lambda),
        starts_ and best_seed_ (multi-start).

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), activation="lecun_tanh", max_iter=50, random_state=0).fit(X / 8, y)
    >>> clf.predict_proba(X[:2] / 8).shape
    (2, 3)
    """

    def __init__(self, hidden_layer_sizes=(32,), *, activation="tanh", init="torch", optimizer="adam",
                 learning_rate=None, optimizer_options=None, batch_size=32, max_iter=200, penalty=None,
                 gamma=1e-3, penalty_options=None, adaptive_lambda=None, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=0.0, n_starts=1, hint_weight=1.0, laplace="full",
                 prior_precision=1.0, probit=False, loss="cross_entropy", random_state=None):
        super().__init__(hidden_layer_sizes, activation=activation, init=init, optimizer=optimizer,
                         learning_rate=learning_rate, optimizer_options=optimizer_options, batch_size=batch_size,
                         max_iter=max_iter, penalty=penalty, gamma=gamma, penalty_options=penalty_options,
                         adaptive_lambda=adaptive_lambda,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, tol=tol, n_starts=n_starts, hint_weight=hint_weight,
                         laplace=laplace, prior_precision=prior_precision, random_state=random_state)
        self.probit = probit
        self.loss = loss

    @property
    def _loss(self) -> str:
        return check_choice("loss", self.loss, CLASSIFIER_LOSSES)

    @property
    def _output(self) -> str:
        return "logistic" if len(self.classes_) == 2 else "softmax"

    def _labels(self, X, y, *, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32))
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return X, y

    def fit(self, X, y, hints=None) -> "MLPClassifier":
        """Train on features X (N, F) and labels y (N,); ``hints`` (N,) or (N, H): extra targets
        learnt by H hint outputs during training only (the lecture's "training with hints")."""
        if self.probit and self._loss != "cross_entropy":
            raise ConfigError(f"probit=True moderates a Bernoulli/softmax likelihood: it needs "
                              f"loss='cross_entropy', got loss={self.loss!r}")
        X, y = self._labels(X, y, reset=True)
        self._encoder = LabelEncoder().fit(y)
        self.classes_ = self._encoder.classes_
        if len(self.classes_) < 2:
            raise DataError(f"MLPClassifier needs at least 2 classes in y, got 1 class: {self.classes_[0]!r}")
        codes = torch.from_numpy(self._encoder.transform(y).astype(np.int64))
        self._train(X, codes, self._n_outputs, codes.numpy(), hints)
        return self

    @property
    def _n_outputs(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def partial_fit(self, X, y, classes=None) -> "MLPClassifier":
        """One epoch over (X, y) from the current weights; the first call needs ``classes``."""
        first = not hasattr(self, "model_")
        X, y = self._labels(X, y, reset=first)
        if first:
            if classes is None:
                raise DataError("the first partial_fit call needs classes=[...]: all the labels y can take")
            self._encoder = LabelEncoder().fit(np.asarray(classes))
            self.classes_ = self._encoder.classes_
            if len(self.classes_) < 2:
                raise DataError(f"MLPClassifier needs at least 2 classes, got {list(self.classes_)}")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise DataError(f"classes={list(classes)} differs from the first partial_fit's {list(self.classes_)}")
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise DataError(f"y holds labels {list(unknown)[:5]} outside classes {list(self.classes_)}")
        codes = torch.from_numpy(self._encoder.transform(y).astype(np.int64))
        self._partial_train(X, codes, self._n_outputs)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """p(class k | x), (N, K); probit-moderated by the Laplace posterior when ``probit``."""
        if self.probit:
            check_is_fitted(self, "model_")
            X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
            if self._loss != "cross_entropy":
                raise ConfigError(f"probit=True needs loss='cross_entropy', got loss={self.loss!r}")
            p = self._laplace("cross_entropy").predict_proba(as_tensor(X), "probit")  # (N, K)
            return p.double().numpy()
        p = self._forward(X).double()  # (N, 1) p(class 1) or (N, C)
        if p.shape[1] == 1:
            p = torch.cat([1.0 - p, p], dim=1)
        return p.numpy()

    def predict_log_proba(self, X) -> np.ndarray:
        """ln p(class k | x), (N, K)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row (ties go to the first)."""
        p = self.predict_proba(X)
        return self.classes_[np.argmax(p, axis=1)]
