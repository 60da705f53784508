"""What the two estimators share: their parameters, checks, and training through :func:`deepnets.fit`.

A fitted estimator holds a plain deepnets :class:`~deepnets.nn.mlp.MLP` in ``model_``; every
training option of the lecture is a constructor parameter, checked when ``fit`` starts (an unknown
name raises a :class:`~deepnets.errors.ConfigError`, a ``ValueError``, that names the nearest one).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._registry import check_choice, check_number, check_positive_int, lookup
from ..activations import get_activation
from ..adaptive_lambda import AdaptiveLambda
from ..bayes import Laplace
from ..data import Scaler
from ..errors import ConfigError, DataError, TrainingDiverged
from ..init import INITS
from ..nn.mlp import MLP
from ..optim.registry import OPTIMIZERS
from ..regularizers import REGULARIZERS, build_regularizer
from ..train import EarlyStopping, evaluate, fit, make_optimizer
from ..train.hints import hint_targets, hinted_loss, strip_hints, with_hints

__all__ = ["BaseMLP", "as_tensor", "LAPLACE_APPROX"]

#: the Laplace posteriors of :mod:`deepnets.bayes` the predictive uncertainty can use
LAPLACE_APPROX = ("full", "diagonal", "kron", "last_layer")


def as_tensor(x: np.ndarray) -> torch.Tensor:
    """A float32 tensor of an array (a copy only when the dtype or layout asks for one)."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


