"""ELMClassifier / ELMRegressor: scikit-learn's own estimator checks, and the estimators against the
ELM they wrap and against scikit-learn's Ridge on the same (standardised) hidden features."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepnets.errors import ConfigError, DataError
from deepnets.sklearn import ELMClassifier, ELMRegressor


@parametrize_with_checks([ELMClassifier(40, random_state=0), ELMRegressor(40, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_regressor_equals_ridge_on_standardised_hidden_features():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(70, 3))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    reg = ELMRegressor(30, lam=0.3, random_state=1).fit(X, y)
    Xs = (X - X.mean(0)) / X.std(0)
    H = reg.model_.hidden(torch.from_numpy(Xs)).numpy()
    ref = Ridge(alpha=0.3, solver="svd").fit(H, y)
    np.testing.assert_allclose(reg.predict(X[:5]), ref.predict(H[:5]), rtol=1e-8)


def test_classifier_gcv_on_digits_and_in_cross_validation():
    X, y = load_digits(return_X_y=True)
    clf = ELMClassifier(300, random_state=0)
    scores = cross_val_score(clf, X[:900], y[:900], cv=3)
    assert scores.min() > 0.85
    clf.fit(X[:900], y[:900])
    assert clf.lam_ > 0 and clf.decision_function(X[:4]).shape == (4, 10)


def test_binary_decision_function_sign_gives_the_class():
    X, y = load_digits(n_class=2, return_X_y=True)
    clf = ELMClassifier(50, random_state=0).fit(X, np.where(y == 1, "one", "zero"))
    d = clf.decision_function(X)
    np.testing.assert_array_equal(clf.predict(X), np.where(d > 0, clf.classes_[1], clf.classes_[0]))


def test_sparse_penalty_and_mistakes():
    X, y = load_digits(n_class=3, return_X_y=True)
    clf = ELMClassifier(60, penalty="lasso", lam=5.0, random_state=0).fit(X, y)
    assert (clf.model_.output.weight == 0).any() and clf.score(X, y) > 0.9
    with pytest.raises(ConfigError, match="penalty must be one of"):
        ELMRegressor(penalty="l1").fit(X, y)
    with pytest.raises(ConfigError, match="lambdas is the GCV grid"):
        ELMRegressor(penalty="lasso", lambdas=[1.0]).fit(X, y)
    with pytest.raises(DataError, match="1 class"):
        ELMClassifier().fit(X[:5], np.zeros(5))
