"""Weigend et al.'s adaptive lambda from the scikit-learn estimators: the same lambda per epoch as
``deepnets.fit`` with :class:`AdaptiveLambda` (whose rule is tested against its definition in
tests/test_adaptive_lambda.py), and clear errors where it cannot apply."""

import numpy as np
import pytest
import torch

from deepnets import MLP, fit
from deepnets.adaptive_lambda import AdaptiveLambda
from deepnets.errors import ConfigError
from deepnets.regularizers import WeightElimination
from deepnets.sklearn import MLPClassifier, MLPRegressor

SETTINGS = {"delta_lambda": 1e-4, "target_error": 0.0}


def _data():
    g = np.random.default_rng(0)
    X = g.uniform(-1, 1, (64, 2)).astype(np.float32)
    return X, (np.sin(3 * X[:, 0]) + X[:, 1]).astype(np.float32)


def test_regressor_lambda_curve_is_fits(tmp_path):
    X, y = _data()
    reg = MLPRegressor((6,), penalty="weight_elimination", gamma=1e-3, adaptive_lambda=SETTINGS, max_iter=25,
                       batch_size=None, learning_rate=0.05, random_state=0).fit(X, y)
    curve = reg.lambda_curve_
    assert len(curve) == 25 and len(set(curve)) > 3          # the rule moved lambda
    # the same run through deepnets.fit: the estimator's seed, weights and arguments
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    model = MLP([2, 6, 1], activation="tanh", output="linear", init="torch", seed=seed)
    pen = AdaptiveLambda(WeightElimination(gamma=1e-3), **SETTINGS)
    h = fit(model, (torch.from_numpy(X), torch.from_numpy(y).unsqueeze(1)), loss="lms", optimizer="adam", lr=0.05,
            epochs=25, batch_size=None, penalty=pen, seed=seed)
    assert curve == h.history["lambda"]


def test_adaptive_lambda_errors_name_what_is_wrong():
    X, y = _data()
    with pytest.raises(ConfigError, match="set penalty too"):
        MLPRegressor(adaptive_lambda=True, max_iter=2).fit(X, y)
    with pytest.raises(ConfigError, match="must be None, True or a dict"):
        MLPRegressor(penalty="weight_decay", adaptive_lambda="yes", max_iter=2).fit(X, y)
    with pytest.raises(ConfigError, match="delta_lambda"):
        MLPRegressor(penalty="weight_decay", adaptive_lambda={"delta_lambda": -1.0}, max_iter=2).fit(X, y)
    with pytest.raises(ConfigError, match="partial_fit"):
        MLPClassifier(penalty="weight_decay", adaptive_lambda=True).partial_fit(X, (y > 0).astype(int), classes=[0, 1])
    clf = MLPClassifier((4,), penalty="weight_decay", adaptive_lambda=True, max_iter=3, random_state=0)
    assert len(clf.fit(X, (y > 0).astype(int)).lambda_curve_) == 3
