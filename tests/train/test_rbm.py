"""CD-k and PCD against the exact log-likelihood gradient of a tiny RBM (autograd through log p(v)
with log Z summed over every state), training against the exact log-likelihood, the update rule
against its formula, and rbm_layer's codes."""

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.nn import BernoulliRBM
from deepnets.train import cd_gradient, rbm_layer, train_rbm

# a tiny data distribution over 4 bits: two patterns and their one-bit neighbours
PATTERNS = torch.tensor([[1., 1., 0., 0.], [0., 0., 1., 1.], [1., 1., 1., 0.], [0., 1., 1., 1.]], dtype=torch.float64)
WEIGHTS = torch.tensor([0.4, 0.4, 0.1, 0.1], dtype=torch.float64)


def _rbm(seed=0, scale=1.0, p=4, r=3):
    g = torch.Generator().manual_seed(seed)
    rbm = BernoulliRBM(p, r, dtype=torch.float64, generator=g)
    with torch.no_grad():
        rbm.weight.copy_(torch.randn(r, p, generator=g, dtype=torch.float64) * scale)
        rbm.visible_bias.copy_(torch.randn(p, generator=g, dtype=torch.float64) * 0.3)
        rbm.hidden_bias.copy_(torch.randn(r, generator=g, dtype=torch.float64) * 0.3)
    return rbm


def _exact_gradient(rbm, v):
    """∂ mean log p(v) / ∂(W, b, c) by autograd through log p(v) = −F(v) − log Z (Z enumerated)."""
    rbm.zero_grad()
    rbm.log_likelihood(v).mean().backward()
    return [p.grad.clone() for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias)]


