"""The Numba wrapper: compiled on first call, the same numbers as NumPy, switched off by the environment."""

import numpy as np
import pytest

from deepnets import _numba


def _axpy(a, x, y):
    for i in range(x.size):
        y[i] += a * x[i]
    return y.sum()


def test_kernel_compiles_and_matches_numpy():
    if not _numba.available():
        pytest.skip("Numba not importable here")
    k = _numba.kernel(_axpy)
    x, y = np.arange(5.0), np.ones(5)
    want = 1.0 + 0.5 * x
    s = k(0.5, x, y)
    np.testing.assert_array_equal(y, want)
    assert s == want.sum()


def test_environment_switches_numba_off(monkeypatch):
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    assert not _numba.available()
    with pytest.raises(RuntimeError, match="DEEPNETS_NO_NUMBA"):
        _numba.kernel(_axpy)(1.0, np.ones(2), np.ones(2))
