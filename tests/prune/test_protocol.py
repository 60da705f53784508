"""OBS as Hassibi & Stork ran it: Q rebuilt after each removal, α on the mean outer product, stop
at the first drop in training accuracy; OBD and magnitude under the same rules; float32 nets."""

import copy
import functools

import pytest
import torch
from torch import nn

from deepnets.curvature import gauss_newton, per_sample_jacobian
from deepnets.prune import get_masks, magnitude_prune, obd_prune, obs_prune


@functools.lru_cache(maxsize=None)
def _fitted(seed, n, hidden, steps):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    labels = ((x[:, 0] * x[:, 1] > 0) ^ (x[:, 2] > 0.5)).long()
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 2)).double()
    opt = torch.optim.LBFGS(net.parameters(), max_iter=steps, line_search_fn="strong_wolfe")
    opt.step(lambda: (opt.zero_grad(), (l := nn.functional.cross_entropy(net(x), labels, reduction="sum")
                                        + 1e-2 * sum((p ** 2).sum() for p in net.parameters())).backward(), l)[-1])
    return net, x, labels


def _trained(seed=0, n=60, hidden=5, steps=60):
    """A small tanh net fitted (L-BFGS, weight decay) to a 2-class problem: (net, x, labels), a fresh copy."""
    net, x, labels = _fitted(seed, n, hidden, steps)
    return copy.deepcopy(net), x, labels


def _state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_default_rebuilds_q_after_every_removal_on_a_small_net():
    """k default steps = k single steps, each from a Q built afresh at the current weights."""
    net, x, y = _trained()
    ref = copy.deepcopy(net)
    res = obs_prune(net, x, y, loss="cross_entropy", sparsity=5 / 32)
    P = res.n_total
    for k in range(1, 6):  # one removal per call, Q built once per call at the weights it finds
        step = obs_prune(ref, x, y, loss="cross_entropy", sparsity=k / P, recompute_every=None)
        assert step.removed[-1] == res.removed[k - 1]
    for a, b in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    once = _trained()[0]  # Q from the start weights only: another path
    obs_prune(once, x, y, loss="cross_entropy", sparsity=5 / 32, recompute_every=None)
    assert max(float((a - b).detach().abs().max()) for a, b in zip(once.parameters(), net.parameters())) > 1e-4


def test_alpha_is_added_to_the_mean_outer_product():
    net, x, y = _trained()
    nets = [copy.deepcopy(net) for _ in range(2)]
    alpha = 0.05
    J, _ = per_sample_jacobian(net, x)
    Q = gauss_newton(J, "cross_entropy", outputs=net(x).detach()) + len(x) * alpha * torch.eye(J.shape[2], dtype=J.dtype)
    w = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    L = w ** 2 / (2 * torch.diagonal(torch.linalg.inv(Q)))  # the saliencies, independently
    once = obs_prune(nets[0], x, y, loss="cross_entropy", sparsity=0.3, alpha=alpha)
    assert once.saliency[0] == pytest.approx(float(L.min()), rel=1e-9)
    # the same data twice: Q and NαI both double, so the path is the same and each saliency doubles
    twice = obs_prune(nets[1], torch.cat([x, x]), torch.cat([y, y]), loss="cross_entropy", sparsity=0.3, alpha=alpha)
    assert twice.removed == once.removed
    torch.testing.assert_close(torch.tensor(twice.saliency), 2 * torch.tensor(once.saliency), rtol=1e-8, atol=0)


def _continue_path(net, x, y, k, **kw):
    """The same OBS path, run one removal further than k without the accuracy rule."""
    return obs_prune(net, x, y, loss="cross_entropy", sparsity=(k + 1) / 32, **kw)