def _data(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return PATTERNS[torch.multinomial(WEIGHTS, n, replacement=True, generator=g)]


def test_cd_k_with_long_chains_approaches_the_exact_gradient_and_cd_1_does_not():
    rbm = _rbm(scale=1.5)
    v = PATTERNS.repeat_interleave(5000, 0)                            # 20,000 chains over 4 patterns
    exact = _exact_gradient(rbm, v)
    g = torch.Generator().manual_seed(0)
    long = cd_gradient(rbm, v, k=50, generator=g)[:3]
    short = cd_gradient(rbm, v, k=1, generator=g)[:3]
    err_long = max(float((a - e).abs().max()) for a, e in zip(long, exact))
    err_short = max(float((a - e).abs().max()) for a, e in zip(short, exact))
    assert err_long < 0.02, err_long                                   # Monte Carlo error ~ 1/sqrt(20,000)
    assert err_short > 3 * err_long, (err_short, err_long)            # CD-1 is biased


def test_persistent_chains_at_equilibrium_give_the_exact_gradient():
    rbm = _rbm(seed=1, scale=1.5)
    v = _data(1000)
    exact = _exact_gradient(rbm, v)
    g = torch.Generator().manual_seed(1)
    chains = rbm.gibbs(torch.zeros(20000, 4, dtype=torch.float64), 50, generator=g)  # burnt in
    estimate = cd_gradient(rbm, v, k=1, chains=chains, generator=g)
    assert estimate[3].shape == (20000, 4)                             # the chains to continue
    assert max(float((a - e).abs().max()) for a, e in zip(estimate[:3], exact)) < 0.02


@pytest.mark.parametrize("persistent, epochs, batch_size, lr", [(False, 30, 20, 0.2), (True, 100, 100, 0.3)])
def test_training_raises_the_exact_log_likelihood(persistent, epochs, batch_size, lr):
    x = _data(400)
    rbm = BernoulliRBM(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = float(rbm.log_likelihood(x).mean().detach())             # ≈ −4 log 2: near uniform
    train_rbm(rbm, x, epochs=epochs, batch_size=batch_size, lr=lr, persistent=persistent, seed=0)
    after = float(rbm.log_likelihood(x).mean().detach())
    freq = torch.unique(x, dim=0, return_counts=True)[1] / 400.0
    best = float((freq * freq.log()).sum())                            # −H(sample) ≈ −1.15 nats: the maximum
    assert before < -2.7 and best - 0.3 < after < best + 1e-9, (before, after, best)


def test_one_epoch_applies_momentum_and_weight_decay_as_written():
    x = _data(30, seed=2)
    rbm = _rbm(seed=2)
    twin = _rbm(seed=2)
    lr, mu, lam = 0.05, 0.9, 0.01
    train_rbm(rbm, x, epochs=1, batch_size=10, lr=lr, k=2, momentum=mu, weight_decay=lam, seed=5)
    g = torch.Generator().manual_seed(5)                               # the same draws, in the same order
    order = torch.randperm(30, generator=g)
    params = (twin.weight, twin.visible_bias, twin.hidden_bias)
    velocity = [torch.zeros_like(p) for p in params]
    with torch.no_grad():
        for start in (0, 10, 20):
            grads = list(cd_gradient(twin, x[order[start:start + 10]], k=2, generator=g)[:3])
            grads[0] = grads[0] - lam * twin.weight
            for p, d, gr in zip(params, velocity, grads):
                d.copy_(mu * d + lr * gr)                              # Δθ ← μΔθ + η(ĝ − λθ)
                p += d
    for a, b in zip(rbm.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b)


def test_a_seed_repeats_the_run_and_logging_does_not_change_it():
    x = _data(100)
    runs = []
    for callback in (None, lambda epoch, rbm, logs: seen.append(logs)):
        seen = []
        rbm = BernoulliRBM(4, 3, generator=torch.Generator().manual_seed(0))
        history = train_rbm(rbm, x, epochs=3, persistent=True, seed=3, callback=callback)
        runs.append([p.detach().clone() for p in rbm.parameters()])
    for a, b in zip(*runs):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [logs["epoch"] for logs in seen] == [0, 1, 2] and history.epochs == 3 and history.updates == 30
    assert history.chains.shape == (10, 4) and len(history.pseudo_likelihood) == 3


def test_a_callback_stops_training_by_stop_iteration():
    def stop(epoch, rbm, logs):
        if epoch == 1:
            raise StopIteration
    history = train_rbm(BernoulliRBM(4, 3), _data(50).float(), epochs=10, seed=0, callback=stop)
    assert history.epochs == 2


def test_verbose_logs_each_epochs_pseudo_likelihood(caplog):
    with caplog.at_level("INFO", logger="deepnets.train.rbm"):
        history = train_rbm(BernoulliRBM(4, 3), _data(40).float(), epochs=2, seed=0, verbose=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "deepnets.train.rbm"]
    assert [line.split(":")[0] for line in lines] == ["RBM epoch 1", "RBM epoch 2"]
    assert lines[1].endswith(f"{history.pseudo_likelihood[1]:.4f}")


def test_rbm_layer_returns_the_weights_bias_and_codes_of_a_logistic_layer():
    x = _data(200).float()
    weight, bias, codes = rbm_layer(x, 3, epochs=5, seed=0)
    assert weight.shape == (3, 4) and bias.shape == (3,) and codes.shape == (200, 3)
    torch.testing.assert_close(codes, torch.sigmoid(x @ weight.T + bias))
    w2, b2, c2 = rbm_layer(codes, 2, epochs=2, seed=1)                 # the next layer trains on the codes
    assert w2.shape == (2, 3) and c2.shape == (200, 2)
    torch.testing.assert_close(rbm_layer(x, 3, epochs=5, seed=0)[0], weight)
    w3, b3, c3 = rbm_layer(x, 3, activation="logistic:2", epochs=5, seed=0)  # g(y) = σ(2y): W, w_0 halved
    torch.testing.assert_close(c3, codes)
    torch.testing.assert_close(c3, torch.sigmoid(2 * (x @ w3.T + b3)))


def test_greedy_pretraining_by_rbms_fills_an_mlp_whose_layers_compute_the_codes():
    from deepnets import MLP
    from deepnets.train import greedy_pretrain, pretrain_mlp
    x = _data(100).float()
    layers = greedy_pretrain(x, [3, 2], "rbm", epochs=3, k=2)
    mlp = MLP([4, 3, 2, 2], activation="logistic", seed=0)
    record = pretrain_mlp(mlp, x, "rbm", epochs=3, k=2)
    assert record["kind"] == "rbm" and record["layers"] == 2
    h = x
    for layer, (W, b) in zip(mlp.layers, layers):
        torch.testing.assert_close(layer.weight.detach(), W)
        h = torch.sigmoid(h @ W.T + b)
    torch.testing.assert_close(h, rbm_layer(rbm_layer(x, 3, epochs=3, k=2)[2], 2, epochs=3, k=2, seed=1)[2])
    with pytest.raises(ConfigError, match="activation must be 'logistic', got 'tanh'"):
        pretrain_mlp(MLP([4, 3, 2], activation="tanh"), x, "rbm", epochs=1)
    with pytest.raises(DataError, match=r"values in \[-1, 1\].*data.scale"):
        greedy_pretrain(x * 2 - 1, [3], "rbm", epochs=1)
    with pytest.raises(ConfigError, match="unexpected keyword argument 'beta'"):
        greedy_pretrain(x, [3], "rbm", beta=1)


def test_user_mistakes_are_named():
    rbm = BernoulliRBM(4, 3)
    with pytest.raises(DataError, match=r"values in \[0, 16\]"):
        train_rbm(rbm, torch.tensor([[0., 16., 3., 1.]]))
    with pytest.raises(DataError, match="x has 5 columns but the RBM has 4 visible units"):
        train_rbm(rbm, torch.zeros(3, 5))
    with pytest.raises(DataError, match=r"values in \[nan"):
        train_rbm(rbm, torch.tensor([[0., float("nan"), 0., 1.]]))
    with pytest.raises(ConfigError, match=r"momentum must be in \[0, 1\), got 1"):
        train_rbm(rbm, torch.zeros(3, 4), momentum=1)
    with pytest.raises(ConfigError, match="k \\(Gibbs steps\\) must be a positive integer, got 0"):
        train_rbm(rbm, torch.zeros(3, 4), k=0)
    with pytest.raises(ConfigError, match="lr must be > 0"):
        rbm_layer(torch.zeros(3, 4), 2, lr=0.0)
