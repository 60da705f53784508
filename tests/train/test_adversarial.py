"""FGSM and PGD against closed forms on linear models, the ε-ball, and adversarial training through fit."""

import warnings

import pytest
import torch
from torch import nn

from deepnets import MLP, ConfigError, DataError, TrainingInterrupted, fit
from deepnets.adversarial import AdversarialLoss, adversarial_loss, attacked_accuracy, fgsm, pgd, run_attack
from deepnets.train.callbacks import Checkpointer, GracefulStop
from deepnets.train.checkpoint import CheckpointManager
from signals import KillAt


def _linear(d_in, d_out, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(d_in, d_out).double()


def _x(n, d, seed=1):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_fgsm_on_a_logistic_unit_is_the_closed_form():
    # E = BCE(σ(wᵀx + b), y): ∇_x E = (σ − y) w, so x' = x + ε sign(w) for y = 0 and x − ε sign(w) for y = 1
    net, x = _linear(5, 1), _x(8, 5)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1], dtype=torch.float64).unsqueeze(1)
    want = x - 0.3 * (2 * y - 1) * net.weight.detach().sign()
    torch.testing.assert_close(fgsm(net, x, y, 0.3, loss="cross_entropy"), want)


def test_fgsm_on_a_linear_lms_model_is_the_closed_form():
    # E = ½ (wᵀx + b − z)²: ∇_x E = (a − z) w, x' = x + ε sign(a − z) sign(w)
    net, x, z = _linear(4, 1), _x(10, 4), _x(10, 1, seed=2)
    with torch.no_grad():
        residual = net(x) - z
    want = x + 0.2 * residual.sign() * net.weight.detach().sign()
    torch.testing.assert_close(fgsm(net, x, z, 0.2, loss="lms"), want)


def test_fgsm_on_softmax_regression_follows_the_deviance_gradient():
    # E = −ln softmax(Wx + b)_y: ∇_x E = Wᵀ(p − e_y)
    net, x = _linear(6, 3), _x(12, 6)
    y = torch.arange(12) % 3
    with torch.no_grad():
        p = torch.softmax(net(x), 1)
    grad = (p - nn.functional.one_hot(y, 3).double()) @ net.weight.detach()
    torch.testing.assert_close(fgsm(net, x, y, 0.1), x + 0.1 * grad.sign())


