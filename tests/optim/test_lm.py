"""Levenberg-Marquardt: the same minimum as MINPACK's (scipy.optimize.least_squares, method "lm"),
the damping rule, and the LMS-only contract through fit and a TOML experiment."""

import numpy as np
import pytest
import torch
from scipy.optimize import least_squares
from torch import nn
from torch.func import functional_call

from deepnets import MLP, fit
from deepnets.config import experiment_from_dict, loads_toml
from deepnets.errors import ConfigError
from deepnets.experiment.run import fit_arguments
from deepnets.optim import OPTIMIZERS, LevenbergMarquardt


def _regression(seed=0):
    """A 1-4-1 tanh net (13 weights) and 30 noisy points of a sine, float64."""
    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(-2, 2, 30, dtype=torch.float64).unsqueeze(1)
    z = torch.sin(1.5 * x) + 0.05 * torch.randn(30, 1, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    return net, x, z


def _teacher_problem(seed):
    """A 2-3-1 tanh student (13 weights) started 0.3 (per weight, Gaussian) away from the teacher
    that made its 60 targets (plus noise 0.05): a minimum with bounded weights, float64."""
    g = torch.Generator().manual_seed(seed)
    make = lambda: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    teacher, net = make(), make()
    with torch.no_grad():
        for p, q in zip(teacher.parameters(), net.parameters()):
            p.copy_(1.5 * torch.randn(p.shape, generator=g, dtype=torch.float64))
        x = torch.rand(60, 2, generator=g, dtype=torch.float64) * 4 - 2
        z = teacher(x) + 0.05 * torch.randn(60, 1, generator=g, dtype=torch.float64)
        for p, q in zip(teacher.parameters(), net.parameters()):
            q.copy_(p + 0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return net, x, z


def _flat(net):
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


@pytest.mark.parametrize("seed", [2, 3])
def test_reaches_the_minimum_minpack_reaches_from_the_same_start(seed):
    net, x, z = _teacher_problem(seed)
    w0 = _flat(net).numpy().copy()
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]

    def residuals(w):  # ẑ(w) − z, by a functional call on the same net; MINPACK differences it itself
        theta, offset = {}, 0
        for n, s in zip(names, shapes):
            k = int(np.prod(s))
            theta[n] = torch.from_numpy(w[offset:offset + k].copy()).reshape(s)
            offset += k
        with torch.no_grad():
            return (functional_call(net, theta, (x,)) - z).reshape(-1).numpy()

    ref = least_squares(residuals, w0, method="lm", xtol=1e-12, ftol=1e-12, gtol=1e-12)
    assert ref.success
    opt = LevenbergMarquardt(net.parameters())
    for _ in range(100):
        opt.step(lambda: (net(x), z))
        if opt.state[net[0].weight]["mu"] > 1e10:  # no step lowers E any more: converged
            break
    E = 0.5 * float(((net(x).detach() - z) ** 2).sum())
    assert opt.state[net[0].weight]["mu"] > 1e10
    assert abs(E - ref.cost) < 1e-9 * ref.cost  # scipy's cost is ½ Σ r² too
    assert np.allclose(_flat(net).numpy(), ref.x, rtol=0, atol=1e-5)  # measured: ~1e-7 apart
    assert E < 0.5 * 0.05 ** 2 * 60  # below the noise the targets carry: a fit, not a stall


def test_damping_falls_after_success_and_rises_after_failure():
    net = nn.Linear(2, 1).double()
    x = torch.randn(10, 2, dtype=torch.float64)
    z = torch.randn(10, 1, dtype=torch.float64)
    opt = LevenbergMarquardt(net.parameters(), mu=1.0)
    opt.step(lambda: (net(x), z))
    assert opt.state[net.weight]["mu"] == pytest.approx(0.1)  # a linear model: the first step succeeds
    # a measurement no trial can lower (e = 1 at the start, e = 10 at every trial): μ rises past μ_max
    calls = []

    def moving():
        calls.append(1)
        out = net(x)
        return out, out.detach() + (1.0 if len(calls) == 1 else 10.0)
    w = _flat(net)
    opt.step(moving)
    assert opt.state[net.weight]["mu"] > 1e10 and torch.equal(_flat(net), w)
    assert len(calls) == 1 + 12  # one measurement, then a trial per μ from 0.1 up to 1e10


def test_fit_trains_with_lm_and_lms_and_refuses_cross_entropy():
    net, x, z = _regression(1)
    before = 0.5 * float(((net(x) - z) ** 2).sum(1).mean())
    h = fit(net, (x, z), loss="lms", optimizer="lm", epochs=20,
            batch_size=None)
    assert h.history["loss"][-1] < 0.1 * before
    clf = MLP([2, 3, 2], activation="tanh", output="softmax", seed=0)
    xs, ys = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    with pytest.raises(ConfigError, match="LMS error .*expected loss='lms', got CrossEntropy"):
        fit(clf, (xs, ys), loss="cross_entropy", optimizer="lm", epochs=1)


def test_a_toml_experiment_names_lm():
    exp = experiment_from_dict(loads_toml('[train.optimizer]\nname = "lm"\noptions = { mu = 0.01 }\n'))
    args = fit_arguments(exp, "lms")
    assert args["optimizer"] == "lm" and args["lr"] is None and args["optimizer_options"] == {"mu": 0.01}
    assert OPTIMIZERS["lm"] is LevenbergMarquardt


def test_settings_are_checked():
    net = nn.Linear(2, 1)
    for bad in (dict(mu=0.0), dict(mu_dec=1.0), dict(mu_inc=0.5), dict(mu_max=float("inf")), dict(chunk=0)):
        with pytest.raises(ConfigError, match="Invalid"):
            LevenbergMarquardt(net.parameters(), **bad)


def test_lm_and_the_ekf_take_their_jacobian_from_the_same_code(monkeypatch):
    """Issue #15: one Jacobian code path (optim/_measure.py) for Levenberg-Marquardt and the EKF."""
    from deepnets.optim import EKF, LevenbergMarquardt, _measure
    calls = []
    real = _measure.output_jacobian

    def counting(outputs, params):
        calls.append(outputs.shape[0])
        return real(outputs, params)
    monkeypatch.setattr(_measure, "output_jacobian", counting)
    torch.manual_seed(0)
    x, z = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 1, dtype=torch.float64)
    for make in (lambda ps: LevenbergMarquardt(ps, chunk=4), lambda ps: EKF(ps, chunk=4)):
        net = torch.nn.Linear(2, 1).double()
        calls.clear()
        make(net.parameters()).step(lambda: (net(x), z))
        assert calls == [4, 2]  # both chunks of the batch, through the shared measurement Jacobian