class BaseMLP(BaseEstimator):
    """The parameters and the training of :class:`MLPClassifier` and :class:`MLPRegressor`.

    Subclasses give ``_output`` (the output unit) and ``_loss`` (the cost's name), and call
    :meth:`_train` with the targets as a tensor.
    """

    def __init__(self, hidden_layer_sizes=(32,), *, activation="tanh", init="torch", optimizer="adam",
                 learning_rate=None, optimizer_options=None, batch_size=32, max_iter=200, penalty=None,
                 gamma=1e-3, penalty_options=None, adaptive_lambda=None, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=0.0, n_starts=1, hint_weight=1.0, laplace="full",
                 prior_precision=1.0, random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.optimizer_options = optimizer_options
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.penalty = penalty
        self.gamma = gamma
        self.penalty_options = penalty_options
        self.adaptive_lambda = adaptive_lambda
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.n_starts = n_starts
        self.hint_weight = hint_weight
        self.laplace = laplace
        self.prior_precision = prior_precision
        self.random_state = random_state

    # ---- checks, where the parameters enter --------------------------------------------------
    def _check_params(self) -> None:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) else sizes
        if not isinstance(sizes, (list, tuple)) or not all(isinstance(h, (int, np.integer)) and h > 0 for h in sizes):
            raise ConfigError(f"hidden_layer_sizes must be a tuple of positive integers, "
                              f"got {self.hidden_layer_sizes!r}")
        get_activation(self.activation)
        check_choice("init", self.init, INITS)
        lookup(self.optimizer, OPTIMIZERS, what="optimizer")
        if self.learning_rate is not None:
            check_number("learning_rate", self.learning_rate, low=0.0, low_open=True)
        check_positive_int("batch_size", self.batch_size, allow_none=True)
        check_positive_int("max_iter", self.max_iter)
        if self.penalty is not None:
            lookup(self.penalty, REGULARIZERS, what="penalty")
        check_number("gamma", self.gamma, low=0.0)
        check_number("validation_fraction", self.validation_fraction, low=0.0, high=1.0, low_open=True)
        if self.validation_fraction >= 1.0:
            raise ConfigError(f"validation_fraction must be < 1, got {self.validation_fraction!r}")
        check_positive_int("n_iter_no_change", self.n_iter_no_change)
        check_number("tol", self.tol, low=0.0)
        check_positive_int("n_starts", self.n_starts)
        check_number("hint_weight", self.hint_weight, low=0.0)
        check_choice("laplace", self.laplace, LAPLACE_APPROX)
        check_number("prior_precision", self.prior_precision, low=0.0, low_open=True)
        if self.adaptive_lambda is not None:
            if self.adaptive_lambda is not True and not isinstance(self.adaptive_lambda, dict):
                raise ConfigError(f"adaptive_lambda must be None, True or a dict of AdaptiveLambda's settings, "
                                  f"got {self.adaptive_lambda!r}")
            if self.penalty is None:
                raise ConfigError("adaptive_lambda changes the penalty's gamma: set penalty too")
        for name in ("optimizer_options", "penalty_options"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a dict or None, got {getattr(self, name)!r}")

    def _sizes(self, n_in: int, n_out: int) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) else sizes
        return [int(n_in), *(int(h) for h in sizes), int(n_out)]

    def _seed(self) -> int:
        """An int seed from ``random_state`` (None: drawn from NumPy's global generator)."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    # ---- training ----------------------------------------------------------------------------
    def _build(self, seed: int, n_in: int, n_out: int, n_hints: int):
        net = MLP(self._sizes(n_in, n_out), activation=self.activation, output=self._output, init=self.init,
                  seed=seed)
        return with_hints(net, n_hints, seed=seed + 1) if n_hints else net

    def _fit_arguments(self, n_train: int, validation) -> dict:
        penalty = None
        if self.penalty is not None:
            penalty = build_regularizer(self.penalty, gamma=self.gamma, **(self.penalty_options or {}))
            if self.adaptive_lambda is not None:  # Weigend et al.'s rule changes gamma after every epoch
                settings = {} if self.adaptive_lambda is True else self.adaptive_lambda
                penalty = AdaptiveLambda(penalty, **settings)
        batch = None if self.batch_size is None else min(self.batch_size, n_train)
        callbacks = []
        if self.early_stopping:
            callbacks.append(EarlyStopping("val_loss", patience=self.n_iter_no_change, min_delta=self.tol))
        return {"optimizer": self.optimizer, "lr": self.learning_rate, "optimizer_options": self.optimizer_options,
                "batch_size": batch, "epochs": self.max_iter, "penalty": penalty, "callbacks": callbacks,
                "validation": validation}

    def _hint_tensor(self, hints, n: int) -> torch.Tensor | None:
        if hints is None:
            return None
        h = np.asarray(hints, dtype=np.float64)
        h = h.reshape(-1, 1) if h.ndim == 1 else h
        if h.ndim != 2 or h.shape[0] != n or h.shape[1] == 0 or not np.isfinite(h).all():
            raise DataError(f"hints must be finite numbers, one row per sample: expected ({n}, H), "
                            f"got shape {np.shape(hints)}")
        if len(self._sizes(1, 1)) < 3:
            raise ConfigError("hints need a hidden layer to share: hidden_layer_sizes is empty")
        h = torch.from_numpy(h)
        return Scaler.fit(h, "standard")(h).float()  # (N, H), standardised like the CLI's hint columns

    def _train(self, X: np.ndarray, y: torch.Tensor, n_out: int, stratify, hints=None) -> None:
        """Build and train ``model_`` on (X, y) by :func:`deepnets.fit` (or multi-start), with a
        validation part held out when early stopping or multi-start needs one."""
        self._check_params()
        x, seed = as_tensor(X), self._seed()
        h = self._hint_tensor(hints, len(x))
        index = np.arange(len(x))
        val = None
        if self.early_stopping or self.n_starts > 1:
            try:
                index, val_index = train_test_split(index, test_size=self.validation_fraction, random_state=seed,
                                                    stratify=stratify)
            except ValueError as err:
                raise DataError(f"holding out validation_fraction = {self.validation_fraction} of "
                                f"{len(x)} samples for early stopping or multi-start failed: {err}") from None
            val = (x[val_index], y[val_index])
        train = (x[index], y[index])
        loss = self._loss
        if h is not None:  # E = E_main + γ E_hint on targets [z_main, z_hint]; the hints leave after training
            train = (train[0], hint_targets(y[index], h[index], n_out))
            loss = hinted_loss(self._loss, n_out, gamma=self.hint_weight)
        kwargs = self._fit_arguments(len(index), val)
        n_hints = 0 if h is None else h.shape[1]
        starts = []
        for s in range(self.n_starts):  # multi-start: fresh weights per seed, the least validation cost kept
            start_seed = seed + 7919 * s
            model = self._build(start_seed, x.shape[1], n_out, n_hints)
            try:
                history = fit(model, train, loss=loss, seed=start_seed, **kwargs)
            except TrainingDiverged as err:
                if self.n_starts == 1:
                    raise
                history = err.history
            val_loss = evaluate(model, *val, loss=loss)["loss"] if self.n_starts > 1 else 0.0
            starts.append({"seed": start_seed, "epochs": len(history.epoch), "val_loss": val_loss,
                           "model": model, "history": history.history})
        best = min(starts, key=lambda r: r["val_loss"] if math.isfinite(r["val_loss"]) else math.inf)
        model, self.n_iter_ = best["model"], best["epochs"]
        self.loss_curve_ = list(best["history"].get("loss", []))
        if self.adaptive_lambda is not None:
            self.lambda_curve_ = list(best["history"].get("lambda", []))
        if val is not None:
            self.validation_loss_curve_ = list(best["history"].get("val_loss", []))
        if self.n_starts > 1:
            self.best_seed_ = best["seed"]
            self.starts_ = [{k: r[k] for k in ("seed", "epochs", "val_loss")} for r in starts]
        self.model_ = (strip_hints(model) if h is not None else model).eval()
        self._x_train = train[0]  # the Laplace posterior is built at these inputs when asked for
        self._posterior = self._optimizer = None

    def _partial_train(self, X: np.ndarray, y: torch.Tensor, n_out: int) -> None:
        """One epoch over (X, y) from the current weights, with the optimizer state kept across calls."""
        x = as_tensor(X)
        if not hasattr(self, "model_"):
            self._check_params()
            self._seed_value = self._seed()
            self.model_ = self._build(self._seed_value, x.shape[1], n_out, 0)
            self.n_iter_, self.loss_curve_, self._optimizer = 0, [], None
        if getattr(self, "_optimizer", None) is None:  # the first call, or the first after fit()
            self._seed_value = getattr(self, "_seed_value", None) or self._seed()
            self._optimizer = make_optimizer(self.optimizer, self.model_, lr=self.learning_rate,
                                             **(self.optimizer_options or {}))
            self.loss_curve_ = list(self.loss_curve_ or [])
        if self.adaptive_lambda is not None:
            raise ConfigError("adaptive_lambda changes gamma between epochs of one fit; partial_fit trains one "
                              "epoch a call: use fit, or a fixed gamma")
        kwargs = self._fit_arguments(len(x), None)
        kwargs.update(optimizer=self._optimizer, lr=None, optimizer_options=None, epochs=1, callbacks=[])
        history = fit(self.model_, (x, y), loss=self._loss, seed=self._seed_value + self.n_iter_, **kwargs)
        self.n_iter_ += 1
        self.loss_curve_.append(history.history["loss"][-1])
        self.model_.eval()
        self._x_train, self._posterior = x, None

    # ---- inference -----------------------------------------------------------------------------
    def _forward(self, X) -> torch.Tensor:
        """ẑ(L) of ``model_`` for X, in float64: a row's prediction does not depend on which rows
        share its batch (float32 BLAS kernels round differently by position in the last bit)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        state = {k: v.double() for k, v in self.model_.state_dict().items()}
        with torch.no_grad():
            return torch.func.functional_call(self.model_.eval(), state, (torch.from_numpy(np.asarray(X, np.float64)),))

    def _laplace(self, likelihood: str, beta=1.0):
        """The Laplace posterior N(w_MAP, H⁻¹) of ``model_`` at the training inputs (built once)."""
        if getattr(self, "_posterior", None) is None:
            self._posterior = Laplace(copy.deepcopy(self.model_), likelihood, approx=self.laplace,
                                      alpha=self.prior_precision, beta=beta).fit(self._x_train)
        return self._posterior
