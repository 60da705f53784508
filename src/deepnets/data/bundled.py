"""Datasets that ship with installed packages or are generated offline (never downloaded)."""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..errors import ConfigError
from .dataset import Dataset


def digits() -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits: 1,797 images, 64 pixels (0..16), 10 classes."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return Dataset(torch.tensor(d.data, dtype=torch.float32), torch.tensor(d.target, dtype=torch.int64),
                   "classification", "digits", n_classes=10,
                   feature_names=[f"pixel_{i}" for i in range(64)], target_names=["digit"])


@functools.lru_cache(maxsize=4)
def _mnist1d_arrays(num_samples: int, train_split: float, seed: int):
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, train_split, seed
    import random

    np_state, py_state = np.random.get_state(), random.getstate()
    try:  # the generator seeds NumPy's and Python's global RNGs; give the caller's states back
        d = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return tuple(np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test"))


def mnist1d(*, num_samples: int = 5000, train_split: float = 0.8, seed: int = 42) -> Dataset:
    """MNIST-1D (Greydanus 2020) made by the ``mnist1d`` package's generator, not downloaded.

    The defaults are the published benchmark: 4,000 training and 1,000 test sequences of length
    40, 10 classes. The 1,000 test sequences are kept as the dataset's own test split.
    """
    if not (isinstance(num_samples, int) and num_samples >= 20 and 0 < train_split < 1):
        raise ConfigError(f"mnist1d needs num_samples >= 20 and 0 < train_split < 1, got {num_samples}, {train_split}")
    try:
        x, y, xt, yt = _mnist1d_arrays(num_samples, float(train_split), int(seed))
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ConfigError("the mnist1d dataset needs the 'mnist1d' package (pip install mnist1d)") from e
    f32 = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731  (copies: the cache stays intact)
    i64 = lambda a: torch.tensor(a, dtype=torch.int64)  # noqa: E731
    return Dataset(f32(x), i64(y), "classification", "mnist1d", n_classes=10,
                   feature_names=[f"t{i}" for i in range(x.shape[1])], target_names=["digit"],
                   test=(f32(xt), i64(yt)))