def test_pgd_on_a_logistic_unit_reaches_the_corner_fgsm_finds():
    # for a linear logit the maximiser of E over the L∞ ball is the corner x ∓ ε sign(w): PGD climbs there
    net, x = _linear(5, 1), _x(16, 5)
    y = (torch.arange(16) % 2).double().unsqueeze(1)
    got = pgd(net, x, y, 0.25, steps=10, loss="cross_entropy", generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(got, x - 0.25 * (2 * y - 1) * net.weight.detach().sign())


def test_pgd_never_leaves_the_ball_or_the_input_range():
    net = MLP([8, 12, 3], activation="tanh", output="softmax", seed=0).double()
    x = _x(40, 8).clamp(-1, 1)
    y = torch.arange(40) % 3
    for eps, clip in ((0.3, None), (0.5, (-1.0, 1.0))):
        got = pgd(net, x, y, eps, steps=15, alpha=0.2, clip=clip, generator=torch.Generator().manual_seed(0))
        assert float((got - x).abs().max()) <= eps + 1e-12
        assert not torch.equal(got, x)
        if clip is not None:
            assert float(got.min()) >= -1 and float(got.max()) <= 1


def test_pgd_does_not_lower_the_cost_of_a_convex_model():
    # softmax regression: each sample's deviance is convex in x; PGD's point costs at least the clean one
    net, x = _linear(6, 4), _x(50, 6)
    y = torch.arange(50) % 4
    got = pgd(net, x, y, 0.2, steps=20, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        clean = nn.functional.cross_entropy(net(x), y, reduction="none")
        attacked = nn.functional.cross_entropy(net(got), y, reduction="none")
    assert bool((attacked >= clean).all())
    assert float((attacked - clean).min()) > 0


def test_zero_epsilon_returns_the_inputs():
    net, x, y = _linear(3, 2), _x(5, 3), torch.tensor([0, 1, 1, 0, 1])
    assert torch.equal(fgsm(net, x, y, 0.0), x)
    assert torch.equal(pgd(net, x, y, 0.0), x)


def test_attacks_run_in_eval_mode_and_leave_gradients_alone():
    net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    x, y = torch.randn(20, 4), torch.arange(20) % 2
    net(x).sum().backward()
    before = [p.grad.clone() for p in net.parameters()]
    a, b = fgsm(net, x, y, 0.1), fgsm(net, x, y, 0.1)
    assert torch.equal(a, b)  # no dropout noise: eval mode
    pgd(net, x, y, 0.1, steps=3)
    assert net.training
    assert all(torch.equal(p.grad, g) for p, g in zip(net.parameters(), before))


def test_mistakes_are_named():
    net, x, y = _linear(3, 2), _x(4, 3), torch.tensor([0, 1, 1, 0])
    with pytest.raises(ConfigError, match="epsilon"):
        fgsm(net, x, y, -0.1)
    with pytest.raises(ConfigError, match="alpha"):
        pgd(net, x, y, 0.1, alpha=0.0)
    with pytest.raises(ConfigError, match="'pgd'"):
        run_attack("pdg", net, x, y, 0.1)
    with pytest.raises(ConfigError, match="pgd option"):
        run_attack("fgsm", net, x, y, 0.1, steps=3)
    with pytest.raises(DataError, match="one row per input"):
        fgsm(net, x, y[:2], 0.1)
    with pytest.raises(ConfigError, match="epsilon > 0"):
        adversarial_loss(epsilon=0.0)
    with pytest.raises(ConfigError, match="weight"):
        adversarial_loss(epsilon=0.1, weight=1.5)


def _weak_and_robust(n, seed):
    """Two classes: feature 0 = ±(1 + u) (margin 1), 19 features ±0.3 + N(0, 0.3²) (each weak, easily flipped)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    s = (2 * y - 1).float()
    x = torch.cat([(s * (1 + 0.3 * torch.rand(n, generator=g))).unsqueeze(1),
                   s[:, None] * 0.3 + 0.3 * torch.randn(n, 19, generator=g)], 1)
    return x, y


def test_adversarial_training_is_robust_where_plain_training_is_not():
    x, y = _weak_and_robust(200, seed=0)
    xt, yt = _weak_and_robust(200, seed=1)
    accuracy = {}
    for name, loss in (("plain", "cross_entropy"), ("fgsm", adversarial_loss(epsilon=0.5)),
                       ("pgd", adversarial_loss(attack="pgd", epsilon=0.5, steps=3, weight=1.0))):
        net = MLP([20, 16, 2], activation="tanh", output="softmax", seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit(net, (x, y), loss=loss, optimizer="adam", lr=0.02, epochs=20, batch_size=50, seed=0)
        accuracy[name] = (attacked_accuracy(net, xt, yt, 0.0), attacked_accuracy(net, xt, yt, 0.5),
                          attacked_accuracy(net, xt, yt, 0.5, attack="pgd", steps=5))
    assert all(clean > 0.95 for clean, _, _ in accuracy.values())
    assert accuracy["plain"][1] < 0.5 and accuracy["plain"][2] < 0.5  # the weak features flipped
    for name in ("fgsm", "pgd"):
        assert accuracy[name][1] > 0.9 and accuracy[name][2] > 0.9, accuracy


def test_the_loss_mixes_clean_and_attacked_costs_and_checkpoints_its_generator():
    net, x = _linear(5, 3), _x(30, 5)
    y = torch.arange(30) % 3
    ce = nn.functional.cross_entropy
    for w in (0.0, 0.3, 1.0):
        E = AdversarialLoss(epsilon=0.2, weight=w)(net, (x, y))
        want = (1 - w) * ce(net(x), y) + w * ce(net(fgsm(net, x, y, 0.2)), y)
        torch.testing.assert_close(E, want)
    loss = adversarial_loss(attack="pgd", epsilon=0.2, steps=2, seed=5)
    state = loss.state_dict()
    first = loss(net, (x, y))
    loss.load_state_dict(state)  # the same random starts again, as a resumed run draws them
    torch.testing.assert_close(loss(net, (x, y)), first)
    assert not torch.equal(loss(net, (x, y)), first)
    with pytest.raises(DataError, match="batches \\(x, y\\)"):
        loss(net, (x,))


def test_accuracy_reads_one_logit_or_one_probability_by_what_the_model_outputs():
    x = _x(64, 3).float()
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.2).long()
    logit = nn.Linear(3, 1)
    prob = MLP([3, 4, 1], activation="tanh", output="logistic", seed=0)
    with torch.no_grad():
        want_logit = float(((logit(x)[:, 0] > 0).long() == y).double().mean())
        want_prob = float(((prob(x)[:, 0] > 0.5).long() == y).double().mean())
    assert attacked_accuracy(logit, x, y, 0.0) == pytest.approx(want_logit)
    assert attacked_accuracy(prob, x, y, 0.0) == pytest.approx(want_prob)
    assert attacked_accuracy(logit, x, y, 10.0) <= want_logit


def _pgd_run(callbacks=(), seed=0):
    """2 epochs of 4 batches, PGD adversarial training with random starts."""
    x, y = _weak_and_robust(64, seed=2)
    net = MLP([20, 6, 2], activation="tanh", output="softmax", seed=0)
    loss = adversarial_loss(attack="pgd", epsilon=0.3, steps=2, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = fit(net, (x, y), loss=loss, optimizer="adam", lr=0.01, epochs=2, batch_size=16, seed=0,
                callbacks=list(callbacks))
    return net, loss, h


def test_an_interrupted_pgd_run_resumes_bit_for_bit_with_its_random_starts(tmp_path):
    full, full_loss, full_h = _pgd_run()
    with pytest.raises(TrainingInterrupted):
        _pgd_run([GracefulStop(), KillAt(6), Checkpointer(tmp_path, every_epochs=0)])  # epoch 2, batch 2 of 4
    saved = CheckpointManager(tmp_path).load()["extra"]["loop"]["callbacks"]["AdversarialLoss"]
    assert "generator" in saved
    net, loss, h = _pgd_run([Checkpointer(tmp_path, every_epochs=0, resume=True)])
    assert h.history["loss"] == full_h.history["loss"]
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), full.parameters()))
    assert torch.equal(loss.generator.get_state(), full_loss.generator.get_state())
    other, _, _ = _pgd_run(seed=1)  # other random starts train other weights: the starts matter
    assert not all(torch.equal(p, q) for p, q in zip(other.parameters(), full.parameters()))
