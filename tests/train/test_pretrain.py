"""Greedy layer-wise pretraining: each layer trains on the codes the MLP itself computes below it,
the weights land in the MLP's hidden layers, and mistakes are one-line ConfigErrors."""

import pytest
import torch

from deepnets import MLP, fit
from deepnets.errors import ConfigError
from deepnets.train import pretrain as pretrain_module
from deepnets.train import PRETRAINERS, autoencoder_layer, greedy_pretrain, pretrain_mlp
from deepnets.zoo import Autoencoder


@pytest.fixture
def recording(monkeypatch):
    """A kind "recording" whose layers are fixed random matrices; it keeps every input it was given."""
    seen = []

    def trainer(x, n_hidden, *, activation, seed, epochs=1, lr=0.1, batch_size=8):
        seen.append(x.clone())
        g = torch.Generator().manual_seed(seed)
        W = torch.randn(n_hidden, x.shape[1], generator=g, dtype=x.dtype)
        b = torch.randn(n_hidden, generator=g, dtype=x.dtype)
        return W, b, activation(x @ W.T + b)

    monkeypatch.setitem(PRETRAINERS, "recording", trainer)
    return seen


def test_each_layer_trains_on_the_codes_the_mlp_computes_below_it(recording):
    x = torch.rand(30, 6, generator=torch.Generator().manual_seed(0))
    mlp = MLP([6, 5, 4, 3, 2], activation=["tanh", "logistic", "relu"], seed=0)
    out_before = mlp.layers[-1].weight.detach().clone()
    record = pretrain_mlp(mlp, x, "recording", seed=7)
    assert record == {"kind": "recording", "layers": 3, "sizes": [6, 5, 4, 3], "n_examples": 30,
                      "seconds": record["seconds"]}
    inputs = mlp.layer_inputs(x)  # ẑ(0), ẑ(1), ẑ(2), ẑ(3) by the MLP's own forward pass
    assert len(recording) == 3
    for seen, z in zip(recording, inputs):
        torch.testing.assert_close(seen, z.detach())
    for l, layer in enumerate(mlp.layers[:3]):  # the weights the trainer drew with seed 7 + l
        g = torch.Generator().manual_seed(7 + l)
        torch.testing.assert_close(layer.weight.detach(), torch.randn(layer.weight.shape, generator=g))
    torch.testing.assert_close(mlp.layers[-1].weight.detach(), out_before)  # the output layer is not pretrained


def test_layers_limits_pretraining_to_the_lowest(recording):
    mlp = MLP([6, 5, 4, 2], seed=0)
    second = mlp.layers[1].weight.detach().clone()
    assert pretrain_mlp(mlp, torch.rand(10, 6), "recording", layers=1)["sizes"] == [6, 5]
    assert len(recording) == 1
    torch.testing.assert_close(mlp.layers[1].weight.detach(), second)


def test_autoencoder_layer_is_the_encoder_of_an_autoencoder_trained_by_fit():
    x = torch.rand(40, 6, generator=torch.Generator().manual_seed(1))
    W, b, codes = autoencoder_layer(x, 3, activation="logistic", seed=4, epochs=3, lr=0.05, batch_size=8,
                                    noise="mask", noise_level=0.2)
    ae = Autoencoder(6, 3, "logistic", noise="mask", noise_level=0.2, seed=4)
    fit(ae, (x, x), loss="lms", lr=0.05, epochs=3, batch_size=8, seed=4)
    torch.testing.assert_close(W, ae.encoders[0].weight.detach())
    torch.testing.assert_close(b, ae.encoders[0].bias.detach())
    torch.testing.assert_close(codes, torch.sigmoid(x @ W.T + b))


def test_greedy_pretrain_returns_one_pair_per_layer_and_fine_tuning_runs():
    x = torch.rand(60, 8, generator=torch.Generator().manual_seed(2))
    layers = greedy_pretrain(x, [5, 3], epochs=2, activation="tanh")
    assert [(tuple(W.shape), tuple(b.shape)) for W, b in layers] == [((5, 8), (5,)), ((3, 5), (3,))]
    mlp = MLP([8, 5, 3, 2], activation="tanh", seed=0)
    pretrain_mlp(mlp, x, epochs=2)
    y = (x[:, 0] > 0.5).long()
    h = fit(mlp, (x, y), loss="cross_entropy", epochs=2)
    assert len(h.history["loss"]) == 2


@pytest.mark.parametrize("call, match", [
    (lambda m, x: pretrain_mlp(m, x, "autoencoders"), r"did you mean 'autoencoder'"),
    (lambda m, x: pretrain_mlp(m, x, epoch=3), r"pretraining kind 'autoencoder': .*epoch"),
    (lambda m, x: pretrain_mlp(m, x, layers=3), r"from 1 to the MLP's 2 hidden"),
    (lambda m, x: pretrain_mlp(m, x, layers=0), r"from 1 to the MLP's 2 hidden"),
    (lambda m, x: pretrain_mlp(m, x[:, :4]), r"\(N, 6\).*got \(10, 4\)"),
    (lambda m, x: pretrain_mlp(torch.nn.Linear(6, 2), x), r"takes a deepnets MLP, got Linear"),
    (lambda m, x: pretrain_mlp(MLP([6, 2]), x), r"needs an MLP with a hidden layer"),
    (lambda m, x: greedy_pretrain(x, []), r"at least one layer"),
    (lambda m, x: greedy_pretrain(x, [3, 2], activation=["tanh"]), r"one per layer: expected 2, got 1"),
])
def test_mistakes_are_config_errors_before_training(monkeypatch, call, match):
    monkeypatch.setattr(pretrain_module, "fit", None)  # any training would fail with a TypeError
    with pytest.raises(ConfigError, match=match):
        call(MLP([6, 4, 3, 2], seed=0), torch.rand(10, 6))
