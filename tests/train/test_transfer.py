"""Freezing named parts through a fit, per-part rates beside frozen parts, the weighted multi-task loss."""

import pytest
import torch
from torch import nn

from deepnets import MLP, fit
from deepnets.errors import ConfigError
from deepnets.losses import get_loss
from deepnets.train import (MultiTaskLoss, MultiTaskModel, freeze, frozen, make_optimizer, param_groups, trainable,
                            unfreeze)

pytestmark = pytest.mark.filterwarnings("ignore::deepnets.train.FewExamplesWarning")  # small nets on purpose


def _data(n=200, p=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, generator=g)
    return x, (x[:, :1] * x[:, 1:2]).tanh()


@pytest.mark.parametrize("kind", ["mlp", "sequential"])  # the co-state path and the autograd path
def test_frozen_parameters_keep_their_values_through_fit(kind):
    net = MLP([4, 8, 8, 1], seed=0) if kind == "mlp" else nn.Sequential(
        nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    part = "layers.0" if kind == "mlp" else "0"
    assert freeze(net, part) == [f"{part}.bias", f"{part}.weight"]
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    fit(net, _data(), optimizer="adam", lr=0.01, epochs=3, batch_size=50)
    for n, p in net.named_parameters():
        if n.startswith(part + "."):
            assert torch.equal(p, before[n]) and p.grad is None, n
        else:
            assert not torch.equal(p, before[n]), n
    assert frozen(net) == [f"{part}.weight", f"{part}.bias"]


def test_the_optimizer_gets_no_frozen_parameter_and_unfreeze_gives_them_back():
    net = MLP([4, 8, 8, 1], seed=0)
    freeze(net, "layers.0", "layers.2")
    ids = {id(p) for g in make_optimizer("adam", net, lr=0.01).param_groups for p in g["params"]}
    assert ids == {id(net.layers[1].weight), id(net.layers[1].bias)}
    unfreeze(net, "layers")
    assert trainable(net) == [n for n, _ in net.named_parameters()]


def test_prefixes_are_whole_components_and_a_name_matching_nothing_is_refused():
    net = nn.Sequential(*[nn.Linear(2, 2) for _ in range(11)])
    assert freeze(net, "1") == ["1.bias", "1.weight"]  # not 10.*
    with pytest.raises(ConfigError, match="'layers.7'.*parts are"):
        freeze(MLP([2, 3, 1]), "layers.7")
    net = MLP([2, 3, 1])
    freeze(net, "layers")
    with pytest.raises(ConfigError, match="every parameter .* is frozen"):
        fit(net, _data(p=2), epochs=1)


def test_layer_lr_applies_to_the_trainable_parts_beside_frozen_ones():
    net = MLP([4, 8, 8, 1], seed=0)
    freeze(net, "layers.0")
    groups = param_groups(net, 0.1, {"layers.0": 0.5, "layers.1": 0.01})  # layers.0 frozen: accepted
    rates = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert rates == {id(net.layers[1].weight): 0.01, id(net.layers[1].bias): 0.01,
                     id(net.layers[2].weight): 0.1, id(net.layers[2].bias): 0.1}
    with pytest.raises(ConfigError, match="matches no parameter"):
        param_groups(net, 0.1, {"layers.9": 0.5})
    # one full-batch SGD step moves each trainable part by its own rate times the autograd gradient
    x, y = _data()
    W1, W2 = net.layers[1].weight.detach().clone(), net.layers[2].weight.detach().clone()
    E = 0.5 * ((net(x) - y) ** 2).sum(1).mean()
    g1, g2 = torch.autograd.grad(E, [net.layers[1].weight, net.layers[2].weight])
    W0 = net.layers[0].weight.detach().clone()
    fit(net, (x, y), optimizer="sgd", lr=0.1, layer_lr={"layers.0": 0.5, "layers.1": 0.01}, epochs=1,
        batch_size=None, shuffle=False)
    assert torch.equal(net.layers[0].weight, W0)
    torch.testing.assert_close(net.layers[1].weight.detach(), W1 - 0.01 * g1, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(net.layers[2].weight.detach(), W2 - 0.1 * g2, rtol=1e-5, atol=1e-7)


def _multitask(seed=0):
    return MultiTaskModel(MLP([4, 6], output="tanh", seed=seed),
                          {"cls": MLP([6, 3], output="softmax", seed=seed + 1), "reg": MLP([6, 2], seed=seed + 2)})


def test_the_multitask_loss_is_the_weighted_sum_by_hand():
    model = _multitask()
    x, _ = _data(n=50)
    labels, target = (x[:, 0] > 0).long() + (x[:, 1] > 0).long(), x[:, 2:4]
    loss = MultiTaskLoss({"cls": "cross_entropy", "reg": "lms"}, weights={"cls": 0.7, "reg": 2.5})
    h = torch.tanh(x @ model.trunk.layers[0].weight.t() + model.trunk.layers[0].bias)
    p = torch.softmax(h @ model.heads["cls"].layers[0].weight.t() + model.heads["cls"].layers[0].bias, 1)
    r = h @ model.heads["reg"].layers[0].weight.t() + model.heads["reg"].layers[0].bias
    by_hand = 0.7 * -p[torch.arange(50), labels].log().mean() + 2.5 * 0.5 * ((r - target) ** 2).sum(1).mean()
    torch.testing.assert_close(loss(model, (x, labels, target)), by_hand)
    torch.testing.assert_close(MultiTaskLoss({"cls": "cross_entropy", "reg": "lms"}, {"reg": 0})(
        model, (x, labels, target)), -p[torch.arange(50), labels].log().mean())
    # trained through fit, with the shared trunk frozen: only the heads move
    freeze(model, "trunk")
    trunk = model.trunk.layers[0].weight.detach().clone()
    head = model.heads["reg"].layers[0].weight.detach().clone()
    fit(model, (x, labels, target), loss=loss, epochs=2, batch_size=25)
    assert torch.equal(model.trunk.layers[0].weight, trunk)
    assert not torch.equal(model.heads["reg"].layers[0].weight, head)
    assert model.predict(x, "cls").shape == (50, 3)


def test_multitask_mistakes_are_refused():
    model = _multitask()
    x, _ = _data(n=10)
    with pytest.raises(ConfigError, match="has no loss"):
        MultiTaskLoss({"cls": "cross_entropy"}, weights={"reg": 1.0})
    with pytest.raises(ConfigError, match=">= 0"):
        MultiTaskLoss({"cls": "cross_entropy"}, weights={"cls": -1.0})
    with pytest.raises(Exception, match="one target per task"):
        MultiTaskLoss({"cls": "cross_entropy", "reg": "lms"})(model, (x, x[:, 0].long()))
    with pytest.raises(ConfigError, match="model's heads"):
        MultiTaskLoss({"reg": "lms", "cls": "cross_entropy"})(model, (x, x[:, :2], x[:, 0].long()))


def test_hints_are_the_two_task_case():
    from deepnets.train import hint_targets, hinted_loss, with_hints

    hinted = with_hints(MLP([4, 6, 3], output="softmax", seed=0), 2, seed=1)
    x, _ = _data(n=40)
    labels, severity = (x[:, 0] > 0).long() + (x[:, 1] > 0).long(), x[:, 2:4]

    class Split(nn.Module):  # the hinted model's outputs as two tasks
        def forward(self, x):
            z = hinted(x)
            return z[:, :3], z[:, 3:]

    expected = hinted_loss("cross_entropy", n_main=3, gamma=0.3).for_model(hinted)(
        hinted(x), hint_targets(labels, severity, 3))
    got = MultiTaskLoss({"main": get_loss("cross_entropy", model=hinted.net), "hint": "lms"},
                        {"hint": 0.3})(Split(), (x, labels, severity))
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("numba", [True, False])
@pytest.mark.parametrize("penalty", [None, "decay", "elimination"])
def test_a_layer_frozen_during_fit_stops_moving_and_the_rest_trains_on(numba, penalty, monkeypatch):
    """A callback freezing a layer mid-run: the co-state step clears its ``.grad`` (as torch's
    zero_grad would), so neither Adam nor a stale gradient moves it again (before: it kept moving
    on every path, the torch path's too), with and without a penalty; the rest trains on."""
    from deepnets.regularizers import WeightDecay, WeightElimination
    from deepnets.train.callbacks import Callback

    if not numba:
        monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    pen = {None: None, "decay": WeightDecay(1e-2), "elimination": WeightElimination(1e-2)}[penalty]
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (64,), generator=g)

    class FreezeAt(Callback):
        def on_batch_end(self, batch, logs=None):
            if self.loop.step == 6:  # inside the second epoch
                freeze(self.loop.model, "layers.0")
                self.held = [p.detach().clone() for p in self.loop.model.parameters()]

    cb = FreezeAt()
    net = MLP([6, 8, 3], activation="relu", output="softmax", seed=0, dtype=torch.float64)
    fit(net, (x, y), loss="cross_entropy", optimizer="adam", lr=1e-2, epochs=4, batch_size=16, seed=1,
        callbacks=[cb], penalty=pen)
    now = [p.detach() for p in net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(cb.held[:2], now[:2]))  # layers.0: not moved since
    assert all(not torch.equal(a, b) for a, b in zip(cb.held[2:], now[2:]))  # the output layer trained on
    assert net.layers[0].weight.grad is None and net.layers[1].weight.grad is not None
