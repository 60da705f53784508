"""The perceptron rule: a hand-worked epoch, Novikoff's bound on separable data, cycling on XOR."""

import math

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.train import perceptron

SQUARE = torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])


def test_first_two_epochs_on_and_match_the_rule_by_hand():
    # from v = [w, b] = 0, sign(0) = -1: epoch 1 only (1,1) is wrong: v = 2·[1, 1, 1];
    # epoch 2: (0,0) wrong -> [2, 2, 0]; (0,1) wrong -> [2, 0, -2]; (1,0) right (a = 0);
    # (1,1) wrong (a = 0) -> [4, 2, 0]
    r = perceptron(SQUARE, torch.tensor([0, 0, 0, 1]), epochs=2)
    assert r.errors == [1, 3] and r.updates == 4 and not r.converged
    assert r.w.tolist() == [4.0, 2.0] and r.b == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_converges_on_separable_data_within_novikoffs_bound(seed):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(3, generator=g, dtype=torch.float64)
    u /= u.norm()  # a unit separator of the augmented inputs [x, 1]
    x = torch.rand(2000, 2, generator=g, dtype=torch.float64) * 4 - 2
    a = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], 1) @ u
    keep = a.abs() >= 0.1  # a margin of at least 0.1
    x, z = x[keep][:300], torch.where(a[keep][:300] > 0, 1, -1)
    xa = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], 1)
    gamma = float((z * (xa @ u)).min())
    R = float(xa.norm(dim=1).max())
    r = perceptron(x, z, epochs=10_000)
    assert r.converged and not r.cycled
    assert 0 < r.updates <= math.floor((R / gamma) ** 2)
    assert torch.equal(r.predict(x), z)
    assert perceptron(x, z, lr=0.01, epochs=10_000).updates == r.updates  # from w = 0, η only scales w


def test_cycles_on_xor_and_the_weights_revisit_a_state():
    xor = torch.tensor([-1, 1, 1, -1])
    r = perceptron(SQUARE, xor, epochs=1000)
    assert r.cycled and not r.converged and min(r.errors) >= 1
    # independently: the states after 0, 1, ..., r.epochs epochs hold a repeat
    states = [(0.0, 0.0, 0.0)]
    for e in range(1, r.epochs + 1):
        s = perceptron(SQUARE, xor, epochs=e)
        states.append((*s.w.tolist(), s.b))
    assert len(set(states)) < len(states)
    shuffled = perceptron(SQUARE, xor, epochs=300, shuffle=True)
    assert not shuffled.converged and min(shuffled.errors) >= 1 and shuffled.epochs == 300


def test_bad_inputs_are_refused():
    with pytest.raises(DataError, match="two classes"):
        perceptron(SQUARE, torch.tensor([0, 1, 2, 1]))
    with pytest.raises(DataError, match=r"\(4,\)"):
        perceptron(SQUARE, torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="lr"):
        perceptron(SQUARE, torch.tensor([0, 1, 1, 0]), lr=0)
