"""The adding problem and copy-memory generators."""

import math

import pytest
import torch

from deepnets.data.sequence_tasks import (ADDING_BASELINE_MSE, adding_problem, copy_memory,
                                          copy_memory_accuracy, copy_memory_baseline)
from deepnets.errors import ConfigError


def test_adding_constant_predictor_mse_is_one_sixth():
    # (y - 1)^2 has variance 1/15 - 1/36 = 7/180, so the mean of 200k samples has sd 4.4e-4.
    _, y = adding_problem(200_000, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mse = ((y - 1.0) ** 2).mean().item()
    assert abs(mse - 1 / 6) < 0.002
    assert abs(ADDING_BASELINE_MSE - 0.167) < 5e-4
    assert abs(y.mean().item() - 1.0) < 0.005                # 1 is the best constant


def test_adding_markers_and_targets():
    x, y = adding_problem(500, 11, generator=torch.Generator().manual_seed(1))
    m = x[..., 1]
    assert torch.equal(m.sum(1), torch.full((500,), 2.0))
    assert torch.equal(m[:, :5].sum(1), torch.ones(500))     # one in [0, T/2), one in [T/2, T)
    torch.testing.assert_close(y[:, 0], (x[..., 0] * m).sum(1))
    assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()
    x2, y2 = adding_problem(500, 11, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ConfigError, match="T"):
        adding_problem(3, 1)


def test_copy_memory_layout():
    x, y = copy_memory(50, 7, length=4, symbols=5, generator=torch.Generator().manual_seed(2))
    assert x.shape == y.shape == (50, 7 + 8)
    data = x[:, :4]
    assert ((data >= 1) & (data <= 5)).all()
    assert (x[:, 4:10] == 0).all() and (x[:, 10] == 6).all() and (x[:, 11:] == 0).all()
    assert (y[:, :11] == 0).all() and torch.equal(y[:, 11:], data)
    with pytest.raises(ConfigError, match="symbols"):
        copy_memory(2, 3, symbols=1)


def test_copy_memory_baseline_is_the_memoryless_cross_entropy():
    T, length, K = 9, 3, 4
    _, y = copy_memory(400, T, length=length, symbols=K, generator=torch.Generator().manual_seed(3))
    logits = torch.full((*y.shape, K + 2), -1e9, dtype=torch.float64)
    logits[:, :T + length, 0] = 0.0                         # certain blanks while waiting
    logits[:, T + length:, 1:K + 1] = 0.0                    # uniform guess while recalling
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
    assert math.isclose(ce, copy_memory_baseline(T, length=length, symbols=K), rel_tol=1e-9)


def test_copy_memory_accuracy_counts_the_recalled_symbols_only():
    # two sequences, T = 2, length = 3, K = 4: L = 8, recalled steps 5, 6, 7
    y = torch.tensor([[0, 0, 0, 0, 0, 2, 4, 1],
                      [0, 0, 0, 0, 0, 3, 3, 4]])
    pred = torch.tensor([[1, 1, 1, 1, 1, 2, 4, 3],         # waiting part wrong everywhere: ignored
                         [0, 0, 0, 0, 0, 0, 3, 0]])         # blanks where symbols were due: wrong
    logits = torch.nn.functional.one_hot(pred, 5).float() * 3.0   # argmax = pred
    # right: 2 of 3 in the first row, 1 of 3 in the second -> 3 / 6
    assert copy_memory_accuracy(logits, y, length=3).item() == 0.5
    assert copy_memory_accuracy(torch.nn.functional.one_hot(y, 5).float(), y, length=3).item() == 1.0
    with pytest.raises(ConfigError, match="logits"):
        copy_memory_accuracy(logits[:, :, 0], y, length=3)
    with pytest.raises(ConfigError, match="length"):
        copy_memory_accuracy(logits, y, length=9)


def test_copy_memory_accuracy_of_a_random_guess_is_one_over_K():
    K = 8
    _, y = copy_memory(5000, 4, length=6, symbols=K, generator=torch.Generator().manual_seed(4))
    logits = torch.zeros(*y.shape, K + 1)
    logits[..., 1] = 1.0                                    # always say symbol 1: right w.p. 1/K
    acc = copy_memory_accuracy(logits, y, length=6).item()
    assert abs(acc - 1 / K) < 4 * (1 / K * (1 - 1 / K) / 30_000) ** 0.5
