"""BernoulliRBM against brute force on tiny RBMs (every joint state enumerated) and against
scikit-learn's BernoulliRBM with the same weights."""

import itertools

import numpy as np
import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.nn import BernoulliRBM


def _states(n):
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=torch.float64)


def _rbm(p, r, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    rbm = BernoulliRBM(p, r, dtype=torch.float64, generator=g)
    with torch.no_grad():  # weights large enough that the distribution is far from uniform
        rbm.weight.copy_(torch.randn(r, p, generator=g, dtype=torch.float64) * scale)
        rbm.visible_bias.copy_(torch.randn(p, generator=g, dtype=torch.float64) * 0.5)
        rbm.hidden_bias.copy_(torch.randn(r, generator=g, dtype=torch.float64) * 0.5)
    return rbm


def _joint(rbm):
    """p(v, h) over every state by the energy alone: (2^p, 2^r), with the states."""
    v, h = _states(rbm.n_visible), _states(rbm.n_hidden)
    W, b, c = rbm.weight.detach(), rbm.visible_bias.detach(), rbm.hidden_bias.detach()
    minus_e = (v @ b)[:, None] + (h @ c)[None, :] + v @ W.T @ h.T      # −E(v, h), (2^p, 2^r)
    return torch.softmax(minus_e.flatten(), 0).view_as(minus_e), v, h, minus_e


def test_energy_matches_its_definition():
    rbm = _rbm(4, 3)
    v, h = _states(4)[[3, 9, 14]], _states(3)[[1, 4, 7]]
    W, b, c = rbm.weight, rbm.visible_bias, rbm.hidden_bias
    expected = torch.stack([-(b @ v[n]) - (c @ h[n]) - h[n] @ W @ v[n] for n in range(3)])
    torch.testing.assert_close(rbm.energy(v, h), expected)


def test_free_energy_is_minus_log_sum_over_hidden_states():
    rbm = _rbm(4, 3)
    _, v, _, minus_e = _joint(rbm)
    torch.testing.assert_close(rbm.free_energy(v).detach(), -torch.logsumexp(minus_e, 1))


@pytest.mark.parametrize("p, r", [(4, 3), (3, 5)])  # the sum over h (r < p) and over v (p <= r)
def test_log_partition_and_log_likelihood_by_enumerating_every_joint_state(p, r):
    rbm = _rbm(p, r, seed=p)
    joint, v, _, minus_e = _joint(rbm)
    torch.testing.assert_close(rbm.log_partition().detach(), torch.logsumexp(minus_e.flatten(), 0))
    torch.testing.assert_close(rbm.log_likelihood(v).exp().detach(), joint.sum(1))


def test_conditionals_are_the_joints_marginals():
    rbm = _rbm(4, 3)
    joint, v, h, _ = _joint(rbm)
    p_h_given_v = joint / joint.sum(1, keepdim=True)                   # (2^p, 2^r)
    torch.testing.assert_close(rbm.hidden_probs(v).detach(), p_h_given_v @ h)
    p_v_given_h = joint / joint.sum(0, keepdim=True)
    torch.testing.assert_close(rbm.visible_probs(h).detach(), p_v_given_h.T @ v)
    torch.testing.assert_close(rbm.transform(v), rbm.hidden_probs(v))


def test_long_gibbs_chains_sample_the_models_marginal():
    rbm = _rbm(4, 3, scale=0.7)
    joint, v, _, _ = _joint(rbm)
    g = torch.Generator().manual_seed(1)
    samples = rbm.gibbs(torch.zeros(20000, 4, dtype=torch.float64), 30, generator=g)
    index = (samples @ (2.0 ** torch.arange(3, -1, -1, dtype=torch.float64))).long()  # row of _states
    freq = torch.bincount(index, minlength=16).double() / 20000
    assert float((freq - joint.sum(1)).abs().max()) < 0.012  # ~4 standard errors at p ≈ 0.2


def test_log_pseudo_likelihood_is_the_sum_of_exact_conditionals():
    rbm = _rbm(4, 3)
    joint, v, _, _ = _joint(rbm)
    p_v = joint.sum(1)                                                 # p(v) over the 16 states
    expected = torch.zeros(16, dtype=torch.float64)
    for i in range(4):
        partner = [int((row + torch.eye(4, dtype=torch.float64)[i] * (1 - 2 * row[i])) @
                       (2.0 ** torch.arange(3, -1, -1, dtype=torch.float64))) for row in v]
        expected += torch.log(p_v / (p_v + p_v[partner]))              # log p(v_i | v_−i)
    torch.testing.assert_close(rbm.log_pseudo_likelihood(v).detach(), expected)
    per_bit = torch.stack([rbm.pseudo_likelihood(v, torch.full((16,), i)) for i in range(4)])
    torch.testing.assert_close(per_bit.mean(0).detach(), expected)    # the one-bit estimate's mean


def _sklearn_twin(rbm, seed):
    from sklearn.neural_network import BernoulliRBM as SkRBM
    sk = SkRBM(n_components=rbm.n_hidden, n_iter=1, random_state=seed)
    sk.fit(np.zeros((2, rbm.n_visible)))
    sk.components_ = rbm.weight.detach().numpy().copy()
    sk.intercept_hidden_ = rbm.hidden_bias.detach().numpy().copy()
    sk.intercept_visible_ = rbm.visible_bias.detach().numpy().copy()
    return sk


def test_pseudo_likelihood_matches_sklearns_score_samples_bit_for_bit():
    rbm = _rbm(10, 6, seed=3, scale=0.5)
    x = torch.bernoulli(torch.full((50, 10), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(2))
    sk = _sklearn_twin(rbm, seed=7)
    index = np.random.RandomState(7).randint(0, 10, 50)               # the bits score_samples flips
    ours = rbm.pseudo_likelihood(x, torch.from_numpy(index)).detach().numpy()
    np.testing.assert_allclose(ours, sk.score_samples(x.numpy()), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rbm.transform(x).detach().numpy(), sk.transform(x.numpy()), rtol=1e-12)
    np.testing.assert_allclose(rbm.free_energy(x).detach().numpy(), sk._free_energy(x.numpy()), rtol=1e-12)


def test_random_bits_come_from_the_generator():
    rbm = _rbm(6, 4)
    x = _states(6)[::5]
    a = rbm.pseudo_likelihood(x, generator=torch.Generator().manual_seed(4))
    b = rbm.pseudo_likelihood(x, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)


def test_user_mistakes_are_named():
    rbm = BernoulliRBM(4, 3)
    with pytest.raises(DataError, match=r"shape \(N, 4\).*\(2, 5\)"):
        rbm.free_energy(torch.zeros(2, 5))
    with pytest.raises(DataError, match=r"bits in \[0, 4\)"):
        rbm.pseudo_likelihood(torch.zeros(2, 4), torch.tensor([0, 4]))
    with pytest.raises(DataError, match="integer tensor of shape"):
        rbm.pseudo_likelihood(torch.zeros(2, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(ConfigError, match="n_hidden must be a positive integer, got 0"):
        BernoulliRBM(4, 0)
    with pytest.raises(ConfigError, match="at most 2\\^20"):
        BernoulliRBM(30, 25).log_partition()
