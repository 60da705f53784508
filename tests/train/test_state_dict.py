"""All-or-nothing weight loading, wrapper prefixes, and optimizer state matched by name."""

from __future__ import annotations

import pytest
import torch

from deepnets.errors import CheckpointError
from deepnets.train.state_dict import (load_optimizer_state_by_name, load_state_dict_checked,
                                       optimizer_state_by_name, strip_prefix)


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_other_architecture_lists_everything_and_loads_nothing():
    torch.manual_seed(0)
    wide = torch.nn.Sequential(*[torch.nn.Linear(4, 4) for _ in range(14)])  # 28 keys
    narrow = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 4))  # 4 keys
    narrow.add_module("head", torch.nn.Linear(4, 1))
    before = _snapshot(narrow)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_checked(narrow, wide.state_dict(), source="wide.safetensors")
    msg = str(info.value)
    assert "wide.safetensors does not fit Sequential; nothing was loaded" in msg
    assert "2 missing: head.weight, head.bias" in msg
    assert "24 unexpected: 2.weight" in msg and "(14 more)" in msg  # 10 shown of 24
    assert "3 mis-shaped: 0.weight (checkpoint (4, 4), model (3, 4))" in msg
    assert "0.bias (checkpoint (4,), model (3,))" in msg
    assert "1.weight (checkpoint (4, 4), model (4, 3))" in msg
    for k, v in narrow.state_dict().items():
        assert torch.equal(v, before[k]), k  # not even the fitting 1.bias was loaded


def test_only_the_first_ten_of_each_kind_are_listed():
    big = {f"w{i}": torch.zeros(1) for i in range(25)}
    with pytest.raises(CheckpointError, match=r"25 unexpected: w0, w1, .*w9, \.\.\. \(15 more\)"):
        load_state_dict_checked(torch.nn.Linear(1, 1, bias=False),
                                {"weight": torch.zeros(1, 1), **big})


class _DDPLike(torch.nn.Module):
    """Stands in for DistributedDataParallel: it registers the model as ``module``."""

    def __init__(self, module):
        super().__init__()
        self.module = module


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.compile imports torch.jit
def test_wrapper_prefixes_are_stripped_both_ways():
    assert strip_prefix("module._orig_mod.module.a.b") == "a.b"
    src = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    compiled = torch.compile(src)  # compiles lazily: only the _orig_mod. names matter here
    wrapped_state = _DDPLike(compiled).state_dict()
    assert next(iter(wrapped_state)).startswith("module._orig_mod.")
    bare = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    load_state_dict_checked(bare, wrapped_state)
    assert torch.equal(bare[2].weight, src[2].weight)
    # and a bare checkpoint into a wrapped model
    target = _DDPLike(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                                          torch.nn.Linear(3, 1)))
    load_state_dict_checked(target, src.state_dict())
    assert torch.equal(target.module[0].bias, src[0].bias)


def test_keys_colliding_after_stripping_are_refused():
    w = torch.zeros(1, 1)
    with pytest.raises(CheckpointError, match="two keys that both mean 'weight'"):
        load_state_dict_checked(torch.nn.Linear(1, 1, bias=False), {"weight": w, "module.weight": w})


class _AB(torch.nn.Module):
    """Two same-shaped layers; ``order`` decides which is registered (and handed to Adam) first."""

    def __init__(self, order):
        super().__init__()
        for name in order:
            self.add_module(name, torch.nn.Linear(3, 3))

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)))


def _adam_steps(model, opt, steps, seed):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        opt.zero_grad()
        model(torch.randn(5, 3, generator=g)).pow(2).sum().backward()
        opt.step()


def test_optimizer_state_follows_names_when_layers_are_reordered():
    torch.manual_seed(0)
    src = _AB("ab")
    src_opt = torch.optim.Adam(src.parameters(), lr=0.05)
    _adam_steps(src, src_opt, 3, seed=1)
    saved = optimizer_state_by_name(src_opt, src)
    assert saved["param_groups"][0]["params"] == ["a.weight", "a.bias", "b.weight", "b.bias"]

    dst = _AB("ba")  # same names, other registration order: Adam sees b's params first
    dst.load_state_dict(src.state_dict())
    dst_opt = torch.optim.Adam(dst.parameters(), lr=0.05)
    load_optimizer_state_by_name(dst_opt, dst, saved)
    for name, p in dst.named_parameters():
        want = src_opt.state[dict(src.named_parameters())[name]]
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(dst_opt.state[p][key], want[key]), (name, key)
    # independent answer: training on from here gives the source run's parameters
    _adam_steps(src, src_opt, 2, seed=7)
    _adam_steps(dst, dst_opt, 2, seed=7)
    for name, p in dst.named_parameters():
        assert torch.equal(p, dict(src.named_parameters())[name]), name

    # the failure this prevents: torch's positional load hands a's moments to b
    naive = torch.optim.Adam(dst.parameters(), lr=0.05)
    naive.load_state_dict(src_opt.state_dict())
    assert all(dst_opt.state[p]["exp_avg"].data_ptr() != src_opt.state[q]["exp_avg"].data_ptr()
               for p, q in zip(dst.parameters(), src.parameters()))  # no shared buffers
    assert not torch.equal(naive.state[dst.b.weight]["exp_avg"], src_opt.state[src.b.weight]["exp_avg"])


def test_optimizer_state_of_another_model_is_refused():
    src = _AB("ab")
    opt = torch.optim.SGD(src.parameters(), lr=0.1, momentum=0.9)
    _adam_steps(src, opt, 1, seed=0)
    saved = optimizer_state_by_name(opt, src)
    other = torch.nn.Sequential(torch.nn.Linear(3, 3))
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(CheckpointError, match=r"nothing was loaded.*2 missing: 0.weight, 0.bias.*"
                                              r"4 unexpected: a.weight"):
        load_optimizer_state_by_name(other_opt, other, saved)
    assert other_opt.state_dict()["state"] == {}
    two_groups = torch.optim.SGD([{"params": src.a.parameters()}, {"params": src.b.parameters()}],
                                 lr=0.1)
    with pytest.raises(CheckpointError, match="2 parameter groups, checkpoint has 1"):
        load_optimizer_state_by_name(two_groups, src, saved)
