"""The estimators against independent answers: the closed-form Bayesian linear and logistic
predictives, scikit-learn's model-selection tools fold by fold, and the lecture's options."""

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepnets.errors import ConfigError, DataError
from deepnets.optim import registry
from deepnets.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::deepnets.train.setup.FewExamplesWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300, ::4], y[:300]  # 300 samples, 16 features


def _phi(X):
    return np.hstack([X, np.ones((len(X), 1))])  # (N, p + 1): the bias as a weight on z_0 = 1


def test_regression_std_is_the_bayesian_linear_regression_predictive():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.2 * rng.normal(size=60)
    reg = MLPRegressor((), optimizer="lbfgs", batch_size=None, max_iter=3, prior_precision=2.0,
                       random_state=0).fit(X, y)
    Xq = rng.normal(size=(5, 3)) * 2
    mean, std = reg.predict(Xq, return_std=True)
    # closed form: β = N / Σ e², H = β ΦᵀΦ + α I, σ² = 1/β + φᵀ H⁻¹ φ
    w = np.concatenate([reg.model_.layers[0].weight.detach().double().numpy().ravel(),
                        reg.model_.layers[0].bias.detach().double().numpy()])
    e = _phi(X) @ w - y
    beta = len(y) / (e @ e)
    H = beta * _phi(X).T @ _phi(X) + 2.0 * np.eye(4)
    var = 1 / beta + np.einsum("np,pq,nq->n", _phi(Xq), np.linalg.inv(H), _phi(Xq))
    assert reg.noise_precision_[0] == pytest.approx(beta, rel=1e-5)
    np.testing.assert_allclose(mean, _phi(Xq) @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std, np.sqrt(var), rtol=1e-4)
    assert std.shape == mean.shape == (5,)


def test_probit_probabilities_are_the_moderated_logistic_predictive():
    X, y = make_blobs(80, centers=[[-1, 0], [1, 0.5]], cluster_std=1.2, random_state=0)
    clf = MLPClassifier((), optimizer="lbfgs", batch_size=None, max_iter=30, prior_precision=1.0,
                        random_state=0).fit(X, y)
    Xq = np.array([[0.0, 0.0], [3.0, 3.0], [-4.0, 1.0]])
    plain = clf.predict_proba(Xq)
    moderated = clf.set_params(probit=True).predict_proba(Xq)
    # closed form: H = Σ p(1 − p) φφᵀ + α I, μ = wᵀφ, s² = φᵀ H⁻¹ φ, p = σ(μ / √(1 + π s²/8))
    w = np.concatenate([clf.model_.layers[0].weight.detach().double().numpy().ravel(),
                        clf.model_.layers[0].bias.detach().double().numpy()])
    p = 1 / (1 + np.exp(-_phi(X) @ w))
    H = (_phi(X) * (p * (1 - p))[:, None]).T @ _phi(X) + np.eye(3)
    mu, s2 = _phi(Xq) @ w, np.einsum("np,pq,nq->n", _phi(Xq), np.linalg.inv(H), _phi(Xq))
    p1 = 1 / (1 + np.exp(-mu / np.sqrt(1 + math.pi * s2 / 8)))
    np.testing.assert_allclose(moderated[:, 1], p1, rtol=1e-4)
    np.testing.assert_allclose(moderated.sum(1), 1.0, rtol=1e-6)
    assert (np.abs(moderated[:, 1] - 0.5) <= np.abs(plain[:, 1] - 0.5) + 1e-7).all()  # less sure, never more


def test_pipeline_grid_search_and_cross_val_score_agree_with_fold_by_fold_fits(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier((12,), learning_rate=0.02, max_iter=25, random_state=0))
    folds = StratifiedKFold(3)
    scores = cross_val_score(pipe, X, y, cv=folds)
    by_hand = [clone(pipe).fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in folds.split(X, y)]
    np.testing.assert_array_equal(scores, by_hand)
    assert scores.mean() > 0.6  # ten classes from 16 of the 64 pixels: chance is 0.1
    grid = GridSearchCV(pipe, {"mlpclassifier__activation": ["tanh", "lecun_tanh"],
                               "mlpclassifier__penalty": [None, "weight_decay"]}, cv=folds).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    best = grid.best_params_
    again = cross_val_score(clone(pipe).set_params(**best), X, y, cv=folds).mean()
    assert again == pytest.approx(grid.best_score_)


