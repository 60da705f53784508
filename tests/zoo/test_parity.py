"""The hand-set parity networks: each outputs the XOR of the bits of every input exactly, and has
the weight count its closed form states."""

import functools
import itertools
import operator

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.zoo import PARITY_NETS, count_parameters, parity_net, parity_weight_count


def _truth_table(n):
    rows = list(itertools.product((0, 1), repeat=n))
    x = torch.tensor(rows, dtype=torch.float32)                            # (2ⁿ, n)
    xor = torch.tensor([functools.reduce(operator.xor, r) for r in rows], dtype=torch.float32)
    return x, xor


@pytest.mark.parametrize("kind", PARITY_NETS)
@pytest.mark.parametrize("n", range(2, 11))
def test_parity_net_computes_the_xor_of_every_input_exactly(kind, n):
    x, xor = _truth_table(n)
    with torch.no_grad():
        out = parity_net(n, kind)(x)                                      # (2ⁿ, 1)
    assert out.shape == (2 ** n, 1)
    assert torch.equal(out[:, 0], xor)                                    # exact, not rounded


@pytest.mark.parametrize("kind", PARITY_NETS)
@pytest.mark.parametrize("n", [2, 3, 4, 7, 8, 9, 16])
def test_weight_count_matches_the_built_network(kind, n):
    if kind == "dnf" and n > 9:
        pytest.skip("2ⁿ⁻¹ hidden units")
    assert count_parameters(parity_net(n, kind)) == parity_weight_count(n, kind)


def test_deep_net_is_narrow_and_log_deep_the_shallow_one_wide():
    assert parity_net(8, "deep").sizes == [8, 2, 2, 2, 1]                 # ⌈log₂ 8⌉ = 3 layers of 2
    assert parity_net(9, "deep").sizes == [9, 2, 2, 2, 2, 1]
    assert parity_net(8, "shallow").sizes == [8, 8, 1]
    assert parity_net(5, "dnf").sizes == [5, 16, 1]                       # 2⁴ odd patterns
    # the deep net needs fewer weights than the shallow one from n = 4 on, the DNF the most
    for n in range(4, 13):
        assert parity_weight_count(n, "deep") < parity_weight_count(n, "shallow") < parity_weight_count(n, "dnf")


@pytest.mark.parametrize("args, match", [((1, "deep"), "n_bits >= 2, got 1"),
                                         ((4, "wide"), r"kind must be one of .*got 'wide'"),
                                         ((2.0, "deep"), "n_bits must be a positive integer")])
def test_bad_arguments_are_refused(args, match):
    with pytest.raises(ConfigError, match=match):
        parity_net(*args)
    with pytest.raises(ConfigError, match=match):
        parity_weight_count(*args)
