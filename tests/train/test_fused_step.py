"""The direct fused-Adam step against torch's own optimizer.step(): bit for bit."""

import pytest
import torch

from deepnets.train.fused_step import fused_adam_step


def twin_runs(cls, steps=30, **options):
    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2)) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    groups = [lambda n: [{"params": n[0].parameters(), "lr": 0.01}, {"params": n[2].parameters()}]] * 2
    opts = [cls(groups[i](n), lr=0.003, fused=True, **options) for i, n in enumerate(nets)]
    lean = fused_adam_step(opts[1])
    assert lean is not None
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(16, 5, generator=g)
        for net, opt, stepper in zip(nets, opts, (opts[0].step, lean)):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            stepper()
    return nets, opts


@pytest.mark.parametrize("cls,options", [
    (torch.optim.Adam, {}), (torch.optim.Adam, {"weight_decay": 0.1, "amsgrad": True}),
    (torch.optim.AdamW, {"weight_decay": 0.05}), (torch.optim.Adam, {"betas": (0.8, 0.9), "eps": 1e-6})])
def test_equals_optimizer_step_bit_for_bit(cls, options):
    nets, opts = twin_runs(cls, **options)
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)
    sa, sb = opts[0].state_dict(), opts[1].state_dict()
    for k in sa["state"]:
        for name in sa["state"][k]:
            assert torch.equal(sa["state"][k][name], sb["state"][k][name]), name


def test_only_where_it_cannot_change_behaviour():
    p = [torch.nn.Parameter(torch.ones(3))]
    assert fused_adam_step(torch.optim.Adam(p)) is None                  # not fused
    assert fused_adam_step(torch.optim.SGD(p, lr=0.1)) is None
    assert fused_adam_step(torch.optim.Adam(p, fused=True, maximize=True)) is None
    opt = torch.optim.Adam(p, fused=True)
    step = fused_adam_step(opt)
    seen = []
    opt.register_step_post_hook(lambda *a: seen.append(1))
    p[0].grad = torch.ones(3)
    step()
    step()
    assert seen == [1, 1]          # with a hook it goes through optimizer.step(), hooks and all


@pytest.mark.parametrize("numba", ["0", "1"])
def test_step_counts_advance_with_and_without_numba(numba, monkeypatch):
    """The step counts go up by one a step through Numba's kernel or, with DEEPNETS_NO_NUMBA, NumPy:
    the same counts and weights as optimizer.step() either way."""
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", numba)
    nets, opts = twin_runs(torch.optim.Adam, steps=7)
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)
        assert float(opts[1].state[b]["step"]) == float(opts[0].state[a]["step"]) == 7.0
