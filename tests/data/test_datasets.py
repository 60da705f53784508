"""Datasets, the seeded 65/10/25 split, scaling on the training split, and users' files."""

import numpy as np
import pytest
import torch

from deepnets.data import Dataset, Scaler, load_dataset, split
from deepnets.errors import ConfigError, DataError


def test_xor_and_parity_truth_tables():
    d = load_dataset("xor")
    assert d.x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and d.y.tolist() == [0, 1, 1, 0]
    p = load_dataset("parity", n_bits=4)
    assert p.x.shape == (16, 4)
    assert torch.equal(p.y, p.x.sum(1).long() % 2)


def test_function_dataset():
    d = load_dataset("function", f="sin", n_samples=50)
    torch.testing.assert_close(d.y[:, 0], torch.sin(d.x[:, 0]))
    assert float(d.x.min()) == pytest.approx(-np.pi) and float(d.x.max()) == pytest.approx(np.pi)
    two = load_dataset("function", f="saddle", dim=2, n_samples=5)
    assert two.x.shape == (25, 2) and two.y.shape == (25, 1)
    user = load_dataset("function", f=lambda x: x ** 2, n_samples=4, low=0, high=3)
    assert user.y[:, 0].tolist() == [0, 1, 4, 9]


def test_digits_bundled():
    d = load_dataset("digits")
    assert d.x.shape == (1797, 64) and d.n_classes == 10 and float(d.x.max()) == 16


def test_mnist1d_generated_offline_published_sizes():
    d = load_dataset("mnist1d")
    assert d.x.shape == (4000, 40) and d.test[0].shape == (1000, 40)
    assert set(d.y.tolist()) == set(range(10))
    again = load_dataset("mnist1d")
    assert torch.equal(d.x, again.x)  # the generator is seeded


def test_split_fractions_seed_and_stratification():
    d = load_dataset("digits")
    a, b = split(d, seed=3), split(d, seed=3)
    assert [len(p[0]) for p in (a.train, a.val, a.test)] == [1168, 180, 449] or \
        abs(len(a.train[0]) - 0.65 * 1797) <= 10
    assert torch.equal(a.train[0], b.train[0]) and torch.equal(a.test[1], b.test[1])
    c = split(d, seed=4)
    assert not torch.equal(a.train[1], c.train[1])
    # every sample lands in exactly one part
    total = torch.cat([a.train[0], a.val[0], a.test[0]])
    assert total.shape[0] == 1797
    # stratified: each class appears in the test part in proportion
    counts = torch.bincount(a.test[1], minlength=10).float()
    assert float(counts.min()) >= 0.8 * float(counts.mean())


def test_split_keeps_a_predefined_test_set():
    d = Dataset(torch.randn(20, 2), torch.arange(20) % 2, "classification", "t", n_classes=2,
                test=(torch.randn(5, 2), torch.zeros(5, dtype=torch.long)))
    s = split(d, (0.8, 0.2), seed=0)
    assert len(s.train[0]) == 16 and len(s.val[0]) == 4 and s.test[0].shape[0] == 5


def test_split_errors():
    d = load_dataset("xor")
    with pytest.raises(ConfigError):
        split(d, (0.5, 0.6, 0.1))


def test_scaler_fitted_on_train_only():
    x = torch.tensor([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    s = Scaler.fit(x, "standard")
    y = s(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(2))
    assert y[:, 1].abs().max() == 0  # a constant column is centred, not divided by zero
    r = Scaler.fit(x, "range", (0.15, 0.85))
    torch.testing.assert_close(r(x)[:, 0], torch.tensor([0.15, 0.5, 0.85]))
    assert float(r(torch.tensor([[8.0, 10.0]]))[0, 0]) == pytest.approx(1.55)  # not refitted on new data
    with pytest.raises(ConfigError):
        Scaler.fit(x, "minmax")


def test_unknown_dataset_and_parameter():
    with pytest.raises(ConfigError, match="did you mean 'digits'"):
        load_dataset("digit")
    with pytest.raises(ConfigError, match="no parameter 'bits'"):
        load_dataset("parity", bits=3)
