"""The in-memory dataset every loader returns, and the lecture's train/validation/test split."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..errors import ConfigError, DataError

TASKS = ("classification", "regression")


@dataclass
class Dataset:
    """Features and targets held as tensors.

    Attributes:
        x: features, float32 (N, p).
        y: class labels int64 (N,) for classification; float32 (N, k) for regression.
        task: ``"classification"`` or ``"regression"``.
        name: where it came from (a registry name or a file path).
        n_classes: number of classes (classification only).
        feature_names: p column names (used to read a user's CSV at prediction time).
        target_names: the target column name(s).
        test: a predefined held-out split ``(x, y)`` (MNIST-1D ships one), or None.
        classes: the original label of each class (class c is ``classes[c]``: a CSV's ``setosa``,
            a 1-based ``3``), or None when the labels are the class indices themselves.
    """

    x: Tensor
    y: Tensor
    task: str
    name: str
    n_classes: int = 0
    feature_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)
    test: tuple[Tensor, Tensor] | None = None
    classes: list | None = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {list(TASKS)}, got {self.task!r}")
        if self.x.dim() != 2:
            raise DataError(f"{self.name}: features must be a 2-D array (samples, features), got shape {tuple(self.x.shape)}")
        if self.y.shape[0] != self.x.shape[0]:
            raise DataError(f"{self.name}: {self.x.shape[0]} feature rows but {self.y.shape[0]} targets")
        if not self.feature_names:
            self.feature_names = [f"x{j}" for j in range(self.x.shape[1])]

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def n_outputs(self) -> int:
        """Output units a network needs: C for C > 2 classes, 1 for two, k for regression."""
        if self.task == "classification":
            return 1 if self.n_classes == 2 else self.n_classes
        return self.y.shape[1]


@dataclass
class Splits:
    """The train / validation / test parts, each an ``(x, y)`` pair (validation may be empty)."""

    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor] | None
    test: tuple[Tensor, Tensor] | None


def split(data: Dataset, fractions=(0.65, 0.10, 0.25), *, seed: int = 0, stratify: bool = True) -> Splits:
    """Split at random into train / validation / test, the lecture's default 65 / 10 / 25.

    The same seed gives the same split. With ``stratify`` (classification only) each class is
    split in the same proportions. A dataset with its own ``test`` part keeps it: ``fractions``
    then needs only two entries (or the third is ignored) and divides the rest into train and
    validation. A fraction of 0 gives an empty part (None).

    >>> import torch
    >>> d = Dataset(torch.zeros(100, 2), torch.arange(100) % 2, "classification", "toy", n_classes=2)
    >>> s = split(d, seed=0)
    >>> [len(p[0]) for p in (s.train, s.val, s.test)]
    [65, 10, 25]
    """
    fr = [float(f) for f in fractions]
    if data.test is not None:
        fr = fr[:2]
    if len(fr) not in (2, 3) or any(f < 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6 and data.test is None:
        raise ConfigError(f"split fractions must be 2 or 3 non-negative numbers summing to 1, got {list(fractions)}")
    total = sum(fr)
    fr = [f / total for f in fr]
    g = torch.Generator().manual_seed(seed)
    N = len(data)
    if stratify and data.task == "classification":
        groups = [torch.nonzero(data.y == c).flatten() for c in range(max(data.n_classes, int(data.y.max()) + 1))]
    else:
        groups = [torch.arange(N)]
    # order the samples so that every prefix holds each class in proportion: a sample's key is its
    # rank within its (shuffled) class as a fraction of the class size; cut the order at the bounds
    order, keys = [], []
    for idx in groups:
        idx = idx[torch.randperm(len(idx), generator=g)]
        order.append(idx)
        keys.append((torch.arange(len(idx), dtype=torch.float64) + 0.5) / max(len(idx), 1))
    order, keys = torch.cat(order), torch.cat(keys)
    jitter = torch.rand(len(keys), generator=g, dtype=torch.float64) * 1e-9  # random order among ties
    order = order[torch.argsort(keys + jitter)]
    bounds = _bounds(N, fr)
    out = []
    for k in range(len(fr)):
        idx = order[bounds[k]:bounds[k + 1]]
        idx = idx[torch.randperm(len(idx), generator=g)]
        out.append((data.x[idx], data.y[idx]) if len(idx) else None)
    if out[0] is None:
        raise DataError(f"{data.name}: the training split is empty ({N} rows, fractions {list(fractions)})")
    test = data.test if data.test is not None else (out[2] if len(out) > 2 else None)
    return Splits(out[0], out[1], test)


def _bounds(n: int, fr: list[float]) -> list[int]:
    """Cut n items by fractions, rounding so the parts add up to n."""
    cuts = [0]
    acc = 0.0
    for f in fr[:-1]:
        acc += f
        cuts.append(int(round(acc * n)))
    cuts.append(n)
    return cuts