def test_optimizers_come_from_the_registry_by_name(digits, monkeypatch):
    X, y = digits
    for name, batch, epochs in (("scaled_conjugate_gradient", None, 10), ("ekf", 50, 4)):
        clf = MLPClassifier((8,), optimizer=name, batch_size=batch, max_iter=epochs, random_state=0).fit(X / 16, y)
        assert clf.score(X / 16, y) > 0.6, name  # ten classes: chance is 0.1
    # a name added to the registry later (the lecture's Levenberg-Marquardt, say) needs no code here
    calls = []

    class Counting(torch.optim.SGD):
        def step(self, closure=None):
            calls.append(1)
            return super().step(closure)

    monkeypatch.setitem(registry.OPTIMIZERS, "counting_sgd", Counting)
    MLPClassifier((4,), optimizer="counting_sgd", learning_rate=0.1, batch_size=None, max_iter=3,
                  random_state=0).fit(X, y)
    assert len(calls) == 3
    with pytest.raises(ConfigError, match="did you mean 'quickprop'"):
        MLPClassifier(optimizer="quikprop").fit(X, y)


def test_lecture_options_reach_the_network(digits):
    X, y = digits
    clf = MLPClassifier((6, 5), activation="lecun_tanh", init="lecun_uniform", max_iter=2, random_state=0).fit(X, y)
    g = clf.model_.activations[0]
    assert float(g(torch.tensor(1.5))) == pytest.approx(1.716 * math.tanh(1.0), rel=1e-6)  # 1.716 tanh(2y/3)
    assert clf.model_.sizes == [16, 6, 5, 10] and clf.model_.init == "lecun_uniform"
    big = MLPClassifier((10,), max_iter=30, random_state=0).fit(X, y)
    small = clone(big).set_params(penalty="weight_elimination", gamma=0.05, penalty_options={"w0": 0.5}).fit(X, y)
    norm = lambda c: float(c.model_.layers[0].weight.detach().abs().sum())  # noqa: E731
    assert norm(small) < 0.8 * norm(big)
    with pytest.raises(ConfigError, match="penalty"):
        clone(big).set_params(penalty="weight_decy").fit(X, y)


def test_early_stopping_multi_start_and_hints(digits):
    X, y = digits
    X = X / 16
    es = MLPClassifier((40,), learning_rate=0.05, max_iter=300, early_stopping=True, n_iter_no_change=5,
                       validation_fraction=0.3, random_state=0).fit(X, y)
    assert es.n_iter_ < 300 and len(es.validation_loss_curve_) == es.n_iter_
    ms = MLPClassifier((6,), max_iter=5, n_starts=3, random_state=0).fit(X, y)
    assert len(ms.starts_) == 3 and len({r["seed"] for r in ms.starts_}) == 3
    assert ms.best_seed_ == min(ms.starts_, key=lambda r: r["val_loss"])["seed"]
    hinted = MLPClassifier((6,), max_iter=5, random_state=0).fit(X, y, hints=X[:, :2] * 3)
    plain = MLPClassifier((6,), max_iter=5, random_state=0).fit(X, y)
    assert hinted.model_.sizes == plain.model_.sizes == [16, 6, 10]  # the hint units are gone after training
    assert not np.allclose(hinted.predict_proba(X), plain.predict_proba(X))  # ... but shaped the hidden layer
    with pytest.raises(DataError, match="one row per sample"):
        plain.fit(X, y, hints=np.zeros(5))


def test_partial_fit_continues_from_the_current_weights(digits):
    X, y = digits
    X = X / 16
    clf = MLPClassifier((8,), learning_rate=0.01, random_state=0)
    with pytest.raises(DataError, match="classes"):
        clf.partial_fit(X, y)
    for _ in range(4):
        clf.partial_fit(X, y, classes=np.arange(10))
    assert clf.n_iter_ == 4 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    reg = MLPRegressor((4,), random_state=0).partial_fit(X, X[:, 3]).partial_fit(X, X[:, 3])
    assert reg.n_iter_ == 2
    with pytest.raises(ValueError):
        reg.partial_fit(X[:, :5], X[:, 3])  # another number of features


def test_probit_with_the_lms_cost_is_refused_before_training():
    X, y = make_blobs(30, centers=2, random_state=0)
    with pytest.raises(ConfigError, match="loss='cross_entropy'"):
        MLPClassifier((3,), loss="lms", probit=True, max_iter=2).fit(X, y)
    clf = MLPClassifier((3,), loss="lms", max_iter=2, random_state=0).fit(X, y)
    assert clf.predict_proba(X).shape == (30, 2)
    with pytest.raises(ConfigError, match="loss='cross_entropy'"):
        clf.set_params(probit=True).predict_proba(X)


def test_two_output_regression_gives_one_std_per_output_from_its_own_noise_precision():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2))
    Y = np.stack([X[:, 0] + 0.05 * rng.normal(size=50), X[:, 1] + 0.5 * rng.normal(size=50)], axis=1)
    reg = MLPRegressor((), optimizer="lbfgs", batch_size=None, max_iter=3, random_state=0).fit(X, Y)
    mean, std = reg.predict(X[:4], return_std=True)
    assert mean.shape == std.shape == (4, 2)
    e = reg.predict(X) - Y
    np.testing.assert_allclose(reg.noise_precision_, len(Y) / (e * e).sum(0), rtol=1e-5)
    assert (std[:, 1] > 5 * std[:, 0]).all()  # the noisier output is the less certain one
