import pytest
import torch
from torch import nn

from deepnets.errors import ConfigError
from deepnets.prune import FullInverse, get_masks, layerwise_obs, magnitude_prune, obs_step, prune_rows


def _data(N=60, d=7, M=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, d, generator=g, dtype=torch.float64)
    X[:, 1] += 0.9 * X[:, 0]  # correlated inputs: OBS and magnitude disagree
    W = torch.randn(M, d, generator=g, dtype=torch.float64)
    return X, W


def test_rows_are_the_least_squares_refit_on_the_weights_kept():
    X, W = _data()
    H = X.T @ X
    Wn, keep = prune_rows(W, H, H, n_keep=3, rounds=2)
    assert torch.all(keep.sum(1) == 3)
    for i in range(W.shape[0]):
        S = keep[i]
        refit = torch.linalg.lstsq(X[:, S], X @ W[i]).solution  # independent answer
        assert torch.allclose(Wn[i, S], refit, atol=1e-10)
        assert torch.all(Wn[i, ~S] == 0)


def test_one_weight_per_round_is_obs_removal_by_removal():
    X, W = _data(seed=1)
    H = X.T @ X
    d, n_keep = W.shape[1], 2
    _, keep = prune_rows(W, H, H, n_keep=n_keep, rounds=d - n_keep)
    for i in range(W.shape[0]):  # the flat OBS step of deepnets.prune.obs, row by row
        w, alive = W[i].clone(), torch.ones(d, dtype=torch.bool)
        curv = FullInverse(torch.linalg.inv(H))
        for _ in range(d - n_keep):
            obs_step(w, curv, alive)
        assert torch.equal(alive, keep[i])


def test_bias_column_is_never_removed_but_moves():
    X, W = _data(d=5, seed=2)
    Xt = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], 1)
    Wt = torch.cat([W, torch.randn(W.shape[0], 1, dtype=X.dtype)], 1)
    H = Xt.T @ Xt
    Wn, keep = prune_rows(Wt, H, H, n_keep=1, rounds=3, prunable=5)
    assert torch.all(keep[:, 5]) and torch.all(keep[:, :5].sum(1) == 1)
    assert not torch.allclose(Wn[:, 5], Wt[:, 5])


def test_layerwise_obs_prunes_an_mlp_better_than_magnitude():
    torch.manual_seed(0)
    make = lambda: nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                                 nn.Linear(32, 3))
    a = make()
    b = make()
    b.load_state_dict(a.state_dict())
    x = torch.randn(512, 10) @ torch.randn(10, 10)  # correlated inputs
    ref = a(x).detach()
    res = layerwise_obs(a, x, sparsity=0.75)
    magnitude_prune(b, 0.75, scope="layer")
    for n, fan_in in (("0", 10), ("2", 32), ("4", 32)):
        assert res.sparsity[n] == pytest.approx(1 - round(0.25 * fan_in) / fan_in)
        m = get_masks(a)[f"{n}.weight"]
        assert torch.all(a.get_submodule(n).weight[~m] == 0)
    err_obs = ((a(x) - ref) ** 2).mean()
    err_mag = ((b(x) - ref) ** 2).mean()
    assert err_obs < 0.5 * err_mag


def test_layerwise_rejects_non_linear_names():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with pytest.raises(ConfigError, match="nn.Linear"):
        layerwise_obs(net, torch.randn(4, 2), sparsity=0.5, layers=["1"])


def test_layerwise_obs_on_a_100k_weight_mlp():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    assert sum(p.numel() for p in net.parameters()) > 100_000
    x = torch.rand(2048, 784)
    res = layerwise_obs(net, x, sparsity=0.9)
    assert all(abs(s - 0.9) < 0.01 for s in res.sparsity.values())
    assert all(0 <= e < 1 for e in res.relative_error.values())  # measured: 0.17, 0.23
