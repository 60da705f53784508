import math

import pytest
import torch

from deepnets import MLP
from deepnets.errors import ConfigError, DataError
from deepnets.train.select import (W632, bootstrap_632, bootstrap_indices, cross_validate, err632, fit_experiment,
                                   kfold_indices, loo_bootstrap_error, noise_variance, prediction_error,
                                   select_hidden_size, squared_errors)


def mean_predictor(train, test):
    """A model with a closed form: predict the training mean; e_n = (z_n − mean)²."""
    mu = train[1].mean()
    return (test[1] - mu) ** 2


@pytest.mark.parametrize("n,k", [(10, 3), (7, 7), (100, 5), (11, 2)])
def test_kfold_test_folds_cover_every_sample_exactly_once(n, k):
    folds = kfold_indices(n, k, seed=3)
    assert len(folds) == k
    tests = torch.cat([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(n))
    for tr, te in folds:
        assert set(tr.tolist()).isdisjoint(te.tolist())
        assert len(tr) + len(te) == n
        assert len(te) in (n // k, -(-n // k))


def test_kfold_rejects_bad_k():
    with pytest.raises(ConfigError, match="2 <= k"):
        kfold_indices(5, 6)
    with pytest.raises(ConfigError, match="2 <= k"):
        kfold_indices(5, 1)


def test_leave_one_out_cv_of_the_mean_matches_the_closed_form():
    # leave-one-out of the mean predictor: e_n = (z_n − mean_{−n})² = (N/(N−1))² (z_n − mean)²
    z = torch.tensor([1.0, 4.0, 2.0, 8.0, 5.0], dtype=torch.float64)
    x = torch.zeros(5, 1)
    res = cross_validate(mean_predictor, (x, z), k=5)
    N = 5
    expected = ((N / (N - 1)) ** 2 * (z - z.mean()) ** 2).mean()
    assert res.error == pytest.approx(float(expected))
    assert len(res.fold_errors) == 5


def test_cv_error_is_the_per_sample_mean_over_uneven_folds():
    z = torch.arange(7, dtype=torch.float64)
    res = cross_validate(mean_predictor, (torch.zeros(7, 1), z), k=3, seed=1)
    by_hand = []
    for tr, te in kfold_indices(7, 3, seed=1):
        by_hand += ((z[te] - z[tr].mean()) ** 2).tolist()
    assert res.error == pytest.approx(sum(by_hand) / 7)


def test_err632_on_a_hand_worked_example():
    # Efron 1983: err_.632 = 0.368 err_app + 0.632 eps0, with 0.632 = 1 − e^{−1}
    assert W632 == pytest.approx(0.6321205588)
    assert err632(0.10, 0.30) == pytest.approx(0.3678794412 * 0.10 + 0.6321205588 * 0.30)
    assert err632(0.10, 0.30) == pytest.approx(0.2264241, abs=1e-7)


def test_loo_bootstrap_error_on_a_hand_worked_example():
    # 3 replicates, 3 samples. Out of bag: sample 0 in b=1, b=2; sample 1 in b=0; sample 2 nowhere.
    in_bag = torch.tensor([[True, False, True], [False, True, True], [False, True, True]])
    errors = torch.tensor([[9.0, 2.0, 9.0], [1.0, 9.0, 9.0], [3.0, 9.0, 9.0]])
    # eps0 = mean over samples 0 and 1 of their out-of-bag means: ((1 + 3)/2 + 2) / 2 = 2
    assert loo_bootstrap_error(errors, in_bag) == pytest.approx(2.0)


def test_bootstrap_632_of_the_mean_matches_a_direct_computation():
    z = torch.tensor([0.5, 1.5, -1.0, 2.0, 3.0, 0.0], dtype=torch.float64)
    data = (torch.zeros(6, 1), z)
    res = bootstrap_632(mean_predictor, data, B=25, seed=4)
    idx = bootstrap_indices(6, 25, seed=4)
    apparent = float(((z - z.mean()) ** 2).mean())
    per_sample = []
    for n in range(6):
        oob = [float((z[n] - z[idx[b]].mean()) ** 2) for b in range(25) if n not in idx[b].tolist()]
        if oob:
            per_sample.append(sum(oob) / len(oob))
    eps0 = sum(per_sample) / len(per_sample)
    assert res.apparent == pytest.approx(apparent)
    assert res.eps0 == pytest.approx(eps0)
    assert res.error == pytest.approx((1 - W632) * apparent + W632 * eps0)


def test_prediction_error_and_noise_variance_by_hand():
    # PE = 2E/N + 2 N_W sigma^2 / N = 2*5/100 + 2*10*0.2/100 = 0.1 + 0.04
    assert prediction_error(5.0, 100, 10, 0.2) == pytest.approx(0.14)
    # sigma^2 = 2E / (N C − N_W) = 2*3 / (50*2 − 40) = 0.1; and 2E/(N C) when N C <= N_W
    assert noise_variance(3.0, 50, 2, 40) == pytest.approx(0.1)
    assert noise_variance(3.0, 10, 1, 40) == pytest.approx(0.6)


def test_noise_variance_of_least_squares_is_unbiased():
    # a linear model is an MLP without hidden layers: 2E/(N − N_W) estimates sigma^2 without bias
    g = torch.Generator().manual_seed(0)
    N, sigma = 400, 0.3
    x = torch.randn(N, 3, generator=g, dtype=torch.float64)
    z = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64) + 0.7 + sigma * torch.randn(N, 1, generator=g, dtype=torch.float64)
    X = torch.cat([x, torch.ones(N, 1, dtype=torch.float64)], 1)
    w = torch.linalg.lstsq(X, z).solution
    E = 0.5 * float(((X @ w - z) ** 2).sum())
    assert noise_variance(E, N, 1, 4) == pytest.approx(sigma ** 2, rel=0.15)


def test_squared_errors_code_class_labels():
    net = MLP([2, 3], output="linear", seed=0)
    x, y = torch.randn(4, 2), torch.tensor([0, 2, 1, 2])
    pred = net(x).detach()
    expected = ((torch.eye(3)[y] - pred) ** 2).sum(1)
    torch.testing.assert_close(squared_errors(net, x, y), expected)


def _sine(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 6 - 3
    return x, torch.sin(x) + 0.1 * torch.randn(n, 1, generator=g)


def test_select_hidden_size_table_is_consistent():
    train, val = _sine(80, 0), _sine(80, 1)
    build = lambda h: MLP([1, h, 1], activation="tanh", output="linear", seed=0)  # noqa: E731
    with pytest.warns(UserWarning):
        rows, sigma2 = select_hidden_size(build, train, [1, 4], validation=val, optimizer="lbfgs",
                                          optimizer_options=dict(max_iter=1, max_eval=25, line_search_fn="strong_wolfe"),
                                          epochs=60, batch_size=None)
    assert [r.size for r in rows] == [1, 4]
    assert [r.weights for r in rows] == [4, 13]
    big = rows[-1]
    assert sigma2 == pytest.approx(big.train_error * 80 / (80 - 13))
    for r in rows:
        assert r.pe == pytest.approx(r.train_error + 2 * r.weights * sigma2 / 80)
        assert math.isfinite(r.heldout_error)
    assert rows[1].train_error < rows[0].train_error  # one tanh unit cannot follow a full sine period


def test_select_hidden_size_with_cv_and_argument_checks():
    train = _sine(30, 2)
    build = lambda h: MLP([1, h, 1], activation="tanh", output="linear", seed=0)  # noqa: E731
    with pytest.warns(UserWarning):
        rows, _ = select_hidden_size(build, train, [2], cv=3, optimizer="adam", lr=0.05, epochs=5,
                                     batch_size=None, sigma2=0.01)
    assert rows[0].pe == pytest.approx(rows[0].train_error + 2 * 7 * 0.01 / 30)
    with pytest.raises(ConfigError, match="exactly one held-out estimate"):
        select_hidden_size(build, train, [2])
    with pytest.raises(DataError, match="pair"):
        cross_validate(mean_predictor, torch.zeros(3), k=2)


def test_fit_experiment_trains_a_fresh_model_per_call():
    train = _sine(40, 3)
    built = []

    def build():
        built.append(MLP([1, 3, 1], activation="tanh", output="linear", seed=0))
        return built[-1]

    exp = fit_experiment(build, optimizer="adam", lr=0.05, epochs=3, batch_size=None)
    with pytest.warns(UserWarning):
        res = cross_validate(exp, train, k=2)
    assert len(built) == 2 and built[0] is not built[1]
    assert res.per_sample.shape == (40,)
