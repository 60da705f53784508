"""Every optimizer, ours and torch's, through the same interface: build by name, step(closure)."""

import io

import pytest
import torch

from deepnets.optim import NEEDS_CLOSURE, OPTIMIZERS

# TOML-style keyword arguments that suit a tiny full-batch problem.
SETTINGS = {
    "sgd": dict(lr=0.1, momentum=0.9),
    "adagrad": dict(lr=0.1),
    "adam": dict(lr=0.03),
    "adamw": dict(lr=0.03),
    "rmsprop": dict(lr=0.01),
    "lbfgs": dict(lr=1.0, max_iter=5, line_search_fn="strong_wolfe"),
    "delta_bar_delta": dict(lr=0.1, kappa=0.02, phi=0.2, theta=0.7),
    "quickprop": dict(lr=0.05, mu=1.75),
    "conjugate_gradient": dict(max_iter=5),
    "scaled_conjugate_gradient": dict(max_iter=5),
    "memoryless_qn": dict(max_iter=5),
    "ekf": dict(p0=100.0, q=1e-3, r=1.0),
    "decoupled_ekf": dict(p0=100.0, q=1e-3, r=1.0),
    "lm": dict(mu=10.0),
}


#: the CPU always; a CUDA device where there is one (a lent GPU runs the same checks there)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_every_registered_optimizer_has_settings():
    assert set(SETTINGS) == set(OPTIMIZERS)
    assert NEEDS_CLOSURE <= set(OPTIMIZERS)


def tiny_problem(dtype, device="cpu"):
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(32, 2, generator=gen, dtype=dtype) * 4 - 2  # (N, p)
    y = torch.sin(X[:, :1]) * torch.cos(X[:, 1:])  # (N, 1)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).to(dtype)
    return model.to(device), X.to(device), y.to(device)


def train(model, optimizer, X, y, steps):
    """The common helper: every optimizer is driven by optimizer.step(closure)."""

    def closure():
        if getattr(optimizer, "closure_returns", None) == "outputs_targets":
            return model(X), y  # Kalman filters measure the outputs themselves
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(X), y)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(model(X), y))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_trains_a_tiny_net(name, dtype, device):
    model, X, y = tiny_problem(dtype, device)
    with torch.no_grad():
        start = float(torch.nn.functional.mse_loss(model(X), y))
    opt = OPTIMIZERS[name](model.parameters(), **SETTINGS[name])
    end = train(model, opt, X, y, steps=40)
    assert end < 0.5 * start
    assert all(p.dtype == dtype and p.device.type == device for p in model.parameters())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_state_dict_round_trip_continues_identically(name, dtype, device):
    model, X, y = tiny_problem(dtype, device)
    opt = OPTIMIZERS[name](model.parameters(), **SETTINGS[name])
    train(model, opt, X, y, steps=4)

    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)

    restored, _, _ = tiny_problem(dtype, device)
    restored.load_state_dict(saved["model"])
    restored_opt = OPTIMIZERS[name](restored.parameters(), **SETTINGS[name])
    restored_opt.load_state_dict(saved["opt"])
    fresh, _, _ = tiny_problem(dtype, device)
    fresh.load_state_dict(saved["model"])
    fresh_opt = OPTIMIZERS[name](fresh.parameters(), **SETTINGS[name])

    train(model, opt, X, y, steps=3)
    train(restored, restored_opt, X, y, steps=3)
    train(fresh, fresh_opt, X, y, steps=3)
    for a, b in zip(model.parameters(), restored.parameters()):
        assert torch.equal(a, b)
    # The saved state matters: an optimizer started afresh from the same weights goes elsewhere.
    assert any(not torch.equal(a, c) for a, c in zip(model.parameters(), fresh.parameters()))


@pytest.mark.parametrize("name", sorted(NEEDS_CLOSURE - {"lbfgs", "ekf", "decoupled_ekf"}))
def test_second_order_methods_refuse_a_missing_closure(name):
    model, _, _ = tiny_problem(torch.float32)
    with pytest.raises(ValueError, match="closure"):
        OPTIMIZERS[name](model.parameters(), **SETTINGS[name]).step()