def test_accuracy_rule_stops_at_the_first_drop_and_stopped_by_names_every_broken_rule():
    net, x, y = _trained()
    start = copy.deepcopy(net)
    res = obs_prune(net, x, y, loss="cross_entropy", max_accuracy_drop=0.0)
    k = len(res.removed)
    assert res.stopped_by == "accuracy drop" and 0 < k < 31
    assert min(res.accuracy) >= res.accuracy_start
    path = _continue_path(copy.deepcopy(start), x, y, k)  # the removal that was refused
    assert path.removed[:k] == res.removed and path.accuracy[k] < res.accuracy_start
    assert path.error[k] > path.error[k - 1]
    # a budget the refused removal also exceeds: both rules are named
    both = obs_prune(copy.deepcopy(start), x, y, loss="cross_entropy", max_accuracy_drop=0.0,
                     max_error_increase=0.5 * (path.error[k - 1] + path.error[k]) - path.error_start)
    assert both.removed == res.removed and both.stopped_by == "error budget, accuracy drop"


@pytest.mark.parametrize("method", ["obd", "magnitude"])
def test_obd_and_magnitude_take_the_same_rules_and_prune_biases_too(method):
    net, x, y = _trained(1)
    ref = copy.deepcopy(net)
    if method == "obd":
        res = obd_prune(net, x, y, loss="cross_entropy", max_accuracy_drop=0.0)
    else:
        res = magnitude_prune(net, x=x, z=y, loss="cross_entropy", max_accuracy_drop=0.0)
    assert res.n_total == sum(p.numel() for p in ref.parameters())  # biases included, as OBS
    assert set(get_masks(net)) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert res.stopped_by == "accuracy drop" and all(a >= res.accuracy_start for a in res.accuracy)
    k = len(res.removed)
    if method == "magnitude":  # independent: zero the k (and k + 1) smallest |w|, measure accuracy
        w = torch.cat([p.detach().reshape(-1) for p in ref.parameters()])
        order = torch.argsort(w.abs())

        def acc_without(m):
            v = w.clone()
            v[order[:m]] = 0
            torch.nn.utils.vector_to_parameters(v, ref.parameters())
            return float((ref(x).argmax(1) == y).double().mean())

        assert acc_without(k) >= res.accuracy_start > acc_without(k + 1)


def test_a_float32_net_of_a_few_hundred_weights_prunes_without_a_cholesky_failure():
    """Q is built and factorised in float64: the float32 net follows its float64 twin's path."""
    net64, x, y = _trained(2, n=25, hidden=60, steps=100)  # 362 weights, rank of Q ≤ 50
    net32 = copy.deepcopy(net64).float()
    P = sum(p.numel() for p in net64.parameters())
    assert P > 300
    r64 = obs_prune(net64, x, y, loss="cross_entropy", sparsity=40 / P)
    r32 = obs_prune(net32, x.float(), y, loss="cross_entropy", sparsity=40 / P)
    assert r32.stopped_by == "sparsity" and len(r32.removed) == 40
    assert r32.removed[:20] == r64.removed[:20]
    torch.testing.assert_close(torch.tensor(r32.saliency[:20]), torch.tensor(r64.saliency[:20]),
                               rtol=1e-3, atol=1e-6)


def test_user_mistakes_in_the_new_options():
    from deepnets.errors import ConfigError

    net, x, y = _trained()
    with pytest.raises(ConfigError, match=r"max_accuracy_drop must be in \[0, 1\), got 1.5"):
        obs_prune(net, x, y, loss="cross_entropy", max_accuracy_drop=1.5)
    with pytest.raises(ConfigError, match="recompute_every must be 'auto', None or an integer >= 1, got 0"):
        obs_prune(net, x, y, loss="cross_entropy", sparsity=0.5, recompute_every=0)
    with pytest.raises(ConfigError, match="give both x and z"):
        magnitude_prune(net, max_accuracy_drop=0.0)
    with pytest.raises(ConfigError, match="scope='layer' prunes the same fraction"):
        magnitude_prune(net, 0.5, x=x, z=y, scope="layer", max_error_increase=1.0)
    with pytest.raises(ConfigError, match=r"unexpected options \['alpha'\]"):
        magnitude_prune(net, 0.5, alpha=1.0)
    with pytest.raises(ConfigError, match="do not pass curvature"):
        obd_prune(net, x, y, sparsity=0.5, curvature="full")
    assert get_masks(net) == {}  # refused before anything was masked
