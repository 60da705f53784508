import copy

import pytest
import torch

from deepnets import MLP, fit
from deepnets.errors import ConfigError, DataError
from deepnets.train.hints import HintedModel, hint_targets, hinted_loss, strip_hints, with_hints


def _data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    labels = (x[:, 0] + x[:, 1] > 0).long()
    severity = (x[:, 0] ** 2 + 0.5 * x[:, 2]).unsqueeze(1)  # (N, 1)
    return x, labels, severity


def test_stripped_model_predicts_the_main_outputs():
    x, labels, severity = _data()
    hinted = with_hints(MLP([3, 6, 2], activation="tanh", output="softmax", seed=1), 1, seed=2)
    fit(hinted, (x, hint_targets(labels, severity, 2)), loss=hinted_loss("cross_entropy", n_main=2, gamma=0.5),
        optimizer="adam", lr=0.05, epochs=20, batch_size=None)
    plain = strip_hints(hinted)
    assert type(plain) is MLP and plain.sizes == [3, 6, 2]
    full = hinted(x).detach()
    assert full.shape == (48, 3)
    torch.testing.assert_close(plain(x).detach(), full[:, :2])
    torch.testing.assert_close(hinted.predict(x), full[:, :2])
    # nothing of the hint layer is left in the saved weights
    assert set(plain.state_dict()) == set(MLP([3, 6, 2]).state_dict())
    assert sum(p.numel() for p in plain.parameters()) == 3 * 6 + 6 + 6 * 2 + 2


def test_hinted_loss_matches_a_hand_computation():
    pred = torch.tensor([[0.7, 0.3, 1.5], [0.2, 0.8, -0.5]])
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    # "cross_entropy" on the main MLP's softmax output takes its probabilities (as fit resolves it)
    hinted = with_hints(MLP([3, 4, 2], output="softmax", seed=0), 1, seed=0)
    loss = hinted_loss("cross_entropy", n_main=2, hint="lms", gamma=0.25).for_model(hinted)
    assert loss.main.outputs == "probabilities"
    E = loss(pred, target)
    ce = -(torch.log(torch.tensor(0.7)) + torch.log(torch.tensor(0.8))) / 2
    lms = 0.5 * ((1.5 - 1.0) ** 2 + (-0.5) ** 2) / 2
    torch.testing.assert_close(E, ce + 0.25 * lms)
    # a cross-entropy hint on linear hint units takes them as logits
    both = hinted_loss("cross_entropy", n_main=2, hint="cross_entropy").for_model(hinted)
    assert (both.main.outputs, both.hint.outputs) == ("probabilities", "logits")
    with pytest.raises(ConfigError, match="cannot tell what a Tanh"):
        hinted_loss("cross_entropy", n_main=2).for_model(with_hints(MLP([3, 4, 2], output="tanh"), 1))


def test_zero_hint_weight_trains_the_main_net_as_without_hints():
    # γ = 0: the hint units get no say, so the main weights follow the plain network's training
    # exactly (autograd through HintedModel vs the co-state recursion of the plain MLP)
    x, labels, severity = _data()
    net = MLP([3, 5, 2], activation="tanh", output="softmax", seed=3, dtype=torch.float64)
    plain = copy.deepcopy(net)
    x = x.double()
    hinted = with_hints(net, 1, seed=4)
    fit(hinted, (x, hint_targets(labels, severity.double(), 2)), loss=hinted_loss("cross_entropy", 2, gamma=0.0),
        optimizer="sgd", lr=0.1, epochs=15, batch_size=None)
    fit(plain, (x, labels), loss="cross_entropy", optimizer="sgd", lr=0.1, epochs=15, batch_size=None)
    for a, b in zip(strip_hints(hinted).parameters(), plain.parameters()):
        torch.testing.assert_close(a, b)


def test_hints_change_the_shared_hidden_layer():
    x, labels, severity = _data()
    runs = []
    for gamma in (0.0, 1.0):
        hinted = with_hints(MLP([3, 5, 2], activation="tanh", output="softmax", seed=3), 1, seed=4)
        fit(hinted, (x, hint_targets(labels, severity, 2)), loss=hinted_loss("cross_entropy", 2, gamma=gamma),
            optimizer="sgd", lr=0.1, epochs=5, batch_size=None)
        runs.append(hinted.net.layers[0].weight.detach().clone())
    assert not torch.allclose(runs[0], runs[1])


def test_hint_targets_codes_labels():
    t = hint_targets(torch.tensor([2, 0]), torch.tensor([0.5, 1.5]), 3)
    torch.testing.assert_close(t, torch.tensor([[0.0, 0.0, 1.0, 0.5], [1.0, 0.0, 0.0, 1.5]]))
    with pytest.raises(ConfigError, match="n_main"):
        hint_targets(torch.tensor([1, 0]), torch.tensor([0.5, 1.5]))
    with pytest.raises(DataError, match="rows"):
        hint_targets(torch.zeros(3, 2), torch.zeros(2, 1))


def test_bad_arguments_raise_config_errors():
    with pytest.raises(ConfigError, match="hidden layer"):
        HintedModel(MLP([2, 1]), 1)
    with pytest.raises(ConfigError, match="n_hints"):
        with_hints(MLP([2, 3, 1]), 0)
    with pytest.raises(ConfigError, match="HintedModel"):
        strip_hints(MLP([2, 3, 1]))
    with pytest.raises(DataError, match="shape"):
        hinted_loss("lms", 1)(torch.zeros(4, 2), torch.zeros(4, 3))
